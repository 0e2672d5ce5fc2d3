/** The scheduler of an environment: agent sessions, commit effects, the scheduling pass. */
export { EnvScheduler, type SchedulerOptions } from "./scheduler.js";
export type { AgentConnection, ConnectedInfo, Hello } from "./sessions.js";
export { assetRefOf } from "./frames.js";
