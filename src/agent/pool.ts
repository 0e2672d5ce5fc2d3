/**
 * The agent's worker threads: spawns them, hands them executions (to the
 * least busy), and terminates and replaces a worker whose aborted execution
 * does not stop within the grace period.
 *
 * A reload (`--watch`) starts a new set of workers, which import the modules
 * afresh (each worker thread has its own module cache): once all of them
 * have loaded, new executions go to them, and the old workers finish what
 * they run on the old code and are then terminated. If one of the new set
 * fails to load, the new set goes and the old one stays.
 */
import { Worker } from "node:worker_threads";
import type { ErrorInfo } from "../events/index.js";
import type { LogLevel, RepositoryManifest } from "../protocol/messages.js";
import { abortErrorInfo } from "./errors.js";
import type { AbortReason, ExecuteOrder, FromWorker, ToWorker, WorkerData } from "./worker-protocol.js";

/** An execution that was on a worker when the worker went away. */
export interface LostExecution {
  readonly executionId: string;
  /** Set when it had been aborted (and did not stop in time). */
  readonly abortReason?: AbortReason;
}

/** What a lost execution is reported as: its abort, or its worker's restart (not the task's fault). */
export const lostInfo = (l: LostExecution, why: string): ErrorInfo =>
  l.abortReason !== undefined
    ? abortErrorInfo(l.abortReason)
    : { type: "WorkerRestarted", message: `the worker running the execution went away: ${why}`, retryable: true };

export interface PoolOptions {
  readonly size: number;
  readonly data: WorkerData;
  /** How long an aborted execution has to stop before its worker is terminated, ms. */
  readonly abortGraceMs: number;
  /** A message from a worker (not `ready` / `loadFailed`). */
  readonly onMessage: (slot: WorkerSlot, message: FromWorker) => void;
  /** A worker went away with these executions; a replacement is being started. */
  readonly onLost: (lost: readonly LostExecution[], why: string) => void;
  /** A worker became ready (at start, or a replacement). */
  readonly onReady: () => void;
  readonly diagnostic: (level: LogLevel, message: string) => void;
}

/** One worker thread and what runs on it. */
export interface WorkerSlot {
  readonly index: number;
  worker: Worker;
  ready: boolean;
  readonly executions: Set<string>;
  /** Replaced by a reload: given nothing new, terminated once its executions are done. */
  retiring?: boolean;
  /** Set until the worker's first load: its set's start waits for it. */
  boot?: { ready(manifests: readonly RepositoryManifest[]): void; failed(why: string): void };
}

