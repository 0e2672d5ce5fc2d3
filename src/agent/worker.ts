/**
 * A worker thread of the agent: loads the modules once, then runs many
 * executions concurrently, each in its own execution context. Started by
 * `worker-boot.mjs`, which registers tsx first so that TypeScript loads.
 */
import { realpath } from "node:fs/promises";
import { parentPort, workerData } from "node:worker_threads";
import { packValue } from "../events/codec.js";
import type { Value } from "../events/types.js";
import { INLINE_VALUE_BYTES, MAX_ARGUMENT_BYTES, packArguments, type AssetRef, type LogLevel } from "../protocol/messages.js";
import { runInExecution, type ExecutionHost, type ExecutionReport, type HostPersistOptions, type HostReply, type HostRequest, type LogFields } from "./context.js";
import { MAX_METRICS_PER_EXECUTION, REPORT_INTERVAL_MS } from "./progress.js";
import { Throttle } from "./throttle.js";
import type { RestoreOptions } from "./asset.js";
import { persistAsset, restoreAsset, type AssetIo } from "./assets.js";
import { BlobClient } from "./blob-client.js";
import { valueTransfers } from "./worker-values.js";
import { makeWorkdir, removeWorkdir, workdirOf } from "./workdir.js";
import { abortError, abortErrorInfo as abortInfo, ArgumentsTooLargeError, SuspendedError, toErrorInfo } from "./errors.js";
import { decodeWithHandles } from "./handle.js";
import { loadRepositories, manifestOf } from "./modules.js";
import type { TargetCore } from "./sdk.js";
import { finishValue, prepareResult, prepareValue } from "./values.js";
import type { AbortReason, ExecuteOrder, FromWorker, ToWorker, WorkerData } from "./worker-protocol.js";

const port = parentPort;
if (port === null) throw new Error("src/agent/worker.ts runs in a worker thread of the agent");
const post = (m: FromWorker): void => port.postMessage(m);

const targets = new Map<string, TargetCore>();
const executions = new Map<string, WorkerExecution>();
const requests = new Map<number, { readonly exec: WorkerExecution; resolve(r: HostReply): void; reject(e: Error): void }>();
let nextRequestId = 1;

const keyOf = (repository: string, target: string): string => `${repository}\u0000${target}`;

const data = workerData as WorkerData;
const blobs = new BlobClient(
  data.server,
  { project: data.project, env: data.env },
  { ...(data.ca === undefined ? {} : { ca: data.ca }), ...(data.token === undefined ? {} : { token: data.token }) },
);
const { loadArguments, loadResult, untilDone, withLargeCheckpoint, withLargeResult } = valueTransfers(blobs, post);
let workdirRoot = data.workdirRoot;

class WorkerExecution implements ExecutionHost {
  readonly #controller = new AbortController();
  readonly #pending = new Set<number>();
  readonly #tracked: Promise<unknown>[] = [];
  readonly #assetController = new AbortController();
  readonly #assets = new Set<Promise<unknown>>();
  abortReason: AbortReason | undefined;
  /** The server suspended it: its code is stopped, and nothing it reports counts (the execution has ended). */
  suspended = false;
  finished = false;

  constructor(
    readonly info: ExecutionHost["info"],
    readonly workdir: string,
  ) {}

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  readonly #reports = new Throttle<Extract<FromWorker, { t: "report" }>["message"]>(REPORT_INTERVAL_MS, (message) => post({ t: "report", message }));

  report(r: ExecutionReport): void {
    if (this.finished) return;
    const executionId = this.info.executionId;
    if (r.kind === "progress") {
      const { kind: _k, ...fields } = r;
      return this.#reports.push("progress", { type: "progress", executionId, ...fields });
    }
    const channel = `metric:${r.name}`;
    if (!this.#reports.has(channel) && this.#reports.channels - (this.#reports.has("progress") ? 1 : 0) >= MAX_METRICS_PER_EXECUTION) {
      throw new RangeError(`metric("${r.name}"): an execution may record at most ${MAX_METRICS_PER_EXECUTION} metrics`);
    }
    this.#reports.push(channel, { type: "metric", executionId, name: r.name, value: r.value });
  }

  /** Sends the reports still held back by the throttle (before the result). */
  flushReports(): void {
    this.#reports.flush();
  }

  persist(paths: readonly string[], options: HostPersistOptions): Promise<AssetRef> {
    return this.#assetWork((io) => persistAsset(io, paths, options));
  }

  restore(asset: AssetRef, options: RestoreOptions): Promise<string[]> {
    return this.#assetWork((io) => restoreAsset(io, asset, options));
  }

