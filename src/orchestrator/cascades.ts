/**
 * What an operation on one run or step does to others, carried out as
 * further commands: a run that is cancelled (or fails) cancels the runs its
 * executions spawned; a step re-run with `cascade` re-runs its callers, one
 * after the other, up to the root. A cascade's commands carry the principal
 * of what caused it (`by`), or none when the server caused it.
 */
import type { Principal, RunId, StepId } from "../events/index.js";
import { rejectionMessage, type Model } from "./core/index.js";
import { stepKeys } from "./keys.js";
import type { Orchestration } from "./orchestration.js";

/** Runs spawned by executions of `runId` still in flight are cancelled with it (on behalf of `by`). */
export const cancelChildRuns = (orch: Orchestration, runId: RunId, reason: string, by?: Principal): void => {
  const children = new Set<RunId>();
  for (const x of orch.activeExecutions()) {
    if (orch.model.run(x.runId)?.parent?.runId === runId) children.add(x.runId);
  }
  for (const child of children) {
    void orch.execute({ type: "CancelRun", runId: child, reason: `parent run ${runId} cancelled: ${reason}` }, { by }).catch(() => undefined);
  }
};

/**
 * After a re-run of `stepId`, re-runs its caller once it has its new
 * result, and so on up to the root: each caller's code runs again and its
 * unchanged calls are reused (memo), so the new result propagates. Stops at
 * the first step that does not succeed, or whose re-run is refused (said to
 * `notice`). Each re-run is on behalf of `by` (who asked for the first).
 */
export const rerunCallers = async (orch: Orchestration, runId: RunId, stepId: StepId, notice: (m: string) => void, by?: Principal): Promise<void> => {
  let current = stepId;
  for (;;) {
    const outcome = await orch.waitForStepRaw(runId, current);
    if (outcome.status !== "succeeded") return;
    const caller = callerOf(orch.model, runId, current);
    if (!caller) return;
    const r = await orch.execute({ type: "RerunStep", runId, stepId: caller, ...memoKeyNow(orch.model, runId, caller) }, { by });
    if (!r.ok) {
      notice(`cascade of ${runId}: re-running step ${caller} refused: ${rejectionMessage(r.rejection)}`);
      return;
    }
    current = caller;
  }
};

/** The step whose execution called `stepId` (in a branch, maybe an execution of the parent environment). */
export const callerOf = (m: Model, runId: RunId, stepId: StepId): StepId | undefined => {
  const parent = m.step(runId, stepId)?.parentExecutionId;
  if (parent === undefined) return undefined;
  const x = m.execution(parent);
  if (x) return x.stepId;
  return m.stepsOfRun(runId).find((s) => s.reusedFrom?.executionId === parent || s.resultExecutionId === parent)?.stepId;
};

/** The memo key of a step with the code its environment's agents host now (for `RerunStep`). */
export const memoKeyNow = (m: Model, runId: RunId, stepId: StepId): { memoKey?: string } => {
  const step = m.step(runId, stepId);
  return step ? { memoKey: stepKeys(m, step.target, step.arguments, step.options, step.argumentsBlob).memo } : {};
};
