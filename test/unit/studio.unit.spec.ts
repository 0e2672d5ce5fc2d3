/**
 * Studio's pure modules (src/studio/): the URL scheme, the environments
 * tree, the step graph and its layout, and how values read. The views
 * themselves are tested in a real browser (test/e2e/studio.e2e.spec.ts).
 */
import { describe, expect, it } from "vitest";
import type { EnvironmentRow, RunAnswer } from "../../src/protocol/api.js";
import { HANDLE_TAG } from "../../src/protocol/constants.js";
import { earlierSteps, stepRunTime } from "../../src/protocol/run-tree.js";
import { argsPreview, handlesIn, layoutsMade, runGraph } from "../../src/studio/graph.js";
import { count, showDuration, showValue, stackBelow } from "../../src/studio/format.js";
import { pathOf, placeOf, type Place } from "../../src/studio/routes.js";
import { envForest, type EnvNode } from "../../src/studio/tree.js";
import { fitLabel, timelineOf } from "../../src/studio/timeline.js";
import { forStudio } from "../../src/studio/messages.js";
import { rejectionMessage } from "../../src/orchestrator/core/rejections.js";

describe("Studio's URL scheme", () => {
  const places: Place[] = [
    { view: "home" },
    { view: "project", project: "default" },
    { view: "runs", project: "default", env: "dev-joe" },
    { view: "run", project: "p", env: "production", runId: "01ABC" },
    { view: "run", project: "p", env: "production", runId: "01ABC", stepId: "3" },
    { view: "run", project: "p", env: "production", runId: "01ABC", stepId: "3", executionId: "01ABC-3-2" },
    { view: "history", project: "p", env: "production", runId: "01ABC" },
    { view: "history", project: "p", env: "production", runId: "01ABC", stepId: "3" },
    { view: "asset", project: "p", env: "production", assetId: "a1" },
    { view: "logs", project: "p", env: "production", runId: "01ABC" },
    { view: "agents", project: "p", env: "dev" },
  ];

  it("every place has a path that reads back as the same place", () => {
    for (const p of places) expect(placeOf(pathOf(p))).toEqual(p);
  });

  it("paths are percent-encoded segment by segment", () => {
    const p: Place = { view: "runs", project: "a b", env: "x/y" };
    expect(pathOf(p)).toBe("/projects/a%20b/envs/x%2Fy");
    expect(placeOf(pathOf(p))).toEqual(p);
  });

  it("…/runs is the environment's runs too; anything else is no place", () => {
    expect(placeOf("/projects/p/envs/e/runs")).toEqual({ view: "runs", project: "p", env: "e" });
    for (const path of ["/x", "/projects", "/projects/p/nope", "/projects/p/envs/e/runs/r/steps", "/projects/p/envs/e/runs/r/steps/s/x/y", "/projects/p/envs/e/runs/r/history/x", "/projects/p/envs/e/runs/r/history/steps", "/projects/%zz"]) {
      expect(placeOf(path)).toEqual({ view: "unknown", path });
    }
  });
});

const row = (name: string, extra: Record<string, unknown> = {}): EnvironmentRow => ({ name, lastSeq: 1, archived: false, ...extra }) as unknown as EnvironmentRow;

describe("the environments tree", () => {
  it("puts a branch under its parent and an environment with a base under the base, each level by name", () => {
    const forest = envForest([row("staging", { base: "production" }), row("production"), row("dev", { branchedFrom: { parent: "production", at: 4 } }), row("other")]);
    const shape = (ns: readonly EnvNode[]): unknown => ns.map((n) => [n.row.name, shape(n.children)]);
    expect(shape(forest)).toEqual([
      ["other", []],
      ["production", [["dev", []], ["staging", []]]],
    ]);
  });

  it("keeps every row, whatever the parents: one missing from the list, or a loop", () => {
    const forest = envForest([row("a", { base: "b" }), row("b", { base: "a" }), row("c", { base: "gone" })]);
    const names: string[] = [];
    const walk = (ns: readonly EnvNode[]) => ns.forEach((n) => (names.push(n.row.name), walk(n.children)));
    walk(forest);
    expect(names.sort()).toEqual(["a", "b", "c"]);
  });
});

