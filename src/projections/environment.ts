/**
 * Environment-level projections: agents, manifests, the environment itself,
 * and the idempotency index of run submissions. Pure.
 */
import type { AgentId, EnvName, Principal, ProjectName, RunId, StepId, TargetManifest } from "../events/index.js";
import type { Projection } from "./projection.js";

export interface AgentDoc {
  readonly agentId: AgentId;
  readonly status: "connected" | "disconnected";
  readonly tags: { readonly [tag: string]: readonly string[] };
  readonly repositories: readonly string[];
  readonly concurrency: number;
  readonly connectedAt: number;
  readonly disconnectedAt?: number;
  readonly reason?: string;
  /** The token it last connected with (`--auth`): the id is that token's holder's while the token is valid. */
  readonly tokenId?: string;
}

export const agentsProjection: Projection<AgentDoc> = {
  name: "agents",
  version: 2,
  keysOf: (e) => (e.type === "AgentConnected" || e.type === "AgentDisconnected" ? [e.data.agentId] : []),
  evolve(doc, e) {
    if (e.type === "AgentConnected") {
      const d = e.data;
      return {
        agentId: d.agentId,
        status: "connected",
        tags: d.tags,
        repositories: d.repositories,
        concurrency: d.concurrency,
        connectedAt: e.at,
        ...(e.by?.kind === "agent" && e.by.tokenId !== undefined ? { tokenId: e.by.tokenId } : {}),
      };
    }
    if (e.type === "AgentDisconnected" && doc) {
      return { ...doc, status: "disconnected", disconnectedAt: e.at, reason: e.data.reason };
    }
    return doc;
  },
};

export interface ManifestDoc {
  readonly repository: string;
  readonly agentId: AgentId;
  readonly targets: readonly TargetManifest[];
  readonly registeredAt: number;
  readonly seq: number;
}

/** The latest manifest of each repository. */
export const manifestsProjection: Projection<ManifestDoc> = {
  name: "manifests",
  version: 1,
  keysOf: (e) => (e.type === "ManifestRegistered" ? [e.data.repository] : []),
  evolve: (doc, e, _key, ctx) =>
    e.type === "ManifestRegistered"
      ? {
          repository: e.data.repository,
          agentId: e.data.agentId,
          targets: e.data.targets,
          registeredAt: e.at,
          seq: ctx.seq,
        }
      : doc,
};

export interface EnvironmentDoc {
  readonly project: ProjectName;
  readonly env: EnvName;
  readonly createdAt: number;
  /** Who created (or branched) it: the `by` of its first event. */
  readonly createdBy?: Principal;
  /** Live inheritance: cache look-ups that miss fall through to the base. */
  readonly base?: EnvName;
  /** Who set (or removed) the base last, if someone did. */
  readonly rebasedBy?: Principal;
  /** Frozen inheritance: the parent's log up to `at`. */
  readonly branchedFrom?: { readonly parent: EnvName; readonly at: number };
  readonly archived: boolean;
  readonly archivedAt?: number;
  readonly archivedBy?: Principal;
  /** Paused: nothing new is assigned (absent: never paused, or resumed). */
  readonly paused?: { readonly at: number; readonly by?: Principal; readonly reason?: string };
}

export const ENVIRONMENT_KEY = "environment";

export const environmentProjection: Projection<EnvironmentDoc> = {
  name: "environment",
  version: 2,
  keysOf: (e) =>
    e.type === "EnvironmentCreated" ||
    e.type === "EnvironmentBranched" ||
    e.type === "EnvironmentRebased" ||
    e.type === "EnvironmentArchived" ||
    e.type === "EnvironmentPaused" ||
    e.type === "EnvironmentResumed"
      ? [ENVIRONMENT_KEY]
      : [],
  evolve(doc, e) {
    switch (e.type) {
      case "EnvironmentCreated":
        return {
          project: e.data.project,
          env: e.data.env,
          createdAt: e.at,
          ...(e.by === undefined ? {} : { createdBy: e.by }),
          ...(e.data.base === undefined ? {} : { base: e.data.base }),
          archived: false,
        };
      case "EnvironmentBranched":
        return {
          project: e.data.project,
          env: e.data.env,
          createdAt: doc?.createdAt ?? e.at,
          ...(e.by === undefined ? {} : { createdBy: e.by }),
          branchedFrom: { parent: e.data.parent, at: e.data.at },
          archived: false,
        };
      case "EnvironmentRebased": {
        if (!doc) return doc;
        const { base: _b, rebasedBy: _r, ...rest } = doc;
        const by = e.by === undefined ? {} : { rebasedBy: e.by };
        return e.data.base === null ? { ...rest, ...by } : { ...rest, base: e.data.base, ...by };
      }
      case "EnvironmentArchived":
        return doc ? { ...doc, archived: true, archivedAt: e.at, ...(e.by === undefined ? {} : { archivedBy: e.by }) } : doc;
      case "EnvironmentPaused":
        return doc
          ? { ...doc, paused: { at: e.at, ...(e.by === undefined ? {} : { by: e.by }), ...(e.data.reason === undefined ? {} : { reason: e.data.reason }) } }
          : doc;
      case "EnvironmentResumed": {
        if (!doc) return doc;
        const { paused: _p, ...rest } = doc;
        return rest;
      }
      default:
        return doc;
    }
  },
};

export interface IdempotencyDoc {
  readonly runId: RunId;
  readonly seq: number;
}

/** Idempotency key → the run its first submission created. */
export const idempotencyProjection: Projection<IdempotencyDoc> = {
  name: "idempotency",
  version: 1,
  keysOf: (e) => (e.type === "RunSubmitted" && e.data.idempotencyKey !== undefined ? [e.data.idempotencyKey] : []),
  evolve: (doc, e, _key, ctx) => doc ?? (e.type === "RunSubmitted" ? { runId: e.runId, seq: ctx.seq } : doc),
};

export interface CallDoc {
  readonly runId: RunId;
  readonly stepId: StepId;
}

/**
 * Call id (`<executionId>/<n>`) → the step (or, for a workflow call, the new
 * run's root step) it made, or that it was matched to when its execution
 * resumed an abandoned one (`CallResumed`): a call re-sent by an agent after
 * a reconnect finds the step it already made instead of making another.
 */
export const callsProjection: Projection<CallDoc> = {
  name: "calls",
  version: 2,
  keysOf: (e) =>
    (e.type === "StepScheduled" || e.type === "RunSubmitted" || e.type === "CallResumed") && e.data.callId !== undefined
      ? [e.data.callId]
      : [],
  evolve: (doc, e) =>
    doc ??
    (e.type === "StepScheduled"
      ? { runId: e.runId, stepId: e.data.stepId }
      : e.type === "RunSubmitted"
        ? { runId: e.runId, stepId: e.data.rootStepId }
        : e.type === "CallResumed"
          ? { runId: e.data.step.runId, stepId: e.data.step.stepId }
          : doc),
};
