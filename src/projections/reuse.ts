/**
 * Indexes for reusing work, keyed by the keys steps are scheduled with
 * (`StepScheduled.memoKey`: target, code and arguments; see
 * `src/orchestrator/keys.ts`). Pure.
 *
 * - `memo`: `<runId>/<memoKey>` → the latest step of the run with that key,
 *   so that an identical call in the same run reuses it.
 * - `pending`: `<memoKey>` → the step currently executing with that key, in
 *   the whole environment, so that an identical call can wait for it (`defer`).
 * - `deferrals`: `<runId>/<stepId>` → the steps deferred to that step and not
 *   yet resolved.
 */
import type { Event, RunId, StepId } from "../events/index.js";
import type { EvolveContext, Projection } from "./projection.js";
import { stepKey, type StepDoc } from "./runs.js";

export interface MemoDoc {
  readonly stepId: StepId;
}

export const memoProjection: Projection<MemoDoc> = {
  name: "memo",
  version: 1,
  keysOf: (e) =>
    (e.type === "StepScheduled" || e.type === "ExecutionCreated") && e.data.memoKey !== undefined ? [`${e.runId}/${e.data.memoKey}`] : [],
  evolve: (doc, e) => (e.type === "StepScheduled" || e.type === "ExecutionCreated" ? { stepId: e.data.stepId } : doc),
};

export interface PendingDoc {
  readonly runId: RunId;
  readonly stepId: StepId;
}

/** The memo key of the step an execution event belongs to. */
const memoKeyOf = (e: Event, ctx: EvolveContext): string | undefined => {
  if (e.runId === undefined || !("stepId" in e.data)) return undefined;
  return ctx.get<StepDoc>("steps", stepKey(e.runId, e.data.stepId))?.memoKey;
};

export const pendingProjection: Projection<PendingDoc> = {
  name: "pending",
  version: 1,
  keysOf(e, ctx) {
    switch (e.type) {
      case "ExecutionCreated":
      case "ExecutionSucceeded":
      case "ExecutionFailed":
      case "ExecutionTimedOut":
      case "ExecutionAbandoned":
      case "ExecutionCancelled": {
        const k = memoKeyOf(e, ctx);
        return k === undefined ? [] : [k];
      }
      default:
        return [];
    }
  },
  evolve(doc, e) {
    if (e.runId === undefined || !("stepId" in e.data)) return doc;
    if (e.type === "ExecutionCreated") return { runId: e.runId, stepId: e.data.stepId };
    // Any end of the step's current execution: pending again only if a retry follows (it sets it back).
    return doc && doc.runId === e.runId && doc.stepId === e.data.stepId ? undefined : doc;
  },
};

export interface DeferralsDoc {
  readonly steps: readonly { readonly runId: RunId; readonly stepId: StepId }[];
}

export const deferralsProjection: Projection<DeferralsDoc> = {
  name: "deferrals",
  version: 1,
  keysOf(e, ctx) {
    if (e.type === "StepDeferred") return [stepKey(e.data.to.runId, e.data.to.stepId)];
    // A deferred step that got its result, or its own execution, is resolved.
    if ((e.type === "StepResultReused" || e.type === "ExecutionCreated") && e.runId !== undefined) {
      const to = ctx.get<StepDoc>("steps", stepKey(e.runId, e.data.stepId))?.deferredTo;
      return to ? [stepKey(to.runId, to.stepId)] : [];
    }
    return [];
  },
  evolve(doc, e) {
    if (e.runId === undefined) return doc;
    if (e.type === "StepDeferred") return { steps: [...(doc?.steps ?? []), { runId: e.runId, stepId: e.data.stepId }] };
    if (!doc || !("stepId" in e.data)) return doc;
    const stepId = e.data.stepId;
    const steps = doc.steps.filter((s) => !(s.runId === e.runId && s.stepId === stepId));
    return steps.length ? { steps } : undefined;
  },
};
