/**
 * The event catalogue: every fact Tributary records, as one union
 * discriminated on `type`.
 *
 * Events are facts in the past tense and never change once shipped. A change
 * of shape adds a new schema version `v` and an upcaster in `upcast.ts`; the
 * types here are always the *current* versions, which is all that code past
 * the decoder ever sees.
 *
 * Run events carry the id of their run (and travel on the run's subject, so
 * that one run's history is a filtered read); environment events (manifests,
 * agents, the environment's own lifecycle) carry none.
 *
 * Times are milliseconds since the Unix epoch (UTC). Ids and times come in
 * with the command that produced the event: nothing here reads a clock.
 */
import type { AgentId, AssetId, EnvName, EventId, ExecutionId, RunId, StepId } from "./ids.js";
import type { Principal } from "./principal.js";

export type * from "./data.js";
export type * from "./tokens.js";
export type * from "./blobs.js";
export type * from "./checkpoints.js";
export type * from "./control.js";
export type * from "./waits.js";
import type { TokenEvent } from "./tokens.js";
import type { PoolEvent } from "./pools.js";
import { WAIT_EVENT_VERSIONS, type WaitEvent } from "./waits.js";
import type { BlobStored } from "./blobs.js";
import type { CheckpointSaved } from "./checkpoints.js";
import type { ControlRunEvent, EnvironmentPaused, EnvironmentResumed } from "./control.js";
import type { BlobRef, ErrorInfo, ExecutionRef, AssetEntry, ResultSource, ResultValue, StepOptions, TargetKind, TargetRef, Value } from "./data.js";

// ---------------------------------------------------------------------------
// The envelope every event shares

interface Base<T extends string, D> {
  /** Unique, sortable id; also the message id that deduplicates a retried append. */
  readonly id: EventId;
  readonly type: T;
  /** Schema version of `data`. */
  readonly v: number;
  /** When the fact happened, ms since the epoch. */
  readonly at: number;
  /**
   * Who caused it: the principal of the request (or the agent) whose
   * command decided it. Absent on what the server does by itself (ticks,
   * time-outs, sweeps), on a server without `--auth` for requests, and on
   * logs older than attribution.
   */
  readonly by?: Principal;
  readonly data: Readonly<D>;
}
/** An event that belongs to a run. */
export interface RunEventOf<T extends string, D> extends Base<T, D> {
  readonly runId: RunId;
}
/** An event about the environment as a whole. */
export interface EnvEventOf<T extends string, D> extends Base<T, D> {
  readonly runId?: undefined;
}

// ---------------------------------------------------------------------------
// Runs, steps and executions

/**
 * A workflow was submitted: a new run. Comes in the same commit as the
 * root step's `StepScheduled` and its first `ExecutionCreated`.
 */
export type RunSubmitted = RunEventOf<
  "RunSubmitted",
  {
    target: TargetRef;
    /** Empty when `argumentsBlob` is set. */
    arguments: readonly Value[];
    /** Arguments too large to log inline: the blob of their msgpack bytes (an array of values). */
    argumentsBlob?: BlobRef;
    rootStepId: StepId;
    /** A repeated submission with the same key returns this run. */
    idempotencyKey?: string;
    /** Set when a task spawned this run by calling a workflow. */
    parent?: ExecutionRef;
    /** Identifies the call that made this run, for an idempotent retried call: `<executionId>/<n>`. */
    callId?: string;
    /**
     * Set when the run was brought into a branched environment from its
     * parent, as of the parent's sequence `seq`, to re-run parts of it.
     */
    branchedFrom?: { env: EnvName; seq: number };
  }
>;

/** The run was cancelled, with everything still pending under it. */
export type RunCancelled = RunEventOf<"RunCancelled", { reason: string }>;

/** A step was scheduled: a target to execute with these arguments. */
export type StepScheduled = RunEventOf<
  "StepScheduled",
  {
    stepId: StepId;
    target: TargetRef;
    kind: TargetKind;
    /** Empty when `argumentsBlob` is set. */
    arguments: readonly Value[];
    /** Arguments too large to log inline: the blob of their msgpack bytes (an array of values). */
    argumentsBlob?: BlobRef;
    options: StepOptions;
    /** Present when the step's result may be cached / reused from a cache. */
    cacheKey?: string;
    /** Present when the step is memoised within its run. */
    memoKey?: string;
    /** The execution whose code called this step; absent for a run's root. */
    parentExecutionId?: ExecutionId;
    /** Identifies the call that made this step, for an idempotent retried call: `<executionId>/<n>`. */
    callId?: string;
  }
