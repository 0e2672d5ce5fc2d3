import { describe, expect, it } from "vitest";
import type { SpecCommand as Command } from "../support/decider-spec.js";
import { CANCELS_PER_COMMIT, executionIdOf, rerunnable } from "../../src/orchestrator/core/decide.js";
import {
  NOW,
  SHOP,
  agentConnected,
  envEvent,
  environmentCreated,
  executionAssigned,
  executionCancelled,
  executionFailed,
  executionSucceeded,
  given,
  runEvent,
  runSubmitted,
  stepCalled,
  stepScheduled,
} from "../support/decider-spec.js";

type Submit = Extract<Command, { type: "SubmitRun" }>;
const checkout = { repository: "shop", target: "checkout" };
const x1 = executionIdOf("R1", "1", 1);
const submit = (runId = "R1", extra: Partial<Submit> = {}): Command => ({ type: "SubmitRun", runId, target: checkout, arguments: [1], ...extra });
const hosted = [environmentCreated(), agentConnected()];
const running = [...hosted, runSubmitted("R1"), executionAssigned(x1)];
const created = (executionId: string, reason: "first" | "retry" | "rerun" = "first", attempt = 1) =>
  runEvent("ExecutionCreated", executionId.split("-")[0]!, { executionId, stepId: executionId.split("-")[1]!, attempt, reason });
const cancelled = (executionId: string, reason: string) =>
  runEvent("ExecutionCancelled", executionId.split("-")[0]!, { executionId, stepId: executionId.split("-")[1]!, reason });

