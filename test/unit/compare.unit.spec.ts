/**
 * `compareRuns`: two hand-built run views matched by their place in the call
 * tree, each match with its kind of change.
 */
import { describe, expect, it } from "vitest";
import type { Value } from "../../src/events/index.js";
import { callTree, compareRuns, currentMemoKey, executionsProjection, getRunView, type ExecutionDoc, type RunView, type StepDoc } from "../../src/projections/index.js";
import { executionIdOf } from "../../src/orchestrator/core/decide.js";
import {
  agentConnected,
  environmentCreated,
  executionAbandoned,
  executionAssigned,
  executionCreated,
  executionSucceeded,
  runEvent,
  runSubmitted,
  stepCalled,
  storeOf,
} from "../support/decider-spec.js";

interface S {
  id: string;
  t: string;
  args?: Value[];
  result?: Value;
  error?: string;
  status?: StepDoc["status"];
  memo?: string;
  /** The caller's execution id and the call's index. */
  by?: [string, number];
  executions?: string[];
  reusedFrom?: string;
}

const step = (runId: string, s: S): StepDoc => ({
  runId: runId as never,
  stepId: s.id as never,
  target: { repository: "r", target: s.t },
  kind: "task",
  arguments: s.args ?? [],
  options: {},
  ...(s.memo ? { memoKey: s.memo } : {}),
  ...(s.by ? { parentExecutionId: s.by[0] as never, callId: `${s.by[0]}/${s.by[1]}` } : {}),
  scheduledAt: 0,
  scheduledSeq: Number(s.id),
  status: s.status ?? (s.error ? "failed" : "succeeded"),
  executions: (s.executions ?? [`${s.id}-x1`]) as never,
  ...(s.result !== undefined ? { result: { kind: "inline", value: s.result } } : {}),
  ...(s.error ? { error: { type: "Error", message: s.error, retryable: false } } : {}),
  ...(s.reusedFrom
    ? { reusedFrom: { env: "production" as never, runId: runId as never, stepId: s.id as never, executionId: s.reusedFrom as never, seq: 1 } }
    : {}),
});

const view = (runId: string, steps: S[]): RunView => ({
  run: {
    runId: runId as never,
    target: { repository: "r", target: steps[0]!.t },
    arguments: [],
    rootStepId: steps[0]!.id as never,
    status: "succeeded",
    submittedAt: 0,
    submittedSeq: 1,
    updatedAt: 0,
    lastSeq: 1,
    steps: steps.length,
    executions: steps.length,
    pending: 0,
  },
  steps: steps.map((s) => step(runId, s)),
  executions: {},
  assets: {},
});

const execution = (id: string, attempt: number, reason: ExecutionDoc["reason"], memoKey?: string): ExecutionDoc => ({
  executionId: id as never,
  runId: "B" as never,
  stepId: "3" as never,
  attempt,
  reason,
  ...(memoKey === undefined ? {} : { memoKey }),
  createdAt: 0,
  createdSeq: attempt,
  status: "succeeded",
  assetsPersisted: [],
  assetsRestored: [],
});

/** A pipeline: root 1 calls 2, 3, 4 in that order; 3 calls 5. */
const pipeline = (over: Partial<Record<string, Partial<S>>> = {}, runId = "A"): RunView =>
  view(
    runId,
    [
      { id: "1", t: "daily", args: ["d"], result: 10, memo: "m1" },
      { id: "2", t: "extract", args: ["d"], result: [1, 2], memo: "m2", by: ["1-x1", 1] },
      { id: "3", t: "score", args: [[1, 2]], result: [3, 4], memo: "m3", by: ["1-x1", 2] },
      { id: "4", t: "report", args: [[3, 4]], result: 7, memo: "m4", by: ["1-x1", 3] },
      { id: "5", t: "norm", args: [3], result: 3, memo: "m5", by: ["3-x1", 1] },
    ].map((s) => ({ ...s, ...over[s.id] }) as S),
  );

const summary = (a: RunView, b: RunView) => compareRuns(a, b).steps.map((m) => [m.place, m.change, m.a?.stepId, m.b?.stepId]);

