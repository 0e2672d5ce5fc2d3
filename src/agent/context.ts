/**
 * The execution context: which execution the running code belongs to, kept
 * in an `AsyncLocalStorage` so that it follows the code across `await`s.
 *
 * The SDK reaches the agent through an {@link ExecutionHost} that the worker
 * running the execution provides; the SDK itself knows nothing of threads or
 * sockets.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { BlobRef, StepOptions, TargetRef, Value } from "../events/index.js";
import type { AssetFile, AssetRef, HandleRef, LogLevel, Outcome } from "../protocol/messages.js";
import { InvalidValueError, OutsideExecutionError } from "./errors.js";
import { Asset, isAssetLike, type PersistOptions, type RestoreOptions } from "./asset.js";
import { prepareValue } from "./values.js";

/** Structured fields of a log line: names to values (invalid values are logged as their string form). */
export type LogFields = Readonly<Record<string, unknown>>;

/** Log lines of the execution; sent to the server with the execution's id. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** What task code knows of the execution it runs in. See {@link context}. */
export interface ExecutionContext {
  readonly runId: string;
  readonly stepId: string;
  readonly executionId: string;
  /** 1 for the step's first execution, then 2, 3, ... on retries and re-runs. */
  readonly attempt: number;
  /** The target being executed. */
  readonly target: TargetRef;
  /**
   * Aborted when the execution is cancelled or times out; its `reason` is a
   * {@link CancelledError} or a {@link TimeoutError}. Code that ignores it is
   * stopped anyway after a grace period (its worker is terminated).
   */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /**
   * The execution's own working directory (absolute): empty when the
   * execution starts, removed when it ends (unless the agent runs with
   * `keepWorkdirs`). Relative paths given to {@link ExecutionContext.persist}
   * and {@link ExecutionContext.restore} are relative to it. It is not the
   * process's current directory (worker threads cannot `chdir`): build paths
   * with `path.join(workdir, ...)` for your own file I/O.
   */
  readonly workdir: string;
  /** See {@link persist}. */
  persist(paths: string | readonly string[], options?: PersistOptions): Promise<Asset>;
  /** See {@link restore}. */
  restore(asset: Asset, options?: RestoreOptions): Promise<string[]>;
}

/** A request from task code to the server, through the agent. */
export type HostRequest =
  | {
      readonly type: "submit";
      readonly target: TargetRef;
      readonly arguments: readonly Value[];
      /** Set by the worker when the arguments travel as a blob (`arguments` is then empty). */
      readonly argumentsBlob?: BlobRef;
      /** With `argumentsBlob`: how many arguments it holds. */
      readonly argumentCount?: number;
      readonly options: StepOptions & { readonly wait?: boolean };
    }
  | { readonly type: "result"; readonly handle: HandleRef; readonly wait: boolean }
  | { readonly type: "cancel"; readonly handle: HandleRef }
  /** `suspend(ms | Date)` (`delayMs` or `until`), or a wait under `suspense` (`waitingFor`). */
  | { readonly type: "suspend"; readonly until?: number; readonly delayMs?: number; readonly waitingFor?: readonly HandleRef[] }
  | { readonly type: "prompt"; readonly title: string; readonly schema: Value }
  | {
      readonly type: "persist";
      readonly entries: readonly AssetFile[];
      readonly name?: string;
      readonly metadata?: { readonly [key: string]: Value };
    }
  | { readonly type: "restore"; readonly assetId: string; readonly to?: string }
  /** `valueBlob`: set by the worker when the value travels as a blob (`value` is then `null`). */
  | { readonly type: "save-checkpoint"; readonly name: string; readonly value: Value; readonly valueBlob?: BlobRef }
  | { readonly type: "load-checkpoint"; readonly name: string };

/** The server's answer to a {@link HostRequest}. */
export type HostReply =
  | { readonly type: "submitted"; readonly handle: HandleRef }
  | { readonly type: "resolved"; readonly outcome?: Outcome; readonly resultBlob?: BlobRef }
  | { readonly type: "ack" }
  /** The execution is suspended: it has ended. */
  | { readonly type: "suspended" }
  | { readonly type: "answered"; readonly value: Value }
  | { readonly type: "persisted"; readonly asset: AssetRef }
  | { readonly type: "restored"; readonly asset: AssetRef }
  /** The worker downloads a `valueBlob` before the SDK sees the reply. */
  | { readonly type: "checkpoint"; readonly found: boolean; readonly value: Value; readonly valueBlob?: BlobRef };