>;

/** Why an execution exists. */
export type ExecutionReason = "first" | "retry" | "rerun" | "resume" | "recur";

/** A step got a new execution (its first, a retry, or a manual re-run). */
export type ExecutionCreated = RunEventOf<
  "ExecutionCreated",
  {
    executionId: ExecutionId;
    stepId: StepId;
    /** 1 for the first execution of the step, then 2, 3, ... */
    attempt: number;
    reason: ExecutionReason;
    /** Not to be assigned before this time (backoff, `delay`), ms since epoch. */
    notBefore?: number;
    /**
     * For a re-run with other code than the step was scheduled with: the memo
     * key its result answers to from now on.
     */
    memoKey?: string;
    /**
     * For a retry after an infrastructure failure (the previous execution was
     * abandoned): that execution. The new one resumes it: its calls are
     * matched, in order, to the calls the previous one made (`CallResumed`).
     */
    resumes?: ExecutionId;
    /** For a resume after a suspension with wait keys: not to be assigned before any of them has resolved. */
    resumeWhen?: readonly string[];
  }
>;

/** The scheduler handed the execution to an agent. */
export type ExecutionAssigned = RunEventOf<"ExecutionAssigned", { executionId: ExecutionId; stepId: StepId; agentId: AgentId }>;

/** The agent reported that the task code started. */
export type ExecutionStarted = RunEventOf<"ExecutionStarted", { executionId: ExecutionId; stepId: StepId }>;

/** The task code returned a value. */
export type ExecutionSucceeded = RunEventOf<"ExecutionSucceeded", { executionId: ExecutionId; stepId: StepId; result: ResultValue }>;

/**
 * The task code threw. Version 2; version 1 carried only `message` and
 * `retryable` and is upcast with `type: "Error"`.
 */
export type ExecutionFailed = RunEventOf<
  "ExecutionFailed",
  { executionId: ExecutionId; stepId: StepId; error: ErrorInfo }
>;

/** The execution was cancelled (its run was cancelled, or it alone). */
export type ExecutionCancelled = RunEventOf<
  "ExecutionCancelled",
  { executionId: ExecutionId; stepId: StepId; reason: string }
>;

/** The execution ran longer than its step's `timeoutMs`. */
export type ExecutionTimedOut = RunEventOf<
  "ExecutionTimedOut",
  { executionId: ExecutionId; stepId: StepId; timeoutMs: number }
>;

/**
 * Why an execution was abandoned: all of them failures of the infrastructure,
 * not of the task's code.
 * - `server-restart`: it was assigned before the server restarted, and its
 *   agent, connected again, does not run it (the order or its result was lost
 *   with the server). Counts against no retry limit.
 * - `agent-lost`: its agent went away and did not come back in time.
 * - `not-running`: its agent, connected all along, says it does not run it.
 * - `worker-restarted`: the worker thread running it went away.
 * - `agent-stopping`: its agent was stopping and declined it. Counts against
 *   no retry limit.
 */
export type AbandonCause = "server-restart" | "agent-lost" | "not-running" | "worker-restarted" | "agent-stopping";

/** The agent running the execution was lost (missed heartbeats, disconnected). */
export type ExecutionAbandoned = RunEventOf<
  "ExecutionAbandoned",
  {
    executionId: ExecutionId;
    stepId: StepId;
    agentId: AgentId;
    reason: string;
    /** Absent in logs written before causes were recorded: counted as `agent-lost`. */
    cause?: AbandonCause;
  }
>;

/**
 * A call made by an execution that resumes an abandoned one was matched to
 * the call the abandoned execution (or an earlier one it resumed) made at the
 * same position: the call uses that step — its result, or its execution in
 * flight — instead of scheduling a new one.
 */
export type CallResumed = RunEventOf<
  "CallResumed",
  {
    /** The calling execution. */
    executionId: ExecutionId;
    /** This call: `<executionId>/<n>`. */
    callId: string;
    /** The earlier call it was matched to. */
    resumedCallId: string;
    /** The step that call made (for a workflow call: the child run's root step). */
    step: { runId: RunId; stepId: StepId };
  }
>;

/** The step was not executed: a cached result was reused. */
export type StepResultReused = RunEventOf<
  "StepResultReused",
  { stepId: StepId; cacheKey: string; source: ResultSource; result: ResultValue }
>;

