/**
 * The decider of runs and their steps: submitting a run (from outside, or
 * by task code calling a workflow), the steps task code calls, deferred
 * steps, cancelling, sweeping, re-running a step, and bringing a run into a
 * branch.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Event, ResultSource, TargetRef, Value } from "../../../events/index.js";
import { canonicalJson, isFinished, type StepDoc } from "../../../projections/index.js";
import { accept, none, reject, type Decision, type Handler, type Handlers } from "../decision.js";
import { runEvent } from "../event.js";
import type { Model } from "../model.js";
import type { Rejection } from "../rejections.js";
import { firstExecution, nextAttempt } from "./attempts.js";
import { executionIdOf, stepIdOf } from "./ids.js";
import { activeUnder, cancellations } from "./cancellations.js";
import { resumedCall, reuseOrExecute, sourceOf } from "./reuse.js";
import { findRunnable, findTarget, mayQueue, mergeOptions } from "./targets.js";

/** A new run: the run, its root step, and what follows the step (its first execution, or a reuse). */
export const submitRun: Handler<"SubmitRun"> = (cmd, m, ctx) => {
  const here = m.environment();
  if (here?.archived) return reject({ _tag: "EnvironmentArchived", env: here.env });
  if (cmd.idempotencyKey !== undefined && m.runForKey(cmd.idempotencyKey)) {
    return sameRequest(m, cmd.idempotencyKey, cmd.target, cmd.arguments, cmd.argumentsBlob?.sha256);
  }
  if (cmd.call && m.call(cmd.call.callId)) return none;
  if (cmd.call) {
    const caller = m.execution(cmd.call.executionId);
    const resumed = caller && resumedCall(m, ctx, caller, cmd.call.runId, cmd.call.callId, cmd.target, cmd.keys?.memo);
    if (resumed) return accept([resumed]);
  }
  const { runId } = cmd;
  const found = findRunnable(m, cmd.target, cmd.argumentCount ?? cmd.arguments.length, cmd.call === undefined);
  const queued = E.isLeft(found) && found.left._tag === "UnknownTarget" && cmd.call === undefined;
  if (queued && !mayQueue(m, cmd.target, cmd.queue === true)) return reject({ ...(found.left as Extract<Rejection, { _tag: "UnknownTarget" }>), queueable: true });
  if (E.isLeft(found) && !queued) return found;
  // A target not registered yet, queued: a workflow (only workflows are runs), with the options given; its agent's manifest says the rest.
  const target = E.isRight(found) ? found.right : { kind: "workflow" as const, options: {} };
  const options = mergeOptions(target.options, cmd.options);
  const rootStepId = stepIdOf(1);
  return accept([
    runEvent(ctx, "RunSubmitted", runId, {
      target: cmd.target,
      arguments: cmd.arguments,
      ...(cmd.argumentsBlob === undefined ? {} : { argumentsBlob: cmd.argumentsBlob }),
      rootStepId,
      ...(cmd.idempotencyKey === undefined ? {} : { idempotencyKey: cmd.idempotencyKey }),
      ...(cmd.call
        ? {
            parent: { runId: cmd.call.runId, stepId: cmd.call.stepId, executionId: cmd.call.executionId },
            callId: cmd.call.callId,
          }
        : {}),
    }),
    runEvent(ctx, "StepScheduled", runId, {
      stepId: rootStepId,
      target: cmd.target,
      kind: target.kind,
      arguments: cmd.arguments,
      ...(cmd.argumentsBlob === undefined ? {} : { argumentsBlob: cmd.argumentsBlob }),
      options,
      ...(cmd.keys ? { memoKey: cmd.keys.memo } : {}),
      ...(cmd.keys?.cache && options.cache ? { cacheKey: cmd.keys.cache } : {}),
    }),
    ...reuseOrExecute(m, ctx, runId, rootStepId, options, cmd.keys, false),
  ]);
};

/** A call from task code: a step resumed from an abandoned execution, or a new numbered step of the caller's run. */
export const scheduleStep: Handler<"ScheduleStep"> = (cmd, m, ctx) => {
  const r = m.run(cmd.runId);
  if (!r) return reject({ _tag: "UnknownRun", runId: cmd.runId });
  if (m.call(cmd.call.callId)) return none;
  const caller = m.execution(cmd.call.executionId);
  if (!caller || caller.runId !== cmd.runId) return reject({ _tag: "UnknownExecution", executionId: cmd.call.executionId });
  if (r.status === "cancelled") return reject({ _tag: "RunFinished", runId: cmd.runId, status: r.status });
  const resumed = resumedCall(m, ctx, caller, r.runId, cmd.call.callId, cmd.target, cmd.keys?.memo);
  if (resumed) return accept([resumed]);
  const found = findRunnable(m, cmd.target, cmd.argumentCount ?? cmd.arguments.length, false);
  if (E.isLeft(found)) return found;
  const options = mergeOptions(found.right.options, cmd.options);
  const stepId = stepIdOf(r.steps + 1);
  return accept([
    runEvent(ctx, "StepScheduled", r.runId, {
      stepId,
      target: cmd.target,
      kind: cmd.kind,
      arguments: cmd.arguments,
      ...(cmd.argumentsBlob === undefined ? {} : { argumentsBlob: cmd.argumentsBlob }),
      options,
      parentExecutionId: caller.executionId,
      callId: cmd.call.callId,
      ...(cmd.keys ? { memoKey: cmd.keys.memo } : {}),
      ...(cmd.keys?.cache && options.cache ? { cacheKey: cmd.keys.cache } : {}),
    }),
    // Memo applies to targets with the option, and to every call in a run brought into a branch.
    ...reuseOrExecute(m, ctx, r.runId, stepId, options, cmd.keys, options.memo === true || r.branchedFrom !== undefined),
  ]);
};

