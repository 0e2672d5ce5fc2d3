/**
 * The decider of executions: assigned to an agent, started, ended by a
 * result, a timeout or an abandonment — each end followed by a retry when
 * one is due (see `attempts.ts`).
 */
import type { AbandonCause, AgentId, Event, ResultValue } from "../../../events/index.js";
import { abandonedError, isFinished, timeoutError, type ExecutionDoc, type StepDoc } from "../../../projections/index.js";
import { accept, none, reject, type DecideContext, type Handler, type Handlers } from "../decision.js";
import { runEvent } from "../event.js";
import type { Model } from "../model.js";
import { ABANDON_RETRIES, FREE_ABANDON_CAUSES, NOT_THE_TASKS_FAULT } from "../retry-policy.js";
import { failure } from "./attempts.js";
import { fitError, overCommit, RESULT_TOO_LARGE } from "./outcomes.js";
import { recurrence } from "./waits.js";

/** A queued execution goes to an agent; any other decides nothing (it was assigned already, or has ended). */
export const assignExecution: Handler<"AssignExecution"> = (cmd, m, ctx) => {
  const x = m.execution(cmd.executionId);
  if (!x || x.status !== "queued") return none;
  return accept([runEvent(ctx, "ExecutionAssigned", x.runId, { executionId: x.executionId, stepId: x.stepId, agentId: cmd.agentId })]);
};

/** The agent it was assigned to started it (once: a repeat decides nothing). */
export const recordStarted: Handler<"RecordStarted"> = (cmd, m, ctx) => {
  const x = m.execution(cmd.executionId);
  if (!x) return reject({ _tag: "UnknownExecution", executionId: cmd.executionId });
  if (x.status !== "assigned") return none;
  if (x.agentId !== cmd.agentId) return reject({ _tag: "NotAssigned", executionId: x.executionId, agentId: cmd.agentId });
  return accept([runEvent(ctx, "ExecutionStarted", x.runId, { executionId: x.executionId, stepId: x.stepId })]);
};

/**
 * The result its agent reported: a success, or a failure and what follows
 * it. An inline result too large for the log is a terminal `ResultTooLarge`
 * failure; a failure too large has its message and stack cut; a failure
 * that is not the task's (`NOT_THE_TASKS_FAULT`: a worker restarted, the
 * agent is stopping) is an abandonment for that cause. A result re-sent
 * after a reconnect, or arriving after a timeout, is recorded once only.
 */
export const recordResult: Handler<"RecordResult"> = (cmd, m, ctx) => {
  const x = m.execution(cmd.executionId);
  if (!x) return reject({ _tag: "UnknownExecution", executionId: cmd.executionId });
  if (isFinished(x.status)) return none;
  if (x.agentId !== cmd.agentId) return reject({ _tag: "NotAssigned", executionId: x.executionId, agentId: cmd.agentId });
  const step = m.step(x.runId, x.stepId)!;
  const ref = { executionId: x.executionId, stepId: x.stepId };
  const { outcome } = cmd;
  // An inline result too large to log (large ones come as blobs) is recorded as a terminal failure instead.
  const tooLarge = outcome.ok && "value" in outcome && overCommit(outcome.encodedBytes);
  // A recurrent step whose execution returned nothing executes again.
  const recurrent = step.options.recurrent;
  if (recurrent && outcome.ok && "value" in outcome && outcome.value === null && m.run(x.runId)?.status !== "cancelled") {
    return accept(recurrence(m, ctx, x, step, recurrent.delayMs));
  }
  if (outcome.ok && !tooLarge) {
    const result: ResultValue = "blob" in outcome ? { kind: "blob", blob: outcome.blob } : { kind: "inline", value: outcome.value };
    return accept([runEvent(ctx, "ExecutionSucceeded", x.runId, { ...ref, result })]);
  }
  const error = outcome.ok ? RESULT_TOO_LARGE : fitError(outcome.error, outcome.encodedBytes);
  const notOurs = NOT_THE_TASKS_FAULT.get(error.type);
  if (notOurs) return accept(abandonment(m, ctx, x, step, cmd.agentId, error.message, notOurs));
  return accept(failure(m, ctx, x, step, runEvent(ctx, "ExecutionFailed", x.runId, { ...ref, error }), error));
};

/** It ran past its step's `timeoutMs`: a retryable failure. */
export const timeOutExecution: Handler<"TimeOutExecution"> = (cmd, m, ctx) => {
  const x = m.execution(cmd.executionId);
  if (!x || isFinished(x.status)) return none;
  const step = m.step(x.runId, x.stepId)!;
  const timeoutMs = step.options.timeoutMs ?? 0;
  const ended = runEvent(ctx, "ExecutionTimedOut", x.runId, { executionId: x.executionId, stepId: x.stepId, timeoutMs });
  return accept(failure(m, ctx, x, step, ended, timeoutError(timeoutMs)));
};

/**
 * The infrastructure lost it: retried whatever the step's policy says, up
 * to {@link ABANDON_RETRIES} counted abandonments, the retry resuming it.
 * Abandonments the infrastructure's own restarts caused are free (they
 * count against no limit) and retry at once.
 */
export const abandonExecution: Handler<"AbandonExecution"> = (cmd, m, ctx) => {
  const x = m.execution(cmd.executionId);
  if (!x || isFinished(x.status)) return none;
  return accept(abandonment(m, ctx, x, m.step(x.runId, x.stepId)!, cmd.agentId, cmd.reason, cmd.cause));
};

/** The events of an abandonment of `x` (lost by, or reported by, agent `agentId`), and its retry. */
const abandonment = (m: Model, ctx: DecideContext, x: ExecutionDoc, step: StepDoc, agentId: AgentId, reason: string, cause: AbandonCause): Event[] => {
  const free = FREE_ABANDON_CAUSES.has(cause);
  const counted = step.executions.filter((id) => {
    const prior = m.execution(id);
    return prior?.status === "abandoned" && !FREE_ABANDON_CAUSES.has(prior.abandonCause ?? "agent-lost");
  }).length;
  const ended = runEvent(ctx, "ExecutionAbandoned", x.runId, {
    executionId: x.executionId,
    stepId: x.stepId,
    agentId,
    reason,
    cause,
  });
  return failure(m, ctx, x, step, ended, abandonedError(reason), { force: free || counted < ABANDON_RETRIES, resume: { immediate: free } });
};

export const executions: Handlers<"AssignExecution" | "RecordStarted" | "RecordResult" | "TimeOutExecution" | "AbandonExecution"> = {
  AssignExecution: assignExecution,
  RecordStarted: recordStarted,
  RecordResult: recordResult,
  TimeOutExecution: timeOutExecution,
  AbandonExecution: abandonExecution,
};