describe("runs: SubmitRun", () => {
  it("a submitted run is one commit: the run, its root step and its first execution", () => {
    given(...hosted)
      .when(submit())
      .then(
        runEvent("RunSubmitted", "R1", { target: checkout, arguments: [1], rootStepId: "1" }),
        runEvent("StepScheduled", "R1", { stepId: "1", target: checkout, kind: "workflow", arguments: [1], options: {} }),
        created(x1),
      );
  });

  it("the call's options override the target's; a delay holds the first execution; the cache key is kept only for a cached step", () => {
    const withCache = submit("R1", { idempotencyKey: "k", options: { delayMs: 50, cache: {} }, keys: { memo: "m", cache: "c" } });
    given(...hosted)
      .when(withCache)
      .then(
        runEvent("RunSubmitted", "R1", { target: checkout, arguments: [1], rootStepId: "1", idempotencyKey: "k" }),
        runEvent("StepScheduled", "R1", { stepId: "1", target: checkout, kind: "workflow", arguments: [1], options: { delayMs: 50, cache: {} }, memoKey: "m", cacheKey: "c" }),
        runEvent("ExecutionCreated", "R1", { executionId: x1, stepId: "1", attempt: 1, reason: "first", notBefore: NOW + 50 }),
      );
    given(...hosted)
      .when(submit("R1", { keys: { memo: "m", cache: "c" } }))
      .then(
        runEvent("RunSubmitted", "R1", { target: checkout, arguments: [1], rootStepId: "1" }),
        runEvent("StepScheduled", "R1", { stepId: "1", target: checkout, kind: "workflow", arguments: [1], options: {}, memoKey: "m" }),
        created(x1),
      );
  });

  it("arguments kept as a blob travel as the blob", () => {
    const blob = { key: `sha256:${"a".repeat(64)}`, size: 300_000, sha256: "a".repeat(64) };
    given(...hosted)
      .when(submit("R1", { arguments: [], argumentsBlob: blob, argumentCount: 1 }))
      .then(
        runEvent("RunSubmitted", "R1", { target: checkout, arguments: [], argumentsBlob: blob, rootStepId: "1" }),
        runEvent("StepScheduled", "R1", { stepId: "1", target: checkout, kind: "workflow", arguments: [], argumentsBlob: blob, options: {} }),
        created(x1),
      );
  });

  it("a root step whose result is cached is not executed", () => {
    const keyed = submit("R2", { options: { cache: {} }, keys: { memo: "m", cache: "c" } });
    given(...hosted, runSubmitted("R1", { options: { cache: {} } }), executionSucceeded(x1, "paid"))
      .inheriting("base", runSubmitted("B1"), runEvent("StepScheduled", "B1", { stepId: "2", target: checkout, kind: "workflow", arguments: [1], options: { cache: {} }, cacheKey: "c" }), created("B1-2-1"), executionSucceeded("B1-2-1", "cached"))
      .when(keyed)
      .then(
        runEvent("RunSubmitted", "R2", { target: checkout, arguments: [1], rootStepId: "1" }),
        runEvent("StepScheduled", "R2", { stepId: "1", target: checkout, kind: "workflow", arguments: [1], options: { cache: {} }, memoKey: "m", cacheKey: "c" }),
        runEvent("StepResultReused", "R2", { stepId: "1", cacheKey: "c", source: { env: "base", runId: "B1", stepId: "2", executionId: "B1-2-1", seq: 4 }, result: { kind: "inline", value: "cached" } }),
      );
  });

  it("an unknown target is refused, listing the known ones (or the known repositories)", () => {
    given(...hosted).when(submit("R1", { target: { repository: "shop", target: "nope" } })).rejected("UnknownTarget", {
      repository: "shop",
      target: "nope",
      known: ["shop:checkout", "shop:charge", "shop:email"],
      queueable: true,
    });
    given(...hosted).when(submit("R1", { target: { repository: "mail", target: "send" } })).rejected("UnknownTarget", { repository: "mail", target: "send", known: ["shop:*"], queueable: true });
  });

  it("a run of a target no agent has registered is refused, saying it could be queued; with queue it is accepted, a workflow with the options given", () => {
    const orders = { repository: "orders", target: "process" };
    given(environmentCreated()).when(submit("R1", { target: orders })).rejected("UnknownTarget", { repository: "orders", target: "process", known: [], queueable: true });
    given(...hosted).when(submit("R1", { target: orders, queue: true, options: { timeoutMs: 5 }, keys: { memo: "m" } })).then(
      runEvent("RunSubmitted", "R1", { target: orders, arguments: [1], rootStepId: "1" }),
      runEvent("StepScheduled", "R1", { stepId: "1", target: orders, kind: "workflow", arguments: [1], options: { timeoutMs: 5 }, memoKey: "m" }),
      created(x1),
    );
    // A registered target is what it is: queue changes nothing, and refusals other than an unknown target stand.
    given(...hosted).when(submit("R1", { queue: true })).then(
      runEvent("RunSubmitted", "R1", { target: checkout, arguments: [1], rootStepId: "1" }),
      runEvent("StepScheduled", "R1", { stepId: "1", target: checkout, kind: "workflow", arguments: [1], options: {} }),
      created(x1),
    );
    given(...hosted).when(submit("R1", { target: { repository: "shop", target: "charge" }, queue: true })).rejected("NotAWorkflow");
  });

  it("an archived environment refuses new runs", () => {
    given(...hosted, envEvent("EnvironmentArchived", {})).when(submit()).rejected("EnvironmentArchived", { env: "production" });
  });

  it("a task submitted as a run is refused, listing the workflows of its repository", () => {
    given(...hosted).when(submit("R1", { target: { repository: "shop", target: "charge" } })).rejected("NotAWorkflow", {
      repository: "shop",
      target: "charge",
      workflows: ["shop:checkout"],
    });
  });

  describe("idempotency keys", () => {
    const first = [...hosted, runSubmitted("R1", { idempotencyKey: "k", arguments: [{ a: 1, b: { c: 2, d: 3 } }] })];

    it("the same key with the same target and arguments, in any key order, gets the first run: nothing is decided", () => {
      given(...first).when(submit("R2", { idempotencyKey: "k", arguments: [{ a: 1, b: { c: 2, d: 3 } }] })).nothing();
      given(...first).when(submit("R2", { idempotencyKey: "k", arguments: [{ b: { d: 3, c: 2 }, a: 1 }] })).nothing();
    });

    it("a reused key with other arguments, another target or other blob arguments is refused, naming the key and its run", () => {
      const reused = { key: "k", runId: "R1", target: "shop:checkout" };
      given(...first).when(submit("R2", { idempotencyKey: "k", arguments: [{ a: 1, b: { c: 2, d: 4 } }] })).rejected("IdempotencyKeyReused", reused);
      given(...first).when(submit("R2", { idempotencyKey: "k", target: { repository: "shop", target: "other" }, arguments: [{ a: 1, b: { c: 2, d: 3 } }] })).rejected("IdempotencyKeyReused", reused);
      const blob = { key: `sha256:${"a".repeat(64)}`, size: 1, sha256: "a".repeat(64) };
      given(...first).when(submit("R2", { idempotencyKey: "k", arguments: [{ a: 1, b: { c: 2, d: 3 } }], argumentsBlob: blob })).rejected("IdempotencyKeyReused", reused);
    });
  });

  describe("arguments against the parameters", () => {
    const withArity = {
      repository: "shop",
      targets: [
        { name: "checkout", kind: "workflow" as const, parameters: [{ name: "order" }, { name: "note", default: "''" }], options: {}, arity: { min: 1, max: 2 } },
        { name: "charge", kind: "task" as const, parameters: [{ name: "...orders" }], options: {}, arity: { min: 1 } },
      ],
    };
    const strict = [environmentCreated(), agentConnected("a1", [withArity])];

    it.each([
      [[], 0],
      [[1, "x", true], 3],
    ])("a run with arguments %j that do not fit the parameters is refused with the count and the range", (args, count) => {
      given(...strict).when(submit("R1", { arguments: args })).rejected("WrongArgumentCount", { target: "shop:checkout", given: count, min: 1, max: 2, parameters: ["order", "note"] });
    });

    it("arguments within the range are accepted; a manifest without arity accepts any count", () => {
      for (const args of [[1], [1, "x"]]) {
        given(...strict).when(submit("R1", { arguments: args })).then(...runSubmitted("R1", { arguments: args }));
      }
      given(...hosted).when(submit("R1", { arguments: [] })).then(...runSubmitted("R1", { arguments: [] }));
    });

    it("arguments kept as a blob are counted by the count their edge gives", () => {
      const blob = { key: `sha256:${"a".repeat(64)}`, size: 300_000, sha256: "a".repeat(64) };
      given(...strict).when(submit("R1", { arguments: [], argumentsBlob: blob, argumentCount: 3 })).rejected("WrongArgumentCount", {
        target: "shop:checkout",
        given: 3,
        min: 1,
        max: 2,
        parameters: ["order", "note"],
      });
      given(...strict)
        .when(submit("R1", { arguments: [], argumentsBlob: blob, argumentCount: 1 }))
        .then(
          runEvent("RunSubmitted", "R1", { target: checkout, arguments: [], argumentsBlob: blob, rootStepId: "1" }),
          runEvent("StepScheduled", "R1", { stepId: "1", target: checkout, kind: "workflow", arguments: [], argumentsBlob: blob, options: {} }),
          created(x1),
        );
    });
  });

  describe("a workflow called by task code", () => {
    const call = (n: number) => ({ executionId: x1, callId: `${x1}/${n}`, runId: "R1", stepId: "1" });

    it("is a child run linked to the calling execution", () => {
      given(...running)
        .when(submit("C1", { call: call(1) }))
        .then(
          runEvent("RunSubmitted", "C1", { target: checkout, arguments: [1], rootStepId: "1", parent: { runId: "R1", stepId: "1", executionId: x1 }, callId: `${x1}/1` }),
          runEvent("StepScheduled", "C1", { stepId: "1", target: checkout, kind: "workflow", arguments: [1], options: {} }),
          created("C1-1-1"),
        );
    });

    it("the call re-sent after a reconnect decides nothing", () => {
      given(...running, [runEvent("RunSubmitted", "C1", { target: checkout, arguments: [1], rootStepId: "1", parent: { runId: "R1", stepId: "1", executionId: x1 }, callId: `${x1}/1` })])
        .when(submit("C2", { call: call(1) }))
        .nothing();
    });
  });
});