/** A run view of the shape the API answers: root → child; `waiter` (called by root) is given child's handle; `reused` came from production. */
const view = (): RunAnswer => {
  const step = (stepId: string, target: string, extra: Record<string, unknown> = {}) => ({
    runId: "R",
    stepId,
    target: { repository: "repo", target },
    kind: "task",
    arguments: [],
    options: {},
    scheduledAt: 0,
    scheduledSeq: 1,
    status: "succeeded",
    executions: [`x${stepId}`],
    ...extra,
  });
  const exec = (stepId: string) => ({ executionId: `x${stepId}`, runId: "R", stepId, attempt: 1, reason: "first", createdAt: 0, createdSeq: 1, status: "succeeded", startedAt: 10, finishedAt: 40, assetsPersisted: [], assetsRestored: [] });
  return {
    run: { runId: "R", rootStepId: "1", status: "succeeded" },
    steps: [
      step("1", "root", { kind: "workflow" }),
      step("2", "child", { parentExecutionId: "x1", arguments: [7] }),
      step("3", "waiter", { parentExecutionId: "x1", arguments: [{ list: [{ [HANDLE_TAG]: { runId: "R", stepId: "2", executionId: "x2" } }] }] }),
      step("4", "reused", { parentExecutionId: "x1", status: "reused", executions: [], resultReused: true, reusedFrom: { env: "production", runId: "Q", stepId: "9", executionId: "q9", seq: 3 } }),
    ],
    executions: { x1: exec("1"), x2: exec("2"), x3: exec("3") },
    assets: {},
    stale: ["3"],
  } as unknown as RunAnswer;
};

