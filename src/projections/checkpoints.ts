/**
 * Checkpoints, keyed by checkpoint key (`<runId>/<memo key or step id>/<name>`,
 * see `CheckpointSaved`): the newest value saved under the key, by which
 * execution of which step, and how many saves there were. A run's
 * checkpoints are a prefix scan (`<runId>/`). Pure.
 */
import type { ExecutionId, ResultValue, RunId, StepId } from "../events/index.js";
import type { DocSource, Projection } from "./projection.js";

export interface CheckpointDoc {
  readonly key: string;
  readonly runId: RunId;
  readonly name: string;
  /** The step and execution of the newest save. */
  readonly stepId: StepId;
  readonly executionId: ExecutionId;
  readonly value: ResultValue;
  /** How many times it was saved (by every execution that saved it). */
  readonly saves: number;
  readonly savedAt: number;
  /** Sequence of the commit of the newest save. */
  readonly seq: number;
}

export const checkpointsProjection: Projection<CheckpointDoc> = {
  name: "checkpoints",
  version: 1,
  keysOf: (e) => (e.type === "CheckpointSaved" ? [e.data.key] : []),
  evolve(doc, e, key, ctx) {
    if (e.type !== "CheckpointSaved") return doc;
    const d = e.data;
    return {
      key,
      runId: e.runId,
      name: d.name,
      stepId: d.stepId,
      executionId: d.executionId,
      value: d.value,
      saves: (doc?.saves ?? 0) + 1,
      savedAt: e.at,
      seq: ctx.seq,
    };
  },
};

/** The newest value saved under a checkpoint key in this environment's own log. */
export const getCheckpoint = (src: DocSource, key: string): CheckpointDoc | undefined => src.get<CheckpointDoc>("checkpoints", key);

/** A run's checkpoints, in key order. */
export const checkpointsOfRun = (src: DocSource, runId: RunId): CheckpointDoc[] =>
  [...src.range<CheckpointDoc>("checkpoints", { prefix: `${runId}/` })].map(([, d]) => d);
