import { describe, expect, it } from "vitest";
import { IdGenerator, type Commit, type Event, type EventId } from "../../src/events/index.js";
import { MemoryStore, PROJECTIONS } from "../../src/projections/index.js";
import type { Command } from "../../src/orchestrator/core/commands.js";
import { CANCELS_PER_COMMIT, decide, executionIdOf } from "../../src/orchestrator/core/decide.js";
import { modelOf } from "../../src/orchestrator/core/model.js";
import { rejectionMessage, rejectionStatus } from "../../src/orchestrator/core/rejections.js";
import { delayFor, shouldRetry } from "../../src/orchestrator/core/retry-policy.js";

const NOW = 1_700_000_000_000;

/**
 * given(commands…).when(command).then…: each given command is decided and
 * its events folded, as the orchestrator would; `when` decides one more.
 */
const given = (...setup: Command[]) => {
  const store = new MemoryStore(PROJECTIONS);
  const ids = new IdGenerator(() => NOW, (b) => b.fill(1));
  const ctx = { now: NOW, id: () => ids.next() as EventId };
  let seq = 0;
  const apply = (cmd: Command): readonly Event[] => {
    const d = decide(cmd, modelOf(store), ctx);
    if (d._tag === "Left") throw new Error(`given ${cmd.type} was rejected: ${JSON.stringify(d.left)}`);
    if (d.right.length) store.apply([{ seq: ++seq, id: d.right[0]!.id, subject: "", events: d.right } as Commit]);
    return d.right;
  };
  for (const c of setup) apply(c);
  return {
    store,
    model: () => modelOf(store),
    when: (cmd: Command, now = NOW) => decide(cmd, modelOf(store), { ...ctx, now }),
    and: (cmd: Command) => apply(cmd),
  };
};

const types = (d: ReturnType<ReturnType<typeof given>["when"]>) =>
  d._tag === "Right" ? d.right.map((e) => e.type) : `rejected: ${d.left._tag}`;

const manifests = [
  {
    repository: "shop",
    targets: [
      { name: "checkout", kind: "workflow" as const, parameters: [], options: {} },
      {
        name: "charge",
        kind: "task" as const,
        parameters: [],
        options: { retries: { limit: 2, delayMs: 100, factor: 2, maxDelayMs: 1000 }, timeoutMs: 500 },
      },
      { name: "email", kind: "task" as const, parameters: [], options: {} },
    ],
  },
];
const connect: Command = { type: "ConnectAgent", agentId: "a1", tags: {}, concurrency: 4, manifests };
const submit = (runId = "R1", extra: Partial<Extract<Command, { type: "SubmitRun" }>> = {}): Command => ({
  type: "SubmitRun",
  runId,
  target: { repository: "shop", target: "checkout" },
  arguments: [1],
  ...extra,
});
const x1 = executionIdOf("R1", "1", 1);
const assign = (executionId: string, runId = "R1"): Command => ({ type: "AssignExecution", runId, executionId, agentId: "a1" });
const result = (executionId: string, outcome: Extract<Command, { type: "RecordResult" }>["outcome"]): Command => ({
  type: "RecordResult",
  runId: "R1",
  executionId,
  agentId: "a1",
  outcome,
});
const call = (n: number, target = "charge"): Command => ({
  type: "ScheduleStep",
  runId: "R1",
  call: { executionId: x1, callId: `${x1}/${n}` },
  target: { repository: "shop", target },
  kind: "task",
  arguments: [n],
  options: {},
});
const fail = (retryable: boolean, type = "Error") => ({ ok: false as const, error: { type, message: "boom", retryable } });

