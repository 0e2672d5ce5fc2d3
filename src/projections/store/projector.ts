/**
 * The projector: keeps an LMDB projection store in step with an
 * environment's log.
 *
 * On start it checks that the store can be trusted — same projection
 * versions, a checkpoint not ahead of the log (which can happen after a
 * power loss on NATS 2.9, whose acknowledged writes are flushed on an
 * interval), built from this very log (same first commit) — and rebuilds
 * from sequence 1 when it cannot, saying why. Then it catches up from the
 * checkpoint, in batches, and can follow the log live.
 */
import type { Commit, EventLog, LogRef } from "../../events/index.js";
import { describeLog } from "../../events/index.js";
import type { LmdbProjectionStore } from "./lmdb-store.js";

export interface ProjectorOptions {
  readonly log: EventLog;
  readonly ref: LogRef;
  readonly store: LmdbProjectionStore;
  /** Commits per LMDB transaction. Default 1,000. */
  readonly batchSize?: number;
  /**
   * Never apply past this sequence: a frozen view of the log as of `to`
   * (the base view of a branched environment).
   */
  readonly to?: number;
  /** Told why a rebuild happens. Default: `console.warn`. */
  readonly onNotice?: (message: string) => void;
}

export interface CatchUpResult {
  readonly commits: number;
  readonly events: number;
  readonly checkpoint: number;
}

export class Projector {
  private readonly batchSize: number;
  private readonly notice: (message: string) => void;
  private following: { stop: () => Promise<void>; done: Promise<void> } | undefined;
  private readonly waiters: { seq: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private failure: unknown;

  constructor(private readonly options: ProjectorOptions) {
    this.batchSize = options.batchSize ?? 1000;
    this.notice = options.onNotice ?? ((m) => console.warn(m));
  }

  get store(): LmdbProjectionStore {
    return this.options.store;
  }

  get checkpoint(): number {
    return this.options.store.checkpoint;
  }

  /** Why the store must be rebuilt before use, if it must. */
  async staleReason(): Promise<string | undefined> {
    const { log, ref, store } = this.options;
    const stale = store.staleReason();
    if (stale) return stale;
    if (store.checkpoint === 0) return undefined;
    const last = Math.min(await log.lastSeq(ref), this.options.to ?? Infinity);
    if (store.checkpoint > last) {
      return `checkpoint ${store.checkpoint} is ahead of the log of ${describeLog(ref)}, which ends at ${last} (commits were lost, e.g. by a power loss)`;
    }
    for await (const first of log.read(ref, { from: 1, to: 1 })) {
      if (store.origin !== undefined && first.id !== store.origin) {
        return `the log of ${describeLog(ref)} was recreated since the projections were built (first commit ${first.id}, expected ${store.origin})`;
      }
    }
    return undefined;
  }

  /** Checks the store, rebuilds it if it cannot be trusted, then catches up. */
  async start(): Promise<CatchUpResult> {
    const reason = await this.staleReason();
    if (reason) return this.rebuild(reason);
    return this.catchUp();
  }

  /** Empties the store and replays the log from sequence 1. */
  async rebuild(reason: string): Promise<CatchUpResult> {
    this.notice(`rebuilding projections of ${describeLog(this.options.ref)}: ${reason}`);
    this.options.store.clear();
    return this.catchUp();
  }

  /** Applies every commit after the checkpoint, up to `to` (default: the end of the log). */
  async catchUp(to?: number): Promise<CatchUpResult> {
    const { log, ref, store } = this.options;
    const cap = Math.min(to ?? Infinity, this.options.to ?? Infinity);
    const end = Math.min(await log.lastSeq(ref), cap);
    let commits = 0;
    let events = 0;
    let batch: Commit[] = [];
    if (end > store.checkpoint) {
      for await (const c of log.read(ref, { from: store.checkpoint + 1, to: end })) {
        batch.push(c);
        if (batch.length >= this.batchSize) {
          events += store.apply(batch);
          commits += batch.length;
          batch = [];
        }
      }
      events += store.apply(batch);
      commits += batch.length;
    }
    this.settleWaiters();
    return { commits, events, checkpoint: store.checkpoint };
  }

  /**
   * Follows the log live from the checkpoint, applying commits in batches
   * as they arrive, until `stop()`.
   */
  follow(): void {
    if (this.following) return;
    const { log, ref, store } = this.options;
    const sub = log.subscribe(ref, { from: store.checkpoint + 1 });
    let buffer: Commit[] = [];
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      const batch = buffer;
      buffer = [];
      try {
        store.apply(batch);
        this.settleWaiters();
      } catch (e) {
        this.fail(e);
      }
    };
    const done = (async () => {
      try {
        for await (const c of sub) {
          if (this.options.to !== undefined && c.seq > this.options.to) break;
          buffer.push(c);
          if (buffer.length >= this.batchSize) flush();
          else if (!scheduled) {
            scheduled = true;
            setImmediate(flush);
          }
        }
      } catch (e) {
        this.fail(e);
      }
    })();
    this.following = {
      done,
      stop: async () => {
        await sub.close();
        await done;
        if (buffer.length) flush();
      },
    };
  }

  /** Resolves once the store has applied sequence `seq`. */
  waitFor(seq: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.checkpoint >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
  }

  private settleWaiters(): void {
    const cp = this.checkpoint;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.seq <= cp) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private fail(e: unknown): void {
    this.failure = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  /** Stops following. The store stays open (its owner closes it). */
  async stop(): Promise<void> {
    const f = this.following;
    this.following = undefined;
    await f?.stop();
  }
}
