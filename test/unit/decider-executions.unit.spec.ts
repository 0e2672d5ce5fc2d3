import { describe, expect, it } from "vitest";
import { CURRENT_VERSION } from "../../src/events/index.js";
import type { SpecCommand as Command } from "../support/decider-spec.js";
import { CANCELS_PER_COMMIT, executionIdOf } from "../../src/orchestrator/core/decide.js";
import { MAX_ERROR_CHARS, MAX_OUTCOME_BYTES } from "../../src/orchestrator/core/deciders/outcomes.js";
import {
  NOW,
  agentConnected,
  executionAbandoned,
  executionAssigned,
  executionCreated,
  executionFailed,
  executionSucceeded,
  given,
  runEvent,
  runSubmitted,
  stepCalled,
  type Given,
} from "../support/decider-spec.js";

type Outcome = Extract<Command, { type: "RecordResult" }>["outcome"];
type Cause = Extract<Command, { type: "AbandonExecution" }>["cause"];
const x1 = executionIdOf("R1", "1", 1);
const started = [agentConnected(), runSubmitted("R1"), executionAssigned(x1)];
/** Run R1 whose root called `charge` once: step 2, its execution assigned. */
const charging = [...started, stepCalled(x1, 1, "2"), executionAssigned("R1-2-1")];
const assign = (executionId: string, agentId = "a1"): Command => ({ type: "AssignExecution", executionId, agentId });
const result = (executionId: string, outcome: Outcome, agentId = "a1"): Command => ({ type: "RecordResult", executionId, agentId, outcome });
const fail = (retryable: boolean, type = "Error"): Outcome => ({ ok: false, error: { type, message: "boom", retryable } });
const abandon = (executionId: string, cause: Cause): Command => ({ type: "AbandonExecution", executionId, agentId: "a1", reason: "lost", cause });
const ref = (executionId: string) => ({ executionId, stepId: executionId.split("-")[1]! });

describe("executions: AssignExecution and RecordStarted", () => {
  it("a queued execution goes to an agent; one assigned already, or unknown, decides nothing", () => {
    given(...started.slice(0, 2)).when(assign(x1, "a2")).then(runEvent("ExecutionAssigned", "R1", { ...ref(x1), agentId: "a2" }));
    given(...started).when(assign(x1, "a2")).nothing();
    given(...started).when(assign("R1-1-7")).nothing();
  });

  it("its agent starting it is recorded once; another agent is refused; an unknown execution is refused", () => {
    given(...started).when({ type: "RecordStarted", executionId: x1, agentId: "a1" }).then(runEvent("ExecutionStarted", "R1", ref(x1)));
    given(...started, runEvent("ExecutionStarted", "R1", ref(x1))).when({ type: "RecordStarted", executionId: x1, agentId: "a1" }).nothing();
    given(...started).when({ type: "RecordStarted", executionId: x1, agentId: "a2" }).rejected("NotAssigned", { executionId: x1, agentId: "a2" });
    given(...started).when({ type: "RecordStarted", executionId: "R1-1-7", agentId: "a1" }).rejected("UnknownExecution", { executionId: "R1-1-7" });
  });
});

