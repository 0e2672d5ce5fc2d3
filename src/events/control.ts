/**
 * Facts of the control of work (issue 12): an environment paused and
 * resumed; an execution's progress and metrics. Part of the catalogue
 * (`types.ts` re-exports them and lists them in its unions).
 */
import type { ExecutionId, StepId } from "./ids.js";
import type { EnvEventOf, RunEventOf } from "./types.js";

/**
 * The environment was paused: nothing new is assigned to its agents (what
 * runs goes on; runs may still be submitted, and wait) until it is resumed.
 */
export type EnvironmentPaused = EnvEventOf<"EnvironmentPaused", { reason?: string }>;

/** The environment was resumed: its queued executions are assigned again. */
export type EnvironmentResumed = EnvEventOf<"EnvironmentResumed", Record<string, never>>;

/**
 * Task code reported how far it is (`progress(fraction, message?)`):
 * `fraction` from 0 to 1. Agents send at most about one per execution every
 * 500 ms (the last always).
 */
export type ExecutionProgressed = RunEventOf<
  "ExecutionProgressed",
  { executionId: ExecutionId; stepId: StepId; fraction?: number; message?: string }
>;

/** Task code recorded a value of a metric (`metric(name, value)`); throttled as progress is, per metric. */
export type MetricRecorded = RunEventOf<"MetricRecorded", { executionId: ExecutionId; stepId: StepId; name: string; value: number }>;

/** The run events of this module. */
export type ControlRunEvent = ExecutionProgressed | MetricRecorded;
