/** The waits decider: `SuspendExecution` (a durable sleep, a wait under suspense), and retries not counting resumes. */
import { describe, expect, it } from "vitest";
import { executionIdOf } from "../../src/orchestrator/core/decide.js";
import type { SpecCommand as Command } from "../support/decider-spec.js";
import {
  NOW,
  agentConnected,
  environmentCreated,
  executionAssigned,
  executionFailed,
  executionSucceeded,
  given,
  runEvent,
  runSubmitted,
  stepCalled,
  type Fact,
} from "../support/decider-spec.js";

type Suspend = Extract<Command, { type: "SuspendExecution" }>;
const x1 = executionIdOf("R1", "1", 1);
const x2 = executionIdOf("R1", "1", 2);
const x3 = executionIdOf("R1", "1", 3);
const running = [environmentCreated(), agentConnected(), runSubmitted("R1"), executionAssigned(x1)];
const suspend = (executionId: string, extra: Partial<Suspend>): Suspend => ({ type: "SuspendExecution", executionId, agentId: "a1", ...extra });
/** `x` suspended (with `how`), and its resume `next`. */
const suspended = (x: string, next: string, attempt: number, how: { until?: number; waitingFor?: string[]; callId?: string }): Fact[] => [
  runEvent("ExecutionSuspended", "R1", { executionId: x, stepId: "1", ...how }),
  runEvent("ExecutionCreated", "R1", {
    executionId: next,
    stepId: "1",
    attempt,
    reason: "resume",
    resumes: x,
    ...(how.until === undefined ? {} : { notBefore: how.until }),
    ...(how.waitingFor === undefined ? {} : { resumeWhen: how.waitingFor }),
  }),
];

describe("waits: SuspendExecution", () => {
  it("a durable sleep ends the execution and creates its resume, not before the time, in one commit", () => {
    const m = given(...running).when(suspend(x1, { callId: `${x1}/1`, delayMs: 5000 })).then(...suspended(x1, x2, 2, { until: NOW + 5000, callId: `${x1}/1` }));
    expect(m.execution(x1)?.status).toBe("suspended");
    expect(m.execution(x2)).toMatchObject({ status: "queued", reason: "resume", resumes: x1, notBefore: NOW + 5000 });
    expect(m.run("R1")?.status).toBe("running");
    given(...running).when(suspend(x1, { until: NOW + 10 })).then(...suspended(x1, x2, 2, { until: NOW + 10 }));
  });

  it("re-sent, or for an execution that has ended, it decides nothing; from another agent it is refused", () => {
    const after = [...running, suspended(x1, x2, 2, { until: NOW + 5000, callId: `${x1}/1` })];
    given(...after).when(suspend(x1, { callId: `${x1}/1`, delayMs: 5000 })).nothing();
    given(...running).when(suspend(x1, { delayMs: 5, agentId: "a2" })).rejected("NotAssigned", { executionId: x1, agentId: "a2" });
    given(...running).when(suspend("R1-1-9", { delayMs: 5 })).rejected("UnknownExecution", { executionId: "R1-1-9" });
    given(...running).when(suspend(x1, {})).rejected("InvalidArgument");
  });

  it("a resume reaching the same call position keeps the first time: past it, it goes on (nothing decided); before it, it suspends until it", () => {
    const resumed = [...running, suspended(x1, x2, 2, { until: NOW - 1, callId: `${x1}/1` }), executionAssigned(x2)];
    given(...resumed).when(suspend(x2, { callId: `${x2}/1`, delayMs: 5000 })).nothing();
    const early = [...running, suspended(x1, x2, 2, { until: NOW + 300, callId: `${x1}/1` }), executionAssigned(x2)];
    given(...early).when(suspend(x2, { callId: `${x2}/1`, delayMs: 5000 })).then(...suspended(x2, x3, 3, { until: NOW + 300, callId: `${x2}/1` }));
    // Another position is another sleep, with its own time.
    given(...resumed).when(suspend(x2, { callId: `${x2}/2`, delayMs: 5000 })).then(...suspended(x2, x3, 3, { until: NOW + 5000, callId: `${x2}/2` }));
  });

  it("a wait under suspense suspends until any of its steps resolves; one already resolved: nothing decided", () => {
    const called = [...running, stepCalled(x1, 1, "2"), stepCalled(x1, 2, "3")];
    const m = given(...called).when(suspend(x1, { waitingFor: ["R1/2", "R1/3"] })).then(...suspended(x1, x2, 2, { waitingFor: ["R1/2", "R1/3"] }));
    expect(m.execution(x2)?.resumeWhen).toEqual(["R1/2", "R1/3"]);
    given(...called, executionAssigned("R1-3-1"), executionSucceeded("R1-3-1", 7)).when(suspend(x1, { waitingFor: ["R1/2", "R1/3"] })).nothing();
  });

  it("resumes count against no retry limit: a resumed execution that fails is retried as a first failure", () => {
    // `checkout` has no retries: fails for good. `charge` (limit 2) run as a root to see the count.
    const charge = [environmentCreated(), agentConnected(), runSubmitted("R1", { target: "charge", options: { retries: { limit: 1, delayMs: 0, factor: 1, maxDelayMs: 0 } } }), executionAssigned(x1)];
    const afterResume = [...charge, suspended(x1, x2, 2, { until: NOW - 5 }), executionAssigned(x2)];
    const m = given(...afterResume, executionFailed(x2, true)).model();
    expect(m.execution(x2)?.status).toBe("failed");
    // The failure of x2 is the first counted try: its retry x3 was created.
    given(...afterResume).when({ type: "RecordResult", executionId: x2, agentId: "a1", outcome: { ok: false, error: { type: "Error", message: "boom", retryable: true } } }).then(
      runEvent("ExecutionFailed", "R1", { executionId: x2, stepId: "1", error: { type: "Error", message: "boom", retryable: true } }),
      runEvent("ExecutionCreated", "R1", { executionId: x3, stepId: "1", attempt: 3, reason: "retry" }),
    );
  });

  it("a recurrent step's execution returning nothing recurs after its delay; a value ends it", () => {
    const polling = [environmentCreated(), agentConnected(), runSubmitted("R1", { target: "charge", options: { recurrent: { delayMs: 250 } } }), executionAssigned(x1)];
    const result = (value: unknown): Command => ({ type: "RecordResult", executionId: x1, agentId: "a1", outcome: { ok: true, value: value as never } });
    const m = given(...polling).when(result(null)).then(
      runEvent("ExecutionRecurred", "R1", { executionId: x1, stepId: "1" }),
      runEvent("ExecutionCreated", "R1", { executionId: x2, stepId: "1", attempt: 2, reason: "recur", notBefore: NOW + 250 }),
    );
    expect(m.execution(x1)?.status).toBe("recurred");
    expect(m.run("R1")?.status).toBe("running");
    given(...polling).when(result(0)).then(runEvent("ExecutionSucceeded", "R1", { executionId: x1, stepId: "1", result: { kind: "inline", value: 0 } }));
  });

  it("cancelling a run whose root is suspended cancels its queued resume", () => {
    const asleep = [...running, suspended(x1, x2, 2, { until: NOW + 60_000, callId: `${x1}/1` })];
    const events = given(...asleep).decided({ type: "CancelRun", runId: "R1", reason: "no longer wanted" });
    expect(events.map((e) => [e.type, (e.data as { executionId?: string }).executionId])).toEqual([["RunCancelled", undefined], ["ExecutionCancelled", x2]]);
  });
});
