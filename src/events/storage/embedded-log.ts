/**
 * The embedded `EventLog`: one process, durable on disk, no server.
 *
 * Each environment's log is an LMDB environment under
 * `<dir>/<project>/<env>/` with three tables: `commits` (sequence → framed
 * bytes), `runs` ([runId, sequence] → true, for one run's history) and `ids`
 * (commit id → sequence, for deduplicating retried appends). A commit and its
 * index entries are written in one LMDB transaction, so a crash leaves either
 * all of them or none. An append's promise resolves once LMDB has flushed it
 * to disk.
 *
 * Appends are pipelined: the sequence is assigned synchronously, in call
 * order, and LMDB batches the queued transactions into few disk commits.
 * Only one process may write a directory; a second one is detected by the
 * in-transaction check of the last sequence and fails loudly.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { open, type Database, type RootDatabase } from "lmdb";
import { decodeCommit } from "../codec.js";
import { lmdbFileProblem } from "./lmdb-file.js";
import { LogClosed, LogNotFound, LogUnavailable, WrongExpectedSequence } from "../errors.js";
import type { RunId } from "../ids.js";
import { prepareCommit } from "./prepare.js";
import {
  commitOf,
  type AppendOptions,
  type Appended,
  type EventLog,
  type RawCommit,
  type RawReadOptions,
  type ReadOptions,
  type SubscribeOptions,
  type Subscription,
} from "../log.js";
import { describeLog, envSubject, logRef, runSubject, type LogRef } from "../subjects.js";
import type { Commit, Event } from "../types.js";

export interface EmbeddedEventLogOptions {
  /** Directory that holds one sub-directory per project and environment. */
  readonly dir: string;
}

export class EmbeddedEventLog implements EventLog {
  readonly kind = "embedded" as const;
  private readonly envs = new Map<string, Promise<EnvLog>>();
  private closed = false;

  constructor(private readonly options: EmbeddedEventLogOptions) {}

  private pathOf(ref: LogRef): string {
    return join(this.options.dir, ref.project, ref.env);
  }

  private async handle(ref: LogRef, create = false): Promise<EnvLog> {
    if (this.closed) throw new LogClosed();
    const key = describeLog(ref);
    let h = this.envs.get(key);
    if (!h) {
      const path = this.pathOf(ref);
      if (!create && !existsSync(join(path, "data.mdb"))) throw new LogNotFound(describeLog(ref));
      h = (async () => {
        await mkdir(path, { recursive: true });
        return new EnvLog(ref, path);
      })();
      this.envs.set(key, h);
      h.catch(() => this.envs.delete(key));
    }
    return h;
  }

  async createEnv(ref: LogRef): Promise<void> {
    await this.handle(ref, true);
  }

  async deleteEnv(ref: LogRef): Promise<void> {
    const key = describeLog(ref);
    const h = this.envs.get(key);
    this.envs.delete(key);
    if (h) await (await h).close({ deleted: true });
    await rm(this.pathOf(ref), { recursive: true, force: true });
  }

  async hasEnv(ref: LogRef): Promise<boolean> {
    return this.envs.has(describeLog(ref)) || existsSync(join(this.pathOf(ref), "data.mdb"));
  }

  async listEnvs(project?: string): Promise<LogRef[]> {
    const out: LogRef[] = [];
    const projects = project === undefined ? await dirs(this.options.dir) : [project];
    for (const p of projects) {
      for (const e of await dirs(join(this.options.dir, p))) {
        if (!existsSync(join(this.options.dir, p, e, "data.mdb"))) continue;
        try {
          out.push(logRef(p, e));
        } catch {
          // not a directory of ours
        }
      }
    }
    return out.sort((a, b) => describeLog(a).localeCompare(describeLog(b)));
  }

  async append(ref: LogRef, events: readonly Event[], options: AppendOptions = {}): Promise<Appended> {
    const prepared = prepareCommit(ref, events);
    return (await this.handle(ref)).append(prepared.id, prepared.runId, prepared.bytes, options.expectedLastSeq);
  }

  async *read(ref: LogRef, options: ReadOptions = {}): AsyncIterable<Commit> {
    if (options.runId !== undefined) runSubject(ref, options.runId); // refuses an invalid id
    const h = await this.handle(ref);
    yield* h.range(options.from ?? 1, options.to ?? h.committed, options.runId);
  }

  async *readRaw(ref: LogRef, options: RawReadOptions = {}): AsyncIterable<RawCommit> {
    const h = await this.handle(ref);
    yield* h.rawRange(options.from ?? 1, options.to ?? h.committed);
  }

  subscribe(ref: LogRef, options: SubscribeOptions = {}): Subscription {
    if (options.runId !== undefined) runSubject(ref, options.runId); // refuses an invalid id at once
    return new EmbeddedSubscription(() => this.handle(ref), options.from ?? 1, options.runId);
  }

  async lastSeq(ref: LogRef): Promise<number> {
    return (await this.handle(ref)).committed;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.envs.values()];
    this.envs.clear();
    await Promise.all(all.map(async (h) => (await h.catch(() => undefined))?.close()));
  }
}