describe("compareRuns", () => {
  it("places follow the call tree in call order, whatever the order of the steps in the view", () => {
    const v = pipeline();
    const shuffled: RunView = { ...v, steps: [v.steps[0]!, v.steps[3]!, v.steps[4]!, v.steps[1]!, v.steps[2]!] };
    const places = (t = callTree(shuffled)): string[] => (t ? [t.place, ...t.calls.flatMap((c) => places(c))] : []);
    expect(places()).toEqual(["root", "root/1:extract", "root/2:score", "root/2:score/1:norm", "root/3:report"]);
  });

  it("a run compared with itself is the same everywhere", () => {
    const c = compareRuns(pipeline(), pipeline({}, "B"));
    expect(c.steps.map((m) => m.change)).toEqual(["same", "same", "same", "same", "same"]);
    expect(c.counts.same).toBe(5);
    expect(c.steps.every((m) => m.changes.length === 0 && m.a?.stepId === m.b?.stepId)).toBe(true);
  });

  it("steps match by place, not by id: a re-run caller's new calls match the old ones", () => {
    // In B the root was re-run (execution 1-x2): its calls are new steps 6, 7, 8 (2, 3, 4 are earlier calls, superseded).
    const b = view("A", [
      { id: "1", t: "daily", args: ["d"], result: 10, memo: "m1", executions: ["1-x2"], reusedFrom: "1-x1" },
      { id: "2", t: "extract", args: ["d"], result: [1, 2], memo: "m2", by: ["1-x1", 1], status: "reused", executions: [] },
      { id: "3", t: "score", args: [[1, 2]], result: [3, 4], memo: "m3", by: ["1-x1", 2], status: "reused", executions: [] },
      { id: "4", t: "report", args: [[3, 4]], result: 7, memo: "m4", by: ["1-x1", 3], status: "reused", executions: [] },
      { id: "5", t: "norm", args: [3], result: 3, memo: "m5", by: ["3-x1", 1], status: "reused", executions: [] },
      { id: "6", t: "extract", args: ["d"], result: [1, 2], memo: "m2", by: ["1-x2", 1], status: "reused", executions: [] },
      { id: "7", t: "score", args: [[1, 2]], result: [3, 9], memo: "m3", by: ["1-x2", 2], executions: ["7-x1"] },
      { id: "8", t: "report", args: [[3, 4]], result: 7, memo: "m4", by: ["1-x2", 3], status: "reused", executions: [] },
    ]);
    expect(summary(pipeline(), b)).toEqual([
      ["root", "same", "1", "1"],
      ["root/1:extract", "same", "2", "6"],
      ["root/2:score", "result-changed", "3", "7"],
      ["root/2:score/1:norm", "only-in-a", "5", undefined],
      ["root/3:report", "same", "4", "8"],
    ]);
  });

  it("a step brought into a branch keeps the calls of the execution it was reused from", () => {
    const b = pipeline({ "1": { status: "reused", executions: [], reusedFrom: "1-x1" }, "3": { result: [3, 5], executions: ["3-x2"], reusedFrom: "3-x1" } }, "A");
    const c = compareRuns(pipeline(), b);
    expect(c.steps.map((m) => [m.place, m.change])).toEqual([
      ["root", "same"],
      ["root/1:extract", "same"],
      ["root/2:score", "result-changed"],
      ["root/2:score/1:norm", "same"],
      ["root/3:report", "same"],
    ]);
    expect(c.counts["result-changed"]).toBe(1);
  });

  it("a caller resumed after its agent was lost keeps the calls it resumed (their steps name the abandoned execution), with its new ones", () => {
    const call = (by: string, n: number, stepId: string) => stepCalled(by, n, stepId, { target: "charge", arguments: [n], memoKey: `memo-charge-${n}` });
    const done = (runId: string, stepId: string) => [executionAssigned(`${runId}-${stepId}-1`), executionSucceeded(`${runId}-${stepId}-1`, `charged`)];
    // C: the root calls charge(1), charge(2), charge(3) and returns.
    const c1 = executionIdOf("C", "1", 1);
    const clean = [environmentCreated(), agentConnected(), runSubmitted("C"), executionAssigned(c1), call(c1, 1, "2"), ...done("C", "2"), call(c1, 2, "3"), ...done("C", "3"), call(c1, 3, "4"), ...done("C", "4"), executionSucceeded(c1, "done")];
    // K: the same, but the agent is lost after the first two calls; the retry resumes them and makes the third anew.
    const [k1, k2] = [executionIdOf("K", "1", 1), executionIdOf("K", "1", 2)];
    const resumed = (n: number, stepId: string) => runEvent("CallResumed", "K", { executionId: k2, callId: `${k2}/${n}`, resumedCallId: `${k1}/${n}`, step: { runId: "K", stepId } });
    const crashed = [
      environmentCreated(),
      agentConnected(),
      runSubmitted("K"),
      executionAssigned(k1),
      call(k1, 1, "2"),
      ...done("K", "2"),
      call(k1, 2, "3"),
      ...done("K", "3"),
      executionAbandoned(k1, "agent-lost"),
      executionCreated(k2, { reason: "retry", resumes: k1 }),
      executionAssigned(k2),
      resumed(1, "2"),
      resumed(2, "3"),
      call(k2, 3, "4"),
      ...done("K", "4"),
      executionSucceeded(k2, "done"),
    ];
    const a = getRunView(storeOf(...clean), "C" as never)!;
    const b = getRunView(storeOf(...crashed), "K" as never)!;
    expect(b.executions[k2]?.resumes).toBe(k1);
    expect(b.steps.find((s) => s.stepId === "2")?.parentExecutionId).toBe(k1);
    expect(summary(a, b)).toEqual([
      ["root", "same", "1", "1"],
      ["root/1:charge", "same", "2", "2"],
      ["root/2:charge", "same", "3", "3"],
      ["root/3:charge", "same", "4", "4"],
    ]);
    expect(summary(b, a).map((m) => m[1])).toEqual(["same", "same", "same", "same"]);
  });

  it("result-changed: another result, an error instead of a result, or another error", () => {
    expect(summary(pipeline(), pipeline({ "4": { result: 8 } }))[4]).toEqual(["root/3:report", "result-changed", "4", "4"]);
    const failed = compareRuns(pipeline(), pipeline({ "4": { result: undefined, error: "boom" } }));
    expect(failed.steps[4]!.change).toBe("result-changed");
    expect(failed.steps[4]!.b!.outcome).toContain("boom");
    expect(failed.steps[4]!.b!.status).toBe("failed");
    const errors = compareRuns(pipeline({ "4": { result: undefined, error: "x" } }), pipeline({ "4": { result: undefined, error: "y" } }));
    expect(errors.steps[4]!.change).toBe("result-changed");
    const sameError = compareRuns(pipeline({ "4": { result: undefined, error: "x" } }), pipeline({ "4": { result: undefined, error: "x" } }));
    expect(sameError.steps[4]!.change).toBe("same");
  });

  it("a reused result equal to the original is the same; key order of objects does not matter", () => {
    const c = compareRuns(pipeline({ "2": { result: { a: 1, b: 2 } } }), pipeline({ "2": { result: { b: 2, a: 1 }, status: "reused", executions: [] } }));
    expect(c.steps[1]!.change).toBe("same");
  });

  it("code-changed: equal target and arguments, another memo key; also result-changed when the result differs", () => {
    const c = compareRuns(pipeline(), pipeline({ "3": { memo: "m3-v2", result: [3, 9] } }));
    expect(c.steps[2]!.change).toBe("code-changed");
    expect(c.steps[2]!.changes).toEqual(["code-changed", "result-changed"]);
    const quiet = compareRuns(pipeline(), pipeline({ "3": { memo: "m3-v2" } }));
    expect(quiet.steps[2]!.changes).toEqual(["code-changed"]);
    // Without memo keys nothing can be said about code.
    const none = compareRuns(pipeline({ "3": { memo: undefined } }), pipeline({ "3": { memo: "m3-v2" } }));
    expect(none.steps[2]!.change).toBe("same");
  });

  it("code-changed for a step re-run with other code, without cascade: the re-run's memo key (on its execution) counts", () => {
    /** Step 3 of `v` with these executions (reason, memo key recorded on ExecutionCreated). */
    const withExecutions = (v: RunView, xs: [string, ExecutionDoc["reason"], string | undefined][]): RunView => ({
      ...v,
      steps: v.steps.map((s) => (s.stepId === "3" ? { ...s, executions: xs.map(([id]) => id as never) } : s)),
      executions: Object.fromEntries(xs.map(([id, reason, memoKey], i) => [id, execution(id, i + 1, reason, memoKey)])),
    });
    // B re-ran score with new code (its ExecutionCreated carries the new key); the step keeps the key it was scheduled with.
    const rerun = withExecutions(pipeline({ "3": { result: [3, 9] } }, "B"), [["3-x1", "first", undefined], ["3-x2", "rerun", "m3-v2"]]);
    expect(rerun.steps[2]!.memoKey).toBe("m3");
    expect(currentMemoKey(rerun, rerun.steps[2]!)).toBe("m3-v2");
    expect(compareRuns(pipeline(), rerun).steps[2]!.changes).toEqual(["code-changed", "result-changed"]);
    expect(compareRuns(rerun, pipeline()).steps[2]!.changes).toEqual(["code-changed", "result-changed"]);
    // A retry of that re-run keeps its key; a later re-run that records none is back on the scheduled code.
    const retried = withExecutions(pipeline({}, "B"), [["3-x1", "first", undefined], ["3-x2", "rerun", "m3-v2"], ["3-x3", "retry", undefined]]);
    expect(compareRuns(pipeline(), retried).steps[2]!.changes).toEqual(["code-changed"]);
    const back = withExecutions(pipeline({}, "B"), [["3-x1", "first", undefined], ["3-x2", "rerun", "m3-v2"], ["3-x3", "rerun", undefined]]);
    expect(currentMemoKey(back, back.steps[2]!)).toBe("m3");
    expect(compareRuns(pipeline(), back).steps[2]!.change).toBe("same");
    // Both sides re-run with the same new code: the same.
    expect(compareRuns(rerun, withExecutions(pipeline({ "3": { result: [3, 9] } }, "C"), [["3-x1", "first", undefined], ["3-x2", "rerun", "m3-v2"]])).steps[2]!.change).toBe("same");
  });

  it("the executions projection keeps the memo key of a re-run's ExecutionCreated", () => {
    const ctx = { seq: 7, get: () => undefined } as never;
    const created = (memoKey?: string) =>
      ({
        type: "ExecutionCreated",
        v: 1,
        runId: "R",
        at: 1,
        data: { executionId: "R-3-2", stepId: "3", attempt: 2, reason: "rerun", ...(memoKey ? { memoKey } : {}) },
      }) as never;
    expect(executionsProjection.evolve(undefined, created("m3-v2"), "R-3-2", ctx)?.memoKey).toBe("m3-v2");
    expect(executionsProjection.evolve(undefined, created(), "R-3-2", ctx)).not.toHaveProperty("memoKey");
  });

  it("arguments-changed: other arguments (the memo key then differs too, and is not called a code change)", () => {
    const c = compareRuns(pipeline(), pipeline({ "4": { args: [[3, 9]], memo: "m4b", result: 12 } }));
    expect(c.steps[4]!.changes).toEqual(["arguments-changed", "result-changed"]);
    expect(c.steps[4]!.a!.arguments).toBe("([3,4])");
    expect(c.steps[4]!.b!.arguments).toBe("([3,9])");
  });

  it("only-in-a / only-in-b: a call missing on one side, with its own calls; another target at an index is two places", () => {
    const a = pipeline();
    const b = view("B", [
      { id: "1", t: "daily", args: ["d"], result: 10, memo: "m1" },
      { id: "2", t: "extract", args: ["d"], result: [1, 2], memo: "m2", by: ["1-x1", 1] },
      { id: "3", t: "rank", args: [[1, 2]], result: [3, 4], memo: "mr", by: ["1-x1", 2] },
      { id: "4", t: "report", args: [[3, 4]], result: 7, memo: "m4", by: ["1-x1", 3] },
      { id: "5", t: "audit", args: [], result: true, memo: "ma", by: ["1-x1", 4] },
    ]);
    expect(summary(a, b)).toEqual([
      ["root", "same", "1", "1"],
      ["root/1:extract", "same", "2", "2"],
      ["root/2:score", "only-in-a", "3", undefined],
      ["root/2:score/1:norm", "only-in-a", "5", undefined],
      ["root/2:rank", "only-in-b", undefined, "3"],
      ["root/3:report", "same", "4", "4"],
      ["root/4:audit", "only-in-b", undefined, "5"],
    ]);
    const c = compareRuns(a, b);
    expect(c.counts).toMatchObject({ same: 3, "only-in-a": 2, "only-in-b": 2 });
  });

  it("roots of other targets are arguments-changed; previews are short", () => {
    const long = "x".repeat(500);
    const c = compareRuns(pipeline({ "4": { result: long } }), view("B", [{ id: "1", t: "weekly", args: [long], result: 1 }]));
    expect(c.steps[0]!.change).toBe("arguments-changed");
    expect(c.steps[0]!.b!.arguments.length).toBeLessThanOrEqual(80);
    expect(c.steps.filter((m) => m.change === "only-in-a").map((m) => m.a!.stepId)).toEqual(["2", "3", "5", "4"]);
    expect(c.steps.find((m) => m.a?.stepId === "4")!.a!.outcome.length).toBeLessThanOrEqual(80);
  });
});

describe("Studio's compare URL", () => {
  it("reads back from its path, with names that need encoding", async () => {
    const { pathOf, placeOf, scopeOf } = await import("../../src/studio/routes.js");
    const place = { view: "compare", project: "p 1", a: { env: "production", runId: "R1" }, b: { env: "dev/x", runId: "R2" } } as const;
    const path = pathOf(place);
    expect(path).toBe("/projects/p%201/compare/production/R1/dev%2Fx/R2");
    expect(placeOf(path)).toEqual(place);
    expect(scopeOf(place)).toEqual({ project: "p 1", env: "production" });
    expect(placeOf("/projects/p/compare/production/R1/dev").view).toBe("unknown");
  });
});
