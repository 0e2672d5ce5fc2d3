/**
 * Executions of a step: their attempt numbers, the first one, and what follows a failed
 * one (a retry, if the policy allows one, or the end of the step — and of
 * the run, when it is the root).
 */
import type { ErrorInfo, Event, ExecutionId, RunId, StepId, StepOptions } from "../../../events/index.js";
import type { ExecutionDoc, StepDoc } from "../../../projections/index.js";
import type { DecideContext } from "../decision.js";
import { runEvent } from "../event.js";
import type { Model } from "../model.js";
import { delayFor, shouldRetry } from "../retry-policy.js";
import { leftBehind } from "./cancellations.js";
import { executionIdOf } from "./ids.js";

/**
 * The attempt number of a step's next execution: one more than it has had,
 * skipping a number whose execution id is taken — by the execution a step
 * brought into a branch was reused from, which keeps its id.
 */
export const nextAttempt = (m: Model, step: StepDoc): number => {
  let attempt = step.executions.length + 1;
  // In a run brought into a branch, the parent's executions are named by the steps they called
  // (`parentExecutionId`, and their call ids): a new execution must not take such a name, or its
  // calls would be taken for the parent execution's calls.
  const named = step.reusedFrom ? new Set<string>(m.stepsOfRun(step.runId).flatMap((s) => (s.parentExecutionId ? [s.parentExecutionId] : []))) : undefined;
  const taken = (id: ExecutionId) => id === step.reusedFrom?.executionId || named?.has(id) === true || m.execution(id) !== undefined;
  while (taken(executionIdOf(step.runId, step.stepId, attempt))) attempt++;
  return attempt;
};

/** Executions that the retry policy does not count: resumes and recurrences (a suspension or a recurrence is no failure). */
export const uncountedExecutions = (m: Model, step: StepDoc): number =>
  step.executions.filter((id) => {
    const r = m.execution(id)?.reason;
    return r === "resume" || r === "recur";
  }).length;

/** The first execution of a new step, delayed by the step's `delayMs`. */
export const firstExecution = (ctx: DecideContext, runId: RunId, stepId: StepId, options: StepOptions): Event =>
  runEvent(ctx, "ExecutionCreated", runId, {
    executionId: executionIdOf(runId, stepId, 1),
    stepId,
    attempt: 1,
    reason: "first",
    ...(options.delayMs ? { notBefore: ctx.now + options.delayMs } : {}),
  });

/** How a failed execution may be retried besides what the step's policy says. */
export interface RetryOverride {
  /** Retry whatever the policy says. */
  readonly force?: boolean;
  /** The retry resumes the failed execution (it was abandoned); `immediate`: without a backoff. */
  readonly resume?: { readonly immediate: boolean };
}

/**
 * The events that end an execution with `error` (`ended`, first), and its
 * retry if the policy allows one (or `override.force`). A retry after an
 * abandonment `resumes` the abandoned execution. When the run's root step
 * ends for good, what the run left in flight is cancelled.
 */
export const failure = (
  m: Model,
  ctx: DecideContext,
  x: ExecutionDoc,
  step: StepDoc,
  ended: Event,
  error: ErrorInfo,
  override: RetryOverride = {},
): Event[] => {
  const r = m.run(x.runId);
  const cancelled = r?.status === "cancelled";
  // Resumes and recurrences are no failed tries: the policy counts the others.
  const tried = x.attempt - uncountedExecutions(m, step);
  if (cancelled || !(override.force || shouldRetry(step.options.retries, tried, error))) {
    if (cancelled || !r || r.rootStepId !== step.stepId) return [ended];
    return [ended, ...leftBehind(m, ctx, x, `run failed: ${error.type} in ${x.executionId}`)];
  }
  const attempt = nextAttempt(m, step);
  const resume = override.resume;
  const delay = resume?.immediate ? 0 : step.options.retries ? delayFor(step.options.retries, tried) : 0;
  return [
    ended,
    runEvent(ctx, "ExecutionCreated", x.runId, {
      executionId: executionIdOf(x.runId, x.stepId, attempt),
      stepId: x.stepId,
      attempt,
      reason: "retry",
      ...(delay > 0 ? { notBefore: ctx.now + delay } : {}),
      ...(resume ? { resumes: x.executionId } : {}),
    }),
  ];
};
