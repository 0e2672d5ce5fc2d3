/**
 * `tributary/client`: a typed client of a Tributary server, for
 * applications. Submit runs, await or poll their results, cancel them,
 * re-run steps, read runs, their history and logs, and list them.
 *
 * @example
 * import { Client, RunFailedError } from "tributary/client";
 *
 * const client = new Client({ url: "http://127.0.0.1:7777", project: "default", env: "production", token: process.env.TRIBUTARY_TOKEN });
 * const run = await client.submit("orders:process_orders", [[101, 102, 103]], { idempotencyKey: "batch-7" });
 * try {
 *   console.log(await run.result());
 * } catch (e) {
 *   if (e instanceof RunFailedError) console.error(e.status, e.error.type, e.error.message);
 *   else throw e;
 * }
 */
export { Client, type ArgumentsOf, type ClientOptions, type ResultOf, type SubmitOptions } from "./client.js";
export { RunHandle, SubmittedRun, Rerun } from "./run.js";
export {
  ApiError,
  ConnectionError,
  ForbiddenError,
  InvalidRequestError,
  RunFailedError,
  TributaryClientError,
  UnauthenticatedError,
  UnexpectedResponseError,
  isTransient,
  type ForbiddenLack,
  type UnauthenticatedReason,
} from "./errors.js";
export type { WaitOptions } from "./wait.js";
export type { CaOption } from "./tls.js";
export type * from "../protocol/api.js";
export type { ErrorInfo, Value } from "../events/types.js";
export type { AgentDoc, AssetDoc, ExecutionDoc, RunDoc, RunView, StepDoc } from "../projections/index.js";
