/**
 * The progress of each execution that reported some, and the latest value
 * of each metric it recorded, keyed by execution id. Pure.
 */
import type { ExecutionId, RunId, StepId } from "../events/index.js";
import type { Projection } from "./projection.js";

export interface MetricDoc {
  /** The latest value. */
  readonly value: number;
  readonly at: number;
  /** How many values were recorded. */
  readonly count: number;
}

export interface ProgressDoc {
  readonly executionId: ExecutionId;
  readonly runId: RunId;
  readonly stepId: StepId;
  /** The latest progress reported: a fraction from 0 to 1, a message, and when. */
  readonly fraction?: number;
  readonly message?: string;
  readonly at?: number;
  readonly metrics: { readonly [name: string]: MetricDoc };
}

export const progressProjection: Projection<ProgressDoc> = {
  name: "progress",
  version: 1,
  keysOf: (e) => (e.type === "ExecutionProgressed" || e.type === "MetricRecorded" ? [e.data.executionId] : []),
  evolve(doc, e) {
    if (e.type !== "ExecutionProgressed" && e.type !== "MetricRecorded") return doc;
    const current: ProgressDoc = doc ?? { executionId: e.data.executionId, runId: e.runId, stepId: e.data.stepId, metrics: {} };
    if (e.type === "MetricRecorded") {
      const before = current.metrics[e.data.name];
      return { ...current, metrics: { ...current.metrics, [e.data.name]: { value: e.data.value, at: e.at, count: (before?.count ?? 0) + 1 } } };
    }
    const { fraction: _f, message: _m, ...rest } = current;
    return {
      ...rest,
      ...(e.data.fraction === undefined ? {} : { fraction: e.data.fraction }),
      ...(e.data.message === undefined ? {} : { message: e.data.message }),
      at: e.at,
    };
  },
};

/** The progress documents of these executions, by execution id (those that have one). */
export const progressOf = (src: { get<D>(p: string, k: string): D | undefined }, executionIds: Iterable<string>): Record<string, ProgressDoc> => {
  const out: Record<string, ProgressDoc> = {};
  for (const id of executionIds) {
    const doc = src.get<ProgressDoc>("progress", id);
    if (doc) out[id] = doc;
  }
  return out;
};
