/**
 * The run projections: runs, steps and executions (every attempt). Pure.
 *
 * - `runs`, keyed by run id: the run, its status (from its root step), counts.
 * - `steps`, keyed `<runId>/<stepId>` (so one run's steps are a prefix scan):
 *   the step, its executions in order, and the outcome of the latest one.
 * - `executions`, keyed by execution id: one attempt, its agent, timings,
 *   result or error, and the assets it persisted and restored.
 */
import type { ErrorInfo, ExecutionId } from "../events/index.js";
import { abandonedError, cancelledError, timeoutError } from "./outcomes.js";
import { eventsOfTypes, unreachable, type Projection } from "./projection.js";

export { abandonedError, cancelledError, timeoutError } from "./outcomes.js";

export * from "./run-docs.js";
import { stepKey, type ExecutionDoc, type RunDoc, type RunStatus, type StepDoc, type StepStatus } from "./run-docs.js";

// ---------------------------------------------------------------------------

export const runsProjection: Projection<RunDoc> = {
  name: "runs",
  version: 4,
  keysOf: (e) => (e.runId === undefined ? [] : [e.runId]),
  evolve(doc, e, _key, ctx) {
    if (e.type === "RunSubmitted") {
      const d = e.data;
      return {
        runId: e.runId,
        target: d.target,
        arguments: d.arguments,
        ...(d.argumentsBlob === undefined ? {} : { argumentsBlob: d.argumentsBlob }),
        rootStepId: d.rootStepId,
        ...(d.idempotencyKey === undefined ? {} : { idempotencyKey: d.idempotencyKey }),
        ...(d.parent === undefined ? {} : { parent: d.parent }),
        ...(d.branchedFrom === undefined ? {} : { branchedFrom: d.branchedFrom }),
        status: "running",
        ...(e.by === undefined ? {} : { submittedBy: e.by }),
        submittedAt: e.at,
        submittedSeq: ctx.seq,
        updatedAt: e.at,
        lastSeq: ctx.seq,
        steps: 0,
        executions: 0,
        pending: 0,
      };
    }
    if (!doc || e.runId === undefined) return doc; // a run event before its run: ignored, as the orchestrator never writes one
    const base = { ...doc, updatedAt: e.at, lastSeq: ctx.seq };
    const root = "stepId" in e.data && e.data.stepId === doc.rootStepId;
    /** An outcome of a step: it ends the run when the step is the root. */
    const outcome = (status: RunStatus, error: ErrorInfo | undefined, execution = true): RunDoc => {
      const counted = execution ? { ...base, pending: Math.max(0, doc.pending - 1) } : base;
      if (!root || doc.status === "cancelled") return counted;
      const { error: _old, ...rest } = counted;
      return { ...rest, status, finishedAt: e.at, finishedSeq: ctx.seq, ...(error ? { error } : {}) };
    };
    switch (e.type) {
      case "RunCancelled":
        return {
          ...base,
          status: "cancelled",
          cancelReason: e.data.reason,
          ...(e.by === undefined ? {} : { cancelledBy: e.by }),
          finishedAt: doc.finishedAt ?? e.at,
          finishedSeq: doc.finishedSeq ?? ctx.seq,
        };
      case "StepScheduled":
        return { ...base, steps: doc.steps + 1 };
      case "ExecutionCreated": {
        const next = { ...base, executions: doc.executions + 1, pending: doc.pending + 1 };
        if (!root || doc.status === "cancelled") return next;
        const { error: _e, finishedAt: _f, finishedSeq: _fs, ...rest } = next;
        return { ...rest, status: "running" };
      }
      case "ExecutionSucceeded":
        return outcome("succeeded", undefined);
      case "ExecutionFailed":
        return outcome("failed", e.data.error);
      case "ExecutionTimedOut":
        return outcome("failed", timeoutError(e.data.timeoutMs));
      case "ExecutionAbandoned":
        return outcome("failed", abandonedError(e.data.reason));
      case "ExecutionCancelled":
        return outcome("cancelled", undefined);
      case "StepResultReused":
        return outcome("succeeded", undefined, false);
      case "ExecutionSuspended":
      case "ExecutionRecurred":
        return { ...base, pending: Math.max(0, doc.pending - 1) };
      case "ExecutionAssigned":
      case "ExecutionStarted":
      case "InputRequested":
      case "InputAnswered":
      case "StepDeferred":
      case "CallResumed":
      case "AssetPersisted":
      case "AssetRestored":
      case "CheckpointSaved":
      case "ExecutionProgressed":
      case "MetricRecorded":
        return base;
      default:
        return unreachable(e);
    }
  },
};

// ---------------------------------------------------------------------------

/** The events of a step, each naming it by `data.stepId`. */
const isStepEvent = eventsOfTypes([
  "StepScheduled",
  "ExecutionCreated",
  "ExecutionAssigned",
  "ExecutionStarted",
  "ExecutionSucceeded",
  "ExecutionFailed",
  "ExecutionCancelled",
  "ExecutionTimedOut",
  "ExecutionAbandoned",
  "StepResultReused",
  "StepDeferred",
]);

