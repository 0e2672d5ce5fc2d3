/**
 * Prompts, on both logs: a workflow asks a person, suspends until the input
 * is answered (by the CLI, checked against its schema), then resumes; the
 * answer is memoised in the run, so a re-run of the step, here or in a
 * branch, takes it without asking again.
 */
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { InputDoc, RunView } from "../../src/projections/index.js";
import { cli, eventually, LOG_KINDS, startHarness, type Harness } from "./support.js";

const WAITS = resolve(import.meta.dirname, "fixtures/waits.ts");

describe.each(LOG_KINDS)("prompts on the %s log", (kind) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("a prompt suspends the run until answered with a value that fits; re-runs here and in a branch reuse the answer", async () => {
    h = await startHarness(kind);
    await h.agent({ modules: [WAITS] });
    const env = { TRIBUTARY_SERVER: h.server.url, TRIBUTARY_PROJECT: h.api.project };
    const runId = await h.api.submit("waits:approval", [25]);
    const input = await eventually(async () => (await h!.api.ok<InputDoc[]>("GET", `/inputs?run=${runId}`))[0], 15_000, "the input asked");
    expect(input).toMatchObject({ status: "pending", title: "Refund 25 EUR?", runId });
    // Pending, the run holds no agent: its root execution is suspended, its resume waits for the input.
    let view: RunView = await h.api.view(runId);
    const root = view.steps.find((s) => s.stepId === view.run.rootStepId)!;
    expect(root.executions.map((id) => view.executions[id]!.status)).toEqual(["suspended", "queued"]);
    expect(view.executions[root.executions[1]!]!.resumeWhen).toEqual([`input:${input.inputId}`]);

    const ls = await cli(["inputs", "ls", "--pending"], env);
    expect(ls.stdout).toContain(input.inputId);
    expect(ls.stdout).toContain("Refund 25 EUR?");
    const wrong = await cli(["inputs", "answer", input.inputId, "--value", '{"ok":"yes"}'], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/value\.ok must be boolean/);
    const notJson = await cli(["inputs", "answer", input.inputId, "--value", "{ok"], env);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/--value must be JSON/);
    const answer = await cli(["inputs", "answer", input.inputId, "--value", '{"ok":true,"note":"approved by ops"}'], env);
    expect(answer.code, answer.stderr).toBe(0);
    expect(await h.api.result(runId)).toEqual({ status: "succeeded", value: "refunded 25" });
    const show = await cli(["inputs", "show", input.inputId], env);
    expect(show.stdout).toContain("ANSWERED");
    expect(show.stdout).toContain('"note":"approved by ops"');

    view = await h.api.view(runId);
    expect(view.steps.filter((s) => s.target.target === "echo").length).toBe(1); // made once, resumed after the answer
    const history = await h.api.history(runId);
    const asked = history.find((e) => e.type === "InputRequested")!;
    expect(history.filter((e) => e.seq === asked.seq).map((e) => e.type)).toEqual(["InputRequested", "ExecutionSuspended", "ExecutionCreated"]);
    expect(history.filter((e) => e.type === "InputAnswered").length).toBe(1);
    const lines = (await cli(["runs", "history", runId], env)).stdout;
    expect(lines).toMatch(/InputRequested .*"Refund 25 EUR\?"/);
    expect(lines).toMatch(/InputAnswered .*→ \{"note":"approved by ops","ok":true\}|InputAnswered .*→ \{"ok":true,"note":"approved by ops"\}/);

    // A re-run of the root here: the answer is memoised in the run, nobody is asked again.
    const rerun = await h.api.ok<{ executionId: string }>("POST", `/runs/${runId}/steps/${view.run.rootStepId}/rerun`, {});
    await eventually(async () => (await h!.api.view(runId)).executions[rerun.executionId]?.status === "succeeded", 15_000, "the re-run");
    expect((await h.api.ok<InputDoc[]>("GET", `/inputs?run=${runId}`)).length).toBe(1);

    // A branch: the run brought in and re-run there takes the answer from production.
    await h.api.call("POST", `/api/projects/${h.api.project}/envs`, { name: "feature", from: "production" });
    await h.agent({ modules: [WAITS], env: "feature" });
    const feature = h.envApi("feature");
    const there = await feature.ok<{ executionId: string }>("POST", `/runs/${runId}/steps/${view.run.rootStepId}/rerun`, {});
    await eventually(async () => (await feature.view(runId)).executions[there.executionId]?.status === "succeeded", 15_000, "the re-run in the branch");
    expect((await feature.view(runId)).executions[there.executionId]!.result).toEqual({ kind: "inline", value: "refunded 25" });
    expect(await feature.ok<InputDoc[]>("GET", "/inputs")).toEqual([]);

    // Replayed from the log, the same state.
    const live = await h.api.ok<{ lines: string[] }>("GET", "/projections/dump");
    await h.api.ok("POST", "/projections/rebuild");
    expect((await h.api.ok<{ lines: string[] }>("GET", "/projections/dump")).lines).toEqual(live.lines);
  });
});
