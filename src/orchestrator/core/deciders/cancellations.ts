/**
 * What is still in flight under a run or a step, and the cancellations that
 * stop it, a commit's worth at a time.
 */
import type { Event, RunId } from "../../../events/index.js";
import { isFinished, type ExecutionDoc, type StepDoc } from "../../../projections/index.js";
import type { DecideContext } from "../decision.js";
import { runEvent } from "../event.js";
import type { Model } from "../model.js";

/** Most cancellations one decision records (each is an event of the commit: a commit has a size limit). */
export const CANCELS_PER_COMMIT = 200;

/** Active executions of the `roots` steps and of every step called from them, recursively. */
export const activeUnder = (m: Model, runId: string, steps: readonly StepDoc[], roots: readonly StepDoc[]): ExecutionDoc[] => {
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

/** Cancellations of these executions of a run, at most `limit` of them (a commit's worth). */
export const cancellations = (
  ctx: DecideContext,
  runId: RunId,
  xs: readonly ExecutionDoc[],
  reason: string,
  limit = CANCELS_PER_COMMIT,
): Event[] => xs.slice(0, limit).map((x) => runEvent(ctx, "ExecutionCancelled", runId, { executionId: x.executionId, stepId: x.stepId, reason }));

/**
 * Cancellations of the executions of the run still in flight but `x`,
 * whose failure ended the run: the first {@link CANCELS_PER_COMMIT} (the
 * scheduler sweeps the rest, `SweepRun`, so that no commit outgrows the log).
 */
export const leftBehind = (m: Model, ctx: DecideContext, x: ExecutionDoc, reason: string): Event[] => {
  const steps = m.stepsOfRun(x.runId);
  return cancellations(
    ctx,
    x.runId,
    activeUnder(m, x.runId, steps, steps).filter((a) => a.executionId !== x.executionId),
    reason,
  );
};
