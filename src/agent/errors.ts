/**
 * The SDK's errors: the ones task code throws or catches, and how a thrown
 * error crosses a call as {@link ErrorInfo} and back.
 */
import type { ErrorInfo } from "../events/index.js";
import type { Outcome } from "../protocol/messages.js";

/**
 * Throw it from task code to fail the execution without any retry, whatever
 * the retry policy says.
 *
 * @example
 * if (!card.valid) throw new TerminalError("card rejected: do not retry");
 */
export class TerminalError extends Error {
  override name = "TerminalError";
}

/** The awaited step (or this execution) was cancelled. */
export class CancelledError extends Error {
  override name = "CancelledError";
}

/** The awaited step (or this execution) ran longer than its `timeout`. */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** The awaited step's agent was lost and the step was given up. */
export class AbandonedError extends Error {
  override name = "AbandonedError";
}

/**
 * A value that cannot cross a call (a function, a `Map`, a class instance,
 * a cycle...). Thrown at the call site; `path` names the offending value,
 * e.g. `argument 0 .items[2]`.
 */
/**
 * Thrown into the code of an execution that the server has suspended
 * (`suspend()`, or a wait under `suspense()` that took too long): it unwinds
 * the code, which will run again from the top when the execution resumes.
 * Do not swallow it: the execution has ended, and nothing it does from now
 * on is recorded.
 */
export class SuspendedError extends Error {
  override name = "SuspendedError";
  constructor(readonly executionId: string) {
    super(`execution ${executionId} is suspended: it runs again from the top when it resumes`);
  }
}

