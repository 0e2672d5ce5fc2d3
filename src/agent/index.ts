/** The agent: the SDK that task code imports, and the runtime that hosts it. */
export { task, workflow, type Target, type TargetFunction, type TargetOf } from "./sdk.js";
export { Handle } from "./handle.js";
export { checkpoint, type Checkpoint } from "./checkpoint.js";
export { stub, type Stub, type StubOf } from "./stub.js";
export { prompt, select, suspend, suspense, type PromptOptions, type ResultOf, type Selected } from "./waits.js";
export { Asset, type PersistOptions, type RestoreOptions } from "./asset.js";
export { context, persist, restore, type ExecutionContext, type Logger, type LogFields } from "./context.js";
export type { ErrorClass, RetryOptions, TargetOptions } from "./options.js";
export {
  AbandonedError,
  AgentRefusedError,
  ArgumentsTooLargeError,
  AssetIntegrityError,
  AssetPathError,
  AssetTooLargeError,
  CancelledError,
  CheckpointTooLargeError,
  InvalidOptionError,
  InvalidValueError,
  OutsideExecutionError,
  SuspendedError,
  TerminalError,
  TimeoutError,
} from "./errors.js";
export { startAgent, type Agent, type AgentLogEntry, type AgentOptions } from "./runtime.js";
export { loadRepositories, manifestOf, ModuleLoadError, type LoadedRepository } from "./modules.js";
export { INLINE_VALUE_BYTES, MAX_ARGUMENT_BYTES, MAX_FRAME_BYTES, PROTOCOL_VERSION } from "../protocol/messages.js";
export { group, type GroupOptions } from "./group.js";
export { metric, progress } from "./progress.js";
