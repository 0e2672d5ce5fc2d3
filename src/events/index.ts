/**
 * The event layer's pure part: the catalogue of events, ids, errors,
 * subjects and the `EventLog` port. Loads no I/O library: the codec
 * (msgpackr) is `./codec.js`, the log adapters and blob stores are
 * `./storage/index.js`.
 */
export type * from "./types.js";
export { CURRENT_VERSION, EVENT_TYPES, RUN_EVENT_TYPES } from "./types.js";
export type {
  AgentId,
  AssetId,
  Brand,
  EnvName,
  EventId,
  ExecutionId,
  InvalidName,
  ProjectName,
  RunId,
  StepId,
} from "./ids.js";
export {
  IdGenerator,
  NAME,
  NAME_HINT,
  describeInvalidName,
  isSortableId,
  parseAgentId,
  parseAssetId,
  parseEnvName,
  parseExecutionId,
  parseField,
  parseProjectName,
  parseRunId,
  parseStepId,
  timeOfId,
} from "./ids.js";
export {
  CorruptEvent,
  InvalidCommit,
  InvalidEvent,
  InvalidNameError,
  LogClosed,
  LogNotFound,
  LogUnavailable,
  WrongExpectedSequence,
} from "./errors.js";
export { upcast } from "./upcast.js";
export { SERVER_LOG, TOKEN_HASH, TOKEN_ID, TOKEN_ROLES, isReservedProject } from "./tokens.js";
export { CHECKPOINT_NAME, CHECKPOINT_NAME_HINT } from "./checkpoints.js";
export { MAX_POOL_AGENTS, MAX_POOL_MODULES, POOL_NAME, POOL_NAME_HINT, poolAgentPrefix, poolOfAgent } from "./pools.js";
export type { PoolCreated, PoolDeleted, PoolEvent } from "./pools.js";
export type { Principal } from "./principal.js";
export { describePrincipal } from "./principal.js";
export type { LogRef } from "./subjects.js";
export { describeLog, envSubject, logRef, runSubject, streamName, streamSubjects } from "./subjects.js";
export type { AppendOptions, Appended, EventLog, RawCommit, RawReadOptions, ReadOptions, SubscribeOptions, Subscription } from "./log.js";
export { MAX_COMMIT_BYTES } from "./log.js";
