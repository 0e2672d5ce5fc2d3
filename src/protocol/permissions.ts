/**
 * What each route of the API asks of its caller (issue 10): the permission a
 * token's role must grant, or `public`. One entry per route, typed over
 * every `RouteName`, so a new route without one does not compile. The agents'
 * WebSocket (`/agent`) asks `agent`. With --auth the server's edge
 * (`server/api.ts`) checks them on every request (docs/security.md).
 */
import type { TokenRole } from "../events/index.js";
import type { WhoAmIAnswer } from "./api.js";
import { coversEnv } from "./env-patterns.js";
import type { RouteName } from "./http.js";

/** `download`: a blob's bytes (granted to read, submit, agent and admin); `public`: asks nothing; `any`: any valid credential; a role: a token whose role grants it (or the admin). */
export type Permission = TokenRole | "download" | "public" | "any";

export const PERMISSIONS: { readonly [R in RouteName]: Permission } = {
  health: "public",
  schema: "any",
  whoami: "any",
  listProjects: "read",
  projectChanges: "read",
  listTokens: "admin",
  createToken: "admin",
  revokeToken: "admin",
  listEnvs: "read",
  createEnv: "admin",
  updateEnv: "admin",
  archiveEnv: "admin",
  pauseEnv: "admin",
  resumeEnv: "admin",
  envChanges: "read",
  listRuns: "read",
  submitRun: "submit",
  getRun: "read",
  runHistory: "read",
  runResult: "read",
  runLogs: "read",
  cancelRun: "submit",
  rerunStep: "submit",
  runSteps: "read",
  compareRuns: "read",
  listAssets: "read",
  getAsset: "read",
  listAgents: "read",
  listPools: "read",
  createPool: "admin",
  deletePool: "admin",
  listInputs: "read",
  getInput: "read",
  answerInput: "submit",
  dumpProjections: "read",
  rebuildProjections: "admin",
  verifyLog: "read",
  getBlob: "download",
  headBlob: "agent",
  putBlob: "agent",
};

/** The agents' WebSocket. */
export const AGENT_SOCKET_PERMISSION = "agent" as const satisfies Permission;

/**
 * What a request may need of a token's role: a role's own permission, or
 * `download` (a blob's bytes: readers of runs, and agents restoring assets).
 */
export type RolePermission = TokenRole | "download";

/** The roles that grant each permission. */
export const GRANTS: { readonly [P in RolePermission]: readonly TokenRole[] } = {
  read: ["read", "submit", "admin"],
  download: ["read", "submit", "agent", "admin"],
  submit: ["submit", "admin"],
  agent: ["agent", "admin"],
  admin: ["admin"],
};

/**
 * Why the caller described by `who` (its `GET /api/whoami`) may not call
 * `route` in `project` and `env`, said to its holder ("your token has role
 * read on dev-*; this needs submit or admin"), or `undefined` when it may,
 * when the server checks nothing, or when `who` is not known yet. `env`
 * absent: the environment is not known yet (a name still to be typed), so
 * only the project and the role are weighed. A hint for a UI (Studio
 * disables what would be refused): the server's edge stays the judge.
 */
export const callerRefusal = (who: WhoAmIAnswer | undefined, route: RouteName, project: string, env?: string): string | undefined => {
  if (!who?.auth || who.principal?.kind === "admin") return undefined;
  const need = PERMISSIONS[route];
  if (need === "public" || need === "any") return undefined;
  const t = who.token;
  if (!t) return "this server checks a token, and none is given";
  if (t.project !== project) return `your token is for project ${t.project}, not ${project}`;
  if (env !== undefined && !coversEnv(t.envs, env)) return `your token covers ${t.envs.join(", ")}, not ${env}`;
  if (!GRANTS[need].includes(t.role)) return `your token has role ${t.role} on ${t.envs.join(", ")}; this needs ${GRANTS[need].join(" or ")}`;
  return undefined;
};
