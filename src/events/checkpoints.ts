/**
 * The fact of a checkpoint: durable state of a step that its retries and
 * re-executions read back (`checkpoint(name, initial)` in the SDK). Part
 * of the catalogue (`types.ts`).
 */
import type { ResultValue } from "./data.js";
import type { ExecutionId, StepId } from "./ids.js";
import type { RunEventOf } from "./types.js";

/** A checkpoint's name: as a target's, a letter or `_`, then letters, digits, `_`, `.`, `-` (at most 128). */
export const CHECKPOINT_NAME = /^[A-Za-z_][\w.-]{0,127}$/;
export const CHECKPOINT_NAME_HINT = "a letter or _, then letters, digits, _ . - (at most 128)";

/**
 * An execution saved the value of its step's checkpoint `name`. `key`
 * names the checkpoint across executions: `<runId>/<the step's memo key>/<name>`
 * (the step id instead when the step has no memo key), so the retries and
 * re-runs of the step, a step scheduled again for the same call in the run,
 * and the run brought into a branch all find it; the newest saved value
 * wins. A value too large to log inline is kept as a blob, as results are.
 */
export type CheckpointSaved = RunEventOf<
  "CheckpointSaved",
  { executionId: ExecutionId; stepId: StepId; name: string; key: string; value: ResultValue }
>;
