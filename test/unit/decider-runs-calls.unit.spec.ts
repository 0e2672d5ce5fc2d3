/** The runs decider, for what task code calls: `ScheduleStep` (reuse, deferral, resumption) and `ResolveDeferred`. */
import { describe, expect, it } from "vitest";
import type { StepOptions } from "../../src/events/index.js";
import type { SpecCommand as Command } from "../support/decider-spec.js";
import { executionIdOf } from "../../src/orchestrator/core/decide.js";
import { stepOutcome } from "../../src/orchestrator/orchestration.js";
import {
  NOW,
  agentConnected,
  envEvent,
  environmentCreated,
  executionAbandoned,
  executionAssigned,
  executionCreated,
  executionFailed,
  executionSucceeded,
  given,
  optionsOf,
  runEvent,
  runSubmitted,
  stepCalled,
  stepScheduled,
  type Fact,
} from "../support/decider-spec.js";

type Schedule = Extract<Command, { type: "ScheduleStep" }>;
type Cause = Extract<Command, { type: "AbandonExecution" }>["cause"];
const x1 = executionIdOf("R1", "1", 1);
const x2 = executionIdOf("R1", "1", 2);
const x3 = executionIdOf("R1", "1", 3);
const running = [environmentCreated(), agentConnected(), runSubmitted("R1"), executionAssigned(x1)];
/** Call `n` of execution `by`: `target(arg)`, with the memo key of that call. */
const callBy = (by: string, n: number, target = "charge", arg = n, extra: Partial<Schedule> = {}): Schedule => ({
  type: "ScheduleStep",
  runId: "R1",
  call: { executionId: by, callId: `${by}/${n}` },
  target: { repository: "shop", target },
  kind: "task",
  arguments: [arg],
  options: {},
  keys: { memo: `memo-${target}-${arg}` },
  ...extra,
});
/** What a new step for that call records: the step, and its first execution. */
const newStep = (by: string, n: number, stepId: string, target = "charge", arg = n): Fact[] => stepCalled(by, n, stepId, { target, arguments: [arg], memoKey: `memo-${target}-${arg}` });

describe("runs: ScheduleStep", () => {
  it("a call from running code schedules the next numbered step with the target's options, and its first execution", () => {
    given(...running).when(callBy(x1, 1)).then(...newStep(x1, 1, "2"));
    given(...running, newStep(x1, 1, "2")).when(callBy(x1, 2, "email")).then(...newStep(x1, 2, "3", "email"));
  });

  it("arguments kept as a blob travel as the blob", () => {
    const blob = { key: `sha256:${"c".repeat(64)}`, size: 500_000, sha256: "c".repeat(64) };
    given(...running)
      .when(callBy(x1, 1, "charge", 1, { arguments: [], argumentsBlob: blob, argumentCount: 1 }))
      .then(
        runEvent("StepScheduled", "R1", {
          stepId: "2",
          target: { repository: "shop", target: "charge" },
          kind: "task",
          arguments: [],
          argumentsBlob: blob,
          options: optionsOf("charge"),
          parentExecutionId: x1,
          callId: `${x1}/1`,
          memoKey: "memo-charge-1",
        }),
        executionCreated("R1-2-1"),
      );
  });

  it("a re-sent call decides nothing", () => {
    given(...running, newStep(x1, 1, "2")).when(callBy(x1, 1)).nothing();
  });

  it("a call into an unknown or cancelled run, or from an execution not of the run, is refused", () => {
    given(environmentCreated(), agentConnected()).when(callBy(x1, 1)).rejected("UnknownRun", { runId: "R1" });
    given(...running).when(callBy("R1-1-9", 1)).rejected("UnknownExecution", { executionId: "R1-1-9" });
    given(...running, runSubmitted("R2"), executionAssigned("R2-1-1")).when(callBy("R2-1-1", 1)).rejected("UnknownExecution", { executionId: "R2-1-1" });
    given(...running, runEvent("RunCancelled", "R1", { reason: "user" })).when(callBy(x1, 1)).rejected("RunFinished", { runId: "R1", status: "cancelled" });
  });

  it("a call of an unknown target is refused, listing the known ones", () => {
    given(...running).when(callBy(x1, 1, "refund")).rejected("UnknownTarget", { repository: "shop", target: "refund", known: ["shop:checkout", "shop:charge", "shop:email"] });
  });

  it("a call from task code with too few arguments is refused (the call fails at its call site); a rest parameter takes any more", () => {
    const rest = { repository: "shop", targets: [{ name: "checkout", kind: "workflow" as const, parameters: [], options: {} }, { name: "charge", kind: "task" as const, parameters: [{ name: "...orders" }], options: {}, arity: { min: 1 } }] };
    const strict = [environmentCreated(), agentConnected("a1", [rest]), runSubmitted("R1"), executionAssigned(x1)];
    given(...strict).when(callBy(x1, 1, "charge", 1, { arguments: [] })).rejected("WrongArgumentCount", { target: "shop:charge", given: 0, min: 1, parameters: ["...orders"] });
    given(...strict)
      .when(callBy(x1, 1, "charge", 1, { arguments: [1, 2, 3, 4, 5] }))
      .then(stepScheduled(x1, 1, "2", { arguments: [1, 2, 3, 4, 5], options: {}, memoKey: "memo-charge-1" }), executionCreated("R1-2-1"));
  });
});

