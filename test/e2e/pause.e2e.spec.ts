/**
 * `tributary envs pause | resume` end to end, on both logs: nothing new is
 * assigned while paused (runs are still accepted and wait; what runs goes
 * on), the queue and `runs show` say so, the pause survives a rebuild of the
 * projections, and a resume lets everything through.
 */
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunView } from "../../src/projections/index.js";
import type { AgentsAnswer } from "../../src/protocol/api.js";
import { cli, eventually, LOG_KINDS, startHarness, type Harness } from "./support.js";

const CONTROL = resolve(import.meta.dirname, "fixtures/control.ts");

const statusOf = (v: RunView, target: string) => v.steps.filter((s) => s.target.target === target).map((s) => v.executions[s.executions.at(-1)!]?.status);

describe.each(LOG_KINDS)("pausing an environment on the %s log", (kind) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });
  const envs = (h: Harness, ...args: string[]) => cli(["envs", ...args, "--server", h.server.url, "--project", h.api.project]);

  it("a run submitted while paused is accepted and waits, says why, and runs once resumed", async () => {
    const h = await startHarness(kind);
    cleanups.push(() => h.close());
    await h.agent({ modules: [CONTROL], concurrency: 8 });
    const paused = await envs(h, "pause", "production", "--reason", "maintenance");
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toMatch(/paused environment .*\/production/);

    const runId = await h.api.submit("control:fan_limited", [2, 50]);
    const q = await eventually(async () => (await h.api.ok<AgentsAnswer>("GET", "/agents")).queue.find((w) => w.runId === runId), 10_000, "the run in the queue");
    expect(q.reason).toBe("environment-paused");
    expect(q.message).toMatch(/paused/);
    const shown = await cli(["runs", "show", runId, "--server", h.server.url, "--project", h.api.project]);
    expect(shown.stdout).toMatch(/queued: the environment is paused/);
    expect((await envs(h, "ls")).stdout).toMatch(/production.*\(paused\)/);
    // Paused in the log: a rebuild of the projections keeps it so, and nothing was assigned meanwhile.
    await h.api.ok("POST", "/projections/rebuild");
    const env = (await h.api.client.listEnvironments()).find((e) => e.name === "production");
    expect(env?.paused).toMatchObject({ reason: "maintenance" });
    expect(statusOf(await h.api.view(runId), "fan_limited")).toEqual(["queued"]);
    expect((await h.api.ok<AgentsAnswer>("GET", "/agents")).queue.find((w) => w.runId === runId)?.reason).toBe("environment-paused");

    const resumed = await envs(h, "resume", "production");
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await h.api.result(runId)).toEqual({ status: "succeeded", value: [0, 1] });
    expect((await h.api.client.listEnvironments()).find((e) => e.name === "production")?.paused).toBeUndefined();
  });

  it("what runs when the environment is paused goes on; what it calls waits until the resume", async () => {
    const h = await startHarness(kind);
    cleanups.push(() => h.close());
    await h.agent({ modules: [CONTROL], concurrency: 8 });
    const runId = await h.api.submit("control:fan_limited", [3, 1000]);
    await eventually(async () => statusOf(await h.api.view(runId), "limited").filter((s) => s === "running").length === 2, 15_000, "two limited running");
    await h.api.client.pauseEnvironment("production");
    // The two running finish; the third (held by the limit until now) then waits for the resume.
    await eventually(async () => statusOf(await h.api.view(runId), "limited").filter((s) => s === "succeeded").length === 2, 15_000, "the two running to finish");
    const third = await eventually(async () => (await h.api.ok<AgentsAnswer>("GET", "/agents")).queue.find((w) => w.runId === runId), 10_000, "the third in the queue");
    expect(third.reason).toBe("environment-paused");
    expect(statusOf(await h.api.view(runId), "limited")).toEqual(["succeeded", "succeeded", "queued"]);
    await h.api.client.resumeEnvironment("production");
    expect(await h.api.result(runId)).toEqual({ status: "succeeded", value: [0, 1, 2] });
  });
});