  /** Stops the uploads and downloads still running (the code failed without waiting for them) and waits for them to settle. */
  async stopAssets(): Promise<void> {
    this.#assetController.abort(new Error(`execution ${this.info.executionId} has finished`));
    await Promise.allSettled(this.#assets);
  }

  #assetWork<T>(run: (io: AssetIo) => Promise<T>): Promise<T> {
    if (this.signal.aborted) return Promise.reject(this.signal.reason as Error);
    if (this.finished || this.#assetController.signal.aborted) {
      return Promise.reject(new Error(`execution ${this.info.executionId} has finished: it can no longer persist or restore assets`));
    }
    const signal = AbortSignal.any([this.signal, this.#assetController.signal]);
    const work = run({ workdir: this.workdir, blobs, maxAssetBytes: data.maxAssetBytes, signal, request: (r) => this.request(r) });
    this.#assets.add(work);
    void work.then(
      () => this.#assets.delete(work),
      () => this.#assets.delete(work),
    );
    return work;
  }

  request(request: HostRequest): Promise<HostReply> {
    if (this.signal.aborted) return Promise.reject(this.signal.reason as Error);
    if (this.finished) return Promise.reject(new Error(`execution ${this.info.executionId} has finished: its handles can no longer be used`));
    // Requests leave in the order they were made, even when one waits for its arguments' upload.
    const ready = this.#posting.then(() => this.#withLargeArguments(request));
    this.#posting = ready.then(
      () => undefined,
      () => undefined,
    );
    return ready.then(
      (prepared) =>
        new Promise<HostReply>((resolve, reject) => {
          if (this.signal.aborted) return reject(this.signal.reason as Error);
          if (this.finished) return reject(new Error(`execution ${this.info.executionId} has finished: its handles can no longer be used`));
          const id = nextRequestId++;
          requests.set(id, { exec: this, resolve, reject });
          this.#pending.add(id);
          post({ t: "request", id, executionId: this.info.executionId, request: prepared });
        }),
    );
  }

  #posting: Promise<void> = Promise.resolve();

  /** A call whose arguments are over the inline limit sends them as a blob, uploaded first; over the argument limit, it fails here. */
  async #withLargeArguments(request: HostRequest): Promise<HostRequest> {
    if (request.type === "save-checkpoint") return withLargeCheckpoint(request, this.signal);
    if (request.type !== "submit" || request.arguments.length === 0) return request;
    const what = `${request.target.repository}:${request.target.target}`;
    // The size does not depend on key order: measure without sorting, and sort (for the blob's hash) only when it is a blob.
    if (packValue(request.arguments).length <= INLINE_VALUE_BYTES) return request;
    const bytes = packArguments(request.arguments);
    if (bytes.length > MAX_ARGUMENT_BYTES) {
      throw new ArgumentsTooLargeError(
        `the arguments of the call to ${what} are ${bytes.length} bytes encoded, over the limit of ${MAX_ARGUMENT_BYTES} bytes: ` +
          "persist large data as an asset (context().persist) and pass the asset instead",
      );
    }
    try {
      const blob = await untilDone(() => blobs.putBytes(bytes, this.signal), this.signal);
      return { ...request, arguments: [], argumentsBlob: blob, argumentCount: request.arguments.length };
    } catch (err) {
      if (this.signal.aborted) throw this.signal.reason as Error;
      throw new ArgumentsTooLargeError(
        `the arguments of the call to ${what} (${bytes.length} bytes encoded) could not be stored as a blob: ${(err as Error).message}; ` +
          "persist large data as an asset and pass the asset instead",
      );
    }
  }

  settle(id: number): void {
    this.#pending.delete(id);
  }

  log(level: LogLevel, message: string, fields?: LogFields): void {
    const clean = fields === undefined ? undefined : cleanFields(fields);
    post({ t: "log", executionId: this.info.executionId, level, message: String(message), ...(clean ? { fields: clean } : {}), at: Date.now() });
  }

  track(work: Promise<unknown>): void {
    this.#tracked.push(work);
  }

  /** Waits for tracked work, including work tracked while waiting. */
  async drain(): Promise<void> {
    for (let seen = 0; seen < this.#tracked.length; ) {
      const batch = this.#tracked.slice(seen);
      seen = this.#tracked.length;
      await Promise.allSettled(batch);
    }
  }

  abort(reason: AbortReason): void {
    if (this.signal.aborted) return;
    this.abortReason = reason;
    const err = abortError(reason);
    this.#controller.abort(err);
    this.dropPending(err);
  }

  /** The server has suspended it: its signal fires and what it still waits for is dropped, with a {@link SuspendedError}. */
  suspend(): void {
    if (this.suspended || this.signal.aborted) return;
    this.suspended = true;
    const err = new SuspendedError(this.info.executionId);
    this.#controller.abort(err);
    this.dropPending(err);
  }

  dropPending(err: Error): void {
    for (const id of this.#pending) {
      requests.get(id)?.reject(err);
      requests.delete(id);
    }
    this.#pending.clear();
  }
}

/** Log fields as values; what cannot be a value is logged as its string form. */
const cleanFields = (fields: LogFields): { [key: string]: Value } => {
  const out: { [key: string]: Value } = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    try {
      const p = prepareValue(v, k);
      out[k] = p.handles.length === 0 ? (p.value as Value) : String(v);
    } catch {
      out[k] = String(v);
    }
  }
  return out;
};

