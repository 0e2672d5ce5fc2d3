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
import { fromJson, toJson } from "../src/protocol/json.js";
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

const RUNS = "/api/projects/default/envs/production/runs";

/** Submits a workflow and waits for it; returns its result and the seconds it took. */
export const runWorkflow = async <T = unknown>(url: string, target: string, args: unknown[]): Promise<{ value: T; seconds: number }> => {
  const t0 = performance.now();
  const post = await fetch(new URL(RUNS, url), { method: "POST", body: toJson({ target, arguments: args }), headers: { "content-type": "application/json" } });
  const { runId } = fromJson(await post.text()) as { runId: string };
  const r = fromJson(await (await fetch(new URL(`${RUNS}/${runId}/result?wait=true`, url))).text()) as { outcome: { status: string; value: T } };
  if (r.outcome.status !== "succeeded") throw new Error(`${target} ${r.outcome.status}`);
  return { value: r.outcome.value, seconds: (performance.now() - t0) / 1000 };
};
const timed = async (url: string, target: string, args: unknown[]): Promise<number> => (await runWorkflow(url, target, args)).seconds;

/**
 * A server process on `adapter` (with its own nats-server for JetStream) and
 * an in-process agent hosting `modules`, for `f`; everything is stopped and
 * removed afterwards.
 */
export const withServer = async <T>(
  adapter: "embedded" | "jetstream",
  agentOptions: { modules: string[]; concurrency?: number },
  f: (server: { url: string; child: ChildProcess }) => Promise<T>,
): Promise<T> => {
  const dataDir = await mkdtemp(join(tmpdir(), "trib-bench-"));
  const nats = adapter === "jetstream" ? await startNatsServer() : undefined;
  const server = await startServer(["--data", dataDir, ...(nats ? ["--nats", nats.url] : [])]);
  const agent = await startAgent({ server: server.url, project: "default", env: "production", tags: {}, ...agentOptions });
  try {
    return await f(server);
  } finally {
    await agent.stop({ drainMs: 0 });
    server.child.kill("SIGTERM");
    await new Promise((r) => server.child.once("exit", r));
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
};

export const runWorkflowBench = async (options: {
  adapters: readonly ("embedded" | "jetstream")[];
  fanOut: number;
  chain: number;
}): Promise<WorkflowRow[]> => {
  const rows: WorkflowRow[] = [];
  for (const adapter of options.adapters) {
    await withServer(adapter, { modules: [FLOWS], concurrency: 64 }, async ({ url, child }) => {
      await timed(url, "bench:fan_out", [100]); // warm-up
      await timed(url, "bench:chain", [10]);
      const fan = await timed(url, "bench:fan_out", [options.fanOut]);
      rows.push({ adapter, what: `fan-out of ${options.fanOut} trivial tasks, end to end`, value: `${Math.round(options.fanOut / fan).toLocaleString("en-US")} tasks/s (${(fan * 1000).toFixed(0)} ms)` });
      // The cost of a concurrency limit: counted per key by the scheduler's pass, against the same fan-out.
      const limited = await timed(url, "bench:fan_out_limited", [options.fanOut, false]);
      rows.push({ adapter, what: `the same fan-out, each task under a concurrency limit of 64 (not binding)`, value: `${Math.round(options.fanOut / limited).toLocaleString("en-US")} tasks/s (${(limited * 1000).toFixed(0)} ms)` });
      const tight = await timed(url, "bench:fan_out_limited", [options.fanOut, true]);
      rows.push({ adapter, what: `the same fan-out under a limit of 8 (binding)`, value: `${Math.round(options.fanOut / tight).toLocaleString("en-US")} tasks/s (${(tight * 1000).toFixed(0)} ms)` });
      const ch = await timed(url, "bench:chain", [options.chain]);
      rows.push({ adapter, what: `chain of ${options.chain} sequential trivial tasks`, value: `${((ch * 1000) / options.chain).toFixed(2)} ms per step` });
      rows.push({ adapter, what: "server process memory after them (RSS)", value: `${rssMiB(child.pid!).toFixed(0)} MiB` });
    });
  }
  return rows;
};