export class InvalidValueError extends TypeError {
  override name = "InvalidValueError";
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/**
 * A call's arguments are over the limit (`MAX_ARGUMENT_BYTES`, 64 MiB) encoded (or the
 * blob could not be stored): thrown at the call site, nothing is sent.
 * Persist large data as an asset and pass the asset instead.
 */
export class ArgumentsTooLargeError extends TerminalError {
  override name = "ArgumentsTooLargeError";
}

/**
 * A checkpoint's value is over the limit (`MAX_RESULT_BYTES`, 64 MiB)
 * encoded: thrown by `set`, nothing is saved. Persist large data as an
 * asset and checkpoint the asset instead.
 */
export class CheckpointTooLargeError extends TerminalError {
  override name = "CheckpointTooLargeError";
}

/** A target was defined (or called `.with`) with an invalid option; `field` names it, e.g. `retries.limit`. */
export class InvalidOptionError extends TypeError {
  override name = "InvalidOptionError";
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

/** `context()` or a target was called outside the code of an execution run by an agent. */
export class OutsideExecutionError extends Error {
  override name = "OutsideExecutionError";
}

/**
 * The server refused the agent (protocol version, unknown project...);
 * `reason` is the server's. `status` 401 or 403: it refused the agent's
 * credentials when it connected (no token or not a valid one; a token whose
 * project, environments or role do not reach): the agent does not retry.
 */
export class AgentRefusedError extends Error {
  override name = "AgentRefusedError";
  constructor(
    readonly reason: string,
    readonly status?: 401 | 403,
  ) {
    super(`the server refused the agent${status === undefined ? "" : ` (HTTP ${status})`}: ${reason}`);
  }
}

/**
 * A path given to `persist()` / `restore()`, or an entry of an asset being
 * restored, that would leave its directory: `..`, an absolute path outside
 * the execution's working directory, a symbolic link pointing out, a file
 * where a directory is needed... Thrown before anything is uploaded or
 * written; not retried (a {@link TerminalError}).
 */
export class AssetPathError extends TerminalError {
  override name = "AssetPathError";
}

/** `persist()` was given more bytes than the agent's `maxAssetBytes` (or the server's blob limit). Not retried. */
export class AssetTooLargeError extends TerminalError {
  override name = "AssetTooLargeError";
}

/**
 * A file of an asset could not be restored intact: its blob is missing on
 * the server, or the bytes received do not have the entry's size and
 * sha256. `assetId` and `path` (the entry's) are in the message too.
 */
export class AssetIntegrityError extends Error {
  override name = "AssetIntegrityError";
  constructor(
    readonly assetId: string,
    readonly path: string,
    detail: string,
  ) {
    super(`asset ${assetId}: entry ${path}: ${detail}`);
  }
}

// ---------------------------------------------------------------------------
// Errors as data

/** What decides whether an error may be retried: the target's `retries.retryOn`. */
export interface RetryFilter {
  /** Error names that retry; absent: every error that is not terminal. */
  readonly names?: readonly string[];
  /** Error classes that retry (matched with `instanceof`). */
  readonly classes?: readonly (abstract new (...args: never[]) => Error)[];
}

/**
 * Turns anything thrown into {@link ErrorInfo}. A {@link TerminalError}, or an
 * error outside `filter`, is not retryable. A thrown non-error becomes an
 * `Error` with its string form as the message.
 */
export const toErrorInfo = (thrown: unknown, filter: RetryFilter = {}): ErrorInfo => {
  if (!(thrown instanceof Error)) {
    return { type: "Error", message: `a non-error was thrown: ${describeThrown(thrown)}`, retryable: isRetryable(undefined, filter) };
  }
  const type = typeof thrown.name === "string" && thrown.name !== "" ? thrown.name : "Error";
  const info: ErrorInfo = { type, message: String(thrown.message), retryable: isRetryable(thrown, filter) };
  return typeof thrown.stack === "string" ? { ...info, stack: thrown.stack } : info;
};

const isRetryable = (err: Error | undefined, filter: RetryFilter): boolean => {
  if (err instanceof TerminalError || err?.name === "TerminalError") return false;
  if (filter.names === undefined && filter.classes === undefined) return true;
  if (err === undefined) return false;
  if (filter.classes?.some((c) => err instanceof c)) return true;
  return filter.names?.some((n) => namesOf(err).includes(n)) ?? false;
};

/** The error's name and the names of the classes it inherits from. */
const namesOf = (err: Error): string[] => {
  const names = [err.name];
  for (let p: unknown = Object.getPrototypeOf(err); p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const ctor = (p as { constructor?: { name?: unknown } }).constructor;
    if (typeof ctor?.name === "string") names.push(ctor.name);
  }
  return names;
};

const describeThrown = (v: unknown): string => {
  try {
    return typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
};

const STANDARD: Readonly<Record<string, (message: string) => Error>> = {
  Error: (m) => new Error(m),
  EvalError: (m) => new EvalError(m),
  RangeError: (m) => new RangeError(m),
  ReferenceError: (m) => new ReferenceError(m),
  SyntaxError: (m) => new SyntaxError(m),
  TypeError: (m) => new TypeError(m),
  URIError: (m) => new URIError(m),
  AggregateError: (m) => new AggregateError([], m),
  TerminalError: (m) => new TerminalError(m),
};

/**
 * Rebuilds a thrown error from {@link ErrorInfo}: same `name`, `message` and
 * `stack`; an instance of the standard class of that name when there is one
 * (`RangeError`, `TypeError`, `AggregateError` (without its errors), ...,
 * and {@link TerminalError}), else an `Error`
 * whose `name` is the original's.
 */
export const errorFromInfo = (info: ErrorInfo): Error => {
  const make = Object.hasOwn(STANDARD, info.type) ? STANDARD[info.type] : undefined;
  const err = make ? make(info.message) : new Error(info.message);
  if (err.name !== info.type) {
    Object.defineProperty(err, "name", { value: info.type, writable: true, configurable: true, enumerable: false });
  }
  err.stack = info.stack ?? `${info.type}: ${info.message}`;
  return err;
};

/** The error an `await` of a call throws for an outcome that is not a success. */
export const errorFromOutcome = (outcome: Exclude<Outcome, { status: "succeeded" }>): Error => {
  const status: "failed" | "cancelled" | "timed_out" | "abandoned" = outcome.status;
  switch (status) {
    case "failed":
      return errorFromInfo(outcome.error);
    case "cancelled":
      return new CancelledError(outcome.error.message);
    case "timed_out":
      return new TimeoutError(outcome.error.message);
    case "abandoned":
      return new AbandonedError(outcome.error.message);
    default: {
      const never: never = status;
      return new Error(`unknown outcome status ${String(never)}`);
    }
  }
};

/** Why the server aborts an execution, as the error its `AbortSignal` carries. */
export const abortError = (reason: "cancelled" | "timed_out" | "abandoned"): Error => {
  switch (reason) {
    case "cancelled":
      return new CancelledError("the execution was cancelled");
    case "timed_out":
      return new TimeoutError("the execution timed out");
    case "abandoned":
      return new AbandonedError("the execution was abandoned");
    default: {
      const never: never = reason;
      return new Error(`unknown abort reason ${String(never)}`);
    }
  }
};

/** How an aborted execution is reported: the abort's error; a cancellation is not retryable. */
export const abortErrorInfo = (reason: "cancelled" | "timed_out" | "abandoned"): ErrorInfo => {
  const e = abortError(reason);
  return { type: e.name, message: e.message, retryable: reason !== "cancelled" };
};
