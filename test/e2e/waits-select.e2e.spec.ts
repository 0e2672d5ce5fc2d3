/**
 * `select` (the first of several handles, the rest cancelled or not, under
 * `suspense` too) and recurrent targets, on both logs.
 */
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ExecutionDoc, RunView } from "../../src/projections/index.js";
import { LOG_KINDS, startHarness, type Harness } from "./support.js";

const WAITS = resolve(import.meta.dirname, "fixtures/waits.ts");

const executionsOf = (view: RunView, stepId: string): ExecutionDoc[] =>
  view.steps.find((s) => s.stepId === stepId)!.executions.map((id) => view.executions[id]!);

describe.each(LOG_KINDS)("select and recurrent targets on the %s log", (kind) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("select resolves with the first to finish and cancels the rest", async () => {
    h = await startHarness(kind);
    await h.agent({ modules: [WAITS] });
    const { outcome, view } = await h.api.run("waits:race", [100, 20_000]);
    expect(outcome).toEqual({ status: "succeeded", value: { index: 1, value: "fast!", remaining: 1 } });
    const [slow, fast] = view.steps.filter((s) => s.target.target === "slow_echo");
    expect(fast!.status).toBe("succeeded");
    expect(slow!.status).toBe("cancelled");
  });

  it("select under suspense suspends until either has finished, then takes it", async () => {
    h = await startHarness(kind);
    await h.agent({ modules: [WAITS] });
    const { runId, outcome, view } = await h.api.run("waits:patient_race", [500, 5000]);
    expect(outcome).toEqual({ status: "succeeded", value: { index: 1, value: "fast!" } });
    const roots = executionsOf(view, view.run.rootStepId);
    expect(roots.map((x) => x.status)).toEqual(["suspended", "succeeded"]);
    const children = view.steps.filter((s) => s.target.target === "slow_echo").map((s) => `${runId}/${s.stepId}`);
    expect(roots[0]!.suspended?.waitingFor).toEqual(children);
    expect(children.length).toBe(2); // the resume reused both calls
    const fast = view.steps.find((s) => s.arguments[0] === "fast")!;
    expect(roots[1]!.assignedAt!).toBeGreaterThanOrEqual(fast.finishedAt!);
  });

  it("a recurrent task executes again after each execution returning nothing, until one returns a value", async () => {
    h = await startHarness(kind);
    await h.agent({ modules: [WAITS] });
    const { runId, outcome, view } = await h.api.run("waits:poller", [3]);
    expect(outcome).toEqual({ status: "succeeded", value: 3 });
    const step = view.steps.find((s) => s.target.target === "countdown")!;
    const xs = executionsOf(view, step.stepId);
    expect(xs.map((x) => [x.reason, x.status])).toEqual([["first", "recurred"], ["recur", "recurred"], ["recur", "succeeded"]]);
    expect(xs[1]!.notBefore! - xs[0]!.finishedAt!).toBe(100);
    const history = await h.api.history(runId);
    const recurred = history.filter((e) => e.type === "ExecutionRecurred");
    expect(recurred.length).toBe(2);
    for (const r of recurred) {
      expect(history.some((e) => e.seq === r.seq && e.type === "ExecutionCreated" && e.data["reason"] === "recur")).toBe(true);
    }
  });

  it("a recurrent workflow recurs as a run's root: the run is running until a value comes", async () => {
    h = await startHarness(kind);
    await h.agent({ modules: [WAITS] });
    const { outcome, view } = await h.api.run("waits:recurring_flow", [3]);
    expect(outcome).toEqual({ status: "succeeded", value: 3 });
    expect(executionsOf(view, view.run.rootStepId).map((x) => x.status)).toEqual(["recurred", "recurred", "succeeded"]);
    expect(view.steps.filter((s) => s.target.target === "echo").map((s) => s.arguments[0])).toEqual(["round 1", "round 2", "round 3"]);
  });
});