/** What {@link ExecutionHost.persist} is given: the options of `persist()`, checked. */
export interface HostPersistOptions {
  readonly name?: string;
  readonly metadata?: { readonly [key: string]: Value };
}

/** How the SDK reaches the agent on behalf of one execution (provided by the worker). */
export interface ExecutionHost {
  readonly info: Omit<ExecutionContext, "log" | "signal" | "workdir" | "persist" | "restore">;
  readonly signal: AbortSignal;
  /** The execution's working directory, absolute. */
  readonly workdir: string;
  /** Uploads the files that `paths` name and records the asset (arguments already type-checked). */
  persist(paths: readonly string[], options: HostPersistOptions): Promise<AssetRef>;
  /** Records the restore and downloads the files; the absolute paths of the files written. */
  restore(asset: AssetRef, options: RestoreOptions): Promise<string[]>;
  /** Sends a request; rejects if the execution is aborted or the server answers `error`. */
  request(request: HostRequest): Promise<HostReply>;
  log(level: LogLevel, message: string, fields?: LogFields): void;
  /** Work the execution must wait for before reporting its result (submissions in flight). */
  track(work: Promise<unknown>): void;
  /** Sends progress or a metric's value (checked), throttled; hosts without it drop them. */
  report?(report: ExecutionReport): void;
}

/** What `progress()` and `metric()` report. */
export type ExecutionReport =
  | { readonly kind: "progress"; readonly fraction?: number; readonly message?: string }
  | { readonly kind: "metric"; readonly name: string; readonly value: number };

const STORE_KEY = Symbol.for("tributary.executionStore");
// One store per thread even if two copies of the SDK are loaded (a user's
// module resolving the package to another path must still see the context).
const store: AsyncLocalStorage<ExecutionHost> = ((globalThis as Record<symbol, unknown>)[STORE_KEY] ??=
  new AsyncLocalStorage<ExecutionHost>()) as AsyncLocalStorage<ExecutionHost>;

/** Runs `fn` as the code of the execution that `host` serves. */
export const runInExecution = <T>(host: ExecutionHost, fn: () => T): T => store.run(host, fn);

/** The host of the execution whose code is running, if any. */
export const currentHost = (): ExecutionHost | undefined => store.getStore();

/** The current host, or an {@link OutsideExecutionError} saying what was attempted. */
export const requireHost = (what: string): ExecutionHost => {
  const host = store.getStore();
  if (host === undefined) {
    throw new OutsideExecutionError(
      `${what} was called outside an execution: it only works in the code of a task or workflow run by an agent ` +
        "(start a run with `tributary submit` or the API)",
    );
  }
  return host;
};

/**
 * The context of the execution whose code is running: ids, attempt, abort
 * signal and logger.
 *
 * @example
 * const charge = task("charge", async (order: number) => {
 *   const { attempt, log, signal } = context();
 *   log.info("charging", { order, attempt });
 *   await fetch(`https://pay.example/${order}`, { method: "POST", signal });
 * });
 *
 * @throws {OutsideExecutionError} when called outside an execution (at the
 * top level of a module, say).
 */
export const context = (): ExecutionContext => {
  const host = requireHost("context()");
  const log = (level: LogLevel) => (message: string, fields?: LogFields) => host.log(level, message, fields);
  return {
    ...host.info,
    signal: host.signal,
    log: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    workdir: host.workdir,
    persist: (paths, options) => track(host, persistWith(host, paths, options)),
    restore: (asset, options) => track(host, restoreWith(host, asset, options)),
  };
};

/**
 * Persists files of the execution's working directory as an asset: their
 * bytes are uploaded to the server's blob store (once per content: a blob
 * already stored is not sent again), then the asset is recorded. Returns
 * the {@link Asset}, which can be returned or passed to other calls, and
 * restored there with {@link restore}.
 *
 * Each path is a file or a directory (taken recursively), relative to
 * `context().workdir` or absolute inside it; entries keep their paths
 * relative to the working directory (`out/a.txt`). Empty files are kept;
 * empty directories are not. A symbolic link is followed if it points
 * inside the working directory (the file is stored under the link's path),
 * and refused if it points outside. `..`, and absolute paths outside the
 * working directory, are refused before anything is uploaded.
 *
 * @example
 * await writeFile(path.join(context().workdir, "out/report.csv"), csv);
 * return persist("out", { name: "report", metadata: { rows: 120 } });
 *
 * @throws {AssetPathError} for a path outside the working directory, a
 *   missing path, a link pointing out (not retried).
 * @throws {AssetTooLargeError} when the files total more than the agent's
 *   `maxAssetBytes` (default 8 GiB; not retried).
 * @throws {OutsideExecutionError} outside the code of an execution.
 */