describe("runs: reusing results", () => {
  /** A call of `email` with memo and cache keys `memo-<key>` and `cache-<key>`, and these options. */
  const cached = (by: string, n: number, key: string, options: StepOptions): Command => ({ ...callBy(by, n, "email"), options, keys: { memo: `memo-${key}`, cache: `cache-${key}` } });
  /** What a step for that call records before its first execution. */
  const scheduled = (n: number, stepId: string, key: string, options: StepOptions) =>
    stepScheduled(x1, n, stepId, { target: "email", options, memoKey: `memo-${key}`, ...(options.cache ? { cacheKey: `cache-${key}` } : {}) });
  const sourceOf = (stepId: string, seq: number) => ({ env: "production", runId: "R1", stepId, executionId: `R1-${stepId}-1`, seq });
  const deferred = (stepId: string, to: string) => runEvent("StepDeferred", "R1", { stepId, to: { runId: "R1", stepId: to, executionId: `R1-${to}-1` } });
  /** Step 2 for call 1, with `key` and `options`, executing. */
  const first = (key: string, options: StepOptions) => [...running, [scheduled(1, "2", key, options), executionCreated("R1-2-1")], executionAssigned("R1-2-1")];

  it("memo: an identical call in the same run reuses a finished step, naming it as the source", () => {
    given(...first("a", { memo: true }), executionSucceeded("R1-2-1", "sent"))
      .when(cached(x1, 2, "a", { memo: true }))
      .then(scheduled(2, "3", "a", { memo: true }), runEvent("StepResultReused", "R1", { stepId: "3", cacheKey: "memo-a", source: sourceOf("2", 7), result: { kind: "inline", value: "sent" } }));
  });

  it("memo: an identical call while the first is still running waits for it; without the option it executes", () => {
    given(...first("a", { memo: true })).when(cached(x1, 2, "a", { memo: true })).then(scheduled(2, "3", "a", { memo: true }), deferred("3", "2"));
    given(...first("a", {}), executionSucceeded("R1-2-1")).when(cached(x1, 2, "a", {})).then(scheduled(2, "3", "a", {}), executionCreated("R1-3-1"));
  });

  it("memo: an identical call whose first failed is not answered by it: it executes", () => {
    given(...first("a", { memo: true }), executionFailed("R1-2-1", false)).when(cached(x1, 2, "a", { memo: true })).then(scheduled(2, "3", "a", { memo: true }), executionCreated("R1-3-1"));
  });

  it("cache: one computing now is joined; a fresh hit is reused; an expired one or another key executes", () => {
    const computing = first("b", { cache: {} });
    given(...computing).when(cached(x1, 2, "b", { cache: {} })).then(scheduled(2, "3", "b", { cache: {} }), deferred("3", "2"));
    const done = [...computing, executionSucceeded("R1-2-1", 1)];
    const reused = runEvent("StepResultReused", "R1", { stepId: "3", cacheKey: "cache-b", source: sourceOf("2", 7), result: { kind: "inline", value: 1 } });
    given(...done).when(cached(x1, 2, "b", { cache: {} })).then(scheduled(2, "3", "b", { cache: {} }), reused);
    const aged = { cache: { maxAgeMs: 100 } };
    given(...done).when(cached(x1, 2, "b", aged), NOW + 100).then(scheduled(2, "3", "b", aged), reused);
    given(...done).when(cached(x1, 2, "b", aged), NOW + 101).then(scheduled(2, "3", "b", aged), executionCreated("R1-3-1"));
    given(...done).when(cached(x1, 2, "c", { cache: {} })).then(scheduled(2, "3", "c", { cache: {} }), executionCreated("R1-3-1"));
  });

  it("defer: an identical call executing elsewhere is waited for", () => {
    const after = given(...first("d", { defer: true })).when(cached(x1, 2, "d", { defer: true })).then(scheduled(2, "3", "d", { defer: true }), deferred("3", "2"));
    expect(after.step("R1", "3")).toMatchObject({ status: "deferred", deferredTo: { stepId: "2" } });
    expect(after.deferrals("R1", "2")).toEqual([{ runId: "R1", stepId: "3" }]);
  });

  it("in a run brought into a branch, every call is memoised: a call its parent made is answered from the parent's result", () => {
    const parent = given(...running, newStep(x1, 1, "2", "email"), executionAssigned("R1-2-1"), executionSucceeded("R1-2-1", "sent"), executionSucceeded(x1, "done")).model();
    const branch = [envEvent("EnvironmentBranched", { project: "p", env: "dev", parent: "production", at: 9 }), agentConnected()];
    const imported = given(...branch).decided({ type: "ImportRun", from: { env: "production", seq: 9 }, run: parent.run("R1")!, steps: parent.stepsOfRun("R1"), first: true });
    given(...branch, imported, runEvent("ExecutionCreated", "R1", { executionId: x2, stepId: "1", attempt: 2, reason: "rerun" }), executionAssigned(x2))
      .when(callBy(x2, 1, "email"))
      .then(
        stepScheduled(x2, 1, "3", { target: "email", memoKey: "memo-email-1" }),
        runEvent("StepResultReused", "R1", { stepId: "3", cacheKey: "memo-email-1", source: sourceOf("2", 7), result: { kind: "inline", value: "sent" } }),
      );
  });

  describe("ResolveDeferred", () => {
    const waiting = [...first("d", { defer: true }), [scheduled(2, "3", "d", { defer: true }), deferred("3", "2")]];
    const resolve: Command = { type: "ResolveDeferred", runId: "R1", stepId: "3" };

    it("a deferred step takes the result of the step it waited for", () => {
      const after = given(...waiting, executionSucceeded("R1-2-1", 9))
        .when(resolve)
        .then(runEvent("StepResultReused", "R1", { stepId: "3", cacheKey: "memo-d", source: sourceOf("2", 8), result: { kind: "inline", value: 9 } }));
      expect(after.deferrals("R1", "2")).toEqual([]);
    });

    it("a deferred step whose step failed executes after all", () => {
      given(...waiting, executionFailed("R1-2-1", false)).when(resolve).then(executionCreated("R1-3-1"));
    });

    it("in a cancelled run, a deferred step takes nothing, whatever became of the step it waited for", () => {
      const cancelled = runEvent("RunCancelled", "R1", { reason: "stop" });
      given(...waiting, cancelled, executionSucceeded("R1-2-1", 9)).when(resolve).nothing();
      given(...waiting, cancelled, executionFailed("R1-2-1", false)).when(resolve).nothing();
    });

    it("…and its outcome, for whoever waits on it, is its run's cancellation (it never executed)", () => {
      const cancelled = runEvent("RunCancelled", "R1", { reason: "stop" });
      const m = given(...waiting, cancelled).model();
      expect(stepOutcome(m.step("R1", "3")!, m)).toEqual({ status: "cancelled", error: { type: "CancelledError", message: "cancelled: stop", retryable: false } });
      // Not cancelled: still waiting, no outcome.
      const live = given(...waiting).model();
      expect(stepOutcome(live.step("R1", "3")!, live)).toBeUndefined();
    });

    it("while the step waited for runs, or for a step not deferred, unknown, or waiting for an unknown step, nothing is decided", () => {
      given(...waiting).when(resolve).nothing();
      given(...waiting).when({ type: "ResolveDeferred", runId: "R1", stepId: "2" }).nothing();
      given(...waiting).when({ type: "ResolveDeferred", runId: "R1", stepId: "9" }).nothing();
      given(...running, [stepScheduled(x1, 1, "2"), runEvent("StepDeferred", "R1", { stepId: "2", to: { runId: "R9", stepId: "1", executionId: "R9-1-1" } })]).when({ type: "ResolveDeferred", runId: "R1", stepId: "2" }).nothing();
    });
  });
});

