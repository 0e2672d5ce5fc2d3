/**
 * Facts about a run's tree of steps that the CLI (`runs show`) and Studio
 * both show, so they say the same thing. Pure: a run's view in, values out.
 */
import type { ExecutionDoc, RunView, StepDoc } from "../projections/index.js";

type View = Pick<RunView, "steps" | "executions">;

/** A step's executions, oldest first (those the view knows). */
const executionsOf = (view: View, step: StepDoc): ExecutionDoc[] =>
  step.executions.map((id) => view.executions[id]).filter((x): x is ExecutionDoc => x !== undefined);

/**
 * The executions whose calls are a step's current ones: its latest, and the
 * executions that one resumed (a resumed execution takes its calls over);
 * a step reused without an execution here, the one it reused.
 */
export const currentExecutions = (view: View, step: StepDoc): Set<string> => {
  const execs = executionsOf(view, step);
  const latest = execs[execs.length - 1];
  const current = new Set<string>();
  for (let x: ExecutionDoc | undefined = latest; x && !current.has(x.executionId); x = x.resumes ? view.executions[x.resumes] : undefined) {
    current.add(x.executionId);
  }
  if (!latest && step.reusedFrom) current.add(step.reusedFrom.executionId);
  return current;
};

/**
 * The steps called by an execution of their caller that is not the caller's
 * current one (superseded by a retry or a re-run): `runs show` marks them
 * `(earlier)`. Only the steps whose own caller moved on; their callees hang
 * under them.
 */
export const earlierSteps = (view: View): Set<string> => {
  const callerOf = new Map<string, StepDoc>();
  for (const s of view.steps) {
    for (const id of s.executions) callerOf.set(id, s);
    if (s.reusedFrom && !callerOf.has(s.reusedFrom.executionId)) callerOf.set(s.reusedFrom.executionId, s);
  }
  const currents = new Map<string, Set<string>>();
  const out = new Set<string>();
  for (const s of view.steps) {
    const caller = s.parentExecutionId === undefined ? undefined : callerOf.get(s.parentExecutionId);
    if (!caller) continue;
    let current = currents.get(caller.stepId);
    if (!current) currents.set(caller.stepId, (current = currentExecutions(view, caller)));
    if (!current.has(s.parentExecutionId!)) out.add(s.stepId);
  }
  return out;
};

/**
 * How long a step took: its latest execution's run time, from when it
 * started (or was assigned, for an execution that never said it started) to
 * when it finished; `to` is absent while it runs. Earlier attempts, the
 * waits between them and between re-runs are not counted.
 */
export const stepRunTime = (view: View, step: StepDoc): { from?: number; to?: number } => {
  const execs = executionsOf(view, step);
  const latest = execs[execs.length - 1];
  if (!latest) return {};
  return { from: latest.startedAt ?? latest.assignedAt, to: latest.finishedAt };
};
