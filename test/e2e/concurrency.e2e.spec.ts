/**
 * Concurrency limits end to end, on both logs: per target (across agents),
 * keyed by an argument, per group; the queue and `runs show` say which
 * limit holds an execution; after a kill -9 of the server with limited work
 * in flight the count comes back from the log (no permit leaked, none
 * doubled).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { startAgent, type Agent } from "../../src/agent/runtime.js";
import type { RunView } from "../../src/projections/index.js";
import type { AgentsAnswer, RunAnswer } from "../../src/protocol/api.js";
import { Api, cli, eventually, freePort, freshProject, LOG_KINDS, spawnCli, startHarness, waitForOutput, kill9 } from "./support.js";

const CONTROL = resolve(import.meta.dirname, "fixtures/control.ts");

/** The most executions (of steps passing `pick`) assigned or running at the same moment, as the log has them. */
const maxOverlap = (views: RunView[], pick: (target: string, args: readonly unknown[]) => boolean): number => {
  const spans: [number, number][] = [];
  for (const v of views) {
    for (const s of v.steps) {
      if (!pick(s.target.target, s.arguments)) continue;
      for (const id of s.executions) {
        const x = v.executions[id];
        if (x?.assignedAt !== undefined) spans.push([x.assignedAt, x.finishedAt ?? Number.MAX_SAFE_INTEGER]);
      }
    }
  }
  let most = 0;
  for (const [a] of spans) most = Math.max(most, spans.filter(([b, e]) => b <= a && a < e).length);
  return most;
};