/** The step was not executed: it waits for an identical pending step instead. */
export type StepDeferred = RunEventOf<"StepDeferred", { stepId: StepId; to: ExecutionRef }>;

/** An execution persisted files as an asset. */
export type AssetPersisted = RunEventOf<
  "AssetPersisted",
  {
    assetId: AssetId;
    executionId: ExecutionId;
    stepId: StepId;
    name?: string;
    metadata?: { readonly [key: string]: Value };
    entries: readonly AssetEntry[];
  }
>;

/** An execution restored an asset into its working directory. */
export type AssetRestored = RunEventOf<
  "AssetRestored",
  {
    assetId: AssetId;
    executionId: ExecutionId;
    stepId: StepId;
    /** The environment the asset was persisted in, when not this one. */
    fromEnv?: EnvName;
    /** Target directory, relative to the execution's working directory. */
    to?: string;
  }
>;

// ---------------------------------------------------------------------------
// The environment: environment-events.ts

export type * from "./environment-events.js";
import type {
  AgentConnected,
  AgentDisconnected,
  EnvironmentArchived,
  EnvironmentBranched,
  EnvironmentCreated,
  EnvironmentRebased,
  ManifestRegistered,
} from "./environment-events.js";

// ---------------------------------------------------------------------------

export type RunEvent =
  | RunSubmitted
  | RunCancelled
  | StepScheduled
  | ExecutionCreated
  | ExecutionAssigned
  | ExecutionStarted
  | ExecutionSucceeded
  | ExecutionFailed
  | ExecutionCancelled
  | ExecutionTimedOut
  | ExecutionAbandoned
  | StepResultReused
  | StepDeferred
  | CallResumed
  | AssetPersisted
  | AssetRestored
  | CheckpointSaved
  | ControlRunEvent
  | WaitEvent;

export type EnvEvent =
  | ManifestRegistered
  | AgentConnected
  | AgentDisconnected
  | EnvironmentCreated
  | EnvironmentBranched
  | EnvironmentRebased
  | EnvironmentArchived
  | EnvironmentPaused
  | EnvironmentResumed
  | BlobStored
  | TokenEvent | PoolEvent;

/** Every fact Tributary records. */
export type Event = RunEvent | EnvEvent;
export type EventType = Event["type"];
export type EventOf<T extends EventType> = Extract<Event, { type: T }>;

/** The current schema version of each event type. */
export const CURRENT_VERSION = {
  RunSubmitted: 1,
  RunCancelled: 1,
  StepScheduled: 1,
  ExecutionCreated: 1,
  ExecutionAssigned: 1,
  ExecutionStarted: 1,
  ExecutionSucceeded: 1,
  ExecutionFailed: 2,
  ExecutionCancelled: 1,
  ExecutionTimedOut: 1,
  ExecutionAbandoned: 1,
  StepResultReused: 1,
  StepDeferred: 1,
  CallResumed: 1,
  AssetPersisted: 1,
  AssetRestored: 1,
  ManifestRegistered: 1,
  AgentConnected: 1,
  AgentDisconnected: 1,
  EnvironmentCreated: 1,
  EnvironmentBranched: 1,
  EnvironmentRebased: 1,
  EnvironmentArchived: 1,
  TokenCreated: 1,
  TokenRevoked: 1,
  BlobStored: 1,
  CheckpointSaved: 1,
  EnvironmentPaused: 1,
  EnvironmentResumed: 1,
  ExecutionProgressed: 1,
  MetricRecorded: 1,
  PoolCreated: 1, PoolDeleted: 1,
  ...WAIT_EVENT_VERSIONS,
} as const satisfies Record<EventType, number>;

export const EVENT_TYPES = Object.keys(CURRENT_VERSION) as readonly EventType[];
/** Types whose events belong to a run (carry `runId`). */
export const RUN_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  "RunSubmitted",
  "RunCancelled",
  "StepScheduled",
  "ExecutionCreated",
  "ExecutionAssigned",
  "ExecutionStarted",
  "ExecutionSucceeded",
  "ExecutionFailed",
  "ExecutionCancelled",
  "ExecutionTimedOut",
  "ExecutionAbandoned",
  "StepResultReused",
  "StepDeferred",
  "CallResumed",
  "AssetPersisted",
  "AssetRestored",
  "CheckpointSaved",
  "ExecutionProgressed",
  "MetricRecorded",
  ...(Object.keys(WAIT_EVENT_VERSIONS) as EventType[]),
]);
export type { Commit } from "./log.js"; // the unit of the log: see `log.ts`
