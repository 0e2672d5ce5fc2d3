/**
 * A suspended execution survives kill -9 of the server and of its agent, on
 * both logs: it resumes when its time comes, on another agent, without
 * making again the calls it made; a rebuild of the projections gives the
 * same state.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { startAgent } from "../../src/agent/runtime.js";
import { Api, eventually, freePort, freshProject, LOG_KINDS, spawnCli, waitForOutput, kill9 } from "./support.js";

const WAITS = resolve(import.meta.dirname, "fixtures/waits.ts");

describe.each(LOG_KINDS)("suspended work survives kill -9 on the %s log", (kind) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it("server and agent killed while runs sleep and wait: all resume, nothing made twice", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "trib-waits-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const project = freshProject();
    const url = `http://127.0.0.1:${port}`;
    const args = ["server", "--data", dataDir, "--port", String(port), "--heartbeat-ms", "300", "--project", project, ...(kind === "jetstream" ? ["--nats", inject("natsUrl")] : [])];
    const start = async () => {
      const s = spawnCli(args);
      cleanups.push(() => kill9(s));
      await waitForOutput(s, /listening on/);
      return s;
    };
    if (kind === "jetstream") {
      cleanups.push(async () => {
        const { JetStreamEventLog } = await import("../../src/events/storage/index.js");
        const { logRef } = await import("../../src/events/index.js");
        const log = await JetStreamEventLog.connect({ servers: inject("natsUrl") });
        await log.deleteEnv(logRef(project, "production")).catch(() => undefined);
        await log.close();
      });
    }
    const api = new Api(url, project);
    const server = await start();
    const doomed = spawnCli(["agent", "--server", url, "--project", project, "--env", "production", "--concurrency", "8", WAITS]);
    cleanups.push(() => kill9(doomed));
    await waitForOutput(doomed, /agent (\S+) connected/);

    const sleepers = await Promise.all([0, 1, 2, 3, 4].map(() => api.submit("waits:sleeper", [2500])));
    const patient = await api.submit("waits:patient", [2500]);
    const suspendedRoot = async (runId: string) => {
      const view = await api.view(runId);
      return view.steps.find((s) => s.stepId === view.run.rootStepId)!.executions.some((id) => view.executions[id]!.status === "suspended");
    };
    await eventually(async () => (await Promise.all([...sleepers, patient].map(suspendedRoot))).every(Boolean), 15_000, "every run suspended");
    await Promise.all([kill9(server), kill9(doomed)]);
    await start();
    const agent = await startAgent({ server: url, project, env: "production", tags: {}, concurrency: 8, modules: [WAITS] });
    cleanups.push(() => agent.stop({ drainMs: 0 }));

    for (const r of sleepers) {
      expect(await api.result(r)).toEqual({ status: "succeeded", value: ["before!", "after!", 2] });
      const view = await api.view(r);
      expect(view.steps.length).toBe(3);
      const root = view.steps.find((s) => s.stepId === view.run.rootStepId)!;
      expect(root.executions.map((id) => view.executions[id]!.status)).toEqual(["suspended", "succeeded"]);
    }
    // The slow task was running when its agent died: it was retried; the workflow resumed once it finished.
    const p = await api.result(patient);
    expect(p).toEqual({ status: "succeeded", value: ["slow!", "next!"] });
    const pv = await api.view(patient);
    expect(pv.steps.filter((s) => s.target.target === "slow_echo").length).toBe(1);
    const live = await api.ok<{ lines: string[] }>("GET", "/projections/dump");
    await api.ok("POST", "/projections/rebuild");
    expect((await api.ok<{ lines: string[] }>("GET", "/projections/dump")).lines).toEqual(live.lines);
  });
});