describe("runs: CancelRun", () => {
  const cancel: Command = { type: "CancelRun", runId: "R1", reason: "user" };
  const busy = [...running, stepCalled(x1, 1, "2"), stepCalled(x1, 2, "3")];

  it("cancelling a run cancels every execution in flight, newest first", () => {
    given(...busy)
      .when(cancel)
      .then(runEvent("RunCancelled", "R1", { reason: "user" }), cancelled("R1-3-1", "user"), cancelled("R1-2-1", "user"), cancelled(x1, "user"));
  });

  it("a run with more in flight than one commit holds is cancelled with a commit's worth (the scheduler sweeps the rest)", () => {
    const many = [...running, ...Array.from({ length: CANCELS_PER_COMMIT + 5 }, (_, i) => stepCalled(x1, i + 1, String(i + 2)))];
    const newest = Array.from({ length: CANCELS_PER_COMMIT }, (_, i) => `R1-${CANCELS_PER_COMMIT + 6 - i}-1`);
    given(...many).when(cancel).then(runEvent("RunCancelled", "R1", { reason: "user" }), ...newest.map((x) => cancelled(x, "user")));
  });

  it("cancelling a cancelled run again decides nothing (idempotent); an unknown run is refused", () => {
    given(...busy, [runEvent("RunCancelled", "R1", { reason: "user" }), cancelled("R1-3-1", "user"), cancelled("R1-2-1", "user"), cancelled(x1, "user")]).when(cancel).nothing();
    given(...hosted).when(cancel).rejected("UnknownRun", { runId: "R1" });
  });

  it("cancelling a run that succeeded or failed is refused, naming the run and its status", () => {
    given(...running, executionSucceeded(x1, "done")).when(cancel).rejected("RunFinished", { runId: "R1", status: "succeeded" });
    given(...running, executionFailed(x1, false)).when(cancel).rejected("RunFinished", { runId: "R1", status: "failed" });
  });

  it("cancelling a finished run whose step is re-running stops that execution only: the run keeps its outcome", () => {
    const rerunning = [...running, stepCalled(x1, 1, "2"), executionAssigned("R1-2-1"), executionSucceeded("R1-2-1", 1), executionSucceeded(x1, "done"), created("R1-2-2", "rerun", 2)];
    const after = given(...rerunning).when(cancel).then(cancelled("R1-2-2", "user"));
    expect(after.run("R1")?.status).toBe("succeeded");
    given(...rerunning, cancelled("R1-2-2", "user")).when(cancel).rejected("RunFinished", { runId: "R1", status: "succeeded" });
    given(...rerunning, cancelled("R1-2-2", "user")).when({ type: "RerunStep", runId: "R1", stepId: "2" }).then(created("R1-2-3", "rerun", 3));
  });
});