describe("executions: RecordResult", () => {
  it("a value is recorded inline, a large one as its blob", () => {
    given(...started).when(result(x1, { ok: true, value: 5 })).then(runEvent("ExecutionSucceeded", "R1", { ...ref(x1), result: { kind: "inline", value: 5 } }));
    const blob = { key: `sha256:${"b".repeat(64)}`, size: 9_000_000, sha256: "b".repeat(64) };
    given(...started).when(result(x1, { ok: true, blob })).then(runEvent("ExecutionSucceeded", "R1", { ...ref(x1), result: { kind: "blob", blob } }));
  });

  it("a result recorded twice is recorded once: the run keeps the first", () => {
    const after = given(...started).when(result(x1, { ok: true, value: 5 })).then(runEvent("ExecutionSucceeded", "R1", { ...ref(x1), result: { kind: "inline", value: 5 } }));
    expect(after.run("R1")).toMatchObject({ status: "succeeded" });
    given(...started, executionSucceeded(x1, 5)).when(result(x1, { ok: true, value: 6 })).nothing();
  });

  it("a result from an agent the execution is not assigned to is refused, as is one for an unknown execution", () => {
    given(...started).when(result(x1, { ok: true, value: 1 }, "a2")).rejected("NotAssigned", { executionId: x1, agentId: "a2" });
    given(...started).when(result("R1-1-7", { ok: true, value: 1 })).rejected("UnknownExecution", { executionId: "R1-1-7" });
  });

  it("a failure is recorded at the current version of ExecutionFailed (2: a typed error)", () => {
    const d = given(...charging).when(result("R1-2-1", fail(false))).decision;
    expect(d._tag === "Right" && d.right[0]).toMatchObject({ type: "ExecutionFailed", v: 2 });
    expect(CURRENT_VERSION.ExecutionFailed).toBe(2);
  });

  it.each([
    [1, NOW + 100],
    [2, NOW + 200],
  ])("a retryable failure of attempt %i within the policy's limit creates a retry with backoff", (attempt, notBefore) => {
    const history: Given[] = [...charging];
    for (let a = 1; a < attempt; a++) history.push(executionFailed(`R1-2-${a}`, true), executionCreated(`R1-2-${a + 1}`), executionAssigned(`R1-2-${a + 1}`));
    const x = `R1-2-${attempt}`;
    given(...history)
      .when(result(x, fail(true)))
      .then(
        runEvent("ExecutionFailed", "R1", { ...ref(x), error: { type: "Error", message: "boom", retryable: true } }),
        runEvent("ExecutionCreated", "R1", { executionId: `R1-2-${attempt + 1}`, stepId: "2", attempt: attempt + 1, reason: "retry", notBefore }),
      );
  });

  it("retry delays grow by the policy's factor up to its maximum", () => {
    const retries = { limit: 5, delayMs: 100, factor: 3, maxDelayMs: 1000 };
    const history: Given[] = [...started, stepCalled(x1, 1, "2", { options: { retries } }), executionAssigned("R1-2-1")];
    for (const [attempt, delay] of [[1, 100], [2, 300], [3, 900], [4, 1000]] as const) {
      const x = `R1-2-${attempt}`;
      given(...history)
        .when(result(x, fail(true)))
        .then(
          runEvent("ExecutionFailed", "R1", { ...ref(x), error: { type: "Error", message: "boom", retryable: true } }),
          runEvent("ExecutionCreated", "R1", { executionId: `R1-2-${attempt + 1}`, stepId: "2", attempt: attempt + 1, reason: "retry", notBefore: NOW + delay }),
        );
      history.push(executionFailed(x, true), executionCreated(`R1-2-${attempt + 1}`, { notBefore: NOW + delay }), executionAssigned(`R1-2-${attempt + 1}`));
    }
  });

  it("a failure past the retry limit, a terminal error, or an error outside retryOn is final", () => {
    const error = (retryable: boolean, type = "Error") => ({ type, message: "boom", retryable });
    const third = [...charging, executionFailed("R1-2-1", true), executionCreated("R1-2-2"), executionFailed("R1-2-2", true), executionCreated("R1-2-3"), executionAssigned("R1-2-3")];
    given(...third).when(result("R1-2-3", fail(true))).then(runEvent("ExecutionFailed", "R1", { ...ref("R1-2-3"), error: error(true) }));
    given(...charging).when(result("R1-2-1", fail(false))).then(runEvent("ExecutionFailed", "R1", { ...ref("R1-2-1"), error: error(false) }));
    const ioOnly = { retries: { limit: 3, delayMs: 1, factor: 1, maxDelayMs: 1, retryOn: ["IOError"] } };
    given(...started, stepCalled(x1, 1, "2", { options: ioOnly }), executionAssigned("R1-2-1"))
      .when(result("R1-2-1", fail(true, "RangeError")))
      .then(runEvent("ExecutionFailed", "R1", { ...ref("R1-2-1"), error: error(true, "RangeError") }));
  });

  it("a run whose root fails for good cancels what it left in flight; a failure of a child step (its caller may catch it) cancels nothing else", () => {
    const reason = `run failed: Error in ${x1}`;
    given(...charging, stepCalled(x1, 2, "3"))
      .when(result(x1, fail(false)))
      .then(
        runEvent("ExecutionFailed", "R1", { ...ref(x1), error: { type: "Error", message: "boom", retryable: false } }),
        runEvent("ExecutionCancelled", "R1", { ...ref("R1-3-1"), reason }),
        runEvent("ExecutionCancelled", "R1", { ...ref("R1-2-1"), reason }),
      );
    given(...charging, stepCalled(x1, 2, "3"))
      .when(result("R1-2-1", fail(false)))
      .then(runEvent("ExecutionFailed", "R1", { ...ref("R1-2-1"), error: { type: "Error", message: "boom", retryable: false } }));
  });

  it("a failed run cancels a commit's worth of what it left in flight (the scheduler sweeps the rest)", () => {
    const calls = CANCELS_PER_COMMIT + 50;
    const history = [...started, ...Array.from({ length: calls }, (_, i) => stepCalled(x1, i + 1, String(i + 2)))];
    // The newest first.
    const order = Array.from({ length: calls }, (_, i) => String(calls + 1 - i));
    given(...history)
      .when(result(x1, fail(false)))
      .then(
        runEvent("ExecutionFailed", "R1", { ...ref(x1), error: { type: "Error", message: "boom", retryable: false } }),
        ...order.slice(0, CANCELS_PER_COMMIT).map((s) => runEvent("ExecutionCancelled", "R1", { ...ref(`R1-${s}-1`), reason: `run failed: Error in ${x1}` })),
      );
  });

  it("an inline result whose encoding the edge measured over the commit's room is a terminal ResultTooLarge failure", () => {
    const tooLarge = { type: "ResultTooLarge", message: "the result is too large to record; return a smaller value or persist it as an asset", retryable: false };
    given(...charging)
      .when(result("R1-2-1", { ok: true, value: "big", encodedBytes: MAX_OUTCOME_BYTES + 1 }))
      .then(runEvent("ExecutionFailed", "R1", { ...ref("R1-2-1"), error: tooLarge }));
    // Within the room, or not measured, it is recorded (the runtime's commit limit still holds).
    for (const encodedBytes of [MAX_OUTCOME_BYTES, undefined]) {
      given(...charging)
        .when(result("R1-2-1", { ok: true, value: "fits", ...(encodedBytes === undefined ? {} : { encodedBytes }) }))
        .then(runEvent("ExecutionSucceeded", "R1", { ...ref("R1-2-1"), result: { kind: "inline", value: "fits" } }));
    }
  });

  it("a failure too large for a commit is recorded with its long message and stack cut, saying from how long", () => {
    const long = "m".repeat(MAX_ERROR_CHARS + 1);
    const cut = `${"m".repeat(MAX_ERROR_CHARS - 100)} … [cut from ${long.length} characters]`;
    const error = { type: "RangeError", message: long, stack: "short", retryable: false };
    given(...charging)
      .when(result("R1-2-1", { ok: false, error, encodedBytes: MAX_OUTCOME_BYTES + 1 }))
      .then(runEvent("ExecutionFailed", "R1", { ...ref("R1-2-1"), error: { ...error, message: cut } }));
    given(...charging)
      .when(result("R1-2-1", { ok: false, error: { ...error, message: "short", stack: long }, encodedBytes: MAX_OUTCOME_BYTES + 1 }))
      .then(runEvent("ExecutionFailed", "R1", { ...ref("R1-2-1"), error: { ...error, message: "short", stack: cut } }));
    // One that fits is recorded whole, however long its message.
    given(...charging)
      .when(result("R1-2-1", { ok: false, error, encodedBytes: MAX_OUTCOME_BYTES }))
      .then(runEvent("ExecutionFailed", "R1", { ...ref("R1-2-1"), error }));
  });

  it.each([
    ["WorkerRestarted", "worker-restarted"],
    ["AgentStopping", "agent-stopping"],
  ] as const)("a failure typed %s is not the task's: an abandonment (%s) with the error's message, resumed", (type, cause) => {
    given(...charging)
      .when(result("R1-2-1", { ok: false, error: { type, message: "the worker was restarted", retryable: true } }))
      .then(
        runEvent("ExecutionAbandoned", "R1", { ...ref("R1-2-1"), agentId: "a1", reason: "the worker was restarted", cause }),
        runEvent("ExecutionCreated", "R1", {
          executionId: "R1-2-2",
          stepId: "2",
          attempt: 2,
          reason: "retry",
          // A stopping agent's abandonment is free and resumes at once; a restarted worker's counts, with the policy's backoff.
          ...(cause === "agent-stopping" ? {} : { notBefore: NOW + 100 }),
          resumes: "R1-2-1",
        }),
      );
    // Still the agent's result: refused from another agent, nothing for one that has ended.
    given(...charging).when(result("R1-2-1", { ok: false, error: { type, message: "m", retryable: true } }, "a2")).rejected("NotAssigned", { executionId: "R1-2-1", agentId: "a2" });
    given(...charging, executionSucceeded("R1-2-1")).when(result("R1-2-1", { ok: false, error: { type, message: "m", retryable: true } })).nothing();
  });

  it("a step of a cancelled run that fails is not retried", () => {
    given(...charging, runEvent("RunCancelled", "R1", { reason: "user" }))
      .when(result("R1-2-1", fail(true)))
      .then(runEvent("ExecutionFailed", "R1", { ...ref("R1-2-1"), error: { type: "Error", message: "boom", retryable: true } }));
  });
});