describe("the run graph", () => {
  it("has a call edge from each caller to each step it called, and a wait edge from a step to the one given its handle", () => {
    const g = runGraph(view(), "dev");
    expect(g.edges.map((e) => [e.from, e.to, e.kind]).sort()).toEqual([
      ["1", "2", "call"],
      ["1", "3", "call"],
      ["1", "4", "call"],
      ["2", "3", "wait"],
    ]);
    for (const e of g.edges) expect(e.points.length).toBeGreaterThanOrEqual(2);
  });

  it("in a branch's run, a call edge from a reused caller to the steps its reused execution called", () => {
    const v = view() as unknown as { steps: Record<string, unknown>[]; executions: Record<string, unknown> };
    // The root reused from production (its execution there, p1, is not in this view), and its calls named p1.
    v.steps[0] = { ...v.steps[0], status: "reused", executions: [], reusedFrom: { env: "production", runId: "R", stepId: "1", executionId: "p1", seq: 9 } };
    for (const s of v.steps.slice(1)) s["parentExecutionId"] = "p1";
    delete v.executions["x1"];
    const g = runGraph(v as unknown as RunAnswer, "dev");
    expect(g.edges.filter((e) => e.kind === "call").map((e) => [e.from, e.to]).sort()).toEqual([
      ["1", "2"],
      ["1", "3"],
      ["1", "4"],
    ]);
  });

  it("marks reuse, inheritance from another environment, and stale results; shows attempts and arguments", () => {
    const g = runGraph(view(), "dev");
    const byId = Object.fromEntries(g.nodes.map((n) => [n.stepId, n]));
    expect(byId["4"]!.markers).toEqual(["cached", "from production"]);
    expect(byId["3"]!.markers).toEqual(["stale"]);
    expect(byId["2"]!.label).toBe("child(7)");
    expect(byId["2"]!.attempts).toBe(1);
    expect(byId["2"]!.duration).toBe("30 ms");
    expect(runGraph(view(), "production").nodes.find((n) => n.stepId === "4")!.markers).toEqual(["cached"]);
  });

  it("a step brought in from production and re-run here is not marked cached or from production once its own result is in", () => {
    const v = view() as unknown as { steps: Record<string, unknown>[]; executions: Record<string, unknown> };
    const { resultReused: _, ...rerun } = v.steps[3]!;
    v.steps[3] = { ...rerun, status: "succeeded", executions: ["x4"], resultExecutionId: "x4" };
    v.executions["x4"] = { ...(v.executions["x2"] as object), executionId: "x4", stepId: "4", reason: "rerun" };
    expect(runGraph(v as unknown as RunAnswer, "dev").nodes.find((n) => n.stepId === "4")!.markers).toEqual([]);
    // While the re-run is under way the reused result is still the one shown, and so marked.
    v.steps[3] = { ...v.steps[3], status: "pending", resultReused: true, resultExecutionId: undefined };
    expect(runGraph(v as unknown as RunAnswer, "dev").nodes.find((n) => n.stepId === "4")!.markers).toEqual(["cached", "from production"]);
  });

  it("lays the steps out left to right, callers before callees, no two nodes overlapping, all inside the drawing", () => {
    const g = runGraph(view(), "dev");
    const at = Object.fromEntries(g.nodes.map((n) => [n.stepId, n]));
    for (const e of g.edges) expect(at[e.from]!.x).toBeLessThan(at[e.to]!.x);
    for (const a of g.nodes) {
      expect(a.x - a.width / 2).toBeGreaterThanOrEqual(0);
      expect(a.y + a.height / 2).toBeLessThanOrEqual(g.height);
      for (const b of g.nodes) {
        if (a === b) continue;
        const apart = Math.abs(a.x - b.x) >= (a.width + b.width) / 2 || Math.abs(a.y - b.y) >= (a.height + b.height) / 2;
        expect(apart, `${a.stepId} and ${b.stepId} overlap`).toBe(true);
      }
    }
  });

  it("reuses the layout while the structure stays (statuses change), lays out again when a step appears", () => {
    const a = runGraph(view(), "dev");
    const cached = layoutsMade();
    const first = view();
    (first.steps[2] as { status: string }).status = "running";
    expect(runGraph(first, "dev").nodes.find((n) => n.stepId === "3")!.status).toBe("running");
    const b = runGraph(view(), "dev");
    expect(layoutsMade()).toBe(cached);
    expect(b.nodes.find((n) => n.stepId === "3")!.status).toBe("succeeded");
    expect(b.nodes.map((n) => [n.stepId, n.x, n.y])).toEqual(a.nodes.map((n) => [n.stepId, n.x, n.y]));
    const grown = view();
    (grown.steps as unknown[]).push({ ...grown.steps[1]!, stepId: "5" });
    const c = runGraph(grown, "dev");
    expect(layoutsMade()).toBe(cached + 1);
    expect(c.nodes).toHaveLength(5);
  });

  it("draws a view as of an earlier commit in the latest view's layout (the history view): nothing laid out again", () => {
    const latest = view();
    (latest.steps as unknown[]).push({ ...latest.steps[1]!, stepId: "5", arguments: [8] });
    const whole = runGraph(latest, "dev");
    const made = layoutsMade();
    // Earlier: only the root and its first call, both still running.
    const early = view();
    (early as unknown as { steps: unknown[] }).steps = early.steps.slice(0, 2).map((s) => ({ ...s, status: "running" }));
    const g = runGraph(early, "dev", 20, latest);
    expect(layoutsMade()).toBe(made);
    const at = new Map(whole.nodes.map((n) => [n.stepId, n]));
    expect(g.nodes.map((n) => [n.stepId, n.status, n.x, n.y])).toEqual([
      ["1", "running", at.get("1")!.x, at.get("1")!.y],
      ["2", "running", at.get("2")!.x, at.get("2")!.y],
    ]);
    expect(g.edges.map((e) => [e.from, e.to, e.points])).toEqual([["1", "2", whole.edges.find((e) => e.from === "1" && e.to === "2")!.points]]);
    expect([g.width, g.height]).toEqual([whole.width, whole.height]);
    // Every point of the history in the same frame: still nothing laid out.
    for (let n = 1; n <= latest.steps.length; n++) runGraph({ ...latest, steps: latest.steps.slice(0, n) }, "dev", 20, latest);
    expect(layoutsMade()).toBe(made);
    // A view that does not fit the frame (a step it lacks, or a node wider than the frame's) is laid out alone, without overlaps.
    const other = view();
    (other.steps as unknown[]).push({ ...other.steps[1]!, stepId: "6" });
    expect(runGraph(other, "dev", 20, latest).nodes.map((n) => n.stepId)).toEqual(["1", "2", "3", "4", "6"]);
    expect(layoutsMade()).toBe(made + 1);
    const wide = view();
    (wide.steps as unknown as { arguments: unknown[] }[])[1]!.arguments = ["a long argument that makes the node wider than the frame's"];
    const w = runGraph(wide, "dev", 20, latest);
    expect(layoutsMade()).toBe(made + 2);
    const [n1, n2] = [w.nodes.find((n) => n.stepId === "2")!, w.nodes.find((n) => n.stepId === "3")!];
    expect(Math.abs(n1.x - n2.x) >= (n1.width + n2.width) / 2 || Math.abs(n1.y - n2.y) >= (n1.height + n2.height) / 2).toBe(true);
  });

  it("marks the steps of a caller's earlier execution (a re-run with cascade) as earlier, as `runs show` does, and times a step by its latest execution", () => {
    const v = view() as unknown as { steps: Record<string, unknown>[]; executions: Record<string, Record<string, unknown>> };
    // The root re-run (x1b, 150 s after x1): it called child and waiter again (5, 6); 2, 3, 4 are x1's calls, and 7 is 2's own call.
    v.steps[0] = { ...v.steps[0], executions: ["x1", "x1b"] };
    v.executions["x1b"] = { ...v.executions["x1"]!, executionId: "x1b", attempt: 2, reason: "rerun", startedAt: 150_000, finishedAt: 150_012 };
    v.steps.push({ ...v.steps[1]!, stepId: "5", parentExecutionId: "x1b", executions: ["x5"] }, { ...v.steps[1]!, stepId: "6", parentExecutionId: "x1b", executions: ["x6"] });
    v.steps.push({ ...v.steps[1]!, stepId: "7", parentExecutionId: "x2", executions: ["x7"] });
    for (const id of ["5", "6", "7"]) v.executions[`x${id}`] = { ...v.executions["x2"]!, executionId: `x${id}`, stepId: id };
    const r = v as unknown as RunAnswer;
    expect([...earlierSteps(r)].sort()).toEqual(["2", "3", "4"]);
    const g = runGraph(r, "dev");
    const byId = Object.fromEntries(g.nodes.map((n) => [n.stepId, n]));
    for (const id of ["2", "3", "4", "7"]) expect([id, byId[id]!.earlier, byId[id]!.markers.includes("earlier")]).toEqual([id, true, true]);
    for (const id of ["1", "5", "6"]) expect([id, byId[id]!.earlier]).toEqual([id, false]);
    // The root's duration is its latest execution's run time, not the span from its first start.
    expect(byId["1"]!.duration).toBe("12 ms");
    expect(stepRunTime(r, r.steps[0]!)).toEqual({ from: 150_000, to: 150_012 });
    // A resumed execution keeps the calls of the one it resumed.
    v.executions["x1b"] = { ...v.executions["x1b"]!, resumes: "x1" };
    expect([...earlierSteps({ ...r, steps: [...r.steps] })]).toEqual([]);
  });

  it("stacks a caller's calls in the order it made them, the first on top", () => {
    const v = view() as unknown as { steps: Record<string, unknown>[] };
    v.steps[2] = { ...v.steps[2], arguments: [] };
    v.steps[3] = { ...v.steps[3], status: "succeeded", executions: ["x4"], resultReused: undefined, reusedFrom: undefined };
    const r = v as unknown as RunAnswer;
    (r.executions as Record<string, unknown>)["x4"] = { ...r.executions["x2" as never], executionId: "x4", stepId: "4" };
    const y = Object.fromEntries(runGraph(r, "dev").nodes.map((n) => [n.stepId, n.y]));
    expect(y["2"]!).toBeLessThan(y["3"]!);
    expect(y["3"]!).toBeLessThan(y["4"]!);
  });

  it("finds handles nested anywhere in arguments, only of this run", () => {
    const h = (runId: string, stepId: string) => ({ [HANDLE_TAG]: { runId, stepId, executionId: "x" } });
    expect([...handlesIn([h("R", "1"), { a: [h("R", "2"), h("OTHER", "3")] }], "R")].sort()).toEqual(["1", "2"]);
  });
});

