/**
 * The JSON answers of the HTTP API, route by route (the routes and their
 * requests are in `http.ts`): what the server sends and what the client
 * (`src/client/`) reads. Values that JSON lacks arrive decoded through the
 * tags of the API's JSON (`bigint`, `Date`, `Uint8Array`).
 *
 * Types only. The documents of runs, steps, executions, assets and agents
 * are the projections' own (`src/projections/`), served as they are stored.
 */
import type { Event, Value } from "../events/types.js";
import type { Principal } from "../events/principal.js";
import type { AgentDoc, AssetDoc, EnvironmentDoc, ManifestDoc, RunComparison, RunDoc, RunView, StepDoc } from "../projections/index.js";
import type { AssetRef, Outcome } from "./values.js";

export type { Outcome } from "./values.js";

/** `GET /api/health`. */
export interface HealthAnswer {
  readonly ok: true;
  readonly log: "embedded" | "jetstream";
}

/** An environment, as `GET|POST /api/projects/{p}/envs` and `…/update`, `…/archive` answer it. */
export type EnvironmentAnswer = { readonly name: string } & Partial<EnvironmentDoc>;

/** One row of `GET /api/projects/{p}/envs`: an environment and the last sequence of its log. */
export type EnvironmentRow = EnvironmentAnswer & { readonly lastSeq: number };

/** `POST …/runs`. */
export interface SubmitAnswer {
  readonly runId: string;
  /** `false`: a run of the same idempotency key (and target and arguments) existed; this is it. */
  readonly created: boolean;
  /** Sequence of the commit that recorded the submission; absent when nothing was recorded (a known key). */
  readonly seq?: number;
  /** Set when no connected agent hosts the target now: the run waits for one. */
  readonly warning?: string;
}

/**
 * Where a time-travelled run view (`?at`, `?atTime`) was read: the log of
 * environment `env` (this one's, or for a run this environment sees but does
 * not have, the one that holds it), as of the run's commit at sequence `seq`
 * of that log. `seenFrom`: that environment is this branch's `parent` (read
 * no further than the branch point `upTo`) or a `base`; absent for its own log.
 */
export interface RunAsOf {
  readonly env: string;
  readonly seq: number;
  readonly seenFrom?: "parent" | "base";
  readonly upTo?: number;
}

/** `GET …/runs/{run}`: the run view, with the steps whose result came from an older result of a step they called; with `at`/`atTime`, `asOf`. */
export type RunAnswer = RunView & {
  readonly stale: readonly string[];
  readonly asOf?: RunAsOf;
  /** The run's queued executions and why each waits, when it has some (the live view only, not one as of the past). */
  readonly queue?: readonly Waiting[];
};

/** One row of `GET …/runs/{run}/history`: an event with its commit's sequence and its place in the commit. */
export type HistoryEntry = Event & { readonly seq: number; readonly index: number };

/** `GET …/runs/{run}/result[?wait=true]`. */
export type ResultAnswer = { readonly runId: string; readonly outcome: Outcome } | { readonly runId: string; readonly pending: true };

/** One line of `GET …/runs/{run}/logs` (and of its NDJSON stream with `follow=true`): what task code logged. */
export interface LogLine {
  readonly runId: string;
  readonly stepId: string;
  readonly executionId: string;
  readonly level: "debug" | "info" | "warn" | "error";
  readonly message: string;
  readonly fields?: { readonly [key: string]: Value };
  /** Epoch ms. */
  readonly at: number;
}

/** `POST …/runs/{run}/cancel`. */
export type CancelAnswer =
  /** The run is cancelled now (`seq`), or was already (`already`, nothing recorded). */
  | { readonly runId: string; readonly cancelled: true; readonly seq?: number; readonly already?: true }
  /** The run had finished; executions of its steps that were re-running were stopped, and it keeps its outcome. */
  | { readonly runId: string; readonly cancelled: false; readonly stopped: number; readonly status: string; readonly seq: number };

/** `POST …/runs/{run}/steps/{step}/rerun`. */
export interface RerunAnswer {
  readonly runId: string;
  readonly stepId: string;
  /** The new execution of the step. */
  readonly executionId: string;
  readonly seq: number;
  readonly cascade: boolean;
  readonly warning?: string;
}

/** `GET …/runs/{run}/compare?with=RUN&withEnv=ENV`: this run (a) and the other (b), step by step, and the environment of each. */
export type CompareAnswer = RunComparison & { readonly envs: { readonly a: string; readonly b: string } };

/** `GET …/steps/{run}`. */
export type StepsAnswer = readonly StepDoc[];

/** `GET …/runs?limit=N`: runs, newest first. */
export type RunsAnswer = readonly RunDoc[];

/** `GET …/assets/{asset}`: the asset (here or inherited), what agents get of it, and this environment's own document. */
export type AssetAnswer = AssetDoc & { readonly ref: AssetRef; readonly local: AssetDoc | null };