describe("runs: SweepRun", () => {
  const sweep: Command = { type: "SweepRun", runId: "R1" };
  const calls = CANCELS_PER_COMMIT + 50;
  const wide = [...running, ...Array.from({ length: calls }, (_, i) => stepCalled(x1, i + 1, String(i + 2)))];
  const reason = `run failed: Error in ${x1}`;
  /** Steps `from` down to 2, newest first. */
  const newestFrom = (from: number) => Array.from({ length: from - 1 }, (_, i) => `R1-${from - i}-1`);
  const failedRun = [...wide, [executionFailed(x1, false), ...newestFrom(calls + 1).slice(0, CANCELS_PER_COMMIT).map((x) => executionCancelled(x, reason))]];

  it("what a failed run left in flight past one commit's worth is swept", () => {
    given(...failedRun).when(sweep).then(...newestFrom(51).map((x) => cancelled(x, reason)));
  });

  it("a run still running, swept clean, or unknown has nothing to sweep", () => {
    given(...wide).when(sweep).nothing();
    given(...failedRun, newestFrom(51).map((x) => executionCancelled(x, reason))).when(sweep).nothing();
    given(...hosted).when(sweep).nothing();
  });

  it("what a cancelled run left is swept with the reason it was cancelled for", () => {
    given(...running, stepCalled(x1, 1, "2"), [runEvent("RunCancelled", "R1", { reason: "user" }), executionCancelled(x1, "user")]).when(sweep).then(cancelled("R1-2-1", "user"));
  });

  it("a step of the failed run re-run by hand later is left alone", () => {
    given(...running, stepCalled(x1, 1, "2"), [executionFailed(x1, false), executionCancelled("R1-2-1", reason)], created("R1-2-2", "rerun", 2)).when(sweep, NOW + 1).nothing();
  });
});