/**
 * What the agent reports for an execution the server suspended: the server
 * has recorded its end already and records nothing of this (the report only
 * frees the agent's slot).
 */
const SUSPENDED = { type: "Suspended", message: "the execution was suspended", retryable: false } as const;

const execute = async (order: ExecuteOrder): Promise<void> => {
  const { executionId } = order;
  if (executions.has(executionId)) return;
  const core = targets.get(keyOf(order.target.repository, order.target.target));
  if (core === undefined) {
    const where = `${order.target.repository}:${order.target.target}`;
    post({ t: "failed", executionId, error: { type: "UnknownTarget", message: `this agent does not host ${where}`, retryable: false } });
    return;
  }
  const exec = new WorkerExecution(
    {
      runId: order.runId,
      stepId: order.stepId,
      executionId,
      attempt: order.attempt,
      target: order.target,
    },
    workdirOf(workdirRoot, executionId),
  );
  executions.set(executionId, exec);
  try {
    await makeWorkdir(workdirRoot, exec.workdir);
  } catch (err) {
    executions.delete(executionId);
    post({ t: "failed", executionId, error: { type: "WorkdirError", message: `the agent could not make the working directory ${exec.workdir}: ${(err as Error).message}`, retryable: true } });
    return;
  }
  post({ t: "started", executionId });
  let report: FromWorker;
  try {
    const given = order.argumentsBlob === undefined ? order.arguments : await loadArguments(order.argumentsBlob, exec.signal);
    const args = decodeWithHandles(given, exec) as never[];
    const value: unknown = await runInExecution(exec, () => core.fn(...args));
    await exec.drain();
    if (exec.abortReason !== undefined || exec.suspended) throw exec.signal.reason;
    try {
      report = await withLargeResult(executionId, await finishValue(prepareResult(value)), exec.signal);
    } catch (err) {
      if (exec.abortReason !== undefined) throw err;
      report = { t: "failed", executionId, error: { ...toErrorInfo(err), retryable: false } };
    }
  } catch (err) {
    // Uploads and downloads the code started and did not wait for must not outlive it (nor its working directory).
    await exec.stopAssets();
    const error = exec.suspended ? SUSPENDED : exec.abortReason !== undefined ? abortInfo(exec.abortReason) : toErrorInfo(err, core.parsed.retryFilter);
    report = { t: "failed", executionId, error };
  } finally {
    exec.flushReports();
    exec.finished = true;
    exec.dropPending(new Error(`execution ${executionId} has finished`));
  }
  // The working directory goes before the result: once the server knows the result, nothing of the execution is left.
  if (data.keepWorkdirs) post({ t: "diagnostic", level: "debug", message: `kept the working directory of ${executionId}: ${exec.workdir}` });
  else {
    await removeWorkdir(exec.workdir).catch((err: unknown) =>
      post({ t: "diagnostic", level: "warn", message: `could not remove the working directory ${exec.workdir}: ${(err as Error).message}` }),
    );
  }
  executions.delete(executionId);
  post(report);
};

const onMessage = (m: ToWorker): void => {
  switch (m.t) {
    case "execute":
      void execute(m);
      return;
    case "abort":
      executions.get(m.executionId)?.abort(m.reason);
      return;
    case "reply":
    case "replyError": {
      const r = requests.get(m.id);
      if (r === undefined) return;
      requests.delete(m.id);
      r.exec.settle(m.id);
      if (m.t !== "reply") r.reject(new Error(m.message));
      else if (m.reply.type === "suspended") {
        r.exec.suspend();
        r.resolve(m.reply);
      }
      else if (m.reply.type === "resolved" && m.reply.resultBlob !== undefined) {
        void loadResult(m.reply.resultBlob, r.exec.signal).then((value) => r.resolve({ type: "resolved", outcome: { status: "succeeded", value } }), r.reject);
      } else if (m.reply.type === "checkpoint" && m.reply.valueBlob !== undefined) {
        void loadResult(m.reply.valueBlob, r.exec.signal).then((value) => r.resolve({ type: "checkpoint", found: true, value }), r.reject);
      } else r.resolve(m.reply);
      return;
    }
    default: {
      const never: never = m;
      post({ t: "diagnostic", level: "warn", message: `worker: unknown message ${JSON.stringify(never)}` });
    }
  }
};

// A promise that task code left rejected and unobserved is its own business:
// report it, but do not take the other executions of this worker down.
process.on("unhandledRejection", (reason) => {
  const text = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
  post({ t: "diagnostic", level: "warn", message: `unhandled rejection in task code: ${text}` });
});

try {
  workdirRoot = await realpath(data.workdirRoot);
  const repositories = await loadRepositories(data.modules, data.cwd);
  for (const repo of repositories) for (const core of repo.targets.values()) targets.set(keyOf(repo.repository, core.name), core);
  port.on("message", onMessage);
  post({ t: "ready", manifests: repositories.map(manifestOf) });
} catch (err) {
  post({ t: "loadFailed", message: err instanceof Error ? err.message : String(err) });
}