/** An agent connected to this server now. */
export interface ConnectedAgent {
  readonly agentId: string;
  readonly tags: { readonly [tag: string]: readonly string[] };
  readonly concurrency: number;
  /** `repository:target`, sorted. */
  readonly targets: readonly string[];
  /** Executions assigned to it and not finished. */
  readonly running: number;
  /** Stopping: it finishes what it runs and is given nothing new. */
  readonly draining: boolean;
}

/** A queued execution and why no agent has it yet. */
export interface Waiting {
  readonly executionId: string;
  readonly runId: string;
  readonly stepId: string;
  /** `repository:target`. */
  readonly target: string;
  readonly requires?: { readonly [tag: string]: readonly string[] };
  readonly reason:
    | "backoff"
    | "waiting-for-handles"
    | "no-agent-hosts-target"
    | "no-agent-with-tags"
    | "no-capacity"
    | "assignable"
    | "concurrency-limit"
    | "environment-paused"
    | "suspended";
  /** With `concurrency-limit`: the limit that holds it, and how many of its permits are taken. */
  readonly limit?: { readonly key: string; readonly limit: number; readonly taken: number };
  /** The reason in words. */
  readonly message: string;
}

/** `GET …/agents`. */
export interface AgentsAnswer {
  readonly connected: readonly ConnectedAgent[];
  /** Every agent the log knows. */
  readonly known: readonly AgentDoc[];
  /** The latest manifest of each repository (its targets, their parameters). */
  readonly manifests: readonly ManifestDoc[];
  /** Executions queued, oldest first, and why no agent has them yet. */
  readonly queue: readonly Waiting[];
}

/** `GET …/projections/dump`. */
export interface DumpAnswer {
  readonly lastSeq: number;
  /** Every projection document, sorted, one line each. */
  readonly lines: readonly string[];
}

/** `POST …/projections/rebuild`. */
export interface RebuildAnswer {
  /** Commits replayed. */
  readonly rebuilt: number;
  readonly lastSeq: number;
}

/** `GET …/log/verify`. */
export interface VerifyAnswer {
  readonly project: string;
  readonly env: string;
  readonly log: "embedded" | "jetstream";
  /** Sequence of the last commit when the check began. */
  readonly lastSeq: number;
  readonly commits: number;
  readonly events: number;
  /** The commits that do not decode, with the decoder's reason. */
  readonly failures: readonly { readonly seq: number; readonly reason: string }[];
  /** Sequences missing between 1 and `lastSeq`. */
  readonly gaps: readonly number[];
}

/** Every answer but 2xx: what went wrong and what to do. */
export interface ErrorAnswer {
  readonly error: string;
}

/** An access token as the API shows it: never its secret, nor the hash of it. Times are ms since the epoch. */
export interface TokenAnswer {
  readonly tokenId: string;
  readonly name?: string;
  readonly project: string;
  readonly envs: readonly string[];
  readonly role: "read" | "submit" | "agent" | "admin";
  readonly createdAt: number;
  readonly expiresAt?: number;
  /** Who made it. */
  readonly by?: Principal;
  readonly revoked?: { readonly at: number; readonly reason?: string };
}

/** `POST /api/projects/{p}/tokens`: the new token, with its text, answered this once. */
export type CreatedTokenAnswer = TokenAnswer & { readonly token: string };

/** `GET /api/whoami`. `auth: false`: the server checks no credentials (no `--auth`). */
export interface WhoAmIAnswer {
  readonly auth: boolean;
  readonly principal?: Principal;
  /** For a token: its scope. */
  readonly token?: TokenAnswer;
}

/** A `changes` message of `GET …/envs/{env}/changes` (Server-Sent Events): what the commits `from`..`seq` touched. */
export interface ChangesMessage {
  /** First and last sequence of the commits it covers (its SSE `id` is `seq`). */
  readonly from: number;
  readonly seq: number;
  /** The event types those commits held. */
  readonly types: readonly string[];
  /** The runs they touched, each with the steps (at most 500 listed; `moreSteps` counts the rest). */
  readonly runs: readonly { readonly runId: string; readonly steps: readonly string[]; readonly moreSteps?: number }[];
}

/** `GET /api/projects`: a project, with how many of its environments the caller sees. */
export interface ProjectRow {
  readonly name: string;
  readonly envs: number;
}

/** An environment in `GET …/projects/{p}/changes`: its log's last sequence, and the lifecycle events (`Environment*`) since the last message. */
export interface ProjectEnvChange {
  readonly name: string;
  readonly lastSeq: number;
  readonly types: readonly string[];
}

/** The `ready` (every environment the caller sees, `types` empty) and `changes` (those that changed) messages of `GET …/projects/{p}/changes`. */
export interface ProjectChangesMessage {
  readonly envs: readonly ProjectEnvChange[];
}
