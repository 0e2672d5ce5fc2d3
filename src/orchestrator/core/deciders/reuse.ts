/**
 * Steps that need not execute: a result reused from the run's memo or from
 * a cache, a deferral to an identical step in flight, and the calls of an
 * execution that resumes an abandoned one, matched to the calls it made.
 */
import type { Event, ExecutionId, ResultSource, ResultValue, RunId, StepId, StepOptions, TargetRef } from "../../../events/index.js";
import type { ExecutionDoc, StepDoc } from "../../../projections/index.js";
import type { DecideContext } from "../decision.js";
import { runEvent } from "../event.js";
import type { Model } from "../model.js";
import { firstExecution } from "./attempts.js";
import { callIdOf, NO_EXECUTION } from "./ids.js";

/** A step's memo key, and its cache key when its result may come from a cache. */
export interface StepKeys {
  readonly memo: string;
  readonly cache?: string;
}

/**
 * What follows a new step's `StepScheduled`: a result reused from the run's
 * memo (when `memo`) or from a cache, a deferral to an identical step in
 * flight, or its first execution.
 */
export const reuseOrExecute = (
  m: Model,
  ctx: DecideContext,
  runId: RunId,
  stepId: StepId,
  options: StepOptions,
  keys: StepKeys | undefined,
  memo: boolean,
): Event[] => {
  const reuse = (key: string, source: ResultSource, result: ResultValue): Event[] => [
    runEvent(ctx, "StepResultReused", runId, { stepId, cacheKey: key, source, result }),
  ];
  const deferTo = (s: StepDoc): Event[] => [
    runEvent(ctx, "StepDeferred", runId, {
      stepId,
      to: { runId: s.runId, stepId: s.stepId, executionId: s.executions[s.executions.length - 1] ?? NO_EXECUTION },
    }),
  ];
  if (keys && memo) {
    const prior = m.memo(runId, keys.memo);
    if (prior && prior.stepId !== stepId) {
      const src = sourceOf(m, prior);
      if (src && prior.result) return reuse(keys.memo, src, prior.result);
      if (prior.status === "pending" || prior.status === "running" || prior.status === "deferred") return deferTo(prior);
    }
  }
  if (keys?.cache && options.cache) {
    const found = m.cacheHit(keys.cache, ctx.now, options.cache.maxAgeMs);
    if (found) {
      const h = found.hit;
      return reuse(keys.cache, { env: found.env, runId: h.runId, stepId: h.stepId, executionId: h.executionId, seq: h.seq }, h.result);
    }
    const pending = m.cachePending(keys.cache);
    const joined = pending && m.step(pending.runId, pending.stepId);
    if (joined && !(joined.runId === runId && joined.stepId === stepId)) return deferTo(joined);
  }
  if (keys && options.defer) {
    const other = m.pendingCall(keys.memo);
    if (other && !(other.runId === runId && other.stepId === stepId)) return deferTo(other);
  }
  return [firstExecution(ctx, runId, stepId, options)];
};

/** Where a finished step's result came from, as a reuse names it. */
export const sourceOf = (m: Model, s: StepDoc): ResultSource | undefined => {
  if (s.status === "reused" && s.reusedFrom) return s.reusedFrom;
  const here = m.environment();
  if (s.status !== "succeeded" || s.resultExecutionId === undefined || !here) return undefined;
  return {
    env: here.env,
    runId: s.runId,
    stepId: s.stepId,
    executionId: s.resultExecutionId,
    seq: s.resultSeq ?? 0,
  };
};

/**
 * A call of an execution that resumes an abandoned one, matched to the
 * call at the same position of the execution it resumes (or of one that
 * execution resumed, nearest first): the `CallResumed` that reuses its
 * step, recorded in run `runId` (the caller's); or nothing when there is no
 * such call or it called something else (other target or arguments: the
 * code took another path).
 */
export const resumedCall = (
  m: Model,
  ctx: DecideContext,
  caller: ExecutionDoc,
  runId: RunId,
  callId: string,
  target: TargetRef,
  memoKey: string | undefined,
): Event | undefined => {
  const prefix = callIdOf(caller.executionId, "");
  if (caller.resumes === undefined || !callId.startsWith(prefix)) return undefined;
  const n = callId.slice(prefix.length);
  const seen = new Set<string>();
  for (let prev: ExecutionId | undefined = caller.resumes; prev !== undefined && !seen.has(prev); prev = m.execution(prev)?.resumes) {
    seen.add(prev);
    const earlier = callIdOf(prev, n);
    const made = m.call(earlier);
    if (!made) continue;
    const s = m.step(made.runId, made.stepId);
    const same =
      s !== undefined &&
      s.target.repository === target.repository &&
      s.target.target === target.target &&
      (memoKey === undefined || s.memoKey === undefined || s.memoKey === memoKey);
    if (!same) return undefined;
    return runEvent(ctx, "CallResumed", runId, {
      executionId: caller.executionId,
      callId,
      resumedCallId: earlier,
      step: { runId: made.runId, stepId: made.stepId },
    });
  }
  return undefined;
};
