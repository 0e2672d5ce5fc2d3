/**
 * Waiting without holding an agent, on both logs: `suspend` (a durable
 * sleep), `suspense` (a wait longer than its time-out suspends), and 200
 * workflows suspended on one agent of concurrency 4.
 */
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ExecutionDoc, RunView } from "../../src/projections/index.js";
import { cli, LOG_KINDS, startHarness, type Harness } from "./support.js";

const WAITS = resolve(import.meta.dirname, "fixtures/waits.ts");

const executionsOf = (view: RunView, stepId: string): ExecutionDoc[] =>
  view.steps.find((s) => s.stepId === stepId)!.executions.map((id) => view.executions[id]!);

describe.each(LOG_KINDS)("suspend and suspense on the %s log", (kind) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("suspend(ms) ends the execution and resumes it later: the call made before runs once, the sleep returns at once on resume", async () => {
    h = await startHarness(kind);
    await h.agent({ modules: [WAITS] });
    const { runId, outcome, view } = await h.api.run("waits:sleeper", [300]);
    expect(outcome).toEqual({ status: "succeeded", value: ["before!", "after!", 2] });
    const roots = executionsOf(view, view.run.rootStepId);
    expect(roots.map((x) => [x.reason, x.status])).toEqual([["first", "suspended"], ["resume", "succeeded"]]);
    expect(roots[1]!.resumes).toBe(roots[0]!.executionId);
    expect(roots[0]!.suspended?.until).toBe(roots[1]!.notBefore);
    expect(roots[1]!.startedAt!).toBeGreaterThanOrEqual(roots[0]!.suspended!.until!);
    // `echo("before")` is one step, made once and resumed by the second execution.
    expect(view.steps.map((s) => s.target.target).sort()).toEqual(["echo", "echo", "sleeper"]);
    const history = await h.api.history(runId);
    expect(history.filter((e) => e.type === "CallResumed").length).toBe(1);
    const suspended = history.find((e) => e.type === "ExecutionSuspended")!;
    const created = history.filter((e) => e.type === "ExecutionCreated" && e.data["reason"] === "resume");
    expect(created.length).toBe(1);
    expect(created[0]!.seq).toBe(suspended.seq); // one commit
    expect(suspended.data["callId"]).toBe(`${roots[0]!.executionId}/2`);
    // The CLI shows both: the tree's attempts, and the history's commit.
    const env = { TRIBUTARY_SERVER: h.server.url, TRIBUTARY_PROJECT: h.api.project };
    const show = await cli(["runs", "show", runId], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/attempt 1 \(first\) suspended \(until \d\d:\d\d:\d\d\.\d{3}\)/);
    expect(show.stdout).toContain(`attempt 2 (resume, resumes ${roots[0]!.executionId}) succeeded`);
    const lines = (await cli(["runs", "history", runId], env)).stdout.split("\n");
    const at = lines.findIndex((l) => l.includes("ExecutionSuspended"));
    expect(lines[at]).toContain(`call ${roots[0]!.executionId}/2`);
    expect(lines[at + 1]).toMatch(/ExecutionCreated .*\(resume\) resumes/);
  });

  it("two sleeps in a row (ms, then a Date): each resumes once, the first returning at once the second time", async () => {
    h = await startHarness(kind);
    await h.agent({ modules: [WAITS] });
    const { outcome, view } = await h.api.run("waits:two_sleeps", [200]);
    expect(outcome).toEqual({ status: "succeeded", value: "mid!" });
    const roots = executionsOf(view, view.run.rootStepId);
    expect(roots.map((x) => x.status)).toEqual(["suspended", "suspended", "succeeded"]);
    expect(roots.map((x) => x.suspended?.callId)).toEqual([`${roots[0]!.executionId}/1`, `${roots[1]!.executionId}/3`, undefined]);
    expect(view.steps.length).toBe(2); // the root and one echo
  });

  it("suspense: a wait longer than its time-out suspends until the step waited for has finished", async () => {
    h = await startHarness(kind);
    await h.agent({ modules: [WAITS] });
    const { outcome, view } = await h.api.run("waits:patient", [600]);
    expect(outcome).toEqual({ status: "succeeded", value: ["slow!", "next!"] });
    const roots = executionsOf(view, view.run.rootStepId);
    expect(roots.map((x) => x.status)).toEqual(["suspended", "succeeded"]);
    const slow = view.steps.find((s) => s.target.target === "slow_echo")!;
    expect(roots[0]!.suspended?.waitingFor).toEqual([`${view.run.runId}/${slow.stepId}`]);
    expect(roots[1]!.resumeWhen).toEqual([`${view.run.runId}/${slow.stepId}`]);
    // The resume was assigned only once the slow step had finished.
    expect(roots[1]!.assignedAt!).toBeGreaterThanOrEqual(slow.finishedAt!);
    expect(executionsOf(view, slow.stepId).length).toBe(1);
  });

  it("200 workflows suspended on one agent of concurrency 4 all finish, more than 4 of them suspended at once", async () => {
    h = await startHarness(kind);
    await h.agent({ modules: [WAITS], concurrency: 4 });
    const runs = await Promise.all(Array.from({ length: 200 }, (_, i) => h!.api.submit("waits:napper", [i, 1500])));
    const outcomes = await Promise.all(runs.map((r) => h!.api.result(r)));
    expect(outcomes).toEqual(runs.map((_, i) => ({ status: "succeeded", value: i })));
    // The most runs asleep at one time (suspended, resume not yet started), from the executions' own times.
    const spans: [number, number][] = [];
    for (const r of runs) {
      const view = await h.api.view(r);
      const roots = executionsOf(view, view.run.rootStepId);
      expect(roots.map((x) => x.status)).toEqual(["suspended", "succeeded"]);
      spans.push([roots[0]!.finishedAt!, roots[1]!.startedAt!]);
    }
    const most = Math.max(...spans.map(([from]) => spans.filter(([a, b]) => a <= from && from < b).length));
    expect(most).toBeGreaterThan(4);
  });
});
