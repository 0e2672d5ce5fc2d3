/**
 * The execution context: which execution the running code belongs to, kept
 * in an `AsyncLocalStorage` so that it follows the code across `await`s.
 *
 * The SDK reaches the agent through an {@link ExecutionHost} that the worker
 * running the execution provides; the SDK itself knows nothing of threads or
 * sockets.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { StepOptions, TargetRef, Value } from "../events/index.js";
import type { HandleRef, LogLevel, Outcome } from "./protocol.js";
import { OutsideExecutionError } from "./errors.js";

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
}

/** A request from task code to the server, through the agent. */
export type HostRequest =
  | {
      readonly type: "submit";
      readonly target: TargetRef;
      readonly arguments: readonly Value[];
      readonly options: StepOptions & { readonly wait?: boolean };
    }
  | { readonly type: "result"; readonly handle: HandleRef; readonly wait: boolean }
  | { readonly type: "cancel"; readonly handle: HandleRef };

/** The server's answer to a {@link HostRequest}. */
export type HostReply =
  | { readonly type: "submitted"; readonly handle: HandleRef }
  | { readonly type: "resolved"; readonly outcome?: Outcome }
  | { readonly type: "ack" };

/** How the SDK reaches the agent on behalf of one execution (provided by the worker). */
export interface ExecutionHost {
  readonly info: Omit<ExecutionContext, "log" | "signal">;
  readonly signal: AbortSignal;
  /** Sends a request; rejects if the execution is aborted or the server answers `error`. */
  request(request: HostRequest): Promise<HostReply>;
  log(level: LogLevel, message: string, fields?: LogFields): void;
  /** Work the execution must wait for before reporting its result (submissions in flight). */
  track(work: Promise<unknown>): void;
}

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
  };
};
