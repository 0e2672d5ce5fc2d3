/**
 * What each route of the API asks of its caller (issue 10): the permission a
 * token's role must grant, or `public`. One entry per route, typed over
 * every `RouteName`, so a new route without one does not compile. The agents'
 * WebSocket (`/agent`) asks `agent`. With --auth the server's edge
 * (`server/api.ts`) checks them on every request (docs/security.md).
 */
import type { TokenRole } from "../events/index.js";
import type { RouteName } from "./http.js";

/** `download`: a blob's bytes (granted to read, submit, agent and admin); `public`: asks nothing; `any`: any valid credential; a role: a token whose role grants it (or the admin). */
export type Permission = TokenRole | "download" | "public" | "any";

export const PERMISSIONS: { readonly [R in RouteName]: Permission } = {
  health: "public",
  schema: "any",
  whoami: "any",
  listTokens: "admin",
  createToken: "admin",
  revokeToken: "admin",
  listEnvs: "read",
  createEnv: "admin",
  updateEnv: "admin",
  archiveEnv: "admin",
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
