/**
 * Workflow benchmark, end to end through a server process and a real agent:
 * a workflow fanning out N trivial tasks (tasks per second), and a chain of
 * M sequential trivial tasks (milliseconds per step), on each log; then the
 * server process's memory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startAgent } from "../src/agent/runtime.js";
import { fromJson, toJson } from "../src/orchestrator/json.js";
import { startNatsServer } from "../test/support/nats-server.js";

export interface WorkflowRow {
  readonly adapter: string;
  readonly what: string;
  readonly value: string;
}

const ROOT = resolve(import.meta.dirname, "..");
const FLOWS = join(ROOT, "bench/fixtures/bench-flows.ts");

const rssMiB = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
};

export const startServer = (args: string[]): Promise<{ child: ChildProcess; url: string }> =>
  new Promise((resolveStart, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "bin/tributary.mjs"), "server", "--port", "0", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolveStart({ child, url: m[1]! });
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });

const post = async (url: string, path: string, body: unknown) => {
  const r = await fetch(new URL(path, url), { method: "POST", body: toJson(body), headers: { "content-type": "application/json" } });
  return fromJson(await r.text()) as { runId: string };
};
const get = async (url: string, path: string) => fromJson(await (await fetch(new URL(path, url))).text()) as { outcome: { status: string } };

/** Submits and waits; returns seconds. */
const timed = async (url: string, target: string, args: unknown[]): Promise<number> => {
  const t0 = performance.now();
  const { runId } = await post(url, "/api/projects/default/envs/production/runs", { target, arguments: args });
  const r = await get(url, `/api/projects/default/envs/production/runs/${runId}/result?wait=true`);
  if (r.outcome.status !== "succeeded") throw new Error(`${target} ${r.outcome.status}`);
  return (performance.now() - t0) / 1000;
};

export const runWorkflowBench = async (options: {
  adapters: readonly ("embedded" | "jetstream")[];
  fanOut: number;
  chain: number;
}): Promise<WorkflowRow[]> => {
  const rows: WorkflowRow[] = [];
  for (const adapter of options.adapters) {
    const dataDir = await mkdtemp(join(tmpdir(), "trib-bench-wf-"));
    const nats = adapter === "jetstream" ? await startNatsServer() : undefined;
    const { child, url } = await startServer(["--data", dataDir, ...(nats ? ["--nats", nats.url] : [])]);
    const agent = await startAgent({ server: url, project: "default", env: "production", tags: {}, concurrency: 64, modules: [FLOWS] });
    try {
      await timed(url, "bench:fan_out", [100]); // warm-up
      await timed(url, "bench:chain", [10]);
      const fan = await timed(url, "bench:fan_out", [options.fanOut]);
      rows.push({ adapter, what: `fan-out of ${options.fanOut} trivial tasks, end to end`, value: `${Math.round(options.fanOut / fan).toLocaleString("en-US")} tasks/s (${(fan * 1000).toFixed(0)} ms)` });
      const ch = await timed(url, "bench:chain", [options.chain]);
      rows.push({ adapter, what: `chain of ${options.chain} sequential trivial tasks`, value: `${((ch * 1000) / options.chain).toFixed(2)} ms per step` });
      rows.push({ adapter, what: "server process memory after them (RSS)", value: `${rssMiB(child.pid!).toFixed(0)} MiB` });
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