describe.each(LOG_KINDS)("concurrency limits on the %s log", (kind) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it("a target's limit holds across agents; the queue and runs show name the limit", async () => {
    const h = await startHarness(kind);
    cleanups.push(() => h.close());
    await h.agent({ modules: [CONTROL], concurrency: 8 });
    await h.agent({ modules: [CONTROL], concurrency: 8 });
    const runId = await h.api.submit("control:fan_limited", [8, 1500]);
    // While it runs: two assigned or running, the others held by the limit.
    const held = await eventually(async () => {
      const q = (await h.api.ok<AgentsAnswer>("GET", "/agents")).queue.filter((w) => w.reason === "concurrency-limit");
      return q.length >= 3 ? q : undefined;
    }, 15_000, "executions held by the limit");
    expect(held[0]!.limit).toMatchObject({ key: "target:control:limited", limit: 2, taken: 2 });
    expect(held[0]!.message).toContain("target:control:limited");
    const shown = await cli(["runs", "show", runId, "--server", h.server.url, "--project", h.api.project, "--env", "production"]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/queued: held by the concurrency limit target:control:limited: 2\/2 running/);
    const answer = await h.api.client.run(runId).view();
    expect((answer as RunAnswer).queue?.some((w) => w.reason === "concurrency-limit")).toBe(true);

    expect(await h.api.result(runId)).toEqual({ status: "succeeded", value: [0, 1, 2, 3, 4, 5, 6, 7] });
    const view = await h.api.view(runId);
    expect(maxOverlap([view], (t) => t === "limited")).toBe(2);
    // Both agents took some: the limit is the environment's, not an agent's.
    const agents = new Set(view.steps.filter((s) => s.target.target === "limited").flatMap((s) => s.executions.map((id) => view.executions[id]?.agentId)));
    expect(agents.size).toBe(2);
  });

  it("keyed by an argument: one at once per customer, customers in parallel; a group's limit; a workflow's limit from its manifest", async () => {
    const h = await startHarness(kind);
    cleanups.push(() => h.close());
    await h.agent({ modules: [CONTROL], concurrency: 16 });
    const keyed = await h.api.submit("control:fan_customers", [["acme", "acme", "acme", "zeta", "zeta", "omni"], 250]);
    const grouped = await h.api.submit("control:fan_grouped", [4, 250, 1]);
    const singles = [await h.api.submit("control:single", [400]), await h.api.submit("control:single", [400])];
    for (const r of [keyed, grouped, ...singles]) expect((await h.api.result(r)).status).toBe("succeeded");

    const k = await h.api.view(keyed);
    expect(maxOverlap([k], (t, a) => t === "per_customer" && a[0] === "acme")).toBe(1);
    expect(maxOverlap([k], (t, a) => t === "per_customer" && a[0] === "zeta")).toBe(1);
    expect(maxOverlap([k], (t) => t === "per_customer")).toBeGreaterThan(1);
    expect(k.steps.find((s) => s.arguments[0] === "acme")!.options.concurrency).toEqual([{ key: "target:control:per_customer:acme", limit: 1 }]);

    const g = await h.api.view(grouped);
    const inGroup = g.steps.filter((s) => s.options.group === "db");
    expect(inGroup).toHaveLength(4);
    expect(inGroup[0]!.options.concurrency).toEqual([{ key: "group:db", limit: 1 }]);
    expect(maxOverlap([g], (t, a) => t === "free" && (a[1] as number) < 100)).toBe(1);
    expect(maxOverlap([g], (t, a) => t === "free" && (a[1] as number) >= 100)).toBe(4);

    const s = await Promise.all(singles.map((r) => h.api.view(r)));
    expect(maxOverlap(s, (t) => t === "single")).toBe(1);
    expect(s[0]!.steps[0]!.options.concurrency).toEqual([{ key: "target:control:single", limit: 1 }]);
  });

  it("the server killed with SIGKILL with limited work in flight: the count comes back from the log", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "trib-limits-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const project = freshProject();
    const url = `http://127.0.0.1:${port}`;
    const args = ["server", "--data", dataDir, "--port", String(port), "--heartbeat-ms", "300", "--project", project, ...(kind === "jetstream" ? ["--nats", inject("natsUrl")] : [])];
    const start = async () => {
      const s = spawnCli(args);
      cleanups.push(async () => s.kill("SIGKILL"));
      await waitForOutput(s, /listening on/);
      return s;
    };
    let server = await start();
    const api = new Api(url, project);
    const agent: Agent = await startAgent({ server: url, project, env: "production", tags: {}, concurrency: 16, modules: [CONTROL] });
    cleanups.push(() => agent.stop({ drainMs: 0 }));
    const runId = await api.submit("control:fan_limited", [6, 1200]);
    const limitedRunning = (v: RunView) => v.steps.filter((s) => s.target.target === "limited" && v.executions[s.executions.at(-1)!]?.status === "running").length;
    await eventually(async () => limitedRunning(await api.view(runId)) === 2, 15_000, "two limited executions running");
    await kill9(server);
    server = await start();
    // At once after the restart, the queue holds the rest behind the two still running (no permit forgotten).
    const q = await eventually(async () => {
      const a = await api.ok<AgentsAnswer>("GET", "/agents");
      return a.connected.length > 0 && a.queue.length > 0 ? a.queue : undefined;
    }, 15_000, "the queue after the restart");
    expect(q.every((w) => w.reason === "concurrency-limit" || w.reason === "assignable")).toBe(true);
    expect(await api.result(runId)).toEqual({ status: "succeeded", value: [0, 1, 2, 3, 4, 5] });
    expect(maxOverlap([await api.view(runId)], (t) => t === "limited")).toBeLessThanOrEqual(2);
    // And the permits are all given back: a second fan-out runs through, two at once.
    const again = await api.submit("control:fan_limited", [4, 100]);
    expect((await api.result(again)).status).toBe("succeeded");
    expect(maxOverlap([await api.view(again)], (t) => t === "limited")).toBe(2);
    if (kind === "jetstream") {
      await agent.stop({ drainMs: 0 });
      const { JetStreamEventLog } = await import("../../src/events/storage/index.js");
      const { logRef } = await import("../../src/events/index.js");
      const log = await JetStreamEventLog.connect({ servers: inject("natsUrl") });
      await log.deleteEnv(logRef(project, "production"));
      await log.close();
    }
  });
});
