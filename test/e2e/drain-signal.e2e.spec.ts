/**
 * `tributary agent` on SIGTERM drains: it takes nothing new, lets what runs
 * finish up to `--drain-timeout`, then aborts what is left and gives it back
 * (abandoned, cause `agent-stopping`, counted against no retry limit), for
 * another agent to run; a second signal exits at once. A real agent process,
 * killed with real signals, on both logs.
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, LOG_KINDS, spawnCli, startHarness, waitForOutput, type Harness } from "./support.js";

const OPS = join(import.meta.dirname, "fixtures/ops.ts");

const exited = (c: ChildProcess): Promise<number | null> =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve(c.exitCode) : new Promise((r) => c.once("exit", (code) => r(code)));
const stderrOf = (c: ChildProcess) => {
  const out = { text: "" };
  c.stderr!.on("data", (d: Buffer) => (out.text += d.toString()));
  return out;
};

describe.each(LOG_KINDS)("an agent process told to stop (%s log)", (kind) => {
  let h: Harness | undefined;
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await h?.close();
    h = undefined;
  });
  const agentProcess = (extra: string[]) => {
    const c = spawnCli(["agent", "--server", h!.server.url, "--project", h!.api.project, "--concurrency", "4", ...extra, OPS]);
    children.push(c);
    return c;
  };

  it("lets what runs finish within --drain-timeout, takes nothing new, and exits 0", async () => {
    h = await startHarness(kind);
    const agent = agentProcess(["--drain-timeout", "20s"]);
    const err = stderrOf(agent);
    await waitForOutput(agent, /agent \S+ connected/);
    const runId = await h.api.submit("ops:nap", [1500]);
    await eventually(async () => (await h!.api.view(runId)).steps.some((s) => s.status === "running"));
    agent.kill("SIGTERM");
    await waitForOutput(agent, /draining/);
    // Submitted while it drains: not run there.
    const later = await h.api.submit("ops:nap", [10]);
    expect(await exited(agent)).toBe(0);
    expect(err.text).toMatch(/draining: .*letting 1 execution finish \(up to 20000 ms/);
    // The later run, if the server offered it before it knew, was declined: given back.
    expect(err.text).toMatch(/^stopped( \(1 execution given back to the server\))?$/m);
    // It finished there: one execution, succeeded, nothing abandoned.
    expect(await h.api.result(runId)).toEqual({ status: "succeeded", value: 1500 });
    const history = await h.api.history(runId);
    expect(history.filter((e) => e.type === "ExecutionAbandoned")).toEqual([]);
    // The later run waits for another agent, and runs there.
    const other = await h.agent({ modules: [OPS] });
    expect(await h.api.result(later)).toEqual({ status: "succeeded", value: 10 });
    const view = await h.api.view(later);
    const succeeded = Object.values(view.executions).filter((x) => x.status === "succeeded");
    expect(succeeded.map((x) => x.agentId)).toEqual([other.agentId]);
  });

  it("gives back what is still running at the drain timeout: abandoned as agent-stopping, free, resumed on another agent", async () => {
    h = await startHarness(kind);
    const agent = agentProcess(["--drain-timeout", "500"]);
    const err = stderrOf(agent);
    const id = (await waitForOutput(agent, /agent (\S+) connected/)).match(/agent (\S+) connected/)![1]!;
    // The workflow and its two 60 s tasks run on the agent process (no retry policy anywhere).
    const runId = await h.api.submit("ops:first_long_flow", [60_000, 2]);
    await eventually(async () => (await h!.api.view(runId)).steps.filter((s) => s.status === "running").length === 3);
    agent.kill("SIGTERM");
    expect(await exited(agent)).toBe(0);
    expect(err.text).toMatch(/up to 500 ms, then what is left is given back/);
    expect(err.text).toMatch(/stopped \(3 executions given back to the server\)/);

    const other = await h.agent({ modules: [OPS] });
    expect(await h.api.result(runId)).toEqual({ status: "succeeded", value: 2 });
    const history = await h.api.history(runId);
    const abandoned = history.filter((e) => e.type === "ExecutionAbandoned");
    expect(abandoned).toHaveLength(3);
    for (const a of abandoned) expect(a.data).toMatchObject({ agentId: id, cause: "agent-stopping" });
    expect(abandoned[0]!.data.reason).toMatch(/drain timeout of 500 ms/);
    // Each step ran again once, on the other agent, and succeeded; the workflow resumed its two calls.
    const view = await h.api.view(runId);
    for (const s of view.steps) expect(s.status).toBe("succeeded");
    expect(history.filter((e) => e.type === "CallResumed")).toHaveLength(2);
    const assigned = history.filter((e) => e.type === "ExecutionAssigned").map((e) => e.data.agentId);
    expect(assigned.filter((a) => a === other.agentId)).toHaveLength(3);
  });

  it("a second signal exits at once, non-zero, saying so; what ran is retried once the server finds the agent gone", async () => {
    h = await startHarness(kind);
    const agent = agentProcess(["--drain-timeout", "60s"]);
    const err = stderrOf(agent);
    await waitForOutput(agent, /agent \S+ connected/);
    const runId = await h.api.submit("ops:first_long_flow", [60_000, 1]);
    await eventually(async () => (await h!.api.view(runId)).steps.filter((s) => s.status === "running").length === 2);
    agent.kill("SIGTERM");
    await waitForOutput(agent, /draining/);
    agent.kill("SIGTERM");
    expect(await exited(agent)).toBe(143);
    expect(err.text).toMatch(/a second signal: exiting now; 2 executions still running are left to the server/);
    expect(err.text).not.toMatch(/stopped/);

    await h.agent({ modules: [OPS] });
    expect(await h.api.result(runId)).toEqual({ status: "succeeded", value: 1 });
    const causes = (await h.api.history(runId)).filter((e) => e.type === "ExecutionAbandoned").map((e) => e.data.cause);
    expect(causes).toEqual(["agent-lost", "agent-lost"]);
  });
});
