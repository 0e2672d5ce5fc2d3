/**
 * The agent's worker threads: spawns them, hands them executions (to the
 * least busy), and terminates and replaces a worker whose aborted execution
 * does not stop within the grace period.
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

/** The failure an agent reports for an execution lost with its worker. */
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
}

const ENTRY = new URL(`./worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);
const BOOT = new URL("./worker-boot.mjs", import.meta.url);
const RESPAWN_DELAY_MS = 1000;

export class WorkerPool {
  readonly #opts: PoolOptions;
  readonly #slots: WorkerSlot[] = [];
  readonly #where = new Map<string, WorkerSlot>();
  readonly #aborting = new Map<string, { reason: AbortReason; timer: NodeJS.Timeout }>();
  #stopped = false;
  #manifests: readonly RepositoryManifest[] | undefined;
  #startWaiters: { resolve(m: readonly RepositoryManifest[]): void; reject(e: Error): void } | undefined;
  #readyAtStart = 0;

  constructor(opts: PoolOptions) {
    this.#opts = opts;
  }

  /** Spawns the workers; resolves with the manifests once every worker has loaded the modules. */
  start(): Promise<readonly RepositoryManifest[]> {
    return new Promise((resolve, reject) => {
      this.#startWaiters = { resolve, reject };
      for (let i = 0; i < this.#opts.size; i++) this.#slots.push(this.#spawn(i));
    });
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
  }

  /** Sends a reply to a worker, unless that worker has been replaced since it asked. */
  send(slot: WorkerSlot, worker: Worker, message: ToWorker): void {
    if (slot.worker === worker) this.#post(slot, message);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const a of this.#aborting.values()) clearTimeout(a.timer);
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }

  #post(slot: WorkerSlot, message: ToWorker): void {
    slot.worker.postMessage(message);
  }

  #spawn(index: number): WorkerSlot {
    const worker = this.#newWorker();
    const slot: WorkerSlot = { index, worker, ready: false, executions: new Set() };
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
        this.#manifests ??= m.manifests;
        if (this.#startWaiters !== undefined && ++this.#readyAtStart === this.#opts.size) {
          this.#startWaiters.resolve(this.#manifests);
          this.#startWaiters = undefined;
        }
        this.#opts.onReady();
      } else if (m.t === "loadFailed") {
        lastError = m.message;
        if (this.#startWaiters !== undefined) {
          this.#startWaiters.reject(new Error(m.message));
          this.#startWaiters = undefined;
        } else this.#opts.diagnostic("error", `a worker could not load the modules: ${m.message}`);
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
      if (this.#startWaiters !== undefined) {
        this.#startWaiters.reject(new Error(why));
        this.#startWaiters = undefined;
        return;
      }
      if (lost.length > 0) this.#opts.onLost(lost, why);
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
