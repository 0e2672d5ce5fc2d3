/**
 * Commands: what the orchestrator is asked to do, in the imperative. Ids and
 * the time come in with the command (made at the edge), so that `decide` is
 * pure and a decision replays identically. Ids and names are branded: the
 * edge that builds a command parses them (`src/events/ids.ts`) or takes them
 * from typed documents, so the deciders never cast a string.
 */
import type {
  AbandonCause,
  AgentId,
  AssetId,
  BlobRef,
  EnvName,
  ErrorInfo,
  ExecutionId,
  ProjectName,
  RunId,
  StepId,
  StepOptions,
  TargetKind,
  TargetManifest,
  TargetRef,
  Value,
} from "../../events/index.js";
import type { RunDoc, StepDoc } from "../../projections/index.js";

/** A call made by running task code, as the agent reported it. */
export interface Call {
  /** The calling execution. */
  readonly executionId: ExecutionId;
  /** `callIdOf(executionId, n)`, `n` counting the execution's calls from 1 in the order its code made them. */
  readonly callId: string;
}

/** An environment proposed as a base, as the edge found it among the project's environments. */
export interface ProposedBase {
  readonly env: EnvName;
  /** Absent: there is no such environment. */
  readonly found?: {
    readonly archived: boolean;
    /** Its own base, that one's base, and so on, nearest first, up to the first repeat (included). */
    readonly bases: readonly EnvName[];
  };
}

