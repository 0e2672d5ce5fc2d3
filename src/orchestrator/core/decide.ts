/**
 * The decider: `decide(command, model, ctx)` → the events that carry the
 * command out, or a rejection. Pure: the model is a read-only view of the
 * projections, and ids and the time come in through `ctx`.
 *
 * Decisions are idempotent: a command whose effect is already in the model
 * (a re-sent result, a re-sent call, a known idempotency key) decides no
 * events.
 */
import * as E from "fp-ts/lib/Either.js";
import {
  describeInvalidName,
  type AssetId,
  type EnvName,
  type ResultSource,
  type ResultValue,
  parseRunId,
  type AgentId,
  type ErrorInfo,
  type Event,
  type EventId,
  type ExecutionId,
  type RunId,
  type StepId,
  type StepOptions,
  type TargetManifest,
  type TargetRef,
  type Value,
} from "../../events/index.js";
import {
  abandonedError,
  canonicalJson,
  isFinished,
  timeoutError,
  type ExecutionDoc,
  type StepDoc,
} from "../../projections/index.js";
import type { Command } from "./commands.js";
import type { Model } from "./model.js";
import type { Rejection } from "./rejections.js";
import { ABANDON_RETRIES, FREE_ABANDON_CAUSES, delayFor, shouldRetry } from "./retry-policy.js";

/** What a decision may use besides the model: the time and fresh event ids. */
export interface DecideContext {
  /** Now, ms since the epoch. */
  readonly now: number;
  readonly id: () => EventId;
}

export type Decision = E.Either<Rejection, readonly Event[]>;

/** The id of attempt `attempt` of step `stepId` of run `runId`. */
export const executionIdOf = (runId: string, stepId: string, attempt: number): ExecutionId =>
  `${runId}-${stepId}-${attempt}` as ExecutionId;

const none: Decision = E.right([]);