describe("the timeline of executions", () => {
  it("has a row per execution in the order they were made, the wait apart from the run, in ms from the submission", () => {
    const v = view();
    const run = { ...v.run, submittedAt: 0, finishedAt: 100 };
    const xs = { ...v.executions, x3: { ...v.executions["x3"]!, createdSeq: 0, createdAt: 5, startedAt: undefined, finishedAt: undefined, status: "queued" } };
    const t = timelineOf({ ...v, run, executions: xs } as unknown as RunAnswer, 1000);
    expect(t.rows.map((r) => [r.executionId, r.label, r.queued, r.ran])).toEqual([
      ["x3", "waiter({…}) #1", { from: 5, to: 100 }, undefined],
      ["x1", "root() #1", { from: 0, to: 10 }, { from: 10, to: 40 }],
      ["x2", "child(7) #1", { from: 0, to: 10 }, { from: 10, to: 40 }],
    ]);
    expect(t.span).toBe(100);
  });
});

describe("how values read", () => {
  it("JSON values read as JSON; the API's other values by what they are", () => {
    const v = { a: [1, "x", null], b: true };
    expect(JSON.parse(showValue(v))).toEqual(v);
    expect(showValue([12n, new Date(0), new Uint8Array(3)], 0).replace(/\s+/g, "")).toBe('[12n,1970-01-01T00:00:00.000Z,<bytes:3>]');
    expect(showValue({ [HANDLE_TAG]: { runId: "R", stepId: "2" } })).toBe("<handle: step 2 of run R>");
  });

  it("previews arguments in a few characters, and durations in units a reader takes in", () => {
    expect(argsPreview([101])).toBe("101");
    expect(argsPreview(["a", [1, 2, 3], { k: 1 }])).toBe('"a", [3 items], {…}');
    expect(argsPreview(["x".repeat(50)]).length).toBe(24);
    expect([showDuration(850), showDuration(1250), showDuration(65_000), showDuration(7_500_000)]).toEqual(["850 ms", "1.3 s", "1 min 5 s", "2 h 5 min"]);
  });
});