export type Command =
  | {
      readonly type: "CreateEnvironment";
      readonly project: ProjectName;
      readonly env: EnvName;
      readonly base?: ProposedBase;
    }
  | {
      readonly type: "SubmitRun";
      /** Id for the new run (used only if a run is created). */
      readonly runId: RunId;
      readonly target: TargetRef;
      readonly arguments: readonly Value[];
      /** Arguments kept as a blob (then `arguments` is empty). */
      readonly argumentsBlob?: BlobRef;
      /** How many arguments the blob holds, as the edge that stored it counted them (for the arity check). */
      readonly argumentCount?: number;
      readonly options?: StepOptions;
      readonly idempotencyKey?: string;
      /** Memo and cache keys of the root step (see keys.ts). */
      readonly keys?: { readonly memo: string; readonly cache?: string };
      /** Set when task code called a workflow: the new run is linked to it. */
      readonly call?: Call & { readonly runId: RunId; readonly stepId: StepId };
      /**
       * Accept a run from outside of a target no agent has registered (yet):
       * it waits, queued, until an agent that hosts it connects (`submit --queue`).
       */
      readonly queue?: boolean;
    }
  | {
      /** Task code called a task: schedule a step in the caller's run. */
      readonly type: "ScheduleStep";
      readonly runId: RunId;
      readonly call: Call;
      readonly target: TargetRef;
      readonly kind: TargetKind;
      readonly arguments: readonly Value[];
      /** Arguments kept as a blob (then `arguments` is empty). */
      readonly argumentsBlob?: BlobRef;
      /** How many arguments the blob holds, as the edge that stored it counted them (for the arity check). */
      readonly argumentCount?: number;
      readonly options: StepOptions;
      /** Memo and cache keys (see keys.ts). */
      readonly keys?: { readonly memo: string; readonly cache?: string };
    }
  | {
      /** The step a deferred step waits for has an outcome: take its result, or execute after all. */
      readonly type: "ResolveDeferred";
      readonly runId: RunId;
      readonly stepId: StepId;
    }
  // Commands on an execution name it alone: the decider reads its run from the execution.
  | { readonly type: "AssignExecution"; readonly executionId: ExecutionId; readonly agentId: AgentId }
  | { readonly type: "RecordStarted"; readonly executionId: ExecutionId; readonly agentId: AgentId }
  /** Task code reported its progress (`fraction` from 0 to 1, a message) or a metric's value. */
  | { readonly type: "RecordProgress"; readonly executionId: ExecutionId; readonly agentId: AgentId; readonly fraction?: number; readonly message?: string }
  | { readonly type: "RecordMetric"; readonly executionId: ExecutionId; readonly agentId: AgentId; readonly name: string; readonly value: number }
  | {
      readonly type: "RecordResult";
      readonly executionId: ExecutionId;
      readonly agentId: AgentId;
      /**
       * A value, or (a large one) the blob it was stored as, or an error.
       * `encodedBytes`: the value's or the error's msgpack size, as the edge
       * measured it (absent: not measured; the commit limit still holds).
       */
      readonly outcome:
        | { readonly ok: true; readonly value: Value; readonly encodedBytes?: number }
        | { readonly ok: true; readonly blob: BlobRef }
        | { readonly ok: false; readonly error: ErrorInfo; readonly encodedBytes?: number };
    }
  | {
      /**
       * Task code suspends its execution: `suspend(ms | Date)` (a call of the
       * execution, `callId`; `until` or `delayMs`), or a wait under
       * `suspense` that took too long (`waitingFor`: wait keys, resume when any resolves).
       */
      readonly type: "SuspendExecution";
      readonly executionId: ExecutionId;
      readonly agentId: AgentId;
      readonly callId?: string;
      readonly until?: number;
      readonly delayMs?: number;
      readonly waitingFor?: readonly string[];
    }
  | {
      /**
       * Task code prompts a person (`prompt({ title, schema })`): call
       * `callId` of the execution. `key` memoises the answer in the run (a
       * hash of title, schema and position, made at the edge); `inputId`
       * names a new input, if one is made.
       */
      readonly type: "RequestInput";
      readonly executionId: ExecutionId;
      readonly agentId: AgentId;
      readonly callId: string;
      readonly inputId: string;
      readonly title: string;
      readonly schema: Value;
      readonly key: string;
    }
  /** A person answers a pending input (`value` checked against its schema at the edge). */
  | { readonly type: "AnswerInput"; readonly inputId: string; readonly value: Value }
  | { readonly type: "TimeOutExecution"; readonly executionId: ExecutionId }
  | {
      readonly type: "AbandonExecution";
      readonly executionId: ExecutionId;
      readonly agentId: AgentId;
      readonly reason: string;
      readonly cause: AbandonCause;
    }
  | { readonly type: "CancelRun"; readonly runId: RunId; readonly reason: string }
  /** Cancels (a commit's worth of) what a run that has ended still has in flight. */
  | { readonly type: "SweepRun"; readonly runId: RunId }
  | { readonly type: "CancelStep"; readonly runId: RunId; readonly stepId: StepId; readonly reason: string }
  | {
      readonly type: "RerunStep";
      readonly runId: RunId;
      readonly stepId: StepId;
      /** The step's memo key with the code hosted now (see keys.ts). */
      readonly memoKey?: string;
    }
  | {
      readonly type: "ConnectAgent";
      readonly agentId: AgentId;
      readonly tags: { readonly [tag: string]: readonly string[] };
      readonly concurrency: number;
      readonly manifests: readonly {
        readonly repository: string;
        readonly targets: readonly TargetManifest[];
      }[];
    }
  | { readonly type: "DisconnectAgent"; readonly agentId: AgentId; readonly reason: string }
  | {
      /** A pool of agents the server starts (`tributary pools create`); see `PoolCreated`. */
      readonly type: "CreatePool";
      readonly name: string;
      readonly launcher: "process";
      readonly modules: readonly string[];
      readonly max: number;
      readonly tags: { readonly [tag: string]: readonly string[] };
    }
  | { readonly type: "DeletePool"; readonly name: string }
  | {
      /** A connected agent reloaded its modules (`tributary agent --watch`): what it hosts now. */
      readonly type: "RegisterManifests";
      readonly agentId: AgentId;
      readonly manifests: readonly {
        readonly repository: string;
        readonly targets: readonly TargetManifest[];
      }[];
    }
  | {
      /** A new base, or none (`null`); what the decider needs to know of the other environments comes with it. */
      readonly type: "RebaseEnvironment";
      readonly base: ProposedBase | null;
    }
  | { readonly type: "ArchiveEnvironment"; readonly reason?: string }
  /** Nothing new is assigned until `ResumeEnvironment`. */
  | { readonly type: "PauseEnvironment"; readonly reason?: string }
  | { readonly type: "ResumeEnvironment" }
  | {
      /** Records an asset an execution persisted; its blobs are already stored. */
      readonly type: "PersistAsset";
      readonly executionId: ExecutionId;
      readonly agentId: AgentId;
      /** The agent's request: the asset's id is made of it (`assetIdOf`), so a request re-sent records nothing new. */
      readonly requestId: number;
      readonly entries: readonly { readonly path: string; readonly size: number; readonly sha256: string }[];
      readonly name?: string;
      readonly metadata?: { readonly [key: string]: Value };
    }
  | {
      readonly type: "RestoreAsset";
      readonly executionId: ExecutionId;
      readonly agentId: AgentId;
      readonly assetId: AssetId;
      readonly to?: string;
    }
  | {
      readonly type: "BranchEnvironment";
      readonly project: ProjectName;
      readonly env: EnvName;
      /** The parent, and its log's last sequence as the edge found it (absent: there is no such environment). */
      readonly parent: { readonly env: EnvName; readonly lastSeq?: number };
      /** The parent's sequence to branch at. */
      readonly at: number;
    }
  | {
      /**
       * Brings a run of the parent (or a base) into this environment: the run
       * (with `first`), and these steps with the results they had, as reused.
       */
      readonly type: "ImportRun";
      readonly from: { readonly env: EnvName; readonly seq: number };
      readonly run: RunDoc;
      readonly steps: readonly StepDoc[];
      readonly first: boolean;
    }
  | {
      /** A new access token (decided on the server log). The secret stays at the edge: only its hash comes here. */
      readonly type: "CreateToken";
      readonly tokenId: string;
      readonly name?: string;
      readonly project: ProjectName;
      /** Environment patterns (see `env-patterns.ts`); at least one. */
      readonly envs: readonly string[];
      /** Checked by the decider: one of `TOKEN_ROLES`. */
      readonly role: string;
      /** Hex SHA-256 of the secret. */
      readonly hash: string;
      readonly expiresAt?: number;
    }
  | { readonly type: "RevokeToken"; readonly tokenId: string; readonly reason?: string }
  | {
      /**
       * Bytes were uploaded through this environment (stored, or found
       * stored already) and hash to `key`: the environment may refer to them
       * from now on. `size` as the store found it.
       */
      readonly type: "RecordBlob";
      readonly key: string;
      readonly size: number;
    }
  | {
      /** Running task code saved its step's checkpoint `name`: the value, or (a large one) the blob it was stored as. */
      readonly type: "SaveCheckpoint";
      readonly executionId: ExecutionId;
      readonly agentId: AgentId;
      readonly name: string;
      readonly value: { readonly value: Value; readonly encodedBytes?: number } | { readonly blob: BlobRef };
    };

