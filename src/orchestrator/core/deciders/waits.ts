/**
 * The decider of waits that hold no agent: an execution suspends itself
 * (`suspend(ms | Date)`, a durable sleep; or a wait under `suspense` that
 * took longer than its time-out), and an execution of a recurrent target
 * that returned nothing recurs. Each ends the execution and creates the
 * next in one commit; the scheduler holds the next until its time
 * (`notBefore`) and, for a resume with wait keys, until any of them has
 * resolved (`resumeWhen`).
 */
import type { Event, ExecutionId } from "../../../events/index.js";
import { canonicalJson, isFinished, type ExecutionDoc, type InputDoc, type StepDoc } from "../../../projections/index.js";
import { accept, none, reject, type DecideContext, type Handler, type Handlers } from "../decision.js";
import { runEvent } from "../event.js";
import type { Model } from "../model.js";
import { nextAttempt } from "./attempts.js";
import { callIdOf, executionIdOf } from "./ids.js";

/** Wait keys of inputs: `input:<inputId>`. */
export const INPUT_KEY = "input:";

/** Has the wait key resolved: a step (`runId/stepId`) with an outcome? (Keys it cannot read never resolve.) */
export const keyResolved = (m: Model, key: string): boolean => {
  if (key.startsWith(INPUT_KEY)) return m.input(key.slice(INPUT_KEY.length))?.status === "answered";
  const slash = key.indexOf("/");
  if (slash < 0) return false;
  const s = m.step(key.slice(0, slash) as never, key.slice(slash + 1) as never);
  return s !== undefined && (s.status === "succeeded" || s.status === "reused" || s.status === "failed" || s.status === "cancelled");
};

/**
 * The suspension recorded for the same call position by the execution `x`
 * resumes (or one that execution resumed, nearest first), if the first of
 * them to have made that call made a suspend there.
 */
const earlierSuspension = (m: Model, x: ExecutionDoc, callId: string): ExecutionDoc["suspended"] => {
  const prefix = callIdOf(x.executionId, "");
  if (!callId.startsWith(prefix)) return undefined;
  const n = callId.slice(prefix.length);
  const seen = new Set<string>();
  for (let prev: ExecutionId | undefined = x.resumes; prev !== undefined && !seen.has(prev); prev = m.execution(prev)?.resumes) {
    seen.add(prev);
    const earlier = callIdOf(prev, n);
    const s = m.execution(prev)?.suspended;
    if (s?.callId === earlier) return s;
    if (m.call(earlier)) return undefined; // the code took another path: a step there
  }
  return undefined;
};

/**
 * Suspends a running execution: `ExecutionSuspended` and the resume
 * (`ExecutionCreated`, reason `resume`, resuming it: its calls are matched by
 * position) in one commit. Decides nothing when there is nothing to wait
 * for: a durable sleep whose time (the first `until` recorded for this call
 * position) has come, or a wait one of whose keys has resolved already; nor
 * for an execution that has ended (a re-sent request).
 */
export const suspendExecution: Handler<"SuspendExecution"> = (cmd, m, ctx) => {
  const x = m.execution(cmd.executionId);
  if (!x) return reject({ _tag: "UnknownExecution", executionId: cmd.executionId });
  if (isFinished(x.status)) return none;
  if (x.agentId !== cmd.agentId) return reject({ _tag: "NotAssigned", executionId: x.executionId, agentId: cmd.agentId });
  if (m.run(x.runId)?.status === "cancelled") return none; // its cancellation is on its way
  const waitingFor = cmd.waitingFor !== undefined && cmd.waitingFor.length > 0 ? cmd.waitingFor : undefined;
  const asked = cmd.until ?? (cmd.delayMs === undefined ? undefined : ctx.now + cmd.delayMs);
  const until = (cmd.callId === undefined ? undefined : earlierSuspension(m, x, cmd.callId)?.until) ?? asked;
  if (until === undefined && waitingFor === undefined) {
    return reject({ _tag: "InvalidArgument", message: "a suspension needs a time (until, delayMs) or something to wait for (waitingFor)" });
  }
  if (waitingFor === undefined && until !== undefined && until <= ctx.now) return none;
  if (waitingFor?.some((k) => keyResolved(m, k))) return none;
  return accept(suspension(m, ctx, x, m.step(x.runId, x.stepId)!, {
    ...(until === undefined ? {} : { until }),
    ...(waitingFor === undefined ? {} : { waitingFor }),
    ...(cmd.callId === undefined ? {} : { callId: cmd.callId }),
  }));
};