/** A deferred step whose step waited for has an outcome: it takes its result, or (it failed) executes after all. */
export const resolveDeferred: Handler<"ResolveDeferred"> = (cmd, m, ctx) => {
  const step = m.step(cmd.runId, cmd.stepId);
  if (!step || step.status !== "deferred" || !step.deferredTo) return none;
  // A cancelled run takes nothing more: its deferred steps stay as they are.
  if (m.run(cmd.runId)?.status === "cancelled") return none;
  const target = m.step(step.deferredTo.runId, step.deferredTo.stepId);
  if (!target) return none;
  const src = sourceOf(m, target);
  if (src && target.result) {
    return accept([
      runEvent(ctx, "StepResultReused", step.runId, {
        stepId: step.stepId,
        cacheKey: step.cacheKey ?? step.memoKey ?? "",
        source: src,
        result: target.result,
      }),
    ]);
  }
  if (target.status === "failed" || target.status === "cancelled") return accept([firstExecution(ctx, step.runId, step.stepId, step.options)]);
  return none;
};

/**
 * A running run is cancelled with a commit's worth of what it has in flight
 * (the scheduler sweeps the rest, `SweepRun`). A run that succeeded or
 * failed keeps its outcome: refused, unless steps of it are re-running; then
 * only those executions are cancelled. Cancelling twice decides nothing.
 */
export const cancelRun: Handler<"CancelRun"> = (cmd, m, ctx) => {
  const r = m.run(cmd.runId);
  if (!r) return reject({ _tag: "UnknownRun", runId: cmd.runId });
  if (r.status === "cancelled") return none;
  const steps = m.stepsOfRun(cmd.runId);
  const active = activeUnder(m, cmd.runId, steps, steps);
  if (r.status !== "running") {
    return active.length === 0 ? reject({ _tag: "RunFinished", runId: cmd.runId, status: r.status }) : accept(cancellations(ctx, r.runId, active, cmd.reason));
  }
  return accept([runEvent(ctx, "RunCancelled", r.runId, { reason: cmd.reason }), ...cancellations(ctx, r.runId, active, cmd.reason)]);
};

/** Cancels a commit's worth of what a run that has ended (failed for good, or cancelled) left in flight. */
export const sweepRun: Handler<"SweepRun"> = (cmd, m, ctx) => {
  const r = m.run(cmd.runId);
  if (!r || (r.status !== "failed" && r.status !== "cancelled")) return none;
  const steps = m.stepsOfRun(cmd.runId);
  const root = m.step(cmd.runId, r.rootStepId);
  const latestRoot = root?.executions[root.executions.length - 1];
  const reason = r.status === "cancelled" ? (r.cancelReason ?? "run cancelled") : `run failed: ${r.error?.type ?? "Error"} in ${latestRoot ?? "its root"}`;
  // Only what it left when it ended: a re-run started since is the user's.
  const ended = r.finishedSeq ?? Number.POSITIVE_INFINITY;
  return accept(cancellations(ctx, r.runId, activeUnder(m, cmd.runId, steps, steps).filter((x) => x.createdSeq < ended), reason));
};

/** Cancels every execution in flight under a step (its own, and those of the steps it called), all at once. */
export const cancelStep: Handler<"CancelStep"> = (cmd, m, ctx) => {
  const step = m.step(cmd.runId, cmd.stepId);
  if (!step) return reject({ _tag: "UnknownStep", runId: cmd.runId, stepId: cmd.stepId });
  const active = activeUnder(m, cmd.runId, m.stepsOfRun(cmd.runId), [step]);
  return accept(cancellations(ctx, step.runId, active, cmd.reason, Number.POSITIVE_INFINITY));
};