describe("runs: CancelStep", () => {
  it("cancels the step's executions in flight and those of every step it called, however many", () => {
    const many = Array.from({ length: CANCELS_PER_COMMIT + 5 }, (_, i) => stepCalled(x1, i + 1, String(i + 2)));
    const newest = Array.from({ length: CANCELS_PER_COMMIT + 5 }, (_, i) => `R1-${CANCELS_PER_COMMIT + 6 - i}-1`);
    given(...running, ...many)
      .when({ type: "CancelStep", runId: "R1", stepId: "1", reason: "user" })
      .then(cancelled(x1, "user"), ...newest.map((x) => cancelled(x, "user")));
  });

  it("a step with nothing in flight decides nothing; an unknown step is refused", () => {
    given(...running, stepCalled(x1, 1, "2"), executionSucceeded("R1-2-1")).when({ type: "CancelStep", runId: "R1", stepId: "2", reason: "user" }).nothing();
    given(...running).when({ type: "CancelStep", runId: "R1", stepId: "9", reason: "user" }).rejected("UnknownStep", { runId: "R1", stepId: "9" });
  });
});

describe("runs: RerunStep", () => {
  const rerun = (stepId = "2", memoKey?: string): Command => ({ type: "RerunStep", runId: "R1", stepId, ...(memoKey === undefined ? {} : { memoKey }) });
  const done = [...running, stepCalled(x1, 1, "2", { memoKey: "m1" }), executionAssigned("R1-2-1"), executionSucceeded("R1-2-1", 1)];

  it("a finished step is re-run as a new execution; with other code, it answers to its new memo key", () => {
    given(...done).when(rerun()).then(created("R1-2-2", "rerun", 2));
    given(...done).when(rerun("2", "m1")).then(created("R1-2-2", "rerun", 2));
    given(...done).when(rerun("2", "m2")).then(runEvent("ExecutionCreated", "R1", { executionId: "R1-2-2", stepId: "2", attempt: 2, reason: "rerun", memoKey: "m2" }));
  });

  it("a step still running cannot be re-run", () => {
    given(...running, stepCalled(x1, 1, "2")).when(rerun()).rejected("InvalidArgument", { message: "step 2 of run R1 is still running; cancel it or wait" });
  });

  it("an unknown run or step, or a cancelled run, is refused", () => {
    given(...done).when(rerun("9")).rejected("UnknownStep", { runId: "R1", stepId: "9" });
    given(...hosted).when(rerun()).rejected("UnknownRun", { runId: "R1" });
    given(...done, runEvent("RunCancelled", "R1", { reason: "user" })).when(rerun()).rejected("RunFinished", { runId: "R1", status: "cancelled" });
  });

  it("re-running a step whose target no agent here has registered is refused, as submitting it would be", () => {
    const onlyCheckout = { ...SHOP, targets: [SHOP.targets[0]!] };
    given(...done, agentConnected("a2", [onlyCheckout])).when(rerun()).rejected("UnknownTarget", { repository: "shop", target: "charge", known: ["shop:checkout"] });
  });
});

