/**
 * The cache index, keyed by cache key: the newest successful result recorded
 * for the key in this environment, and the execution currently computing it
 * (so that an identical call can join it instead of starting twice). Pure.
 *
 * Execution events do not carry the cache key; it is read from the step's
 * document in the `steps` projection, which must come earlier in the list.
 */
import type { Event, ExecutionRef, ResultValue, RunId, StepId, ExecutionId } from "../events/index.js";
import type { Projection } from "./projection.js";
import { stepKey, type StepDoc } from "./runs.js";

export interface CacheHit {
  readonly runId: RunId;
  readonly stepId: StepId;
  readonly executionId: ExecutionId;
  /** Sequence of the commit that recorded the result. */
  readonly seq: number;
  /** When the result was recorded, ms since the epoch (for max age). */
  readonly at: number;
  readonly result: ResultValue;
}

export interface CacheDoc {
  readonly cacheKey: string;
  readonly hit?: CacheHit;
  /** The execution computing a result for this key right now. */
  readonly pending?: ExecutionRef;
}

const cacheKeyOf = (e: Event, get: <D>(p: string, k: string) => D | undefined): string[] => {
  if (e.runId === undefined || !("executionId" in e.data) || !("stepId" in e.data)) return [];
  if (e.type === "AssetPersisted" || e.type === "AssetRestored") return [];
  const step = get<StepDoc>("steps", stepKey(e.runId, e.data.stepId));
  return step?.cacheKey === undefined ? [] : [step.cacheKey];
};

export const cacheProjection: Projection<CacheDoc> = {
  name: "cache",
  version: 1,
  keysOf: (e, ctx) => cacheKeyOf(e, ctx.get),
  evolve(doc, e, key, ctx) {
    if (e.runId === undefined) return doc;
    const current: CacheDoc = doc ?? { cacheKey: key };
    const withoutPending = (executionId: string): CacheDoc => {
      if (current.pending?.executionId !== executionId) return current;
      const { pending: _p, ...rest } = current;
      return rest;
    };
    switch (e.type) {
      case "ExecutionCreated":
        return { ...current, pending: { runId: e.runId, stepId: e.data.stepId, executionId: e.data.executionId } };
      case "ExecutionSucceeded":
        return {
          ...withoutPending(e.data.executionId),
          hit: {
            runId: e.runId,
            stepId: e.data.stepId,
            executionId: e.data.executionId,
            seq: ctx.seq,
            at: e.at,
            result: e.data.result,
          },
        };
      case "ExecutionFailed":
      case "ExecutionTimedOut":
      case "ExecutionAbandoned":
      case "ExecutionCancelled":
        return withoutPending(e.data.executionId);
      default:
        return doc;
    }
  },
};
