/**
 * The decider of what task code reports while it runs: progress and
 * metrics. Recorded for an execution its agent runs; a report that trails
 * the execution's end (it crossed the result on the way) decides nothing.
 */
import { isFinished } from "../../../projections/index.js";
import { accept, none, reject, type Handler, type Handlers } from "../decision.js";
import { runEvent } from "../event.js";

export const recordProgress: Handler<"RecordProgress"> = (cmd, m, ctx) => {
  const x = m.execution(cmd.executionId);
  if (!x) return reject({ _tag: "UnknownExecution", executionId: cmd.executionId });
  if (x.agentId !== cmd.agentId) return reject({ _tag: "NotAssigned", executionId: x.executionId, agentId: cmd.agentId });
  if (isFinished(x.status)) return none;
  return accept([
    runEvent(ctx, "ExecutionProgressed", x.runId, {
      executionId: x.executionId,
      stepId: x.stepId,
      ...(cmd.fraction === undefined ? {} : { fraction: cmd.fraction }),
      ...(cmd.message === undefined ? {} : { message: cmd.message }),
    }),
  ]);
};

export const recordMetric: Handler<"RecordMetric"> = (cmd, m, ctx) => {
  const x = m.execution(cmd.executionId);
  if (!x) return reject({ _tag: "UnknownExecution", executionId: cmd.executionId });
  if (x.agentId !== cmd.agentId) return reject({ _tag: "NotAssigned", executionId: x.executionId, agentId: cmd.agentId });
  if (isFinished(x.status)) return none;
  return accept([runEvent(ctx, "MetricRecorded", x.runId, { executionId: x.executionId, stepId: x.stepId, name: cmd.name, value: cmd.value })]);
};

export const progress: Handlers<"RecordProgress" | "RecordMetric"> = { RecordProgress: recordProgress, RecordMetric: recordMetric };