export const stepsProjection: Projection<StepDoc> = {
  name: "steps",
  version: 3,
  keysOf: (e) => (isStepEvent(e) ? [stepKey(e.runId, e.data.stepId)] : []),
  evolve(doc, e, _key, ctx) {
    if (!isStepEvent(e)) return doc;
    if (e.type === "StepScheduled") {
      const d = e.data;
      return {
        runId: e.runId,
        stepId: d.stepId,
        target: d.target,
        kind: d.kind,
        arguments: d.arguments,
        ...(d.argumentsBlob === undefined ? {} : { argumentsBlob: d.argumentsBlob }),
        options: d.options,
        ...(d.cacheKey === undefined ? {} : { cacheKey: d.cacheKey }),
        ...(d.memoKey === undefined ? {} : { memoKey: d.memoKey }),
        ...(d.parentExecutionId === undefined ? {} : { parentExecutionId: d.parentExecutionId }),
        ...(d.callId === undefined ? {} : { callId: d.callId }),
        scheduledAt: e.at,
        scheduledSeq: ctx.seq,
        status: "pending",
        executions: [],
      };
    }
    if (!doc) return doc;
    /** Only the latest execution decides the step's outcome. */
    const latest = (id: ExecutionId) => doc.executions[doc.executions.length - 1] === id;
    const outcome = (status: StepStatus, fields: Partial<StepDoc>): StepDoc => {
      const { result: _r, resultExecutionId: _x, resultSeq: _s, resultReused: _u, error: _e, finishedAt: _f, ...rest } = doc;
      return { ...rest, status, finishedAt: e.at, ...fields };
    };
    switch (e.type) {
      case "ExecutionCreated": {
        const { error: _e, finishedAt: _f, ...rest } = doc;
        // A rerun keeps the previous result visible until the new one lands.
        return { ...rest, status: "pending", executions: [...doc.executions, e.data.executionId] };
      }
      case "ExecutionAssigned":
        return doc;
      case "ExecutionStarted":
        return latest(e.data.executionId) ? { ...doc, status: "running" } : doc;
      case "ExecutionSucceeded":
        return latest(e.data.executionId)
          ? outcome("succeeded", { result: e.data.result, resultExecutionId: e.data.executionId, resultSeq: ctx.seq })
          : doc;
      case "ExecutionFailed":
        return latest(e.data.executionId) ? outcome("failed", { error: e.data.error }) : doc;
      case "ExecutionTimedOut":
        return latest(e.data.executionId) ? outcome("failed", { error: timeoutError(e.data.timeoutMs) }) : doc;
      case "ExecutionAbandoned":
        return latest(e.data.executionId) ? outcome("failed", { error: abandonedError(e.data.reason) }) : doc;
      case "ExecutionCancelled":
        return latest(e.data.executionId) ? outcome("cancelled", { error: cancelledError(e.data.reason) }) : doc;
      case "StepResultReused":
        return outcome("reused", { result: e.data.result, reusedFrom: e.data.source, resultReused: true, resultSeq: ctx.seq });
      case "StepDeferred":
        return { ...doc, status: "deferred", deferredTo: e.data.to };
      default:
        return unreachable(e);
    }
  },
};

// ---------------------------------------------------------------------------

/** The events of an execution, each naming it by `data.executionId`. */
const isExecutionEvent = eventsOfTypes([
  "ExecutionCreated",
  "ExecutionAssigned",
  "ExecutionStarted",
  "ExecutionSucceeded",
  "ExecutionFailed",
  "ExecutionCancelled",
  "ExecutionTimedOut",
  "ExecutionAbandoned",
  "AssetPersisted",
  "AssetRestored",
  "ExecutionSuspended",
  "ExecutionRecurred",
]);

export const executionsProjection: Projection<ExecutionDoc> = {
  name: "executions",
  version: 3,
  keysOf: (e) => (isExecutionEvent(e) ? [e.data.executionId] : []),
  evolve(doc, e, _key, ctx) {
    if (!isExecutionEvent(e)) return doc;
    if (e.type === "ExecutionCreated") {
      const d = e.data;
      return {
        executionId: d.executionId,
        runId: e.runId,
        stepId: d.stepId,
        attempt: d.attempt,
        reason: d.reason,
        ...(d.resumes === undefined ? {} : { resumes: d.resumes }),
        ...(d.memoKey === undefined ? {} : { memoKey: d.memoKey }),
        ...(d.notBefore === undefined ? {} : { notBefore: d.notBefore }),
        ...(d.resumeWhen === undefined ? {} : { resumeWhen: d.resumeWhen }),
        createdAt: e.at,
        createdSeq: ctx.seq,
        status: "queued",
        assetsPersisted: [],
        assetsRestored: [],
      };
    }
    if (!doc) return doc;
    switch (e.type) {
      case "ExecutionAssigned":
        return { ...doc, status: "assigned", agentId: e.data.agentId, assignedAt: e.at };
      case "ExecutionStarted":
        return { ...doc, status: "running", startedAt: e.at };
      case "ExecutionSucceeded":
        return { ...doc, status: "succeeded", finishedAt: e.at, result: e.data.result };
      case "ExecutionFailed":
        return { ...doc, status: "failed", finishedAt: e.at, error: e.data.error };
      case "ExecutionTimedOut":
        return { ...doc, status: "timed_out", finishedAt: e.at, error: timeoutError(e.data.timeoutMs) };
      case "ExecutionAbandoned":
        return {
          ...doc,
          status: "abandoned",
          finishedAt: e.at,
          error: abandonedError(e.data.reason),
          abandonCause: e.data.cause ?? "agent-lost",
        };
      case "ExecutionCancelled":
        return { ...doc, status: "cancelled", finishedAt: e.at, error: cancelledError(e.data.reason) };
      case "AssetPersisted":
        return { ...doc, assetsPersisted: [...doc.assetsPersisted, e.data.assetId] };
      case "AssetRestored":
        return { ...doc, assetsRestored: [...doc.assetsRestored, e.data.assetId] };
      case "ExecutionSuspended": {
        const { executionId: _x, stepId: _s, ...how } = e.data;
        return { ...doc, status: "suspended", finishedAt: e.at, suspended: how };
      }
      case "ExecutionRecurred":
        return { ...doc, status: "recurred", finishedAt: e.at };
      default:
        return unreachable(e);
    }
  },
};
