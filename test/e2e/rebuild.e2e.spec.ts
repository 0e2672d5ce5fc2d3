import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { startAgent } from "../../src/agent/runtime.js";
import { TributaryServer } from "../../src/orchestrator/server/index.js";
import { Api, freshProject, LOG_KINDS } from "./support.js";

const REUSE = resolve(import.meta.dirname, "fixtures/reuse.ts");
const REUSE_V2 = resolve(import.meta.dirname, "fixtures/reuse-v2.ts");

describe.each(LOG_KINDS)("rebuilding everything on the %s log", (kind) => {
  it("deleting every projection store and restarting the server rebuilds every environment and branch view identically", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "trib-rebuild-"));
    const project = freshProject();
    const options = { dataDir, port: 0, defaultProject: project, onNotice: () => {}, ...(kind === "jetstream" ? { nats: inject("natsUrl") } : {}) };
    let server = await TributaryServer.start(options);
    try {
      let prod = new Api(server.url, project);
      const agents = [await startAgent({ server: server.url, project, env: "production", tags: {}, modules: [REUSE] })];
      const { runId, view } = await prod.run("reuse:pipeline", [6]);
      await prod.run("reuse:cache_flow", [5]);
      await prod.call("POST", `/api/projects/${project}/envs`, { name: "staging", base: "production" });
      await prod.call("POST", `/api/projects/${project}/envs`, { name: "dev", from: "production" });
      agents.push(await startAgent({ server: server.url, project, env: "dev", tags: {}, modules: [REUSE_V2] }));
      let dev = new Api(server.url, project, "dev");
      const transform = view.steps.find((s) => s.target.target === "transform")!.stepId;
      await dev.ok("POST", `/runs/${runId}/steps/${transform}/rerun`, { cascade: true });
      for (let i = 0; i < 200; i++) {
        const v = await dev.view(runId);
        if (v.run.pending === 0 && v.steps[0]!.result?.kind === "inline" && v.steps[0]!.result.value === 63) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const dumps = async () =>
        Promise.all(["production", "staging", "dev"].map(async (env) => (await new Api(server.url, project, env).ok<{ lines: string[] }>("GET", "/projections/dump")).lines));
      for (const a of agents) await a.stop({ drainMs: 0 });
      // Wait for the agents' disconnections to be recorded: they are facts of the log too.
      let before = await dumps();
      for (let i = 0; i < 100 && before.flat().some((l) => l.startsWith("agents\t") && l.includes('"status":"connected"')); i++) {
        await new Promise((r) => setTimeout(r, 20));
        before = await dumps();
      }
      expect(before[2]!.some((l) => l.includes('"value":63'))).toBe(true);
      await server.close();

      await rm(join(dataDir, "projections"), { recursive: true, force: true });
      server = await TributaryServer.start(options);
      prod = new Api(server.url, project);
      dev = new Api(server.url, project, "dev");
      expect(await dumps()).toEqual(before);
      // The branch still reads production as of its branch point.
      expect((await dev.call("POST", `/api/projects/${project}/envs/dev/runs`, { target: "reuse:cache_flow", arguments: [5] })).status).toBe(200);
    } finally {
      if (kind === "jetstream") for (const ref of await server.log.listEnvs(project)) await server.log.deleteEnv(ref);
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
