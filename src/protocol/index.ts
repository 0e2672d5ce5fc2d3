/**
 * The edge: one schema per agent message and per HTTP route, shared by the
 * agent and the server. Imports only from `src/events`. See
 * docs/architecture.md ("The edge").
 */
export * from "./constants.js";
export { check, jsonValueProblem, pathOf, valueProblem, ValueSchema, HandleRefSchema, AssetRefSchema, AssetFileSchema, type Check } from "./schema.js";
export {
  AGENT_MESSAGES,
  SERVER_MESSAGES,
  checkAgentMessage,
  checkServerMessage,
  StepOptionsSchema,
  RepositoryManifestSchema,
} from "./agent.js";
export { ROUTES, matchRoute, checkQuery, checkBody, apiSchema, type Route, type RouteName, type ParamName } from "./http.js";
export { PERMISSIONS, AGENT_SOCKET_PERMISSION, type Permission } from "./permissions.js";
