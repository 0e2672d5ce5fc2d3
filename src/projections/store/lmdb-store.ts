/**
 * Projections materialised in LMDB: one table per projection plus a `meta`
 * table holding the checkpoint (sequence of the last applied commit), the
 * projection versions the tables were built with, and the id of the log's
 * first commit (to notice a log that was deleted and made anew).
 *
 * A batch of commits is folded in memory (`applyCommit` over an overlay) and
 * its documents written together with the new checkpoint in one
 * `transactionSync`: after a crash the store holds all of a batch or none of
 * it, and the projector resumes from the checkpoint.
 *
 * Documents are encoded with the log's own msgpack settings (no shared
 * structures), so a damaged document is reported as {@link ProjectionCorrupt}
 * and can be rebuilt rather than misread.
 */
import { existsSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { open, type Database, type RootDatabase } from "lmdb";
import { type Commit } from "../../events/index.js";
import { lmdbFileProblem } from "../../events/storage/index.js";
import { packValue, unpackValue } from "../../events/codec.js";
import { dumpLine } from "../dump.js";
import { ProjectionCorrupt, ProjectionGap } from "../errors.js";
import {
  applyCommit,
  Overlay,
  versionsOf,
  type AnyProjection,
  type DocSource,
  type RangeOptions,
} from "../projection.js";

interface Meta {
  readonly checkpoint: number;
  readonly versions: Readonly<Record<string, number>>;
  /** Id of the commit at sequence 1 of the log these tables were built from. */
  readonly origin?: string;
}

const META_KEY = "meta";

/**
 * Projections whose documents are few, read on every call and rarely
 * written: their decoded documents are kept (documents are never mutated;
 * a write drops the ones it replaces).
 */
const DECODED_CACHE: ReadonlySet<string> = new Set(["manifests", "environment"]);

export class LmdbProjectionStore implements DocSource {
  private readonly tables = new Map<string, Database<Uint8Array, string>>();
  private readonly decoded = new Map<string, Map<string, unknown>>([...DECODED_CACHE].map((name) => [name, new Map<string, unknown>()]));
  private readonly metaDb: Database<Uint8Array, string>;
  private meta: Meta;

  private constructor(
    private readonly root: RootDatabase,
    readonly path: string,
    readonly projections: readonly AnyProjection[],
  ) {
    for (const p of projections) {
      this.tables.set(p.name, root.openDB<Uint8Array, string>({ name: `p:${p.name}`, encoding: "binary" }));
    }
    this.metaDb = root.openDB<Uint8Array, string>({ name: "meta", encoding: "binary" });
    this.meta = this.readMeta();
  }

  /**
   * Opens (or creates) the store at `path`. A store whose files LMDB cannot
   * open is moved aside to `<path>.corrupt-<time>` and a fresh one created;
   * `onNotice` is told why.
   */
  static async open(
    path: string,
    projections: readonly AnyProjection[],
    onNotice: (message: string) => void = () => {},
  ): Promise<LmdbProjectionStore> {
    await mkdir(path, { recursive: true });
    const attempt = () => {
      const problem = lmdbFileProblem(path);
      if (problem) throw new Error(problem);
      const root = open({ path, maxDbs: projections.length + 2, compression: false });
      try {
        return new LmdbProjectionStore(root, path, projections);
      } catch (e) {
        void root.close();
        throw e;
      }
    };
    try {
      return attempt();
    } catch (cause) {
      if (!existsSync(path)) throw cause;
      const aside = `${path}.corrupt-${Date.now()}`;
      onNotice(`projection store at ${path} cannot be opened (${(cause as Error).message}); moved to ${aside}, rebuilding`);
      await rename(path, aside);
      await mkdir(path, { recursive: true });
      return attempt();
    }
  }

  private readMeta(): Meta {
    const bytes = this.metaDb.get(META_KEY);
    if (bytes === undefined) return { checkpoint: 0, versions: versionsOf(this.projections) };
    try {
      const m = unpackValue(bytes) as Meta;
      if (!Number.isSafeInteger(m?.checkpoint) || typeof m.versions !== "object") throw new Error("bad shape");
      return m;
    } catch (cause) {
      throw new ProjectionCorrupt("meta", META_KEY, { cause });
    }
  }

  /** Sequence of the last applied commit; 0 when empty. */
  get checkpoint(): number {
    return this.meta.checkpoint;
  }

  /** Id of the first commit of the log the store was built from. */
  get origin(): string | undefined {
    return this.meta.origin;
  }

  /**
   * Why the tables cannot be trusted as they are, if they cannot: a
   * projection whose version changed, or one that is new.
   */
  staleReason(): string | undefined {
    if (this.meta.checkpoint === 0) return undefined;
    const stored = this.meta.versions;
    for (const p of this.projections) {
      const v = stored[p.name];
      if (v === undefined) return `projection ${p.name} is new in this version`;
      if (v !== p.version) return `projection ${p.name} was built by version ${v}, this code is version ${p.version}`;
    }
    return undefined;
  }

  get<D>(projection: string, key: string): D | undefined {
    const cache = this.decoded.get(projection);
    if (cache?.has(key)) return cache.get(key) as D;
    const table = this.tables.get(projection);
    if (!table) return undefined;
    const bytes = table.get(key);
    if (bytes === undefined) return undefined;
    let doc: D;
    try {
      doc = unpackValue(bytes) as D;
    } catch (cause) {
      throw new ProjectionCorrupt(projection, key, { cause });
    }
    cache?.set(key, doc);
    return doc;
  }

  *range<D>(projection: string, options: RangeOptions = {}): Iterable<readonly [string, D]> {
    const table = this.tables.get(projection);
    if (!table) return;
    const { prefix, reverse = false, limit } = options;
    // Keys are strings; "\uffff" sorts after every character we use in keys.
    const lo = prefix;
    const hi = prefix === undefined ? undefined : `${prefix}\uffff`;
    const range = table.getRange({
      ...(reverse ? { start: hi, end: lo } : { start: lo, end: hi }),
      reverse,
      ...(limit === undefined ? {} : { limit }),
    });
    for (const { key, value } of range) {
      try {
        yield [key, unpackValue(value) as D];
      } catch (cause) {
        throw new ProjectionCorrupt(projection, key, { cause });
      }
    }
  }

  /**
   * Applies `commits`, which must continue the checkpoint without a gap
   * (commits at or below the checkpoint are skipped: re-delivery is
   * harmless). Documents and checkpoint commit in one transaction.
   * @returns the number of events applied.
   * @throws ProjectionGap, and whatever an `evolve` throws (nothing written).
   */
  apply(commits: readonly Commit[]): number {
    let next = this.meta.checkpoint + 1;
    const todo: Commit[] = [];
    for (const c of commits) {
      if (c.seq < next) continue;
      if (c.seq !== next) throw new ProjectionGap(this.meta.checkpoint, c.seq);
      todo.push(c);
      next++;
    }
    if (todo.length === 0) return 0;
    let events = 0;
    const overlay = new Overlay(this);
    for (const c of todo) {
      applyCommit(this.projections, overlay, c);
      events += c.events.length;
    }
    this.write(overlay.changes, todo[todo.length - 1]!.seq, todo[0]!.seq === 1 ? todo[0]!.id : undefined);
    return events;
  }

  /**
   * Writes documents folded elsewhere (by an orchestrator that folds as it
   * decides) with their checkpoint, in one transaction. `origin` is the id
   * of the log's first commit when the changes include it.
   */
  write(changes: ReadonlyMap<string, ReadonlyMap<string, unknown>>, checkpoint: number, origin?: string): void {
    const meta: Meta = {
      checkpoint,
      versions: versionsOf(this.projections),
      ...(origin !== undefined ? { origin } : this.meta.origin === undefined ? {} : { origin: this.meta.origin }),
    };
    for (const [name, docs] of changes) {
      const cache = this.decoded.get(name);
      if (cache) for (const key of docs.keys()) cache.delete(key);
    }
    this.root.transactionSync(() => {
      for (const [name, docs] of changes) {
        const table = this.tables.get(name)!;
        for (const [key, doc] of docs) {
          if (doc === undefined) table.removeSync(key);
          else table.putSync(key, packValue(doc));
        }
      }
      this.metaDb.putSync(META_KEY, packValue(meta));
    });
    this.meta = meta;
  }

  /** Empties every table and resets the checkpoint to 0, in one transaction. */
  clear(): void {
    for (const cache of this.decoded.values()) cache.clear();
    this.root.transactionSync(() => {
      for (const t of this.tables.values()) t.clearSync();
      this.metaDb.clearSync();
    });
    this.meta = { checkpoint: 0, versions: versionsOf(this.projections) };
  }

  /** Every document, one line each, sorted by projection then key. */
  dump(): string[] {
    const lines: string[] = [];
    for (const name of [...this.tables.keys()].sort()) {
      for (const [k, doc] of this.range(name)) lines.push(dumpLine(name, k, doc));
    }
    return lines;
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