/** A new execution of a finished step of a run not cancelled, if its target is hosted here. */
export const rerunStep: Handler<"RerunStep"> = (cmd, m, ctx) => {
  const r = m.run(cmd.runId);
  if (!r) return reject({ _tag: "UnknownRun", runId: cmd.runId });
  if (r.status === "cancelled") return reject({ _tag: "RunFinished", runId: cmd.runId, status: r.status });
  const found = rerunnable(m, cmd.runId, cmd.stepId, m.step(cmd.runId, cmd.stepId));
  if (E.isLeft(found)) return found;
  const step = found.right;
  const latest = step.executions[step.executions.length - 1];
  const x = latest === undefined ? undefined : m.execution(latest);
  if (x && !isFinished(x.status)) {
    return reject({ _tag: "InvalidArgument", message: `step ${cmd.stepId} of run ${cmd.runId} is still running; cancel it or wait` });
  }
  const attempt = nextAttempt(m, step);
  return accept([
    runEvent(ctx, "ExecutionCreated", step.runId, {
      executionId: executionIdOf(step.runId, step.stepId, attempt),
      stepId: step.stepId,
      attempt,
      reason: "rerun",
      ...(cmd.memoKey !== undefined && cmd.memoKey !== step.memoKey ? { memoKey: cmd.memoKey } : {}),
    }),
  ]);
};

/**
 * Step `stepId` of run `runId` as found (here, or in the run an import would
 * bring into this branch), if it could be re-run here: it exists, and an
 * agent here has registered its target. Checked before an import too, so a
 * run is not brought in for nothing.
 */
export const rerunnable = (m: Model, runId: string, stepId: string, step: StepDoc | undefined): E.Either<Rejection, StepDoc> => {
  if (!step) return E.left({ _tag: "UnknownStep", runId, stepId });
  const hosted = findTarget(m, step.target);
  return E.isLeft(hosted) ? hosted : E.right(step);
};

/**
 * Brings a run of the parent (or a base) into this environment: the run
 * (with `first`), and those of the steps not here yet, each with the result
 * it had, as reused from there.
 */
export const importRun: Handler<"ImportRun"> = (cmd, m, ctx) => {
  const runId = cmd.run.runId;
  if (cmd.first && m.run(runId)) return none;
  if (!cmd.first && !m.run(runId)) return reject({ _tag: "UnknownRun", runId });
  const from = cmd.from.env;
  const events: Event[] = [];
  if (cmd.first) {
    events.push(
      runEvent(ctx, "RunSubmitted", runId, {
        target: cmd.run.target,
        arguments: cmd.run.arguments,
        ...(cmd.run.argumentsBlob === undefined ? {} : { argumentsBlob: cmd.run.argumentsBlob }),
        rootStepId: cmd.run.rootStepId,
        branchedFrom: { env: from, seq: cmd.from.seq },
      }),
    );
  }
  for (const s of cmd.steps) {
    if (m.step(runId, s.stepId)) continue;
    events.push(
      runEvent(ctx, "StepScheduled", runId, {
        stepId: s.stepId,
        target: s.target,
        kind: s.kind,
        arguments: s.arguments,
        ...(s.argumentsBlob === undefined ? {} : { argumentsBlob: s.argumentsBlob }),
        options: s.options,
        ...(s.memoKey === undefined ? {} : { memoKey: s.memoKey }),
        ...(s.cacheKey === undefined ? {} : { cacheKey: s.cacheKey }),
        ...(s.parentExecutionId === undefined ? {} : { parentExecutionId: s.parentExecutionId }),
        ...(s.callId === undefined ? {} : { callId: s.callId }),
      }),
    );
    const source: ResultSource | undefined =
      s.status === "reused" && s.reusedFrom
        ? s.reusedFrom
        : s.status === "succeeded" && s.resultExecutionId !== undefined
          ? { env: from, runId, stepId: s.stepId, executionId: s.resultExecutionId, seq: s.resultSeq ?? 0 }
          : undefined;
    if (source && s.result) {
      events.push(runEvent(ctx, "StepResultReused", runId, { stepId: s.stepId, cacheKey: s.memoKey ?? s.cacheKey ?? "", source, result: s.result }));
    }
  }
  return accept(events);
};

/**
 * A submission with a known idempotency key: the same target and arguments
 * (compared canonically: key order does not matter) get the first run, by
 * deciding nothing; anything else is refused.
 */
const sameRequest = (m: Model, key: string, target: TargetRef, args: readonly Value[], blobSha256: string | undefined): Decision => {
  const first = m.runForKey(key);
  const r = first === undefined ? undefined : m.run(first);
  if (!r) return none;
  const same =
    r.target.repository === target.repository &&
    r.target.target === target.target &&
    canonicalJson(r.arguments) === canonicalJson(args) &&
    r.argumentsBlob?.sha256 === blobSha256;
  return same ? none : reject({ _tag: "IdempotencyKeyReused", key, runId: r.runId, target: `${r.target.repository}:${r.target.target}` });
};

export const runs: Handlers<"SubmitRun" | "ScheduleStep" | "ResolveDeferred" | "CancelRun" | "SweepRun" | "CancelStep" | "RerunStep" | "ImportRun"> = {
  SubmitRun: submitRun,
  ScheduleStep: scheduleStep,
  ResolveDeferred: resolveDeferred,
  CancelRun: cancelRun,
  SweepRun: sweepRun,
  CancelStep: cancelStep,
  RerunStep: rerunStep,
  ImportRun: importRun,
};