describe("decide", () => {
  it("a submitted run is one commit: the run, its root step and its first execution", () => {
    expect(types(given(connect).when(submit()))).toEqual(["RunSubmitted", "StepScheduled", "ExecutionCreated"]);
  });

  it("an unknown target is refused, listing the known ones", () => {
    const d = given(connect).when({ ...submit(), target: { repository: "shop", target: "nope" } } as Command);
    expect(d).toMatchObject({ _tag: "Left", left: { _tag: "UnknownTarget", known: ["shop:checkout", "shop:charge", "shop:email"] } });
  });

  it("an invalid run id is refused", () => {
    expect(given(connect).when(submit("bad.id"))).toMatchObject({ _tag: "Left", left: { _tag: "InvalidName" } });
  });

  it("a repeated idempotency key decides nothing", () => {
    const g = given(connect, submit("R1", { idempotencyKey: "k" }));
    expect(types(g.when(submit("R2", { idempotencyKey: "k" })))).toEqual([]);
  });

  it("a call from running code schedules a numbered step with the target's options; a re-sent call decides nothing", () => {
    const g = given(connect, submit(), assign(x1));
    const d = g.when(call(1));
    expect(types(d)).toEqual(["StepScheduled", "ExecutionCreated"]);
    g.and(call(1));
    expect(g.model().step("R1", "2")).toMatchObject({ parentExecutionId: x1, options: { timeoutMs: 500 } });
    expect(types(g.when(call(1)))).toEqual([]);
  });

  it("a retryable failure within the policy's limit creates a retry with backoff", () => {
    const g = given(connect, submit(), assign(x1), call(1), assign(executionIdOf("R1", "2", 1)));
    const d = g.when({ ...result(executionIdOf("R1", "2", 1), fail(true)) });
    expect(types(d)).toEqual(["ExecutionFailed", "ExecutionCreated"]);
    const retry = (d as unknown as { right: Event[] }).right[1]!;
    expect(retry).toMatchObject({ data: { attempt: 2, reason: "retry", notBefore: NOW + 100, executionId: "R1-2-2" } });
  });

  it("a failure past the retry limit, a terminal error, or an error outside retryOn is final", () => {
    const g = given(connect, submit(), assign(x1), call(1));
    for (let attempt = 1; attempt <= 3; attempt++) {
      const x = executionIdOf("R1", "2", attempt);
      g.and(assign(x));
      const d = g.when(result(x, fail(true)));
      expect(types(d)).toEqual(attempt < 3 ? ["ExecutionFailed", "ExecutionCreated"] : ["ExecutionFailed"]);
      g.and(result(x, fail(true)));
    }
    const h = given(connect, submit(), assign(x1), call(1), assign("R1-2-1"));
    expect(types(h.when(result("R1-2-1", fail(false))))).toEqual(["ExecutionFailed"]);
    expect(shouldRetry({ limit: 3, delayMs: 1, factor: 1, maxDelayMs: 1, retryOn: ["IOError"] }, 1, { type: "RangeError", message: "", retryable: true })).toBe(false);
  });

  it("a result recorded twice is recorded once", () => {
    const g = given(connect, submit(), assign(x1), result(x1, { ok: true, value: 5 }));
    expect(types(g.when(result(x1, { ok: true, value: 6 })))).toEqual([]);
    expect(g.model().run("R1")).toMatchObject({ status: "succeeded" });
  });

  it("a result from an agent the execution is not assigned to is refused", () => {
    const g = given(connect, submit(), assign(x1));
    expect(g.when({ ...result(x1, { ok: true, value: 1 }), agentId: "a2" } as Command)).toMatchObject({
      _tag: "Left",
      left: { _tag: "NotAssigned" },
    });
  });

  it("a timeout is a retryable failure; an abandoned execution is retried whatever the policy", () => {
    const g = given(connect, submit(), assign(x1), call(1), assign("R1-2-1"));
    expect(types(g.when({ type: "TimeOutExecution", runId: "R1", executionId: "R1-2-1" }))).toEqual([
      "ExecutionTimedOut",
      "ExecutionCreated",
    ]);
    const h = given(connect, submit(), assign(x1));
    expect(types(h.when({ type: "AbandonExecution", runId: "R1", executionId: x1, agentId: "a1", reason: "lost", cause: "agent-lost" }))).toEqual([
      "ExecutionAbandoned",
      "ExecutionCreated",
    ]);
  });

  it("cancelling a run cancels every execution in flight, once", () => {
    const g = given(connect, submit(), assign(x1), call(1), call(2));
    expect(types(g.when({ type: "CancelRun", runId: "R1", reason: "user" }))).toEqual([
      "RunCancelled",
      "ExecutionCancelled",
      "ExecutionCancelled",
      "ExecutionCancelled",
    ]);
    g.and({ type: "CancelRun", runId: "R1", reason: "user" });
    expect(types(g.when({ type: "CancelRun", runId: "R1", reason: "again" }))).toEqual([]);
    expect(g.when(call(3))).toMatchObject({ _tag: "Left", left: { _tag: "RunFinished" } });
  });

  it("a finished step can be re-run as a new execution; a running one cannot", () => {
    const g = given(connect, submit(), assign(x1), call(1));
    expect(g.when({ type: "RerunStep", runId: "R1", stepId: "2" })).toMatchObject({ _tag: "Left", left: { _tag: "InvalidArgument" } });
    g.and(assign("R1-2-1"));
    g.and(result("R1-2-1", { ok: true, value: 1 }));
    const d = g.when({ type: "RerunStep", runId: "R1", stepId: "2" });
    expect(d).toMatchObject({ _tag: "Right", right: [{ type: "ExecutionCreated", data: { attempt: 2, reason: "rerun" } }] });
    expect(g.when({ type: "RerunStep", runId: "R1", stepId: "9" })).toMatchObject({ _tag: "Left", left: { _tag: "UnknownStep" } });
  });

  it("a reconnecting agent with the same manifests records no new manifest", () => {
    const g = given(connect);
    expect(types(g.when(connect))).toEqual(["AgentConnected"]);
  });

  it("retry delays grow by the factor up to the maximum", () => {
    const p = { limit: 5, delayMs: 100, factor: 3, maxDelayMs: 1000 };
    expect([1, 2, 3, 4].map((a) => delayFor(p, a))).toEqual([100, 300, 900, 1000]);
  });
});