describe("runs: resume, never redo", () => {
  const resumed = (by: string, n: number, from: string, stepId: string, runId = "R1") =>
    runEvent("CallResumed", "R1", { executionId: by, callId: `${by}/${n}`, resumedCallId: `${from}/${n}`, step: { runId, stepId } });
  const retried = (x: string, next: string, cause: Cause) => [executionAbandoned(x, cause), executionCreated(next, { resumes: x }), executionAssigned(next)];
  /** A workflow whose first execution made calls 1 and 2 (step 2 finished, step 3 in flight) and was then abandoned. */
  const interrupted = (cause: Cause = "agent-lost") => [
    ...running,
    newStep(x1, 1, "2"),
    newStep(x1, 2, "3"),
    executionAssigned("R1-2-1"),
    executionAssigned("R1-3-1"),
    executionSucceeded("R1-2-1", "charged"),
    ...retried(x1, x2, cause),
  ];

  it("a resumed execution's calls are matched in order to the calls it resumes: a finished step gives its result, one in flight is joined", () => {
    const after = given(...interrupted()).when(callBy(x2, 1)).then(resumed(x2, 1, x1, "2"));
    expect(after.call(`${x2}/1`)).toEqual({ runId: "R1", stepId: "2" });
    given(...interrupted(), resumed(x2, 1, x1, "2")).when(callBy(x2, 2)).then(resumed(x2, 2, x1, "3"));
  });

  it("a call the abandoned execution never made is a new step; the call re-sent after a reconnect decides nothing", () => {
    const both = [...interrupted(), resumed(x2, 1, x1, "2"), resumed(x2, 2, x1, "3")];
    given(...both).when(callBy(x2, 3)).then(...newStep(x2, 3, "4"));
    given(...both).when(callBy(x2, 1)).nothing();
  });

  it("a call that differs from the one at its position (other target or arguments) schedules a new step", () => {
    given(...interrupted()).when(callBy(x2, 1, "email")).then(...newStep(x2, 1, "4", "email"));
    given(...interrupted()).when(callBy(x2, 2, "charge", 99)).then(...newStep(x2, 2, "4", "charge", 99));
  });

  it("resuming goes back through every execution resumed in turn, nearest first", () => {
    // x2 made only its first call again before it was lost too.
    const twice = [...interrupted(), resumed(x2, 1, x1, "2"), ...retried(x2, x3, "server-restart")];
    given(...twice).when(callBy(x3, 1)).then(resumed(x3, 1, x2, "2"));
    given(...twice).when(callBy(x3, 2)).then(resumed(x3, 2, x1, "3"));
  });

  it("a workflow call (a child run) is matched like a task call", () => {
    const checkout = { repository: "shop", target: "checkout" };
    const child = [
      runEvent("RunSubmitted", "C1", { target: checkout, arguments: [1], rootStepId: "1", parent: { runId: "R1", stepId: "1", executionId: x1 }, callId: `${x1}/1` }),
      runEvent("StepScheduled", "C1", { stepId: "1", target: checkout, kind: "workflow", arguments: [1], options: {}, memoKey: "memo-child" }),
      executionCreated("C1-1-1"),
    ];
    given(...running, child, ...retried(x1, x2, "server-restart"))
      .when({ type: "SubmitRun", runId: "C2", target: checkout, arguments: [1], keys: { memo: "memo-child" }, call: { executionId: x2, callId: `${x2}/1`, runId: "R1", stepId: "1" } })
      .then(resumed(x2, 1, x1, "1", "C1"));
  });

  it("an execution's own failure retries with fresh calls", () => {
    const retries = { retries: { limit: 1, delayMs: 0, factor: 1, maxDelayMs: 0 } };
    given(environmentCreated(), agentConnected(), runSubmitted("R1", { options: retries }), executionAssigned(x1), newStep(x1, 1, "2"), [executionFailed(x1, true), executionCreated(x2)], executionAssigned(x2))
      .when(callBy(x2, 1))
      .then(...newStep(x2, 1, "3"));
  });

  it("in a branch, a re-run never takes the name of a parent execution whose calls were brought in with the run", () => {
    // In production: x1 calls charge(1) and charge(2) and is lost; x2 resumes it and finishes.
    const parent = given(...interrupted("server-restart"), resumed(x2, 1, x1, "2"), resumed(x2, 2, x1, "3"), executionSucceeded("R1-3-1", "c2"), executionSucceeded(x2, "done")).model();
    const branch = [envEvent("EnvironmentBranched", { project: "p", env: "dev", parent: "production", at: 99 }), agentConnected()];
    const brought = [...branch, given(...branch).decided({ type: "ImportRun", from: { env: "production", seq: 99 }, run: parent.run("R1")!, steps: parent.stepsOfRun("R1"), first: true })];
    given(...brought).when({ type: "RerunStep", runId: "R1", stepId: "1" }).then(runEvent("ExecutionCreated", "R1", { executionId: x3, stepId: "1", attempt: 3, reason: "rerun" }));
    // Its first call is its own: a new step, not the parent execution's first call.
    given(...brought, runEvent("ExecutionCreated", "R1", { executionId: x3, stepId: "1", attempt: 3, reason: "rerun" }), executionAssigned(x3))
      .when(callBy(x3, 1, "email"))
      .then(...newStep(x3, 1, "4", "email"));
  });
});
