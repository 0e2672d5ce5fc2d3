/**
 * Resume, never redo: the server (and, in the second case, the agent running
 * the workflows) killed with SIGKILL in the middle of a fan-out of 50 and a
 * chain of 12. Every run succeeds with its result, has exactly the steps its
 * code makes, and no finished child task runs again.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { startAgent, type Agent } from "../../src/agent/runtime.js";
import type { ExecutionDoc, RunView } from "../../src/projections/index.js";
import { Api, eventually, FLOWS, freePort, freshProject, LOG_KINDS, spawnCli, waitForOutput, kill9 } from "./support.js";

const executionsOf = (view: RunView, stepId: string): ExecutionDoc[] =>
  view.steps.find((s) => s.stepId === stepId)!.executions.map((id) => view.executions[id]!);

/**
 * Every child step ran to one success; an execution before it exists only if
 * it was in flight at the kill, and was then abandoned (never a finished one
 * run again).
 */
const childrenRanOnce = (view: RunView, allowedCauses: readonly string[]) => {
  for (const s of view.steps.filter((s) => s.stepId !== view.run.rootStepId)) {
    const xs = executionsOf(view, s.stepId);
    expect(xs.filter((x) => x.status === "succeeded").length, `step ${s.stepId}`).toBe(1);
    expect(xs[xs.length - 1]!.status, `step ${s.stepId}`).toBe("succeeded");
    for (const x of xs.slice(0, -1)) {
      expect(x.status, `step ${s.stepId} ${x.executionId}`).toBe("abandoned");
      expect(allowedCauses, `step ${s.stepId} ${x.executionId}`).toContain(x.abandonCause);
    }
  }
};

/**
 * Starts a chain of 12 and a fan-out of 50 and returns when both are in the
 * middle: some children finished, some running, some not started.
 */
const midway = async (api: Api): Promise<{ fan: string; chain: string }> => {
  const chain = await api.submit("flows:chain_slow", [12, 100]);
  await eventually(async () => (await api.view(chain)).steps.length >= 4, 10_000, "the chain under way");
  const fan = await api.submit("flows:fan_out_slow", [50, 200]);
  const succeeded = async (runId: string) => Object.values((await api.view(runId)).executions).filter((x) => x.status === "succeeded").length;
  await eventually(async () => (await succeeded(fan)) >= 8, 10_000, "children of the fan-out finished");
  return { fan, chain };
};

describe.each(LOG_KINDS)("resume, never redo, on the %s log", (kind) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  const serverFor = async (extra: string[] = []) => {
    const dataDir = await mkdtemp(join(tmpdir(), "trib-resume-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const project = freshProject();
    const url = `http://127.0.0.1:${port}`;
    const args = [
      "server", "--data", dataDir, "--port", String(port), "--heartbeat-ms", "300", "--project", project,
      ...extra,
      ...(kind === "jetstream" ? ["--nats", inject("natsUrl")] : []),
    ];
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
    return { url, project, api: new Api(url, project), start };
  };

  const checkRebuild = async (api: Api) => {
    const live = await api.ok<{ lines: string[] }>("GET", "/projections/dump");
    await api.ok("POST", "/projections/rebuild");
    const rebuilt = await api.ok<{ lines: string[] }>("GET", "/projections/dump");
    expect(rebuilt.lines).toEqual(live.lines);
  };

  it("the server killed mid fan-out of 50 and mid chain of 12: its agent keeps what it runs, nothing finished runs again", async () => {
    const s = await serverFor();
    let server = await s.start();
    const agent: Agent = await startAgent({ server: s.url, project: s.project, env: "production", tags: {}, concurrency: 8, modules: [FLOWS] });
    cleanups.push(() => agent.stop({ drainMs: 0 }));

    const { fan, chain } = await midway(s.api);
    await kill9(server);
    await new Promise((r) => setTimeout(r, 1000));
    server = await s.start();

    expect(await s.api.result(fan)).toEqual({ status: "succeeded", value: 1275 });
    expect(await s.api.result(chain)).toEqual({ status: "succeeded", value: 12 });
    for (const [runId, steps] of [[fan, 51], [chain, 13]] as const) {
      const view = await s.api.view(runId);
      expect(view.steps.length, `steps of ${runId}`).toBe(steps);
      // The agent never left: the workflow's execution went on through the restart.
      expect(executionsOf(view, view.run.rootStepId).map((x) => x.status)).toEqual(["succeeded"]);
      childrenRanOnce(view, ["server-restart"]);
    }
    await checkRebuild(s.api);
  });

  it("the server and the workflows' agent killed together: the retried workflows resume their calls instead of making new ones", async () => {
    const s = await serverFor(["--restart-grace-ms", "1500"]);
    let server = await s.start();
    const doomed = spawnCli(["agent", "--server", s.url, "--project", s.project, "--env", "production", "--concurrency", "8", FLOWS]);
    cleanups.push(() => kill9(doomed));
    await waitForOutput(doomed, /agent (\S+) connected/);

    const { fan, chain } = await midway(s.api);
    await Promise.all([kill9(server), kill9(doomed)]);
    server = await s.start();
    const agent: Agent = await startAgent({ server: s.url, project: s.project, env: "production", tags: {}, concurrency: 8, modules: [FLOWS] });
    cleanups.push(() => agent.stop({ drainMs: 0 }));

    expect(await s.api.result(fan)).toEqual({ status: "succeeded", value: 1275 });
    expect(await s.api.result(chain)).toEqual({ status: "succeeded", value: 12 });
    for (const [runId, steps] of [[fan, 51], [chain, 13]] as const) {
      const view = await s.api.view(runId);
      expect(view.steps.length, `steps of ${runId}`).toBe(steps);
      const roots = executionsOf(view, view.run.rootStepId);
      expect(roots.map((x) => x.status)).toEqual(["abandoned", "succeeded"]);
      expect(roots[0]!.abandonCause).toBe("agent-lost");
      expect(roots[1]!.resumes).toBe(roots[0]!.executionId);
      childrenRanOnce(view, ["agent-lost"]);
      // Every call the first attempt had made was matched, not made again.
      const history = await s.api.history(runId);
      const resumed = history.filter((e) => e.type === "CallResumed");
      const madeByFirst = view.steps.filter((x) => x.parentExecutionId === roots[0]!.executionId).length;
      expect(madeByFirst).toBeGreaterThan(0);
      expect(resumed.length).toBe(madeByFirst);
      expect(view.steps.filter((x) => x.parentExecutionId === roots[1]!.executionId).length).toBe(steps - 1 - madeByFirst);
    }
    await checkRebuild(s.api);
  });
});
