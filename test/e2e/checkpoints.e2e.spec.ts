/**
 * Checkpoints: a step's durable state, seen by its retries (after a failure,
 * and after kill -9 of its agent) and by a re-run in a branch, on both logs.
 */
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunView } from "../../src/projections/index.js";
import { cli, eventually, LOG_KINDS, spawnCli, startHarness, waitForOutput, type Harness, kill9 } from "./support.js";

const CHECKPOINTS = resolve(import.meta.dirname, "fixtures/checkpoints.ts");
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const stepOf = (view: RunView, target: string) => view.steps.find((s) => s.target.target === target)!;
describe.each(LOG_KINDS)("checkpoints on the %s log", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind, { heartbeatMs: 300 });
    await h.agent({ modules: [CHECKPOINTS] });
  });
  afterAll(() => h.close());

  it("a task that fails after item 4 of 9 is retried from item 5, and runs show lists the checkpoint", async () => {
    const { runId, outcome, view } = await h.api.run("checkpoints:items_flow", [9, 4]);
    expect(outcome).toEqual({
      status: "succeeded",
      value: { done: range(1, 9), starts: [{ attempt: 1, from: 1 }, { attempt: 2, from: 5 }] },
    });
    const step = stepOf(view, "items");
    expect(step.executions.map((id) => view.executions[id]!.status)).toEqual(["failed", "succeeded"]);
    const [cp] = view.checkpoints ?? [];
    expect(cp).toMatchObject({ name: "progress", stepId: step.stepId, executionId: step.executions[1], saves: 9 });
    expect(cp!.key).toBe(`${runId}/${step.memoKey}/progress`);
    const history = await h.api.history(runId);
    expect(history.filter((e) => e.type === "CheckpointSaved")).toHaveLength(9);
    const shown = await cli(["runs", "show", runId, "--server", h.server.url, "--project", h.api.project]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/◆ checkpoint progress = \{"done":\[1,2,3,4,5,6,7,8,9\].*\(9 saves, last by /);
    const events = await cli(["runs", "history", runId, "--server", h.server.url, "--project", h.api.project]);
    expect(events.stdout).toMatch(/CheckpointSaved .*checkpoint progress by /);
  });

  it("a value over the inline limit is kept as a blob and read back by the retry", async () => {
    const { outcome, view } = await h.api.run("checkpoints:big_flow", [400_000]);
    expect(outcome).toEqual({ status: "succeeded", value: { length: 400_000, same: true } });
    expect(view.checkpoints?.[0]?.value).toMatchObject({ kind: "blob", blob: { size: expect.any(Number) } });
  });

  it("a value that cannot be saved is refused at the call site, naming the checkpoint", async () => {
    const { outcome } = await h.api.run("checkpoints:invalid");
    expect(outcome).toEqual({ status: "succeeded", value: expect.stringMatching(/^checkpoint bad: a Map cannot be passed/) });
  });

  it("after kill -9 of its agent, the retry on another agent resumes after the last checkpoint", async () => {
    // An environment of its own, so that the doomed agent is the only one that can take the run.
    expect((await h.api.call("POST", `/api/projects/${h.api.project}/envs`, { name: "crash" })).status).toBe(200);
    const crash = h.envApi("crash");
    const doomed = spawnCli(["agent", "--server", h.server.url, "--project", h.api.project, "--env", "crash", CHECKPOINTS]);
    try {
      await waitForOutput(doomed, /agent (\S+) connected/);
      const runId = await crash.submit("checkpoints:slow_flow", [30, 100]);
      const saves = await eventually(async () => {
        const c = (await crash.view(runId)).checkpoints?.find((c) => c.name === "progress");
        return c && c.saves >= 3 ? c.saves : undefined;
      }, 20_000, "three items saved");
      await kill9(doomed);
      await h.agent({ env: "crash", modules: [CHECKPOINTS] });
      const outcome = await crash.result(runId);
      expect(outcome.status).toBe("succeeded");
      const value = (outcome as unknown as { value: { done: number[]; starts: { attempt: number; from: number }[] } }).value;
      // Every item once: the retry started after the last item the killed attempt saved.
      expect(value.done).toEqual(range(1, 30));
      expect(value.starts).toHaveLength(2);
      expect(value.starts[0]).toEqual({ attempt: 1, from: 1 });
      expect(value.starts[1]!.from).toBeGreaterThan(saves);
      const view = await crash.view(runId);
      const step = stepOf(view, "slow_items");
      expect(step.executions.map((id) => view.executions[id]!.status)).toEqual(["abandoned", "succeeded"]);
      // Rebuilt from the log, the projections are the same.
      const live = await crash.ok<{ lines: string[] }>("GET", "/projections/dump");
      await crash.ok("POST", "/projections/rebuild");
      expect((await crash.ok<{ lines: string[] }>("GET", "/projections/dump")).lines).toEqual(live.lines);
    } finally {
      await kill9(doomed);
    }
  });

  it("a step re-run in a branch reads the checkpoint production saved; its saves stay in the branch", async () => {
    const prod = h.api;
    const failed = await prod.run("checkpoints:once_flow", [6, 3]);
    expect(failed.outcome.status).toBe("failed");
    const once = stepOf(failed.view, "once");
    expect((await prod.call("POST", `/api/projects/${prod.project}/envs`, { name: "fix", from: "production" })).status).toBe(200);
    await h.agent({ env: "fix", modules: [CHECKPOINTS] });
    const fix = h.envApi("fix");
    await fix.ok("POST", `/runs/${failed.runId}/steps/${once.stepId}/rerun`);
    const view = await eventually(async () => {
      const v = await fix.view(failed.runId);
      return stepOf(v, "once").status === "succeeded" ? v : undefined;
    }, 20_000, "the re-run to succeed").catch(async (err: unknown) => {
      const v = await fix.view(failed.runId);
      throw new Error(`${(err as Error).message}: ${JSON.stringify({ run: v.run.status, steps: v.steps.map((s) => [s.stepId, s.target.target, s.status, s.error?.message]), executions: Object.values(v.executions).map((x) => [x.executionId, x.status, x.error?.message]), checkpoints: v.checkpoints })}`);
    });
    const result = stepOf(view, "once").result as { kind: "inline"; value: { done: number[]; starts: { from: number }[] } };
    expect(result.value.done).toEqual(range(1, 6));
    expect(result.value.starts.map((s) => s.from)).toEqual([1, 4]);
    // The branch saved items 4..6 in its own log; production's checkpoint still holds 1..3.
    expect(view.checkpoints?.[0]).toMatchObject({ saves: 3, value: { kind: "inline", value: { done: range(1, 6) } } });
    expect((await prod.view(failed.runId)).checkpoints?.[0]).toMatchObject({ saves: 3, value: { kind: "inline", value: { done: [1, 2, 3] } } });
  });
});