/** The events of `x` suspending, and of its resume. */
const suspension = (m: Model, ctx: DecideContext, x: ExecutionDoc, step: StepDoc, how: NonNullable<ExecutionDoc["suspended"]>): Event[] => {
  const attempt = nextAttempt(m, step);
  return [
    runEvent(ctx, "ExecutionSuspended", x.runId, { executionId: x.executionId, stepId: x.stepId, ...how }),
    runEvent(ctx, "ExecutionCreated", x.runId, {
      executionId: executionIdOf(x.runId, x.stepId, attempt),
      stepId: x.stepId,
      attempt,
      reason: "resume",
      resumes: x.executionId,
      ...(how.until === undefined ? {} : { notBefore: how.until }),
      ...(how.waitingFor === undefined ? {} : { resumeWhen: how.waitingFor }),
    }),
  ];
};

/** A recurrent step's execution returned nothing: `ExecutionRecurred`, and its next execution after the step's `recurrent.delayMs`. */
export const recurrence = (m: Model, ctx: DecideContext, x: ExecutionDoc, step: StepDoc, delayMs: number): Event[] => {
  const attempt = nextAttempt(m, step);
  return [
    runEvent(ctx, "ExecutionRecurred", x.runId, { executionId: x.executionId, stepId: x.stepId }),
    runEvent(ctx, "ExecutionCreated", x.runId, {
      executionId: executionIdOf(x.runId, x.stepId, attempt),
      stepId: x.stepId,
      attempt,
      reason: "recur",
      ...(delayMs > 0 ? { notBefore: ctx.now + delayMs } : {}),
    }),
  ];
};

/**
 * The input a prompt at call `callId` of `x` is: the one this call made (a
 * re-sent request), the one a call at the same position made in an
 * execution `x` resumes (nearest first, up to a call that made a step
 * there), or the run's answered input with the same memo `key` (here, or
 * where a branch inherits from).
 */
export const promptedInput = (m: Model, x: ExecutionDoc, callId: string, key: string): InputDoc | undefined => {
  const own = m.inputForCall(callId);
  if (own) return own;
  const prefix = callIdOf(x.executionId, "");
  if (callId.startsWith(prefix)) {
    const n = callId.slice(prefix.length);
    const seen = new Set<string>();
    for (let prev: ExecutionId | undefined = x.resumes; prev !== undefined && !seen.has(prev); prev = m.execution(prev)?.resumes) {
      seen.add(prev);
      const earlier = m.inputForCall(callIdOf(prev, n));
      if (earlier) return earlier;
      if (m.call(callIdOf(prev, n))) break;
    }
  }
  return m.answeredInput(x.runId, key);
};

/**
 * A prompt: answered already (this call's input, the input of the call it
 * resumes, or the run's memo) decides nothing, the edge answering the value;
 * else the execution suspends waiting for the input (`input:<inputId>`),
 * recorded first (`InputRequested`) unless an earlier execution asked it.
 */
export const requestInput: Handler<"RequestInput"> = (cmd, m, ctx) => {
  const x = m.execution(cmd.executionId);
  if (!x) return reject({ _tag: "UnknownExecution", executionId: cmd.executionId });
  if (isFinished(x.status)) return none;
  if (x.agentId !== cmd.agentId) return reject({ _tag: "NotAssigned", executionId: x.executionId, agentId: cmd.agentId });
  if (m.run(x.runId)?.status === "cancelled") return none;
  const found = promptedInput(m, x, cmd.callId, cmd.key);
  if (found?.status === "answered") return none;
  const inputId = found?.inputId ?? cmd.inputId;
  const asked = found
    ? []
    : [runEvent(ctx, "InputRequested", x.runId, { inputId, executionId: x.executionId, stepId: x.stepId, callId: cmd.callId, title: cmd.title, schema: cmd.schema, key: cmd.key })];
  return accept([...asked, ...suspension(m, ctx, x, m.step(x.runId, x.stepId)!, { waitingFor: [`${INPUT_KEY}${inputId}`] })]);
};

/** An answer to a pending input (the same answer again decides nothing; another is refused). */
export const answerInput: Handler<"AnswerInput"> = (cmd, m, ctx) => {
  const input = m.input(cmd.inputId);
  if (!input) return reject({ _tag: "UnknownInput", inputId: cmd.inputId });
  if (input.status === "answered") {
    return canonicalJson(input.value ?? null) === canonicalJson(cmd.value) ? none : reject({ _tag: "InputAlreadyAnswered", inputId: cmd.inputId });
  }
  return accept([runEvent(ctx, "InputAnswered", input.runId, { inputId: input.inputId, value: cmd.value })]);
};

export const waits: Handlers<"SuspendExecution" | "RequestInput" | "AnswerInput"> = {
  SuspendExecution: suspendExecution,
  RequestInput: requestInput,
  AnswerInput: answerInput,
};