export const persist = (paths: string | readonly string[], options?: PersistOptions): Promise<Asset> => {
  const host = requireHost("persist()");
  return track(host, persistWith(host, paths, options));
};

/**
 * Restores an asset's files into the execution's working directory (or
 * `to`, a directory relative to it, created if needed), each at
 * `<workdir>/<to>/<entry path>`, and returns their absolute paths in the
 * asset's order. The asset may come from another execution, run or (base)
 * environment. Each file is streamed into a temporary file next to its
 * place, its size and sha256 checked, then renamed into place, replacing
 * what was there.
 *
 * @example
 * const [model] = await restore(asset, { to: "model" });
 *
 * @throws {AssetIntegrityError} naming the asset and the entry when a blob
 *   is missing or its bytes do not match.
 * @throws {AssetPathError} when an entry or `to` would lead outside the
 *   target directory (`..`, absolute, a symbolic link pointing out): nothing
 *   is ever written outside it.
 * @throws an error with the server's message for an unknown asset.
 */
export const restore = (asset: Asset, options?: RestoreOptions): Promise<string[]> => {
  const host = requireHost("restore()");
  return track(host, restoreWith(host, asset, options));
};

/** The execution waits for `work` before reporting its result. */
const track = <T>(host: ExecutionHost, work: Promise<T>): Promise<T> => {
  host.track(work);
  return work;
};

const MAX_NAME = 256;

const persistWith = async (host: ExecutionHost, paths: unknown, options: unknown): Promise<Asset> => {
  const list: unknown[] = typeof paths === "string" ? [paths] : Array.isArray(paths) ? [...(paths as unknown[])] : [];
  if (list.length === 0) throw new TypeError(`persist(): expected a path or an array of paths, got ${describe(paths)}`);
  const bad = list.find((p) => typeof p !== "string" || p === "");
  if (bad !== undefined) throw new TypeError(`persist(): every path must be a non-empty string, got ${describe(bad)}`);
  const o = checkOptions(options, "persist()", ["name", "metadata"]);
  const name = o["name"];
  if (name !== undefined && (typeof name !== "string" || name === "" || name.length > MAX_NAME)) {
    throw new TypeError(`persist(): name must be a string of 1 to ${MAX_NAME} characters, got ${describe(name)}`);
  }
  let metadata: { [key: string]: Value } | undefined;
  if (o["metadata"] !== undefined) {
    const m = o["metadata"];
    if (typeof m !== "object" || m === null || Array.isArray(m)) throw new TypeError(`persist(): metadata must be an object, got ${describe(m)}`);
    const prepared = prepareValue(m, "persist() metadata");
    if (prepared.handles.length > 0) throw new InvalidValueError("persist() metadata: a handle cannot be stored in an asset's metadata", "persist() metadata");
    metadata = prepared.value as { [key: string]: Value };
  }
  const ref = await host.persist(list as string[], { ...(name !== undefined ? { name } : {}), ...(metadata !== undefined ? { metadata } : {}) });
  return new Asset(ref);
};

const restoreWith = async (host: ExecutionHost, asset: unknown, options: unknown): Promise<string[]> => {
  if (!isAssetLike(asset)) throw new TypeError(`restore(): expected an Asset (returned by persist(), or received as an argument or a result), got ${describe(asset)}`);
  const o = checkOptions(options, "restore()", ["to"]);
  const to = o["to"];
  if (to !== undefined && (typeof to !== "string" || to === "")) throw new TypeError(`restore(): to must be a non-empty path, got ${describe(to)}`);
  return host.restore(asset.ref, to === undefined ? {} : { to });
};

const checkOptions = (options: unknown, what: string, known: readonly string[]): Record<string, unknown> => {
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) throw new TypeError(`${what}: options must be an object, got ${describe(options)}`);
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new TypeError(`${what}: unknown option ${unknown.join(", ")} (known: ${known.join(", ")})`);
  return options as Record<string, unknown>;
};

const describe = (v: unknown): string => {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || v === undefined || typeof v !== "object") return String(v);
  return Array.isArray(v) ? "an array" : `an object (${(v as object).constructor?.name ?? "no prototype"})`;
};
