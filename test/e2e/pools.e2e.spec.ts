/**
 * Pools: `tributary pools create` records a pool; when an execution that no
 * connected agent can run is queued, the server starts one of the pool's
 * agents (a real `tributary agent` process, named `pool_<pool>_…`, its
 * output in the data directory), which runs it and stops once idle; a
 * deleted pool starts nothing. After a server restart the pool is read back
 * from the log and starts agents again. On both logs.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { Api, cli, eventually, freePort, LOG_KINDS, spawnCli, startHarness, waitForOutput, type Harness } from "./support.js";

const OPS = join(import.meta.dirname, "fixtures/ops.ts");

interface PoolRow {
  name: string;
  max: number;
  modules: string[];
  logDir: string;
  agents: { agentId: string; pid: number; connected: boolean; log: string }[];
}

describe.each(LOG_KINDS)("pools (%s log)", (kind) => {
  let h: Harness | undefined;
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await h?.close();
    h = undefined;
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it("starts an agent of the pool for work no connected agent hosts; it runs it, and stops once idle; a deleted pool starts none", async () => {
    h = await startHarness(kind, { server: { poolIdleExitMs: 2000 } });
    const env = { TRIBUTARY_SERVER: h.server.url, TRIBUTARY_PROJECT: h.api.project };
    // The repository is known (an agent registered it once) but nobody hosts it now.
    const once = await h.agent({ modules: [OPS] });
    await once.stop({ drainMs: 0 });

    const made = await cli(["pools", "create", "ops-pool", "--launcher", "process", "--modules", OPS, "--max", "1", "--tag", "zone=test"], env);
    expect(made.stderr).toBe("");
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/^created pool ops-pool in .*\/production: up to 1 agent of .*ops\.ts; their output goes to .*pool-logs/);
    const again = await cli(["pools", "create", "ops-pool", "--launcher", "process", "--modules", OPS, "--max", "1", "--tag", "zone=test"], env);
    expect(again.stdout).toMatch(/^unchanged: pool ops-pool/);
    const other = await cli(["pools", "create", "ops-pool", "--launcher", "process", "--modules", OPS, "--max", "2"], env);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/pool ops-pool already exists with other settings/);

    const runId = await h.api.submit("ops:nap", [10]);
    expect(await h.api.result(runId)).toEqual({ status: "succeeded", value: 10 });
    const assigned = (await h.api.history(runId)).filter((e) => e.type === "ExecutionAssigned").map((e) => String(e.data.agentId));
    expect(assigned).toHaveLength(1);
    expect(assigned[0]).toMatch(/^pool_ops-pool_[a-z0-9]{10}$/);

    // It is the pool's, with its tags; its output is where ls says.
    const { pools } = await h.api.ok<{ pools: PoolRow[] }>("GET", "/pools");
    expect(pools).toHaveLength(1);
    const agent = pools[0]!.agents.find((a) => a.agentId === assigned[0]);
    expect(agent).toBeDefined();
    expect(agent!.log.startsWith(pools[0]!.logDir)).toBe(true);
    expect(pools[0]!.logDir.startsWith(h.dataDir)).toBe(true);
    const known = await h.api.ok<{ connected: { agentId: string; tags: Record<string, string[]> }[] }>("GET", "/agents");
    expect(known.connected.find((a) => a.agentId === assigned[0])?.tags).toEqual({ pool: ["ops-pool"], zone: ["test"] });
    const ls = await cli(["pools", "ls"], env);
    expect(ls.stdout).toContain(`ops-pool  process  max 1  1 agent now  tags zone=test`);
    expect(ls.stdout).toContain(`output: ${pools[0]!.logDir}`);

    // Idle for 2 s: it stops by itself, saying so in its output.
    await eventually(async () => (await h!.api.ok<{ pools: PoolRow[] }>("GET", "/pools")).pools[0]!.agents.length === 0, 20_000, "the idle agent to exit");
    expect(readFileSync(agent!.log, "utf8")).toMatch(/connected[\s\S]*idle for 2000 ms: stopping[\s\S]*stopped/);

    // Deleted: work for it waits, and no agent is started.
    const deleted = await cli(["pools", "delete", "ops-pool"], env);
    expect(deleted.code).toBe(0);
    expect((await cli(["pools", "delete", "ops-pool"], env)).stderr).toMatch(/no pool ops-pool/);
    const waits = await h.api.submit("ops:nap", [10]);
    await new Promise((r) => setTimeout(r, 2500));
    expect((await h.api.view(waits)).run.status).toBe("running");
    expect((await h.api.ok<{ connected: unknown[] }>("GET", "/agents")).connected).toEqual([]);
  });

  it("is read back from the log after a server restart, and starts agents again", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trib-pools-"));
    dirs.push(dir);
    const port = await freePort();
    const project = `pools${Math.random().toString(36).slice(2, 8)}`;
    const url = `http://127.0.0.1:${port}`;
    const env = { TRIBUTARY_SERVER: url, TRIBUTARY_PROJECT: project };
    const serverArgs = ["server", "--data", dir, "--port", String(port), "--project", project, "--heartbeat-ms", "300", ...(kind === "jetstream" ? ["--nats", inject("natsUrl")] : [])];
    const start = async () => {
      const s = spawnCli(serverArgs);
      children.push(s);
      await waitForOutput(s, /listening on/);
      return s;
    };
    let server = await start();
    // Registered once by an agent process, which then stops.
    const once = spawnCli(["agent", OPS], env);
    children.push(once);
    await waitForOutput(once, /connected/);
    once.kill("SIGTERM");
    await new Promise((r) => once.once("exit", r));
    expect((await cli(["pools", "create", "again", "--launcher", "process", "--modules", OPS], env)).code).toBe(0);

    server.kill("SIGKILL");
    await new Promise((r) => server.once("exit", r));
    server = await start();
    const api = new Api(url, project);
    const runId = await api.submit("ops:nap", [5]);
    expect(await api.result(runId)).toEqual({ status: "succeeded", value: 5 });
    const by = (await api.history(runId)).filter((e) => e.type === "ExecutionAssigned").map((e) => String(e.data.agentId));
    expect(by[0]).toMatch(/^pool_again_/);
    const { pools } = await api.ok<{ pools: PoolRow[] }>("GET", "/pools");
    expect(pools.map((p) => p.name)).toEqual(["again"]);
    expect(existsSync(pools[0]!.agents[0]?.log ?? "")).toBe(true);
    // A graceful stop tells the pool's agents to stop too.
    const pid = pools[0]!.agents[0]!.pid;
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
    await eventually(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 15_000, "the pool's agent to exit");
  });
});