describe("executions: TimeOutExecution", () => {
  it("a timeout is a retryable failure: recorded with the step's limit, and retried by its policy", () => {
    given(...charging)
      .when({ type: "TimeOutExecution", executionId: "R1-2-1" })
      .then(
        runEvent("ExecutionTimedOut", "R1", { ...ref("R1-2-1"), timeoutMs: 500 }),
        runEvent("ExecutionCreated", "R1", { executionId: "R1-2-2", stepId: "2", attempt: 2, reason: "retry", notBefore: NOW + 100 }),
      );
  });

  it("an execution that has ended, or is unknown, does not time out", () => {
    given(...charging, executionSucceeded("R1-2-1")).when({ type: "TimeOutExecution", executionId: "R1-2-1" }).nothing();
    given(...charging).when({ type: "TimeOutExecution", executionId: "R1-2-7" }).nothing();
  });
});

describe("executions: AbandonExecution", () => {
  const abandoned = (executionId: string, cause: Cause) => runEvent("ExecutionAbandoned", "R1", { ...ref(executionId), agentId: "a1", reason: "lost", cause });

  it("an abandoned execution is retried whatever the policy, the retry resuming it; after a backoff when its agent was lost", () => {
    given(...started)
      .when(abandon(x1, "agent-lost"))
      .then(abandoned(x1, "agent-lost"), runEvent("ExecutionCreated", "R1", { executionId: "R1-1-2", stepId: "1", attempt: 2, reason: "retry", resumes: x1 }));
    given(...charging)
      .when(abandon("R1-2-1", "agent-lost"))
      .then(
        abandoned("R1-2-1", "agent-lost"),
        runEvent("ExecutionCreated", "R1", { executionId: "R1-2-2", stepId: "2", attempt: 2, reason: "retry", notBefore: NOW + 100, resumes: "R1-2-1" }),
      );
  });

  it("the retry of an execution abandoned by the server's restart resumes it at once", () => {
    given(...charging)
      .when(abandon("R1-2-1", "server-restart"))
      .then(abandoned("R1-2-1", "server-restart"), runEvent("ExecutionCreated", "R1", { executionId: "R1-2-2", stepId: "2", attempt: 2, reason: "retry", resumes: "R1-2-1" }));
  });

  /** The root of R1 abandoned for these causes in turn, each retried, the last retry assigned. */
  const abandonedFor = (causes: readonly Cause[]): Given[] => [
    ...started,
    ...causes.flatMap((cause, i) => {
      const x = `R1-1-${i + 1}`;
      return [executionAbandoned(x, cause), [executionCreated(`R1-1-${i + 2}`, { resumes: x })], executionAssigned(`R1-1-${i + 2}`)];
    }),
  ];
  const free: Cause[] = ["server-restart", "agent-stopping", "server-restart", "agent-stopping", "server-restart", "agent-stopping", "server-restart", "agent-stopping"];

  it("abandonments caused by the server's restart or a stopping agent count against no limit; three others are retried", () => {
    for (const [before, cause] of [[free, "server-restart"], [[...free, "agent-lost", "not-running"], "worker-restarted"], [[...free, "agent-lost", "agent-lost", "agent-lost"], "agent-stopping"]] as const) {
      const x = `R1-1-${before.length + 1}`;
      given(...abandonedFor(before))
        .when(abandon(x, cause))
        .then(abandoned(x, cause), runEvent("ExecutionCreated", "R1", { executionId: `R1-1-${before.length + 2}`, stepId: "1", attempt: before.length + 2, reason: "retry", resumes: x }));
    }
  });

  it("the fourth counted abandonment is final", () => {
    const before: Cause[] = [...free, "agent-lost", "not-running", "worker-restarted"];
    const x = `R1-1-${before.length + 1}`;
    given(...abandonedFor(before)).when(abandon(x, "agent-lost")).then(abandoned(x, "agent-lost"));
  });

  it("an execution that has ended, or is unknown, is not abandoned", () => {
    given(...started, executionSucceeded(x1)).when(abandon(x1, "agent-lost")).nothing();
    given(...started).when(abandon("R1-1-7", "agent-lost")).nothing();
  });
});