describe("the server's messages in Studio", () => {
  it("drop the CLI's advice (or say what to do here instead) and keep the rest; the server's own messages keep it", () => {
    const noRun = rejectionMessage({ _tag: "UnknownRun", runId: "R9" } as never);
    expect(noRun).toMatch(/'tributary runs ls'/);
    expect(forStudio(noRun)).toBe("no run R9 in this environment");
    expect(forStudio("no token: give one with --token or TRIBUTARY_TOKEN (an 'Authorization: Bearer' header over HTTP)")).toBe("no token: give one in the token field");
    expect(forStudio("no connected agent hosts flows:gpu now: it waits until one connects to p/dev ('tributary agent --env dev MODULE')")).toBe(
      "no connected agent hosts flows:gpu now: it waits until one connects to p/dev",
    );
    expect(forStudio("run R has already finished; see it with 'tributary runs show R'")).toBe("run R has already finished");
    // No CLI advice: as it is, colons and all.
    expect(forStudio("arguments: item 0: expected a number")).toBe("arguments: item 0: expected a number");
  });
});

describe("small things read right", () => {
  it("counts in the singular for one", () => {
    expect([count(1, "step"), count(2, "step"), count(0, "execution")]).toEqual(["1 step", "2 steps", "0 executions"]);
  });

  it("an error's stack without its first line when that only repeats the message", () => {
    const stack = "Error: card declined\n    at charge (flows.ts:3:9)";
    expect(stackBelow({ type: "Error", message: "card declined", stack })).toBe("    at charge (flows.ts:3:9)");
    expect(stackBelow({ type: "PaymentError", message: "card declined", stack })).toBe("    at charge (flows.ts:3:9)");
    // A first line that says something else stays.
    expect(stackBelow({ type: "Error", message: "other", stack })).toBe(stack);
    expect(stackBelow({ type: "Error", message: "card declined", stack: "Error: card declined" })).toBeUndefined();
  });

  it("a timeline label fits its column, cut with an ellipsis", () => {
    const label = "a_rather_long_target_name(101, 102) #1";
    const cut = fitLabel(label, 110);
    expect(cut.length * 6.6).toBeLessThanOrEqual(110);
    expect(cut.endsWith("…")).toBe(true);
    expect(label.startsWith(cut.slice(0, -1))).toBe(true);
    expect(fitLabel("f(1) #1", 110)).toBe("f(1) #1");
  });
});