describe("runs: ImportRun", () => {
  const parent = given(...running, stepCalled(x1, 1, "2", { target: "email", memoKey: "memo-e" }), executionAssigned("R1-2-1"), executionSucceeded("R1-2-1", "x"), executionSucceeded(x1, "done")).model();
  const branch = [envEvent("EnvironmentBranched", { project: "p", env: "dev", parent: "production", at: 9 }), agentConnected()];
  const importRun = (first: boolean, steps = parent.stepsOfRun("R1")): Command => ({ type: "ImportRun", from: { env: "production", seq: 9 }, run: parent.run("R1")!, steps, first });
  const source = (stepId: string, seq: number) => ({ env: "production", runId: "R1", stepId, executionId: `R1-${stepId}-1`, seq });
  const root = runEvent("StepScheduled", "R1", { stepId: "1", target: checkout, kind: "workflow", arguments: [1], options: {} });
  const email = { repository: "shop", target: "email" };
  const step2 = runEvent("StepScheduled", "R1", { stepId: "2", target: email, kind: "task", arguments: [1], options: {}, memoKey: "memo-e", parentExecutionId: x1, callId: `${x1}/1` });

  it("a run brought into a branch keeps its steps and their results, as reused from the parent", () => {
    const after = given(...branch)
      .when(importRun(true))
      .then(
        runEvent("RunSubmitted", "R1", { target: checkout, arguments: [1], rootStepId: "1", branchedFrom: { env: "production", seq: 9 } }),
        root,
        runEvent("StepResultReused", "R1", { stepId: "1", cacheKey: "", source: source("1", 8), result: { kind: "inline", value: "done" } }),
        step2,
        runEvent("StepResultReused", "R1", { stepId: "2", cacheKey: "memo-e", source: source("2", 7), result: { kind: "inline", value: "x" } }),
      );
    expect(after.run("R1")).toMatchObject({ status: "succeeded", branchedFrom: { env: "production", seq: 9 } });
    expect(after.step("R1", "2")).toMatchObject({ status: "reused", reusedFrom: { env: "production", executionId: "R1-2-1" } });
  });

  it("bringing the run in again decides nothing; more of its steps bring in only those not here yet", () => {
    const brought = [...branch, given(...branch).decided(importRun(true, parent.stepsOfRun("R1").slice(0, 1)))];
    given(...brought).when(importRun(true)).nothing();
    given(...brought)
      .when(importRun(false))
      .then(step2, runEvent("StepResultReused", "R1", { stepId: "2", cacheKey: "memo-e", source: source("2", 7), result: { kind: "inline", value: "x" } }));
  });

  it("a step its parent reused from a cache keeps naming where the result came from", () => {
    const far = { env: "staging", runId: "S1", stepId: "4", executionId: "S1-4-1", seq: 3 };
    const reusing = given(...running, [stepScheduled(x1, 1, "2", { target: "email", options: { cache: {} }, memoKey: "memo-e", cacheKey: "c" }), runEvent("StepResultReused", "R1", { stepId: "2", cacheKey: "c", source: far, result: { kind: "inline", value: "y" } })]).model();
    given(...branch, given(...branch).decided(importRun(true, [])))
      .when({ type: "ImportRun", from: { env: "production", seq: 9 }, run: reusing.run("R1")!, steps: reusing.stepsOfRun("R1").slice(1), first: false })
      .then(
        runEvent("StepScheduled", "R1", { stepId: "2", target: email, kind: "task", arguments: [1], options: { cache: {} }, memoKey: "memo-e", cacheKey: "c", parentExecutionId: x1, callId: `${x1}/1` }),
        runEvent("StepResultReused", "R1", { stepId: "2", cacheKey: "memo-e", source: far, result: { kind: "inline", value: "y" } }),
      );
  });

  it("before a run is brought in to re-run a step, the step is checked as the parent has it: it must exist and be hosted here", () => {
    const here = given(...branch).model();
    expect(rerunnable(here, "R1", "2", parent.step("R1", "2"))).toEqual({ _tag: "Right", right: parent.step("R1", "2") });
    expect(rerunnable(here, "R1", "9", parent.step("R1", "9"))).toEqual({ _tag: "Left", left: { _tag: "UnknownStep", runId: "R1", stepId: "9" } });
    const bare = given(envEvent("EnvironmentBranched", { project: "p", env: "dev", parent: "production", at: 9 })).model();
    expect(rerunnable(bare, "R1", "2", parent.step("R1", "2"))).toEqual({ _tag: "Left", left: { _tag: "UnknownTarget", repository: "shop", target: "email", known: [] } });
  });

  it("steps of a run not brought in yet are refused", () => {
    given(...branch).when(importRun(false)).rejected("UnknownRun", { runId: "R1" });
  });

  it("a re-run of a step brought in never takes the id of the execution it was reused from", () => {
    given(...branch, given(...branch).decided(importRun(true)))
      .when({ type: "RerunStep", runId: "R1", stepId: "2", memoKey: "new-code" })
      .then(runEvent("ExecutionCreated", "R1", { executionId: "R1-2-2", stepId: "2", attempt: 2, reason: "rerun", memoKey: "new-code" }));
  });
});