const ENTRY = new URL(`./worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);
const BOOT = new URL("./worker-boot.mjs", import.meta.url);
const RESPAWN_DELAY_MS = 1000;

export class WorkerPool {
  readonly #opts: PoolOptions;
  readonly #slots: WorkerSlot[] = [];
  readonly #where = new Map<string, WorkerSlot>();
  readonly #aborting = new Map<string, { reason: AbortReason; timer: NodeJS.Timeout }>();
  /** Workers of earlier sets, still running executions of the old code. */
  readonly #retiring = new Set<WorkerSlot>();
  #stopped = false;
  #nextIndex = 0;

  constructor(opts: PoolOptions) {
    this.#opts = opts;
  }

  /** Spawns the workers; resolves with the manifests once every worker has loaded the modules. */
  async start(): Promise<readonly RepositoryManifest[]> {
    const { slots, manifests } = await this.#spawnSet();
    this.#slots.push(...slots);
    return manifests;
  }

  /**
   * Loads the modules afresh in a new set of workers, which take the new
   * executions from then on; the old workers finish theirs and go.
   * `check` may refuse the new manifests (it throws): the new set goes then too.
   * @throws an error saying why the new set could not load (the old one stays).
   */
  async reload(check: (manifests: readonly RepositoryManifest[]) => void = () => {}): Promise<readonly RepositoryManifest[]> {
    const { slots, manifests } = await this.#spawnSet();
    try {
      if (this.#stopped) throw new Error("the agent is stopping");
      check(manifests);
    } catch (e) {
      for (const s of slots) s.retiring = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
      throw e;
    }
    for (const old of this.#slots.splice(0, this.#slots.length, ...slots)) {
      old.retiring = true;
      this.#retiring.add(old);
      this.#retireIfIdle(old);
    }
    this.#opts.onReady();
    return manifests;
  }

  /** A set of `size` new workers, once every one has loaded the modules (or the first failure, the set terminated). */
  #spawnSet(): Promise<{ slots: WorkerSlot[]; manifests: readonly RepositoryManifest[] }> {
    return new Promise((resolve, reject) => {
      const slots: WorkerSlot[] = [];
      let ready = 0;
      let first: readonly RepositoryManifest[] | undefined;
      let failed = false;
      const boot = {
        ready: (m: readonly RepositoryManifest[]) => {
          first ??= m;
          if (!failed && ++ready === slots.length) resolve({ slots, manifests: first });
        },
        failed: (why: string) => {
          if (failed) return;
          failed = true;
          for (const s of slots) {
            s.boot = undefined;
            s.retiring = true;
          }
          void Promise.all(slots.map((s) => s.worker.terminate())).finally(() => reject(new Error(why)));
        },
      };
      for (let i = 0; i < this.#opts.size; i++) slots.push(this.#spawn(this.#nextIndex++, boot));
    });
  }

  /** A retired worker with nothing left to run is terminated. */
  #retireIfIdle(slot: WorkerSlot): void {
    if (!slot.retiring || slot.executions.size > 0) return;
    this.#retiring.delete(slot);
    void slot.worker.terminate();
  }

  /** Number of executions the workers are running. */
  get busy(): number {
    return this.#where.size;
  }

  /** Runs the execution on the least busy ready worker; `false` if no worker is ready. */
  dispatch(order: ExecuteOrder): boolean {
    // A worker with an aborted execution still running may be stuck (and
    // about to be terminated): give it nothing new while another can take it.
    const stuck = (s: WorkerSlot) => [...s.executions].some((id) => this.#aborting.has(id));
    let best: WorkerSlot | undefined;
    for (const s of this.#slots) {
      if (!s.ready) continue;
      if (best === undefined || stuck(best) > stuck(s) || (stuck(best) === stuck(s) && s.executions.size < best.executions.size)) best = s;
    }
    if (best === undefined) return false;
    best.executions.add(order.executionId);
    this.#where.set(order.executionId, best);
    this.#post(best, { t: "execute", ...order });
    return true;
  }

  has(executionId: string): boolean {
    return this.#where.has(executionId);
  }

  /** Aborts the execution: its signal fires, and its worker is terminated if it has not finished within the grace period. */
  abort(executionId: string, reason: AbortReason): void {
    const slot = this.#where.get(executionId);
    if (slot === undefined || this.#aborting.has(executionId)) return;
    const timer = setTimeout(() => {
      if (slot.executions.has(executionId)) {
        this.#opts.diagnostic("warn", `execution ${executionId} did not stop within ${this.#opts.abortGraceMs} ms of its abort: terminating worker ${slot.index}`);
        void slot.worker.terminate();
      }
    }, this.#opts.abortGraceMs);
    this.#aborting.set(executionId, { reason, timer });
    this.#post(slot, { t: "abort", executionId, reason });
  }

  /** The execution has reported its result. */
  finished(executionId: string): void {
    const slot = this.#where.get(executionId);
    this.#where.delete(executionId);
    slot?.executions.delete(executionId);
    const a = this.#aborting.get(executionId);
    if (a !== undefined) clearTimeout(a.timer);
    this.#aborting.delete(executionId);
    if (slot !== undefined) this.#retireIfIdle(slot);
  }

  /** Sends a reply to a worker, unless that worker has been replaced since it asked. */
  send(slot: WorkerSlot, worker: Worker, message: ToWorker): void {
    if (slot.worker === worker) this.#post(slot, message);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const a of this.#aborting.values()) clearTimeout(a.timer);
    await Promise.all([...this.#slots, ...this.#retiring].map((s) => s.worker.terminate()));
  }

  #post(slot: WorkerSlot, message: ToWorker): void {
    slot.worker.postMessage(message);
  }

  #spawn(index: number, boot: NonNullable<WorkerSlot["boot"]>): WorkerSlot {
    const worker = this.#newWorker();
    const slot: WorkerSlot = { index, worker, ready: false, executions: new Set(), boot };
    this.#watch(slot, worker);
    return slot;
  }

  #newWorker(): Worker {
    const typescript = /\.[cm]?tsx?$/;
    const data = {
      ...this.#opts.data,
      tributaryEntry: ENTRY.href,
      tributaryRegisterTsx: typescript.test(ENTRY.pathname) || this.#opts.data.modules.some((m) => typescript.test(m)),
    };
    return new Worker(BOOT, { workerData: data });
  }

  #watch(slot: WorkerSlot, worker: Worker): void {
    let lastError: string | undefined;
    worker.on("message", (m: FromWorker) => {
      if (slot.worker !== worker || this.#stopped) return;
      if (m.t === "ready") {
        slot.ready = true;
        const boot = slot.boot;
        slot.boot = undefined;
        if (boot !== undefined) boot.ready(m.manifests);
        else this.#opts.onReady();
      } else if (m.t === "loadFailed") {
        lastError = m.message;
        const boot = slot.boot;
        slot.boot = undefined;
        if (boot !== undefined) boot.failed(m.message);
        else this.#opts.diagnostic("error", `a worker could not load the modules: ${m.message}`);
        void worker.terminate();
      } else this.#opts.onMessage(slot, m);
    });
    worker.on("error", (err) => {
      lastError = err.stack ?? err.message;
    });
    worker.on("exit", (code) => {
      if (slot.worker !== worker || this.#stopped) return;
      slot.ready = false;
      const lost: LostExecution[] = [...slot.executions].map((executionId) => {
        const reason = this.#aborting.get(executionId)?.reason;
        this.finished(executionId);
        return reason === undefined ? { executionId } : { executionId, abortReason: reason };
      });
      const why = lastError !== undefined ? `worker ${slot.index} failed: ${lastError}` : `worker ${slot.index} exited (code ${code})`;
      if (slot.boot !== undefined) {
        slot.boot.failed(why);
        return;
      }
      if (lost.length > 0) this.#opts.onLost(lost, why);
      // A retired worker is not replaced (the new set serves), whether it crashed or was terminated once idle.
      if (slot.retiring) {
        this.#retiring.delete(slot);
        return;
      }
      // A worker that aborted on purpose comes back at once; one that crashed or failed to load, after a pause.
      const delay = lastError === undefined ? 0 : RESPAWN_DELAY_MS;
      setTimeout(() => {
        if (this.#stopped || slot.worker !== worker) return;
        slot.worker = this.#newWorker();
        this.#watch(slot, slot.worker);
      }, delay).unref();
    });
  }
}
