/**
 * The documents of the run projections (runs.ts folds them): a run, a step,
 * an execution (one attempt), and what they are made of. Types only, and the
 * small pure helpers that go with them.
 */
import type {
  AbandonCause,
  AgentId,
  AssetId,
  BlobRef,
  ErrorInfo,
  ExecutionId,
  ExecutionReason,
  ExecutionRef,
  Principal,
  ResultSource,
  ResultValue,
  RunId,
  StepId,
  StepOptions,
  TargetKind,
  TargetRef,
  Value,
} from "../events/index.js";

export type RunStatus = "running" | "succeeded" | "failed" | "cancelled";

export interface RunDoc {
  readonly runId: RunId;
  readonly target: TargetRef;
  readonly arguments: readonly Value[];
  /** Arguments kept as a blob (then `arguments` is empty). */
  readonly argumentsBlob?: BlobRef;
  readonly rootStepId: StepId;
  readonly idempotencyKey?: string;
  readonly parent?: ExecutionRef;
  /** Set when the run was brought into a branch from its parent environment. */
  readonly branchedFrom?: { readonly env: string; readonly seq: number };
  readonly status: RunStatus;
  /** The root step's error when the run failed. */
  readonly error?: ErrorInfo;
  readonly cancelReason?: string;
  /** Who submitted it (the `by` of its `RunSubmitted`; in a branch, who brought it in). */
  readonly submittedBy?: Principal;
  /** Who cancelled it (the `by` of its `RunCancelled`). */
  readonly cancelledBy?: Principal;
  readonly submittedAt: number;
  readonly submittedSeq: number;
  readonly finishedAt?: number;
  /** Sequence of the commit that ended the run. */
  readonly finishedSeq?: number;
  readonly updatedAt: number;
  /** Sequence of the last commit that touched the run. */
  readonly lastSeq: number;
  readonly steps: number;
  readonly executions: number;
  /** Executions created and not yet finished. */
  readonly pending: number;
}

export type StepStatus = "pending" | "running" | "succeeded" | "failed" | "cancelled" | "reused" | "deferred";

export interface StepDoc {
  readonly runId: RunId;
  readonly stepId: StepId;
  readonly target: TargetRef;
  readonly kind: TargetKind;
  readonly arguments: readonly Value[];
  /** Arguments kept as a blob (then `arguments` is empty). */
  readonly argumentsBlob?: BlobRef;
  readonly options: StepOptions;
  readonly cacheKey?: string;
  readonly memoKey?: string;
  readonly parentExecutionId?: ExecutionId;
  readonly callId?: string;
  readonly scheduledAt: number;
  readonly scheduledSeq: number;
  readonly status: StepStatus;
  /** Execution ids in the order they were created; the last is the latest. */
  readonly executions: readonly ExecutionId[];
  readonly result?: ResultValue;
  /** The execution that produced `result`. */
  readonly resultExecutionId?: ExecutionId;
  /** Sequence of the commit that recorded `result`. */
  readonly resultSeq?: number;
  readonly error?: ErrorInfo;
  /**
   * Where a reused result came from (another run, environment, or the run a
   * branch brought in). Kept after the step's own executions, as its origin.
   */
  readonly reusedFrom?: ResultSource;
  /**
   * Set while `result` is the one reused from `reusedFrom` (a re-run keeps it
   * shown until it lands); gone once an execution of this step has its own
   * outcome (then `resultExecutionId` names it, or `error` says why not).
   */
  readonly resultReused?: true;
  readonly deferredTo?: ExecutionRef;
  readonly finishedAt?: number;
}

export type ExecutionStatus =
  | "queued"
  | "assigned"
  | "running"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "timed_out"
  | "abandoned"
  /** It suspended itself (`suspend`, `suspense`): a resume follows. */
  | "suspended"
  /** A recurrent target returned nothing: the step executes again. */
  | "recurred";

export interface ExecutionDoc {
  readonly executionId: ExecutionId;
  readonly runId: RunId;
  readonly stepId: StepId;
  readonly attempt: number;
  readonly reason: ExecutionReason;
  /** The abandoned execution this one resumes (its calls are matched to that one's). */
  readonly resumes?: ExecutionId;
  /**
   * A re-run with other code than its step was scheduled with: the memo key
   * (target, code hash, arguments) its result answers to from now on
   * (`ExecutionCreated.memoKey`). Absent on a re-run with the step's own code.
   */
  readonly memoKey?: string;
  readonly notBefore?: number;
  /** A resume held until any of these wait keys has resolved. */
  readonly resumeWhen?: readonly string[];
  readonly createdAt: number;
  readonly createdSeq: number;
  readonly status: ExecutionStatus;
  readonly agentId?: AgentId;
  readonly assignedAt?: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly result?: ResultValue;
  readonly error?: ErrorInfo;
  /** Why it was abandoned, when it was. */
  readonly abandonCause?: AbandonCause;
  /** How it suspended itself, when it did (`ExecutionSuspended`). */
  readonly suspended?: { readonly until?: number; readonly waitingFor?: readonly string[]; readonly callId?: string };
  readonly assetsPersisted: readonly AssetId[];
  readonly assetsRestored: readonly AssetId[];
}

export const stepKey = (runId: string, stepId: string): string => `${runId}/${stepId}`;

/** Is `status` final for an execution? */
export const isFinished = (status: ExecutionStatus): boolean =>
  status !== "queued" && status !== "assigned" && status !== "running";
