/** The event layer: catalogue, ids, codec, the `EventLog` port and its adapters. */
export type * from "./types.js";
export { CURRENT_VERSION, EVENT_TYPES, RUN_EVENT_TYPES, isRunEvent } from "./types.js";
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
  describeInvalidName,
  isSortableId,
  parseAgentId,
  parseAssetId,
  parseEnvName,
  parseExecutionId,
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
export { checkEvents, decodeCommit, decodeEventValue, encodeCheckedCommit, encodeCommit, packValue, unpackValue } from "./codec.js";
export { upcast } from "./upcast.js";
export type { LogRef } from "./subjects.js";
export { describeLog, envSubject, logRef, runSubject, streamName, streamSubjects } from "./subjects.js";
export type { AppendOptions, Appended, EventLog, RawCommit, RawReadOptions, ReadOptions, SubscribeOptions, Subscription } from "./log.js";
export { MAX_COMMIT_BYTES } from "./log.js";
export { EmbeddedEventLog, type EmbeddedEventLogOptions } from "./log-embedded.js";
export { JetStreamEventLog, type JetStreamEventLogOptions } from "./log-jetstream.js";
export { lmdbFileProblem } from "./lmdb-file.js";
export { verifyLog, type LogVerification } from "./verify.js";
