/**
 * The decider of checkpoints: running task code saves durable state of its
 * step (`checkpoint(name, initial).set(value)`), which the step's later
 * executions read back. Saves are local to the environment; reads fall back
 * through the environments it inherits from (`Model.checkpoint`).
 */
import * as E from "fp-ts/lib/Either.js";
import { CHECKPOINT_NAME, CHECKPOINT_NAME_HINT, type ResultValue } from "../../../events/index.js";
import { canonicalJson } from "../../../projections/index.js";
import { accept, none, reject, type Handler, type Handlers } from "../decision.js";
import { runEvent } from "../event.js";
import { runningOn } from "./assets.js";
import { checkpointKeyOf } from "./ids.js";
import { overCommit } from "./outcomes.js";

/**
 * A checkpoint's new value, saved by an execution running on the agent
 * that says so. The same value saved again by the same execution (a save
 * re-sent after a reconnect) decides nothing.
 */
export const saveCheckpoint: Handler<"SaveCheckpoint"> = (cmd, m, ctx) => {
  const own = runningOn(m, cmd.executionId, cmd.agentId);
  if (E.isLeft(own)) return own;
  const x = own.right;
  if (!CHECKPOINT_NAME.test(cmd.name)) {
    return reject({ _tag: "InvalidArgument", message: `checkpoint name ${JSON.stringify(cmd.name)} is not a name: ${CHECKPOINT_NAME_HINT}` });
  }
  const v = cmd.value;
  if ("value" in v && overCommit(v.encodedBytes)) {
    return reject({ _tag: "InvalidArgument", message: `checkpoint ${cmd.name}: the value is too large to record; keep checkpoints small, or persist large data as an asset and checkpoint the asset` });
  }
  const step = m.step(x.runId, x.stepId);
  if (!step) return reject({ _tag: "UnknownStep", runId: x.runId, stepId: x.stepId });
  const key = checkpointKeyOf(step, cmd.name);
  const value: ResultValue = "blob" in v ? { kind: "blob", blob: v.blob } : { kind: "inline", value: v.value };
  const here = m.checkpoint(key);
  if (here && here.env === m.environment()?.env && here.doc.executionId === x.executionId && canonicalJson(here.doc.value) === canonicalJson(value)) return none;
  return accept([runEvent(ctx, "CheckpointSaved", x.runId, { executionId: x.executionId, stepId: x.stepId, name: cmd.name, key, value })]);
};

export const checkpoints: Handlers<"SaveCheckpoint"> = { SaveCheckpoint: saveCheckpoint };
