/**
 * The events about an environment as a whole (its manifests, its agents, its
 * own lifecycle): part of the catalogue in `types.ts`, kept here so that
 * file stays small.
 */
import type { AgentId, EnvName, ProjectName } from "./ids.js";
import type { TargetManifest } from "./data.js";
import type { EnvEventOf } from "./types.js";

/** An agent reported the targets of one repository it hosts. */
export type ManifestRegistered = EnvEventOf<
  "ManifestRegistered",
  { repository: string; agentId: AgentId; targets: readonly TargetManifest[] }
>;

/** An agent connected and may be given executions. */
export type AgentConnected = EnvEventOf<
  "AgentConnected",
  {
    agentId: AgentId;
    tags: { readonly [tag: string]: readonly string[] };
    repositories: readonly string[];
    /** How many executions it runs at once. */
    concurrency: number;
  }
>;

/** An agent went away: closed its connection, or missed its heartbeats. */
export type AgentDisconnected = EnvEventOf<"AgentDisconnected", { agentId: AgentId; reason: string }>;

/** The environment was created; the first event of its log. */
export type EnvironmentCreated = EnvEventOf<
  "EnvironmentCreated",
  { project: ProjectName; env: EnvName; base?: EnvName }
>;

/**
 * The environment was branched from `parent` as of the parent's log
 * sequence `at`: its inherited view is the parent's log replayed up to `at`.
 */
export type EnvironmentBranched = EnvEventOf<
  "EnvironmentBranched",
  { project: ProjectName; env: EnvName; parent: EnvName; at: number }
>;

/** The environment's base changed (`null`: it has none any more). */
export type EnvironmentRebased = EnvEventOf<"EnvironmentRebased", { base: EnvName | null }>;

/** The environment was archived: it refuses new runs. */
export type EnvironmentArchived = EnvEventOf<"EnvironmentArchived", { reason?: string }>;