describe("decide: reusing results", () => {
  const env: Command = { type: "CreateEnvironment", project: "p", env: "production" };
  const cached = (n: number, key: string, extra: Partial<Extract<Command, { type: "ScheduleStep" }>> = {}): Command => ({
    ...(call(n, "email") as Extract<Command, { type: "ScheduleStep" }>),
    keys: { memo: `memo-${key}`, cache: `cache-${key}` },
    ...extra,
  });
  const withOptions = (c: Command, options: object) => ({ ...c, options }) as Command;
  const base = () => given(env, connect, submit(), assign(x1));

  it("memo: an identical call in the same run reuses a finished step, naming it as the source", () => {
    const g = base();
    g.and(withOptions(cached(1, "a"), { memo: true }));
    g.and(assign("R1-2-1"));
    g.and(result("R1-2-1", { ok: true, value: "sent" }));
    const d = g.when(withOptions(cached(2, "a"), { memo: true }));
    expect(d).toMatchObject({
      _tag: "Right",
      right: [
        { type: "StepScheduled", data: { stepId: "3", memoKey: "memo-a" } },
        { type: "StepResultReused", data: { stepId: "3", source: { env: "production", runId: "R1", stepId: "2", executionId: "R1-2-1" }, result: { kind: "inline", value: "sent" } } },
      ],
    });
  });

  it("memo: an identical call while the first is still running waits for it", () => {
    const g = base();
    g.and(withOptions(cached(1, "a"), { memo: true }));
    expect(types(g.when(withOptions(cached(2, "a"), { memo: true })))).toEqual(["StepScheduled", "StepDeferred"]);
  });

  it("cache: one computing now is joined; a fresh hit is reused; an expired one or another key executes", () => {
    const g = base();
    g.and(withOptions(cached(1, "b"), { cache: {} }));
    expect(types(g.when(withOptions(cached(2, "b"), { cache: {} })))).toEqual(["StepScheduled", "StepDeferred"]);
    g.and(assign("R1-2-1"));
    g.and(result("R1-2-1", { ok: true, value: 1 }));
    expect(types(g.when(withOptions(cached(2, "b"), { cache: {} })))).toEqual(["StepScheduled", "StepResultReused"]);
    const aged = withOptions(cached(2, "b"), { cache: { maxAgeMs: 100 } });
    expect(types(g.when(aged, NOW + 100))).toEqual(["StepScheduled", "StepResultReused"]);
    expect(types(g.when(aged, NOW + 101))).toEqual(["StepScheduled", "ExecutionCreated"]);
    expect(types(g.when(withOptions(cached(2, "c"), { cache: {} })))).toEqual(["StepScheduled", "ExecutionCreated"]);
  });

  it("defer: an identical call executing elsewhere is waited for; resolving takes its result, or executes after a failure", () => {
    const g = base();
    g.and(withOptions(cached(1, "d"), { defer: true }));
    g.and(withOptions(cached(2, "d"), { defer: true }));
    expect(g.model().step("R1", "3")).toMatchObject({ status: "deferred", deferredTo: { stepId: "2" } });
    expect(g.model().deferrals("R1", "2")).toEqual([{ runId: "R1", stepId: "3" }]);
    expect(types(g.when({ type: "ResolveDeferred", runId: "R1", stepId: "3" }))).toEqual([]);
    g.and(assign("R1-2-1"));
    const h = given(env, connect, submit(), assign(x1), withOptions(cached(1, "d"), { defer: true }), withOptions(cached(2, "d"), { defer: true }), assign("R1-2-1"));
    g.and(result("R1-2-1", { ok: true, value: 9 }));
    expect(g.when({ type: "ResolveDeferred", runId: "R1", stepId: "3" })).toMatchObject({
      _tag: "Right",
      right: [{ type: "StepResultReused", data: { stepId: "3", result: { kind: "inline", value: 9 } } }],
    });
    g.and({ type: "ResolveDeferred", runId: "R1", stepId: "3" });
    expect(g.model().deferrals("R1", "2")).toEqual([]);
    h.and(result("R1-2-1", fail(false)));
    expect(types(h.when({ type: "ResolveDeferred", runId: "R1", stepId: "3" }))).toEqual(["ExecutionCreated"]);
  });

  it("a run brought into a branch keeps its steps and their results, as reused from the parent", () => {
    const parent = base();
    parent.and(withOptions(cached(1, "e"), {}));
    parent.and(assign("R1-2-1"));
    parent.and(result("R1-2-1", { ok: true, value: "x" }));
    parent.and(result(x1, { ok: true, value: "done" }));
    const view = parent.model();
    const steps = view.stepsOfRun("R1");
    const branch = given({ type: "BranchEnvironment", project: "p", env: "dev", parent: "production", at: 9 }, connect);
    const d = branch.when({ type: "ImportRun", from: { env: "production", seq: 9 }, run: view.run("R1")!, steps, first: true });
    expect(types(d)).toEqual(["RunSubmitted", "StepScheduled", "StepResultReused", "StepScheduled", "StepResultReused"]);
    branch.and({ type: "ImportRun", from: { env: "production", seq: 9 }, run: view.run("R1")!, steps, first: true });
    expect(branch.model().run("R1")).toMatchObject({ status: "succeeded", branchedFrom: { env: "production", seq: 9 } });
    expect(branch.model().step("R1", "2")).toMatchObject({ status: "reused", reusedFrom: { env: "production", executionId: "R1-2-1" } });
    // Its re-run never takes the id of the execution it was reused from.
    expect(branch.when({ type: "RerunStep", runId: "R1", stepId: "2", memoKey: "new-code" })).toMatchObject({
      _tag: "Right",
      right: [{ type: "ExecutionCreated", data: { executionId: "R1-2-2", attempt: 2, reason: "rerun", memoKey: "new-code" } }],
    });
    expect(types(branch.when({ type: "ImportRun", from: { env: "production", seq: 9 }, run: view.run("R1")!, steps, first: true }))).toEqual([]);
  });

  it("rebasing to the same base, or archiving twice, decides nothing", () => {
    const g = given({ type: "CreateEnvironment", project: "p", env: "dev", base: "production" });
    expect(types(g.when({ type: "RebaseEnvironment", base: "production" }))).toEqual([]);
    expect(types(g.when({ type: "RebaseEnvironment", base: null }))).toEqual(["EnvironmentRebased"]);
    g.and({ type: "ArchiveEnvironment" });
    expect(types(g.when({ type: "ArchiveEnvironment" }))).toEqual([]);
    expect(g.when(submit("R9"))).toMatchObject({ _tag: "Left", left: { _tag: "EnvironmentArchived" } });
  });

  describe("resume, never redo", () => {
    const x2 = executionIdOf("R1", "1", 2);
    const x3 = executionIdOf("R1", "1", 3);
    const callBy = (executionId: string, n: number, target = "charge", arg = n): Command => ({
      type: "ScheduleStep",
      runId: "R1",
      call: { executionId, callId: `${executionId}/${n}` },
      target: { repository: "shop", target },
      kind: "task",
      arguments: [arg],
      options: {},
      keys: { memo: `memo-${target}-${arg}` },
    });
    const abandon = (executionId: string, cause: Extract<Command, { type: "AbandonExecution" }>["cause"]): Command => ({
      type: "AbandonExecution",
      runId: "R1",
      executionId,
      agentId: "a1",
      reason: "lost",
      cause,
    });
    /** A workflow whose first execution made calls 1 and 2 (step 2 finished, step 3 in flight) and was then abandoned. */
    const interrupted = (cause: Extract<Command, { type: "AbandonExecution" }>["cause"] = "agent-lost") => {
      const g = given(connect, submit(), assign(x1), callBy(x1, 1), callBy(x1, 2), assign("R1-2-1"), assign("R1-3-1"));
      g.and(result("R1-2-1", { ok: true, value: "charged" }));
      g.and(abandon(x1, cause));
      g.and(assign(x2));
      return g;
    };

    it("the retry of an abandoned execution resumes it, at once when the server's restart caused it", () => {
      const g = given(connect, submit(), assign(x1));
      expect(g.when(abandon(x1, "server-restart"))).toMatchObject({
        _tag: "Right",
        right: [
          { type: "ExecutionAbandoned", data: { executionId: x1, cause: "server-restart" } },
          { type: "ExecutionCreated", data: { executionId: x2, attempt: 2, reason: "retry", resumes: x1 } },
        ],
      });
      const d = g.when(abandon(x1, "server-restart"));
      expect(d._tag === "Right" && d.right[1]!.data).not.toHaveProperty("notBefore");
    });

    it("a resumed execution's calls are matched in order to the calls it resumes: a finished step gives its result, one in flight is joined", () => {
      const g = interrupted();
      expect(g.when(callBy(x2, 1))).toMatchObject({
        _tag: "Right",
        right: [{ type: "CallResumed", data: { executionId: x2, callId: `${x2}/1`, resumedCallId: `${x1}/1`, step: { runId: "R1", stepId: "2" } } }],
      });
      g.and(callBy(x2, 1));
      expect(g.model().call(`${x2}/1`)).toEqual({ runId: "R1", stepId: "2" });
      g.and(callBy(x2, 2));
      expect(g.model().call(`${x2}/2`)).toEqual({ runId: "R1", stepId: "3" });
      // A call the abandoned execution never made is a new step.
      expect(types(g.when(callBy(x2, 3)))).toEqual(["StepScheduled", "ExecutionCreated"]);
      // The call re-sent after a reconnect decides nothing.
      expect(types(g.when(callBy(x2, 1)))).toEqual([]);
      expect(g.model().run("R1")!.steps).toBe(3);
    });

    it("a call that differs from the one at its position (other target or arguments) schedules a new step", () => {
      const g = interrupted();
      expect(types(g.when(callBy(x2, 1, "email")))).toEqual(["StepScheduled", "ExecutionCreated"]);
      expect(types(g.when(callBy(x2, 2, "charge", 99)))).toEqual(["StepScheduled", "ExecutionCreated"]);
    });

    it("resuming goes back through every execution resumed in turn, nearest first", () => {
      const g = interrupted();
      g.and(callBy(x2, 1)); // x2 made only its first call again before it was lost too
      g.and(abandon(x2, "server-restart"));
      g.and(assign(x3));
      expect(g.when(callBy(x3, 1))).toMatchObject({ _tag: "Right", right: [{ type: "CallResumed", data: { resumedCallId: `${x2}/1`, step: { stepId: "2" } } }] });
      expect(g.when(callBy(x3, 2))).toMatchObject({ _tag: "Right", right: [{ type: "CallResumed", data: { resumedCallId: `${x1}/2`, step: { stepId: "3" } } }] });
    });

    it("in a branch, a re-run never takes the name of a parent execution whose calls were brought in with the run", () => {
      // In production: x1 calls charge(1) and is lost; x2 resumes it and finishes.
      const parent = interrupted("server-restart");
      parent.and(callBy(x2, 1));
      parent.and(callBy(x2, 2));
      parent.and(result("R1-3-1", { ok: true, value: "c2" }));
      parent.and(result(x2, { ok: true, value: "done" }));
      const view = parent.model();
      const branch = given({ type: "BranchEnvironment", project: "p", env: "dev", parent: "production", at: 99 }, connect);
      branch.and({ type: "ImportRun", from: { env: "production", seq: 99 }, run: view.run("R1")!, steps: view.stepsOfRun("R1"), first: true });
      const [created] = branch.and({ type: "RerunStep", runId: "R1", stepId: "1" });
      const rerun = (created as { data: { executionId: string } }).data.executionId;
      expect([x1, x2]).not.toContain(rerun);
      // Its first call is its own: a new step, not the parent execution's first call.
      expect(types(branch.when(callBy(rerun, 1, "email")))).toEqual(["StepScheduled", "ExecutionCreated"]);
    });

    it("a workflow call (a child run) is matched like a task call", () => {
      const childCall = (executionId: string, n: number): Command =>
        submit(`C${executionId.slice(-1)}`, { call: { executionId, callId: `${executionId}/${n}`, runId: "R1", stepId: "1" }, keys: { memo: "memo-child" } });
      const g = given(connect, submit(), assign(x1), childCall(x1, 1));
      expect(g.model().call(`${x1}/1`)).toEqual({ runId: "C1", stepId: "1" });
      g.and(abandon(x1, "server-restart"));
      expect(g.when(childCall(x2, 1))).toMatchObject({
        _tag: "Right",
        right: [{ type: "CallResumed", runId: "R1", data: { callId: `${x2}/1`, step: { runId: "C1", stepId: "1" } } }],
      });
    });

    it("an execution's own failure retries with fresh calls", () => {
      const g = given(
        connect,
        submit("R1", { options: { retries: { limit: 1, delayMs: 0, factor: 1, maxDelayMs: 0 } } }),
        assign(x1),
        callBy(x1, 1),
      );
      g.and(result(x1, fail(true)));
      expect(g.model().execution(x2)).not.toHaveProperty("resumes");
      g.and(assign(x2));
      expect(types(g.when(callBy(x2, 1)))).toEqual(["StepScheduled", "ExecutionCreated"]);
    });

    it("abandonments caused by the server's restart or a stopping agent count against no limit; the others do", () => {
      const g = given(connect, submit());
      let x = x1;
      for (let attempt = 1; attempt <= 8; attempt++) {
        g.and(assign(x));
        const d = g.when(abandon(x, attempt % 2 ? "server-restart" : "agent-stopping"));
        expect(types(d), `attempt ${attempt}`).toEqual(["ExecutionAbandoned", "ExecutionCreated"]);
        g.and(abandon(x, attempt % 2 ? "server-restart" : "agent-stopping"));
        x = executionIdOf("R1", "1", attempt + 1);
      }
      for (let lost = 1; lost <= 3; lost++) {
        g.and(assign(x));
        expect(types(g.when(abandon(x, "agent-lost")))).toEqual(["ExecutionAbandoned", "ExecutionCreated"]);
        g.and(abandon(x, "agent-lost"));
        x = executionIdOf("R1", "1", 8 + lost + 1);
      }
      g.and(assign(x));
      expect(types(g.when(abandon(x, "agent-lost")))).toEqual(["ExecutionAbandoned"]);
    });

    it("what a failed run left in flight past one commit's worth is swept, a commit at a time; a re-run started since is not", () => {
      const g = given(connect, submit(), assign(x1));
      for (let n = 1; n <= CANCELS_PER_COMMIT + 50; n++) g.and(callBy(x1, n));
      expect(types(g.when({ type: "SweepRun", runId: "R1" }))).toEqual([]); // still running: nothing to sweep
      const failed = g.and(result(x1, fail(false)));
      expect(failed.length).toBe(1 + CANCELS_PER_COMMIT);
      expect(failed[1]!.data).toMatchObject({ reason: `run failed: Error in ${x1}` });
      const swept = g.and({ type: "SweepRun", runId: "R1" });
      expect(swept.map((e) => e.type)).toEqual(Array(50).fill("ExecutionCancelled"));
      expect(types(g.when({ type: "SweepRun", runId: "R1" }))).toEqual([]);
      // A step of the failed run re-run by hand later is left alone.
      const later = given(connect, submit(), assign(x1), callBy(x1, 1));
      later.and(result(x1, fail(false)));
      later.and({ type: "RerunStep", runId: "R1", stepId: "2" });
      expect(types(later.when({ type: "SweepRun", runId: "R1" }, NOW + 1))).toEqual([]);
    });

    it("a run whose root fails for good cancels what it left in flight", () => {
      const g = given(connect, submit(), assign(x1), callBy(x1, 1), callBy(x1, 2), assign("R1-2-1"));
      const d = g.when(result(x1, fail(false)));
      expect(d).toMatchObject({
        _tag: "Right",
        right: [
          { type: "ExecutionFailed", data: { executionId: x1 } },
          { type: "ExecutionCancelled", data: { stepId: "3", reason: expect.stringContaining("run failed") } },
          { type: "ExecutionCancelled", data: { stepId: "2", reason: expect.stringContaining("run failed") } },
        ],
      });
      // A failure of a child step (its caller may catch it) cancels nothing else.
      expect(types(g.when(result("R1-2-1", fail(false))))).toEqual(["ExecutionFailed"]);
    });
  });

  describe("wrong requests are refused", () => {
    const cancel: Command = { type: "CancelRun", runId: "R1", reason: "user" };
    const rejection = (d: ReturnType<ReturnType<typeof given>["when"]>) => (d._tag === "Left" ? d.left : undefined);

    it("cancelling a run that succeeded or failed is refused, naming the run and its status; its outcome stays", () => {
      const ok = given(connect, submit(), assign(x1), result(x1, { ok: true, value: "done" }));
      expect(rejection(ok.when(cancel))).toEqual({ _tag: "RunFinished", runId: "R1", status: "succeeded" });
      const failed = given(connect, submit(), assign(x1), result(x1, fail(false)));
      expect(rejection(failed.when(cancel))).toEqual({ _tag: "RunFinished", runId: "R1", status: "failed" });
      expect(failed.model().run("R1")?.status).toBe("failed");
    });

    it("cancelling a finished run whose step is re-running stops that execution only: the run keeps its outcome", () => {
      const g = given(connect, submit(), assign(x1), call(1), assign("R1-2-1"), result("R1-2-1", { ok: true, value: 1 }), result(x1, { ok: true, value: "done" }));
      g.and({ type: "RerunStep", runId: "R1", stepId: "2" });
      expect(g.when(cancel)).toMatchObject({ _tag: "Right", right: [{ type: "ExecutionCancelled", data: { executionId: "R1-2-2" } }] });
      g.and(cancel);
      expect(g.model().run("R1")?.status).toBe("succeeded");
      expect(rejection(g.when(cancel))).toEqual({ _tag: "RunFinished", runId: "R1", status: "succeeded" });
      expect(types(g.when({ type: "RerunStep", runId: "R1", stepId: "2" }))).toEqual(["ExecutionCreated"]);
    });

    it("cancelling a cancelled run again decides nothing (idempotent)", () => {
      expect(types(given(connect, submit(), cancel).when(cancel))).toEqual([]);
    });

    it("a reused idempotency key with other arguments or another target is refused, naming the key and its run", () => {
      const g = given(connect, submit("R1", { idempotencyKey: "k", arguments: [{ a: 1, b: [2] }] }));
      expect(rejection(g.when(submit("R2", { idempotencyKey: "k", arguments: [{ a: 1, b: [3] }] })))).toEqual({
        _tag: "IdempotencyKeyReused",
        key: "k",
        runId: "R1",
        target: "shop:checkout",
      });
      const other = { ...submit("R2", { idempotencyKey: "k", arguments: [{ a: 1, b: [2] }] }), target: { repository: "shop", target: "other" } } as Command;
      expect(rejection(g.when(other))).toMatchObject({ _tag: "IdempotencyKeyReused", key: "k" });
    });

    it("the same key with the same target and arguments, in any key order, gets the first run", () => {
      const g = given(connect, submit("R1", { idempotencyKey: "k", arguments: [{ a: 1, b: { c: 2, d: 3 } }] }));
      expect(types(g.when(submit("R2", { idempotencyKey: "k", arguments: [{ b: { d: 3, c: 2 }, a: 1 }] })))).toEqual([]);
    });

    it("a task submitted as a run is refused, listing the workflows of its repository", () => {
      const d = given(connect).when({ ...submit(), target: { repository: "shop", target: "charge" } } as Command);
      expect(rejection(d)).toEqual({ _tag: "NotAWorkflow", repository: "shop", target: "charge", workflows: ["shop:checkout"] });
    });

    const withArity: Command = {
      type: "ConnectAgent",
      agentId: "a1",
      tags: {},
      concurrency: 4,
      manifests: [
        {
          repository: "shop",
          targets: [
            { name: "checkout", kind: "workflow", parameters: [{ name: "order" }, { name: "note", default: "''" }], options: {}, arity: { min: 1, max: 2 } },
            { name: "charge", kind: "task", parameters: [{ name: "...orders" }], options: {}, arity: { min: 1 } },
          ],
        },
      ],
    };

    it.each([
      [[], 0],
      [[1, "x", true], 3],
    ])("a run with arguments %j that do not fit the parameters is refused with the count and the range", (args, given_) => {
      expect(rejection(given(withArity).when(submit("R1", { arguments: args })))).toEqual({
        _tag: "WrongArgumentCount",
        target: "shop:checkout",
        given: given_,
        min: 1,
        max: 2,
        parameters: ["order", "note"],
      });
    });

    it("arguments within the range are accepted; a rest parameter has no maximum; a manifest without arity accepts any count", () => {
      expect(types(given(withArity).when(submit("R1", { arguments: [1] })))).toContain("RunSubmitted");
      expect(types(given(withArity).when(submit("R1", { arguments: [1, "x"] })))).toContain("RunSubmitted");
      const g = given(withArity, submit("R1", { arguments: [1] }), assign(x1));
      expect(types(g.when({ ...call(1), arguments: [1, 2, 3, 4, 5] } as Command))).toEqual(["StepScheduled", "ExecutionCreated"]);
      expect(types(given(connect).when(submit("R1", { arguments: [] })))).toContain("RunSubmitted");
    });

    it("arguments kept as a blob are counted by the count their edge gives", () => {
      const blob = { key: `sha256:${"a".repeat(64)}`, size: 300_000, sha256: "a".repeat(64) };
      expect(rejection(given(withArity).when(submit("R1", { arguments: [], argumentsBlob: blob, argumentCount: 3 })))).toMatchObject({
        _tag: "WrongArgumentCount",
        given: 3,
      });
      expect(types(given(withArity).when(submit("R1", { arguments: [], argumentsBlob: blob, argumentCount: 1 })))).toContain("RunSubmitted");
    });

    it("a call from task code with too few arguments is refused (the call fails at its call site)", () => {
      const g = given(withArity, submit("R1", { arguments: [1] }), assign(x1));
      expect(rejection(g.when({ ...call(1), arguments: [] } as Command))).toMatchObject({ _tag: "WrongArgumentCount", target: "shop:charge", given: 0, min: 1 });
    });

    it.each([
      [{ min: 1, max: 1 }, 0, "shop:f takes 1 argument (a), got 0"],
      [{ min: 0, max: 0 }, 2, "shop:f takes 0 arguments (a), got 2"],
      [{ min: 1, max: 3 }, 4, "shop:f takes 1 to 3 arguments (a), got 4"],
      [{ min: 1 }, 0, "shop:f takes at least 1 argument (a), got 0"],
      [{ min: 2 }, 1, "shop:f takes at least 2 arguments (a), got 1"],
    ])("a wrong count with arity %j, given %i, reads: %s", (arity, n, message) => {
      expect(rejectionMessage({ _tag: "WrongArgumentCount", target: "shop:f", given: n, ...arity, parameters: ["a"] })).toBe(message);
      expect(rejectionStatus({ _tag: "WrongArgumentCount", target: "shop:f", given: n, ...arity, parameters: ["a"] })).toBe(400);
    });

    it("the other refusals name what was wrong, with their HTTP status", () => {
      expect(rejectionMessage({ _tag: "RunFinished", runId: "R1", status: "cancelled" })).toBe("run R1 has already been cancelled: see it with 'tributary runs show R1'");
      expect(rejectionStatus({ _tag: "IdempotencyKeyReused", key: "k", runId: "R1", target: "shop:checkout" })).toBe(409);
      expect(rejectionMessage({ _tag: "NotAWorkflow", repository: "shop", target: "charge", workflows: [] })).toBe(
        "shop:charge is a task: only workflows are submitted as runs; call the task from a workflow (shop has no workflow)",
      );
      expect(rejectionStatus({ _tag: "ArchivedBase", env: "p/old", as: "base" })).toBe(409);
    });

    it("re-running a step whose target no agent here has registered is refused, as submitting it would be", () => {
      const g = given(connect, submit(), assign(x1), call(1), assign("R1-2-1"), result("R1-2-1", { ok: true, value: 1 }));
      g.and({ ...connect, agentId: "a2", manifests: [{ repository: "shop", targets: [manifests[0]!.targets[0]!] }] } as Command);
      expect(rejection(g.when({ type: "RerunStep", runId: "R1", stepId: "2" }))).toMatchObject({
        _tag: "UnknownTarget",
        repository: "shop",
        target: "charge",
        known: ["shop:checkout"],
      });
    });
  });
});
