/**
 * Tributary's package root: what workflow code imports.
 *
 * @example
 * import { task, workflow, context, persist, restore } from "tributary";
 */
export { task, workflow, type Target, type TargetFunction, type TargetOf } from "./agent/sdk.js";
export { Handle } from "./agent/handle.js";
export { Asset, type PersistOptions, type RestoreOptions } from "./agent/asset.js";
export { context, persist, restore, type ExecutionContext, type Logger, type LogFields } from "./agent/context.js";
export type { ErrorClass, RetryOptions, TargetOptions } from "./agent/options.js";
export {
  AbandonedError,
  AgentRefusedError,
  AssetIntegrityError,
  AssetPathError,
  AssetTooLargeError,
  CancelledError,
  InvalidOptionError,
  InvalidValueError,
  OutsideExecutionError,
  TerminalError,
  TimeoutError,
} from "./agent/errors.js";
export { startAgent, type Agent, type AgentLogEntry, type AgentOptions } from "./agent/runtime.js";
export { PROTOCOL_VERSION } from "./agent/protocol.js";
