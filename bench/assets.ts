/**
 * Asset benchmark, end to end through a server process and a real agent:
 * persist (hash, probe, upload) and restore (download, verify, write) of one
 * file of N MiB, on each backend (files under the data directory with the
 * embedded log; the JetStream object store with NATS). Also a second persist
 * of the same bytes, which uploads nothing.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startAgent } from "../src/agent/runtime.js";
import { fromJson, toJson } from "../src/orchestrator/json.js";
import { startNatsServer } from "../test/support/nats-server.js";
import { startServer, type WorkflowRow } from "./workflows.js";

const FLOWS = resolve(import.meta.dirname, "fixtures/asset-flows.ts");

export const runAssetBench = async (options: { adapters: readonly ("embedded" | "jetstream")[]; mb: number }): Promise<WorkflowRow[]> => {
  const rows: WorkflowRow[] = [];
  for (const adapter of options.adapters) {
    const dataDir = await mkdtemp(join(tmpdir(), "trib-bench-assets-"));
    const nats = adapter === "jetstream" ? await startNatsServer() : undefined;
    const { child, url } = await startServer(["--data", dataDir, ...(nats ? ["--nats", nats.url] : [])]);
    const agent = await startAgent({ server: url, project: "default", env: "production", tags: {}, modules: [FLOWS] });
    try {
      const path = "/api/projects/default/envs/production/runs";
      const post = await fetch(new URL(path, url), { method: "POST", body: toJson({ target: "benchassets:round_trip", arguments: [options.mb] }), headers: { "content-type": "application/json" } });
      const { runId } = fromJson(await post.text()) as { runId: string };
      const res = fromJson(await (await fetch(new URL(`${path}/${runId}/result?wait=true`, url))).text()) as {
        outcome: { status: string; value: { persistMs: number; persistDedupMs: number; restoreMs: number } };
      };
      if (res.outcome.status !== "succeeded") throw new Error(`asset bench run ${res.outcome.status}`);
      const v = res.outcome.value;
      const rate = (ms: number) => `${((options.mb * 1024 * 1024) / 1e6 / (ms / 1000)).toFixed(0)} MB/s (${ms.toFixed(0)} ms)`;
      rows.push({ adapter, what: `persist ${options.mb} MiB (hash, upload)`, value: rate(v.persistMs) });
      rows.push({ adapter, what: `persist the same ${options.mb} MiB again (hash only)`, value: rate(v.persistDedupMs) });
      rows.push({ adapter, what: `restore ${options.mb} MiB (download, verify)`, value: rate(v.restoreMs) });
    } finally {
      await agent.stop({ drainMs: 0 });
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await nats?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return rows;
};