export const decide = (cmd: Command, m: Model, ctx: DecideContext): Decision => {
  const run = <T extends Event["type"]>(type: T, runId: string, data: Extract<Event, { type: T }>["data"]): Event =>
    ({ id: ctx.id(), type, v: type === "ExecutionFailed" ? 2 : 1, at: ctx.now, runId, data }) as unknown as Event;
  const env = <T extends Event["type"]>(type: T, data: Extract<Event, { type: T }>["data"]): Event =>
    ({ id: ctx.id(), type, v: 1, at: ctx.now, data }) as unknown as Event;

  /** The first execution of a new step, delayed by the step's `delayMs`. */
  const firstExecution = (runId: string, stepId: string, options: StepOptions): Event =>
    run("ExecutionCreated", runId, {
      executionId: executionIdOf(runId, stepId, 1),
      stepId: stepId as StepId,
      attempt: 1,
      reason: "first",
      ...(options.delayMs ? { notBefore: ctx.now + options.delayMs } : {}),
    });

  /**
   * The events that end an execution with `error`, and its retry if the
   * policy allows one (or `forceRetry`). A retry after an abandonment
   * `resumes` the abandoned execution. When the run's root step ends for
   * good, what the run left in flight is cancelled.
   */
  const failure = (
    x: ExecutionDoc,
    step: StepDoc,
    ended: Event,
    error: ErrorInfo,
    forceRetry = false,
    resume?: { readonly immediate: boolean },
  ): Event[] => {
    const r = m.run(x.runId);
    const cancelled = r?.status === "cancelled";
    if (cancelled || !(forceRetry || shouldRetry(step.options.retries, x.attempt, error))) {
      if (cancelled || !r || r.rootStepId !== step.stepId) return [ended];
      return [ended, ...leftBehind(x, `run failed: ${error.type} in ${x.executionId}`)];
    }
    const attempt = nextAttempt(m, step);
    const delay = resume?.immediate ? 0 : step.options.retries ? delayFor(step.options.retries, x.attempt) : 0;
    return [
      ended,
      run("ExecutionCreated", x.runId, {
        executionId: executionIdOf(x.runId, x.stepId, attempt),
        stepId: x.stepId,
        attempt,
        reason: "retry",
        ...(delay > 0 ? { notBefore: ctx.now + delay } : {}),
        ...(resume ? { resumes: x.executionId } : {}),
      }),
    ];
  };

  /**
   * Cancellations of the executions of the run still in flight but `x`,
   * whose failure ended the run: the first {@link CANCELS_PER_COMMIT} (the
   * scheduler sweeps the rest, `SweepRun`, so that no commit outgrows the log).
   */
  const leftBehind = (x: ExecutionDoc, reason: string): Event[] =>
    cancellations(
      x.runId,
      activeUnder(x.runId, m.stepsOfRun(x.runId), m.stepsOfRun(x.runId)).filter((a) => a.executionId !== x.executionId),
      reason,
    );

  /** Cancellations of these executions of a run, at most `limit` of them (a commit's worth). */
  const cancellations = (runId: string, xs: readonly ExecutionDoc[], reason: string, limit = CANCELS_PER_COMMIT): Event[] =>
    xs.slice(0, limit).map((x) => run("ExecutionCancelled", runId, { executionId: x.executionId, stepId: x.stepId, reason }));

  /**
   * A call of an execution that resumes an abandoned one, matched to the
   * call at the same position of the execution it resumes (or of one that
   * execution resumed, nearest first): the `CallResumed` that reuses its
   * step, or nothing when there is no such call or it called something else
   * (other target or arguments: the code took another path).
   */
  const resumedCall = (
    caller: ExecutionDoc,
    call: { readonly runId: string; readonly callId: string },
    target: TargetRef,
    memoKey: string | undefined,
  ): Event | undefined => {
    const prefix = `${caller.executionId}/`;
    if (caller.resumes === undefined || !call.callId.startsWith(prefix)) return undefined;
    const n = call.callId.slice(prefix.length);
    const seen = new Set<string>();
    for (let prev: ExecutionId | undefined = caller.resumes; prev !== undefined && !seen.has(prev); prev = m.execution(prev)?.resumes) {
      seen.add(prev);
      const earlier = `${prev}/${n}`;
      const made = m.call(earlier);
      if (!made) continue;
      const s = m.step(made.runId, made.stepId);
      const same =
        s !== undefined &&
        s.target.repository === target.repository &&
        s.target.target === target.target &&
        (memoKey === undefined || s.memoKey === undefined || s.memoKey === memoKey);
      if (!same) return undefined;
      return run("CallResumed", call.runId, {
        executionId: caller.executionId,
        callId: call.callId,
        resumedCallId: earlier,
        step: { runId: made.runId, stepId: made.stepId as StepId },
      });
    }
    return undefined;
  };

  /**
   * What follows a new step's `StepScheduled`: a result reused from the
   * run's memo or from a cache, a deferral to an identical step in flight, or
   * its first execution.
   */
  const reuseOrExecute = (
    runId: string,
    stepId: string,
    options: StepOptions,
    keys: { readonly memo: string; readonly cache?: string } | undefined,
    memo: boolean,
  ): Event[] => {
    const sid = stepId as StepId;
    const reuse = (key: string, source: ResultSource, result: ResultValue): Event[] => [
      run("StepResultReused", runId, { stepId: sid, cacheKey: key, source, result }),
    ];
    const deferTo = (s: StepDoc): Event[] => [
      run("StepDeferred", runId, {
        stepId: sid,
        to: { runId: s.runId, stepId: s.stepId, executionId: (s.executions[s.executions.length - 1] ?? "") as ExecutionId },
      }),
    ];
    if (keys && memo) {
      const prior = m.memo(runId, keys.memo);
      if (prior && prior.stepId !== stepId) {
        const src = sourceOf(prior);
        if (src && prior.result) return reuse(keys.memo, src, prior.result);
        if (prior.status === "pending" || prior.status === "running" || prior.status === "deferred") return deferTo(prior);
      }
    }
    if (keys?.cache && options.cache) {
      const found = m.cacheHit(keys.cache, ctx.now, options.cache.maxAgeMs);
      if (found) {
        const h = found.hit;
        return reuse(keys.cache, { env: found.env as EnvName, runId: h.runId, stepId: h.stepId, executionId: h.executionId, seq: h.seq }, h.result);
      }
      const pending = m.cachePending(keys.cache);
      const joined = pending && m.step(pending.runId, pending.stepId);
      if (joined && !(joined.runId === runId && joined.stepId === stepId)) return deferTo(joined);
    }
    if (keys && options.defer) {
      const other = m.pendingCall(keys.memo);
      if (other && !(other.runId === runId && other.stepId === stepId)) return deferTo(other);
    }
    return [firstExecution(runId, stepId, options)];
  };

  /** Where a finished step's result came from, as a reuse names it. */
  const sourceOf = (s: StepDoc): ResultSource | undefined => {
    if (s.status === "reused" && s.reusedFrom) return s.reusedFrom;
    if (s.status !== "succeeded" || s.resultExecutionId === undefined) return undefined;
    return {
      env: (m.environment()?.env ?? "") as EnvName,
      runId: s.runId,
      stepId: s.stepId,
      executionId: s.resultExecutionId,
      seq: s.resultSeq ?? 0,
    };
  };

  /** Active executions of a step and of every step called from them, recursively. */
  const activeUnder = (runId: string, steps: readonly StepDoc[], roots: readonly StepDoc[]): ExecutionDoc[] => {
    const out: ExecutionDoc[] = [];
    const seen = new Set<string>();
    const todo = [...roots];
    while (todo.length) {
      const s = todo.pop()!;
      if (seen.has(s.stepId)) continue;
      seen.add(s.stepId);
      for (const id of s.executions) {
        const x = m.execution(id);
        if (x && !isFinished(x.status)) out.push(x);
        for (const c of steps) if (c.parentExecutionId === id) todo.push(c);
      }
    }
    return out.filter((x) => x.runId === runId);
  };

  switch (cmd.type) {
    case "CreateEnvironment": {
      if (m.environment()) return E.left({ _tag: "EnvironmentExists", env: cmd.env });
      return E.right([
        env("EnvironmentCreated", {
          project: cmd.project as never,
          env: cmd.env as never,
          ...(cmd.base === undefined ? {} : { base: cmd.base as never }),
        }),
      ]);
    }

    case "SubmitRun": {
      if (m.environment()?.archived) return E.left({ _tag: "EnvironmentArchived", env: m.environment()!.env });
      if (cmd.idempotencyKey !== undefined && m.runForKey(cmd.idempotencyKey)) {
        return sameRequest(m, cmd.idempotencyKey, cmd.target, cmd.arguments, cmd.argumentsBlob?.sha256);
      }
      if (cmd.call && m.call(cmd.call.callId)) return none;
      if (cmd.call) {
        const caller = m.execution(cmd.call.executionId);
        const resumed = caller && resumedCall(caller, cmd.call, cmd.target, cmd.keys?.memo);
        if (resumed) return E.right([resumed]);
      }
      const id = parseRunId(cmd.runId);
      if (id._tag === "Left") return E.left({ _tag: "InvalidName", message: describeInvalidName(id.left) });
      const found = findRunnable(m, cmd.target, cmd.argumentCount ?? cmd.arguments.length, cmd.call === undefined);
      if (E.isLeft(found)) return found;
      const options = mergeOptions(found.right.options, cmd.options);
      const rootStepId = "1" as StepId;
      return E.right([
        run("RunSubmitted", cmd.runId, {
          target: cmd.target,
          arguments: cmd.arguments,
          ...(cmd.argumentsBlob === undefined ? {} : { argumentsBlob: cmd.argumentsBlob }),
          rootStepId,
          ...(cmd.idempotencyKey === undefined ? {} : { idempotencyKey: cmd.idempotencyKey }),
          ...(cmd.call
            ? {
                parent: {
                  runId: cmd.call.runId as RunId,
                  stepId: cmd.call.stepId as StepId,
                  executionId: cmd.call.executionId as ExecutionId,
                },
                callId: cmd.call.callId,
              }
            : {}),
        }),
        run("StepScheduled", cmd.runId, {
          stepId: rootStepId,
          target: cmd.target,
          kind: found.right.kind,
          arguments: cmd.arguments,
          ...(cmd.argumentsBlob === undefined ? {} : { argumentsBlob: cmd.argumentsBlob }),
          options,
          ...(cmd.keys ? { memoKey: cmd.keys.memo } : {}),
          ...(cmd.keys?.cache && options.cache ? { cacheKey: cmd.keys.cache } : {}),
        }),
        ...reuseOrExecute(cmd.runId, rootStepId, options, cmd.keys, false),
      ]);
    }

    case "ScheduleStep": {
      const r = m.run(cmd.runId);
      if (!r) return E.left({ _tag: "UnknownRun", runId: cmd.runId });
      if (m.call(cmd.call.callId)) return none;
      const caller = m.execution(cmd.call.executionId);
      if (!caller || caller.runId !== cmd.runId) return E.left({ _tag: "UnknownExecution", executionId: cmd.call.executionId });
      if (r.status === "cancelled") return E.left({ _tag: "RunFinished", runId: cmd.runId, status: r.status });
      const resumed = resumedCall(caller, { runId: cmd.runId, callId: cmd.call.callId }, cmd.target, cmd.keys?.memo);
      if (resumed) return E.right([resumed]);
      const found = findRunnable(m, cmd.target, cmd.argumentCount ?? cmd.arguments.length, false);
      if (E.isLeft(found)) return found;
      const options = mergeOptions(found.right.options, cmd.options);
      const stepId = String(r.steps + 1) as StepId;
      return E.right([
        run("StepScheduled", cmd.runId, {
          stepId,
          target: cmd.target,
          kind: cmd.kind,
          arguments: cmd.arguments,
          ...(cmd.argumentsBlob === undefined ? {} : { argumentsBlob: cmd.argumentsBlob }),
          options,
          parentExecutionId: cmd.call.executionId as ExecutionId,
          callId: cmd.call.callId,
          ...(cmd.keys ? { memoKey: cmd.keys.memo } : {}),
          ...(cmd.keys?.cache && options.cache ? { cacheKey: cmd.keys.cache } : {}),
        }),
        // Memo applies to targets with the option, and to every call in a run brought into a branch.
        ...reuseOrExecute(cmd.runId, stepId, options, cmd.keys, options.memo === true || r.branchedFrom !== undefined),
      ]);
    }

    case "ResolveDeferred": {
      const step = m.step(cmd.runId, cmd.stepId);
      if (!step || step.status !== "deferred" || !step.deferredTo) return none;
      const target = m.step(step.deferredTo.runId, step.deferredTo.stepId);
      if (!target) return none;
      const src = sourceOf(target);
      if (src && target.result) {
        return E.right([
          run("StepResultReused", cmd.runId, {
            stepId: step.stepId,
            cacheKey: step.cacheKey ?? step.memoKey ?? "",
            source: src,
            result: target.result,
          }),
        ]);
      }
      if (target.status === "failed" || target.status === "cancelled") {
        // What it waited for failed: it executes after all.
        return E.right([firstExecution(cmd.runId, cmd.stepId, step.options)]);
      }
      return none;
    }

    case "AssignExecution": {
      const x = m.execution(cmd.executionId);
      if (!x || x.status !== "queued") return none;
      return E.right([
        run("ExecutionAssigned", x.runId, { executionId: x.executionId, stepId: x.stepId, agentId: cmd.agentId as AgentId }),
      ]);
    }

    case "RecordStarted": {
      const x = m.execution(cmd.executionId);
      if (!x) return E.left({ _tag: "UnknownExecution", executionId: cmd.executionId });
      if (x.status !== "assigned") return none;
      if (x.agentId !== cmd.agentId) return E.left({ _tag: "NotAssigned", executionId: x.executionId, agentId: cmd.agentId });
      return E.right([run("ExecutionStarted", x.runId, { executionId: x.executionId, stepId: x.stepId })]);
    }

    case "RecordResult": {
      const x = m.execution(cmd.executionId);
      if (!x) return E.left({ _tag: "UnknownExecution", executionId: cmd.executionId });
      // A result re-sent after a reconnect, or arriving after a timeout: recorded once only.
      if (isFinished(x.status)) return none;
      if (x.agentId !== cmd.agentId) return E.left({ _tag: "NotAssigned", executionId: x.executionId, agentId: cmd.agentId });
      const step = m.step(x.runId, x.stepId)!;
      const ref = { executionId: x.executionId, stepId: x.stepId };
      if (cmd.outcome.ok) {
        const result: ResultValue = "blob" in cmd.outcome ? { kind: "blob", blob: cmd.outcome.blob } : { kind: "inline", value: cmd.outcome.value };
        return E.right([run("ExecutionSucceeded", x.runId, { ...ref, result })]);
      }
      const error = cmd.outcome.error;
      return E.right(failure(x, step, run("ExecutionFailed", x.runId, { ...ref, error }), error));
    }

    case "TimeOutExecution": {
      const x = m.execution(cmd.executionId);
      if (!x || isFinished(x.status)) return none;
      const step = m.step(x.runId, x.stepId)!;
      const timeoutMs = step.options.timeoutMs ?? 0;
      const ended = run("ExecutionTimedOut", x.runId, { executionId: x.executionId, stepId: x.stepId, timeoutMs });
      return E.right(failure(x, step, ended, timeoutError(timeoutMs)));
    }

    case "AbandonExecution": {
      const x = m.execution(cmd.executionId);
      if (!x || isFinished(x.status)) return none;
      const step = m.step(x.runId, x.stepId)!;
      // Abandonments the infrastructure's own restarts caused are free; the others count.
      const free = FREE_ABANDON_CAUSES.has(cmd.cause);
      const counted = step.executions.filter((id) => {
        const prior = m.execution(id);
        return prior?.status === "abandoned" && !FREE_ABANDON_CAUSES.has(prior.abandonCause ?? "agent-lost");
      }).length;
      const ended = run("ExecutionAbandoned", x.runId, {
        executionId: x.executionId,
        stepId: x.stepId,
        agentId: cmd.agentId as AgentId,
        reason: cmd.reason,
        cause: cmd.cause,
      });
      return E.right(failure(x, step, ended, abandonedError(cmd.reason), free || counted < ABANDON_RETRIES, { immediate: free }));
    }

    case "CancelRun": {
      const r = m.run(cmd.runId);
      if (!r) return E.left({ _tag: "UnknownRun", runId: cmd.runId });
      // Cancelling twice is idempotent.
      if (r.status === "cancelled") return none;
      const steps = m.stepsOfRun(cmd.runId);
      const active = activeUnder(cmd.runId, steps, steps);
      // A run that succeeded or failed keeps its outcome: refused, unless steps of it are re-running;
      // then only those executions are cancelled (no RunCancelled).
      if (r.status !== "running") {
        return active.length === 0 ? E.left({ _tag: "RunFinished", runId: cmd.runId, status: r.status }) : E.right(cancellations(cmd.runId, active, cmd.reason));
      }
      // The rest, past what one commit holds, is swept by the scheduler (SweepRun).
      return E.right([run("RunCancelled", cmd.runId, { reason: cmd.reason }), ...cancellations(cmd.runId, active, cmd.reason)]);
    }

    case "SweepRun": {
      // A run that has ended (failed for good, or cancelled) keeps nothing in flight.
      const r = m.run(cmd.runId);
      if (!r || (r.status !== "failed" && r.status !== "cancelled")) return none;
      const steps = m.stepsOfRun(cmd.runId);
      const root = m.step(cmd.runId, r.rootStepId);
      const latestRoot = root?.executions[root.executions.length - 1];
      const reason = r.status === "cancelled" ? (r.cancelReason ?? "run cancelled") : `run failed: ${r.error?.type ?? "Error"} in ${latestRoot ?? "its root"}`;
      // Only what it left when it ended: a re-run started since is the user's.
      const ended = r.finishedSeq ?? Number.POSITIVE_INFINITY;
      return E.right(cancellations(cmd.runId, activeUnder(cmd.runId, steps, steps).filter((x) => x.createdSeq < ended), reason));
    }

    case "CancelStep": {
      const step = m.step(cmd.runId, cmd.stepId);
      if (!step) return E.left({ _tag: "UnknownStep", runId: cmd.runId, stepId: cmd.stepId });
      const active = activeUnder(cmd.runId, m.stepsOfRun(cmd.runId), [step]);
      return E.right(cancellations(cmd.runId, active, cmd.reason, Number.POSITIVE_INFINITY));
    }

    case "RerunStep": {
      const r = m.run(cmd.runId);
      if (!r) return E.left({ _tag: "UnknownRun", runId: cmd.runId });
      if (r.status === "cancelled") return E.left({ _tag: "RunFinished", runId: cmd.runId, status: r.status });
      const step = m.step(cmd.runId, cmd.stepId);
      if (!step) return E.left({ _tag: "UnknownStep", runId: cmd.runId, stepId: cmd.stepId });
      const hosted = findTarget(m, step.target);
      if (E.isLeft(hosted)) return hosted;
      const latest = step.executions[step.executions.length - 1];
      const x = latest === undefined ? undefined : m.execution(latest);
      if (x && !isFinished(x.status)) {
        return E.left({ _tag: "InvalidArgument", message: `step ${cmd.stepId} of run ${cmd.runId} is still running; cancel it or wait` });
      }
      const attempt = nextAttempt(m, step);
      return E.right([
        run("ExecutionCreated", cmd.runId, {
          executionId: executionIdOf(cmd.runId, cmd.stepId, attempt),
          stepId: step.stepId,
          attempt,
          reason: "rerun",
          ...(cmd.memoKey !== undefined && cmd.memoKey !== step.memoKey ? { memoKey: cmd.memoKey } : {}),
        }),
      ]);
    }

    case "ConnectAgent": {
      const agentId = cmd.agentId as AgentId;
      return E.right([
        env("AgentConnected", {
          agentId,
          tags: cmd.tags,
          repositories: cmd.manifests.map((x) => x.repository),
          concurrency: cmd.concurrency,
        }),
        ...cmd.manifests
          .filter((x) => !sameManifest(m, x.repository, x.targets))
          .map((x) => env("ManifestRegistered", { repository: x.repository, agentId, targets: x.targets })),
      ]);
    }

    case "PersistAsset": {
      const x = m.execution(cmd.executionId);
      if (!x) return E.left({ _tag: "UnknownExecution", executionId: cmd.executionId });
      if (x.agentId !== cmd.agentId || isFinished(x.status)) {
        return E.left({ _tag: "NotAssigned", executionId: cmd.executionId, agentId: cmd.agentId });
      }
      if (m.asset(cmd.assetId)) return none;
      const bad = cmd.entries.map((e) => e.path).find((p) => !isSafeAssetPath(p));
      if (bad !== undefined) {
        return E.left({ _tag: "InvalidArgument", message: `asset path ${JSON.stringify(bad)} is not a relative path inside the working directory` });
      }
      return E.right([
        run("AssetPersisted", x.runId, {
          assetId: cmd.assetId as AssetId,
          executionId: x.executionId,
          stepId: x.stepId,
          ...(cmd.name === undefined ? {} : { name: cmd.name }),
          ...(cmd.metadata === undefined ? {} : { metadata: cmd.metadata }),
          entries: cmd.entries.map((e) => ({ path: e.path, size: e.size, sha256: e.sha256, blobKey: `sha256:${e.sha256}` })),
        }),
      ]);
    }

    case "RestoreAsset": {
      const x = m.execution(cmd.executionId);
      if (!x) return E.left({ _tag: "UnknownExecution", executionId: cmd.executionId });
      if (x.agentId !== cmd.agentId || isFinished(x.status)) {
        return E.left({ _tag: "NotAssigned", executionId: cmd.executionId, agentId: cmd.agentId });
      }
      const found = m.asset(cmd.assetId);
      if (!found) return E.left({ _tag: "UnknownAsset", assetId: cmd.assetId });
      // Recorded once per execution and asset: a restore re-sent after a reconnect adds nothing.
      if (x.assetsRestored.includes(cmd.assetId as AssetId)) return none;
      const here = m.environment()?.env;
      return E.right([
        run("AssetRestored", x.runId, {
          assetId: cmd.assetId as AssetId,
          executionId: x.executionId,
          stepId: x.stepId,
          ...(found.env !== here ? { fromEnv: found.env as EnvName } : {}),
          ...(cmd.to === undefined ? {} : { to: cmd.to }),
        }),
      ]);
    }

    case "BranchEnvironment": {
      if (m.environment()) return E.left({ _tag: "EnvironmentExists", env: cmd.env });
      return E.right([
        env("EnvironmentBranched", { project: cmd.project as never, env: cmd.env as never, parent: cmd.parent as EnvName, at: cmd.at }),
      ]);
    }

    case "ImportRun": {
      const runId = cmd.run.runId;
      if (cmd.first && m.run(runId)) return none;
      if (!cmd.first && !m.run(runId)) return E.left({ _tag: "UnknownRun", runId });
      const events: Event[] = [];
      if (cmd.first) {
        events.push(
          run("RunSubmitted", runId, {
            target: cmd.run.target,
            arguments: cmd.run.arguments,
            ...(cmd.run.argumentsBlob === undefined ? {} : { argumentsBlob: cmd.run.argumentsBlob }),
            rootStepId: cmd.run.rootStepId,
            branchedFrom: { env: cmd.from.env as EnvName, seq: cmd.from.seq },
          }),
        );
      }
      for (const s of cmd.steps) {
        if (m.step(runId, s.stepId)) continue;
        events.push(
          run("StepScheduled", runId, {
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
              ? { env: cmd.from.env as EnvName, runId, stepId: s.stepId, executionId: s.resultExecutionId, seq: s.resultSeq ?? 0 }
              : undefined;
        if (source && s.result) {
          events.push(run("StepResultReused", runId, { stepId: s.stepId, cacheKey: s.memoKey ?? s.cacheKey ?? "", source, result: s.result }));
        }
      }
      return E.right(events);
    }

    case "RebaseEnvironment": {
      const env_ = m.environment();
      if (!env_) return E.left({ _tag: "UnknownEnvironment", env: "" });
      if ((env_.base ?? null) === cmd.base) return none;
      return E.right([env("EnvironmentRebased", { base: cmd.base as EnvName | null })]);
    }

    case "ArchiveEnvironment": {
      const env_ = m.environment();
      if (!env_) return E.left({ _tag: "UnknownEnvironment", env: "" });
      if (env_.archived) return none;
      return E.right([env("EnvironmentArchived", cmd.reason === undefined ? {} : { reason: cmd.reason })]);
    }

    case "DisconnectAgent": {
      const a = m.agent(cmd.agentId);
      if (!a || a.status === "disconnected") return none;
      return E.right([env("AgentDisconnected", { agentId: cmd.agentId as AgentId, reason: cmd.reason })]);
    }
  }
};

/**
 * The attempt number of a step's next execution: one more than it has had,
 * skipping a number whose execution id is taken — by the execution a step
 * brought into a branch was reused from, which keeps its id.
 */
const nextAttempt = (m: Model, step: StepDoc): number => {
  let attempt = step.executions.length + 1;
  // In a run brought into a branch, the parent's executions are named by the steps they called
  // (`parentExecutionId`, and their call ids): a new execution must not take such a name, or its
  // calls would be taken for the parent execution's calls.
  const named = step.reusedFrom ? new Set<string>(m.stepsOfRun(step.runId).flatMap((s) => (s.parentExecutionId ? [s.parentExecutionId] : []))) : undefined;
  const taken = (id: string) => id === step.reusedFrom?.executionId || named?.has(id) === true || m.execution(id) !== undefined;
  while (taken(executionIdOf(step.runId, step.stepId, attempt))) attempt++;
  return attempt;
};

/** A relative, `/`-separated path with no empty, `.` or `..` segment: it cannot leave the directory it is joined to. */
export const isSafeAssetPath = (p: string): boolean =>
  p.length > 0 && p.length <= 4096 && !p.startsWith("/") && !p.includes("\\") && !p.includes("\0") &&
  p.split("/").every((seg) => seg !== "" && seg !== "." && seg !== "..");

/** The target as registered, or an `UnknownTarget` rejection listing what is known. */
const findTarget = (m: Model, t: TargetRef): E.Either<Rejection, TargetManifest> => {
  const manifest = m.manifest(t.repository);
  const found = manifest?.targets.find((x) => x.name === t.target);
  if (found) return E.right(found);
  const known = manifest
    ? manifest.targets.map((x) => `${t.repository}:${x.name}`)
    : m.repositories().map((r) => `${r}:*`);
  return E.left({ _tag: "UnknownTarget", repository: t.repository, target: t.target, known });
};

/** Per-call options over the target's own. */
export const mergeOptions = (base: StepOptions, over: StepOptions | undefined): StepOptions => {
  if (!over) return base;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) out[k] = v;
  return out as StepOptions;
};

/** Is the registered manifest of `repository` already exactly this one? (Avoids a new event per reconnect.) */
const sameManifest = (m: Model, repository: string, targets: readonly TargetManifest[]): boolean => {
  const current = m.manifest(repository);
  return current !== undefined && JSON.stringify(current.targets) === JSON.stringify(targets);
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
  return same ? none : E.left({ _tag: "IdempotencyKeyReused", key, runId: r.runId, target: `${r.target.repository}:${r.target.target}` });
};

/**
 * The target as registered, if these arguments fit its parameters, and (for
 * a run submitted from outside, `asRun`) if it is a workflow: only
 * workflows are scheduled as runs; tasks are called by workflows.
 */
const findRunnable = (m: Model, t: TargetRef, count: number, asRun: boolean): E.Either<Rejection, TargetManifest> => {
  const found = findTarget(m, t);
  if (E.isLeft(found)) return found;
  const target = found.right;
  if (asRun && target.kind !== "workflow") {
    const workflows = (m.manifest(t.repository)?.targets ?? []).filter((x) => x.kind === "workflow").map((x) => `${t.repository}:${x.name}`);
    return E.left({ _tag: "NotAWorkflow", repository: t.repository, target: t.target, workflows });
  }
  const a = target.arity;
  if (a && (count < a.min || (a.max !== undefined && count > a.max))) {
    return E.left({
      _tag: "WrongArgumentCount",
      target: `${t.repository}:${t.target}`,
      given: count,
      min: a.min,
      ...(a.max === undefined ? {} : { max: a.max }),
      parameters: target.parameters.map((p) => p.name),
    });
  }
  return found;
};

/** Why a step of `target` could not run in this environment (no agent here has registered it), if so. */
export const unhostedTarget = (m: Model, target: TargetRef): Rejection | undefined => {
  const found = findTarget(m, target);
  return E.isLeft(found) ? found.left : undefined;
};

/** Most cancellations one decision records (each is an event of the commit: a commit has a size limit). */
export const CANCELS_PER_COMMIT = 200;