/** One environment's open log. */
class EnvLog {
  private readonly root: RootDatabase;
  private readonly commits: Database<Uint8Array, number>;
  private readonly runs: Database<boolean, [string, number]>;
  private readonly ids: Database<number, string>;
  /** Sequence given to the last accepted append (maybe not yet on disk). */
  private assigned: number;
  /** Sequence of the last commit on disk: what readers may see. */
  committed: number;
  /** Ids of appends accepted but not yet on disk, for dedup in flight. */
  private readonly inflight = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private broken: Error | undefined;
  private closing = false;
  /** Closed because the environment was deleted: subscriptions end with LogNotFound. */
  deleted = false;

  constructor(
    readonly ref: LogRef,
    path: string,
  ) {
    const problem = lmdbFileProblem(path);
    if (problem) {
      throw new LogUnavailable(
        `the log of ${describeLog(ref)} is damaged: ${problem}. It was not opened, and nothing was changed; restore ${path} from a backup`,
      );
    }
    try {
      this.root = open({ path, maxDbs: 4, compression: false });
      this.commits = this.root.openDB<Uint8Array, number>({ name: "commits", encoding: "binary" });
      this.runs = this.root.openDB<boolean, [string, number]>({ name: "runs" });
      this.ids = this.root.openDB<number, string>({ name: "ids" });
    } catch (cause) {
      throw new LogUnavailable(`cannot open the log of ${describeLog(ref)} at ${path}: ${(cause as Error).message}`, { cause });
    }
    this.assigned = this.committed = this.lastOnDisk();
  }

  private lastOnDisk(): number {
    for (const k of this.commits.getKeys({ reverse: true, limit: 1 })) return k;
    return 0;
  }

  append(id: string, runId: RunId | undefined, bytes: Uint8Array, expected: number | undefined): Promise<Appended> {
    if (this.closing) return Promise.reject(new LogClosed());
    if (this.broken) return Promise.reject(this.broken);
    const dup = this.inflight.get(id) ?? this.ids.get(id);
    if (dup !== undefined) return Promise.resolve({ seq: dup, duplicate: true });
    if (expected !== undefined && expected !== this.assigned) {
      return Promise.reject(new WrongExpectedSequence(describeLog(this.ref), expected, this.assigned));
    }
    const seq = ++this.assigned;
    this.inflight.set(id, seq);
    const written = this.root.transaction(() => {
      // Another process may have written this directory: refuse to fork.
      const last = this.lastOnDisk();
      if (last !== seq - 1) throw new WrongExpectedSequence(describeLog(this.ref), seq - 1, last);
      this.commits.putSync(seq, bytes);
      this.ids.putSync(id, seq);
      if (runId !== undefined) this.runs.putSync([runId, seq], true);
    });
    return written.then(
      () => {
        this.inflight.delete(id);
        if (seq > this.committed) this.committed = seq;
        this.wake();
        return { seq, duplicate: false };
      },
      (cause: unknown) => {
        // Later appends were numbered after this one: stop accepting any.
        this.broken ??=
          cause instanceof WrongExpectedSequence
            ? cause
            : new LogUnavailable(`append to ${describeLog(this.ref)} failed: ${(cause as Error).message}; reopen the log`, {
                cause,
              });
        this.inflight.delete(id);
        throw this.broken;
      },
    );
  }

  /** Commits `from..to` (inclusive), optionally of one run only. */
  *range(from: number, to: number, runId: RunId | undefined): Generator<Commit> {
    if (to < from) return;
    if (runId === undefined) {
      for (const { key, value } of this.commits.getRange({ start: from, end: to + 1 })) {
        yield this.decode(key, value);
      }
      return;
    }
    for (const [, seq] of this.runs.getKeys({ start: [runId, from], end: [runId, to + 1] })) {
      const bytes = this.commits.get(seq);
      if (bytes === undefined) continue;
      yield this.decode(seq, bytes);
    }
  }

  /** The stored bytes of commits `from..to` (inclusive), undecoded. */
  *rawRange(from: number, to: number): Generator<RawCommit> {
    if (to < from) return;
    for (const { key, value } of this.commits.getRange({ start: from, end: to + 1 })) {
      yield { seq: key, bytes: value };
    }
  }

  private decode(seq: number, bytes: Uint8Array): Commit {
    const events = decodeCommit(bytes, seq);
    const runId = events[0]!.runId;
    return commitOf(seq, runId === undefined ? envSubject(this.ref) : runSubject(this.ref, runId), events);
  }

  /** Resolves when something is committed or the log closes. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  get isClosed(): boolean {
    return this.closing;
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  async close(options: { deleted?: boolean } = {}): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.deleted = options.deleted === true;
    this.wake();
    await this.root.committed;
    await this.root.close();
  }
}

class EmbeddedSubscription implements Subscription {
  private stopped = false;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly handle: () => Promise<EnvLog>,
    private next: number,
    private readonly runId: RunId | undefined,
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<Commit> {
    const h = await this.handle();
    while (!this.stopped && !h.isClosed) {
      const upto = h.committed;
      if (this.next <= upto) {
        for (const c of h.range(this.next, upto, this.runId)) {
          if (this.stopped) return;
          yield c;
        }
        this.next = upto + 1;
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        void h.changed().then(resolve);
      });
      this.wakeUp = undefined;
    }
    if (h.deleted && !this.stopped) throw new LogNotFound(describeLog(h.ref));
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
  }
}

/** Names of the sub-directories of `dir` (none if it does not exist). */
const dirs = async (dir: string): Promise<string[]> => {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
};
