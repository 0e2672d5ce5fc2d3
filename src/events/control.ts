/**
 * Facts of the control of work (issue 12): an environment paused and
 * resumed. Part of the catalogue (`types.ts` re-exports them and lists them
 * in its unions).
 */
import type { EnvEventOf } from "./types.js";

/**
 * The environment was paused: nothing new is assigned to its agents (what
 * runs goes on; runs may still be submitted, and wait) until it is resumed.
 */
export type EnvironmentPaused = EnvEventOf<"EnvironmentPaused", { reason?: string }>;

/** The environment was resumed: its queued executions are assigned again. */
export type EnvironmentResumed = EnvEventOf<"EnvironmentResumed", Record<string, never>>;
