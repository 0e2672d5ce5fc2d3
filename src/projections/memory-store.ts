/**
 * An in-memory document store driven by the same fold as the LMDB store:
 * for time travel (state as of a sequence), tests and comparisons.
 */
import type { Commit } from "../events/index.js";
import { dumpLine } from "./dump.js";
import { applyCommit, Overlay, type AnyProjection, type DocSource, type RangeOptions } from "./projection.js";

export class MemoryStore implements DocSource {
  private readonly tables = new Map<string, Map<string, unknown>>();
  /** Sequence of the last commit applied. */
  checkpoint = 0;

  constructor(readonly projections: readonly AnyProjection[]) {
    for (const p of projections) this.tables.set(p.name, new Map());
  }

  get<D>(projection: string, key: string): D | undefined {
    return this.tables.get(projection)?.get(key) as D | undefined;
  }

  *range<D>(projection: string, options: RangeOptions = {}): Iterable<readonly [string, D]> {
    const t = this.tables.get(projection);
    if (!t) return;
    const keys = [...t.keys()].filter((k) => options.prefix === undefined || k.startsWith(options.prefix)).sort();
    if (options.reverse) keys.reverse();
    let n = 0;
    for (const k of keys) {
      if (options.limit !== undefined && n++ >= options.limit) return;
      yield [k, t.get(k) as D];
    }
  }

  /**
   * Applies commits in order. Unlike the LMDB store, gaps are allowed, so
   * that one run's filtered history can be folded on its own.
   */
  apply(commits: Iterable<Commit>): void {
    const overlay = new Overlay(this);
    for (const c of commits) {
      if (c.seq <= this.checkpoint) continue;
      applyCommit(this.projections, overlay, c);
      this.checkpoint = c.seq;
    }
    for (const [p, changes] of overlay.changes) {
      const t = this.tables.get(p)!;
      for (const [k, doc] of changes) {
        if (doc === undefined) t.delete(k);
        else t.set(k, doc);
      }
    }
  }

  /** Every document, one line each, sorted by projection then key. */
  dump(): string[] {
    const lines: string[] = [];
    for (const name of [...this.tables.keys()].sort()) {
      for (const [k, doc] of this.range(name)) lines.push(dumpLine(name, k, doc));
    }
    return lines;
  }
}
