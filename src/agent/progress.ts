/**
 * What task code tells while it runs: `progress(fraction, message?)` and
 * `metric(name, value)`. Recorded in the run (`ExecutionProgressed`,
 * `MetricRecorded`) and shown by `runs show`, `runs watch` and Studio. The
 * agent sends at most one of each (progress; each metric) per execution
 * every {@link REPORT_INTERVAL_MS}, and always the last.
 */
import { MAX_PROGRESS_MESSAGE, METRIC_NAME } from "../protocol/constants.js";
import { requireHost } from "./context.js";

/** The agent's throttle: per execution, one progress and one value of each metric per interval at most. */
export const REPORT_INTERVAL_MS = 500;
/** Distinct metrics one execution may record. */
export const MAX_METRICS_PER_EXECUTION = 256;

/**
 * Reports how far the execution is: `fraction` from 0 to 1 (or `undefined`
 * for a message alone), and a message of up to 1024 characters.
 *
 * @example
 * for (const [i, file] of files.entries()) {
 *   await load(file);
 *   progress((i + 1) / files.length, `loaded ${file}`);
 * }
 * @throws {RangeError} for a fraction outside 0..1, or a message too long.
 * @throws {OutsideExecutionError} outside the code of an execution.
 */
export const progress = (fraction: number | undefined, message?: string): void => {
  const host = requireHost("progress()");
  if (fraction !== undefined && !(typeof fraction === "number" && fraction >= 0 && fraction <= 1)) {
    throw new RangeError(`progress(): the fraction must be a number from 0 to 1, got ${String(fraction)}`);
  }
  if (message !== undefined && (typeof message !== "string" || message.length > MAX_PROGRESS_MESSAGE)) {
    throw new RangeError(`progress(): the message must be a string of at most ${MAX_PROGRESS_MESSAGE} characters`);
  }
  if (fraction === undefined && message === undefined) throw new TypeError("progress(): give a fraction, a message, or both");
  host.report?.({ kind: "progress", ...(fraction === undefined ? {} : { fraction }), ...(message === undefined ? {} : { message }) });
};

/**
 * Records a value of the metric `name` (1-128 letters, digits, `_`, `.`,
 * `-`, `/`): the latest is shown with the step; every recorded one is in
 * the run's history.
 *
 * @example
 * metric("loss", loss);
 * @throws {RangeError} for a name that cannot name a metric, a value that is
 *   not a finite number, or more than 256 metrics in one execution.
 * @throws {OutsideExecutionError} outside the code of an execution.
 */
export const metric = (name: string, value: number): void => {
  const host = requireHost("metric()");
  if (typeof name !== "string" || !METRIC_NAME.test(name)) {
    throw new RangeError(`metric(): the name must be 1-128 letters, digits, '_', '.', '-' or '/', got ${JSON.stringify(name)}`);
  }
  if (typeof value !== "number" || !Number.isFinite(value)) throw new RangeError(`metric("${name}"): the value must be a finite number, got ${String(value)}`);
  host.report?.({ kind: "metric", name, value });
};
