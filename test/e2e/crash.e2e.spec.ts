import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { startAgent, type Agent } from "../../src/agent/runtime.js";
import type { RunView } from "../../src/projections/index.js";
import { Api, eventually, FLOWS, freePort, freshProject, LOG_KINDS, spawnCli, startHarness, waitForOutput, kill9, type Harness } from "./support.js";

/** No step has more than one successful execution (re-runs aside: these tests make none). */
const oneSuccessPerStep = (view: RunView) => {
  for (const s of view.steps) {
    const ok = s.executions.filter((id) => view.executions[id]?.status === "succeeded");
    expect(ok.length, `step ${s.stepId} of ${view.run.runId}`).toBeLessThanOrEqual(1);
  }
};

describe.each(LOG_KINDS)("crashes on the %s log", (kind) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it("an agent killed with SIGKILL mid-execution: its work is abandoned and retried elsewhere, and the run completes", async () => {
    const h: Harness = await startHarness(kind, { heartbeatMs: 300 });
    cleanups.push(() => h.close());
    const child = spawnCli(["agent", "--server", h.server.url, "--project", h.api.project, "--env", "production", FLOWS]);
    cleanups.push(async () => child.kill("SIGKILL"));
    const line = await waitForOutput(child, /agent (\S+) connected/);
    const doomed = /agent (\S+) connected/.exec(line)![1]!;

    const runId = await h.api.submit("flows:sleep_flow", [3000, 4]);
    await eventually(async () => Object.values((await h.api.view(runId)).executions).filter((x) => x.status === "running").length === 5, 10_000, "five running executions");
    // Killed first, so that its tasks cannot have finished before it dies (a loaded machine starts the next agent slowly).
    await kill9(child);
    await h.agent(); // a healthy agent to take over

    expect(await h.api.result(runId)).toEqual({ status: "succeeded", value: 4 });
    const view = await h.api.view(runId);
    const abandoned = Object.values(view.executions).filter((x) => x.status === "abandoned");
    expect(abandoned.length).toBeGreaterThanOrEqual(1);
    expect(abandoned.every((x) => x.agentId === doomed)).toBe(true);
    expect(view.run.status).toBe("succeeded");
    oneSuccessPerStep(view);
  });

  it("the server killed with SIGKILL mid-run: on restart every run completes, and rebuilt projections equal the live ones", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "trib-crash-"));
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
    const agent: Agent = await startAgent({ server: url, project, env: "production", tags: {}, concurrency: 32, modules: [FLOWS] });
    cleanups.push(() => agent.stop({ drainMs: 0 }));

    const runs = [
      await api.submit("flows:sleep_flow", [400, 6]),
      await api.submit("flows:chain", [40]),
      await api.submit("flows:fan_out", [30]),
      await api.submit("flows:sleep_flow", [250, 8]),
    ];
    // Let some of the work finish, then kill the server in the middle of it.
    await eventually(async () => Object.values((await api.view(runs[0]!)).executions).some((x) => x.status === "running"), 10_000, "work in flight");
    await new Promise((r) => setTimeout(r, 150));
    await kill9(server);
    server = await start();

    for (const runId of runs) {
      const outcome = await api.result(runId);
      expect(outcome.status, `run ${runId}: ${JSON.stringify(outcome)}`).toBe("succeeded");
      oneSuccessPerStep(await api.view(runId));
    }
    expect(await api.result(runs[1]!)).toEqual({ status: "succeeded", value: 40 });

    const live = await api.ok<{ lines: string[] }>("GET", "/projections/dump");
    await api.ok("POST", "/projections/rebuild");
    const rebuilt = await api.ok<{ lines: string[] }>("GET", "/projections/dump");
    expect(rebuilt.lines).toEqual(live.lines);
    expect(live.lines.length).toBeGreaterThan(100);

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
