/**
 * Branch benchmark, on each log.
 *
 * 1. End to end through a server process and real agents: a production run
 *    of `big(n)` (n steps, of which only the last, `finish`, will change);
 *    then a `dev` branch whose agent hosts the changed code re-runs
 *    `finish` of that run with `cascade: true`. Reports the full run, the
 *    branch creation, the import (the first re-run request brings the run
 *    into the branch), the re-run until the branch's root has its new result
 *    and nothing is pending, and what actually executed in the branch.
 * 2. The cost of a branch's frozen view of its parent: ~100,000 simulator
 *    events appended to a log, then replayed up to the last sequence into a
 *    fresh projection store, as `Environments.start()` does for a branch.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startAgent, type Agent } from "../src/agent/runtime.js";
import { logRef, type EventLog } from "../src/events/index.js";
import { EmbeddedEventLog, JetStreamEventLog } from "../src/events/storage/index.js";
import { fromJson, toJson } from "../src/protocol/json.js";
import { PROJECTIONS, type RunView } from "../src/projections/index.js";
import { LmdbProjectionStore, Projector } from "../src/projections/store/index.js";
import { startNatsServer } from "../test/support/nats-server.js";
import { workload } from "./log.js";
import { startServer, type WorkflowRow } from "./workflows.js";

type Adapter = "embedded" | "jetstream";

const ROOT = resolve(import.meta.dirname, "..");
const FLOWS = join(ROOT, "bench/fixtures/branch-flows.ts");
const FLOWS_V2 = join(ROOT, "bench/fixtures/branch-flows-v2.ts");
const ENVS = "/api/projects/default/envs";
const VIEW_EVENTS = 100_000;

const call = async <T>(url: string, method: "GET" | "POST", path: string, body?: unknown): Promise<T> => {
  const r = await fetch(new URL(path, url), {
    method,
    ...(body === undefined ? {} : { body: toJson(body), headers: { "content-type": "application/json" } }),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return fromJson(text) as T;
};

const since = (t0: number) => performance.now() - t0;
const ms = (x: number) => `${x.toFixed(0)} ms`;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const rootOf = (v: RunView) => v.steps.find((s) => s.stepId === v.run.rootStepId)!;
const valueOf = (s: { result?: unknown }) => (s.result as { value?: unknown } | undefined)?.value;
/** How long the root step's latest execution ran. */
const rootMs = (v: RunView) => {
  const x = v.executions[rootOf(v).executions.at(-1)!]!;
  return x.finishedAt! - x.startedAt!;
};

/** Runs `big(n)` in production and returns its id and the time it took. */
const runBig = async (url: string, n: number): Promise<{ runId: string; ms: number }> => {
  const t0 = performance.now();
  const { runId } = await call<{ runId: string }>(url, "POST", `${ENVS}/production/runs`, { target: "branching:big", arguments: [n] });
  const r = await call<{ outcome: { status: string } }>(url, "GET", `${ENVS}/production/runs/${runId}/result?wait=true`);
  if (r.outcome.status !== "succeeded") throw new Error(`big(${n}) ${r.outcome.status}`);
  return { runId, ms: since(t0) };
};

const rerunBench = async (adapter: Adapter, steps: number): Promise<WorkflowRow[]> => {
  const rows: WorkflowRow[] = [];
  const row = (what: string, value: string) => rows.push({ adapter, what, value });
  const dataDir = await mkdtemp(join(tmpdir(), "trib-bench-branch-"));
  const nats = adapter === "jetstream" ? await startNatsServer() : undefined;
  let server: ChildProcess | undefined;
  const agents: Agent[] = [];
  try {
    const started = await startServer(["--data", dataDir, ...(nats ? ["--nats", nats.url] : [])]);
    server = started.child;
    const url = started.url;
    agents.push(await startAgent({ server: url, project: "default", env: "production", tags: {}, concurrency: 64, modules: [FLOWS] }));
    await runBig(url, 100); // warm-up
    const prod = await runBig(url, steps);
    row(`production run of big(${steps}): ${steps} steps`, ms(prod.ms));

    const before = await call<RunView>(url, "GET", `${ENVS}/production/runs/${prod.runId}`);
    const finish = before.steps.find((s) => s.target.target === "finish")!;
    const expected = (valueOf(rootOf(before)) as number) + 1; // v2's finish adds one

    let t0 = performance.now();
    await call(url, "POST", ENVS, { name: "dev", from: "production" });
    row("branch dev from production (frozen view of its log)", ms(since(t0)));
    agents.push(await startAgent({ server: url, project: "default", env: "dev", tags: {}, concurrency: 64, modules: [FLOWS_V2] }));

    // The poll reads the root's outcome, which is cheap, and the run view only
    // once that is the new one: the view of the re-run (2n steps) costs the
    // server ~45 ms a GET at n = 1000, and polling it every 20 ms made the
    // re-run about twice as slow.
    const devRun = `${ENVS}/dev/runs/${prod.runId}`;
    t0 = performance.now();
    await call(url, "POST", `${devRun}/steps/${finish.stepId}/rerun`, { cascade: true });
    const imported = since(t0);
    let rerun = 0;
    let view: RunView | undefined;
    while (!view || view.run.pending > 0) {
      if (since(t0) > 300_000) throw new Error("the re-run did not finish in 5 minutes");
      await sleep(20);
      const r = await call<{ outcome?: { value?: unknown } }>(url, "GET", `${devRun}/result`);
      if (r.outcome?.value !== expected) continue;
      rerun = since(t0);
      view = await call<RunView>(url, "GET", devRun);
    }
    row(`import of the run into dev (the re-run POST, ${before.steps.length} steps)`, ms(imported));
    row("re-run finish in dev with cascade, until root has new result", `${ms(rerun)} (import included)`);
    row("re-run / production run", `${(rerun / prod.ms).toFixed(2)} of its time`);
    row("root workflow's execution: in production / re-run in dev", `${ms(rootMs(before))} / ${ms(rootMs(view))}`);

    const stepOf = new Map(view.steps.map((s) => [s.stepId, s]));
    const executed = Object.values(view.executions).map((x) => `${stepOf.get(x.stepId)!.target.target}#${x.stepId}(${x.reason})`);
    const reused = view.steps.filter((s) => s.status === "reused");
    const fromDev = reused.filter((s) => s.reusedFrom?.env === "dev").length;
    row("executions run in dev", `${executed.length}: ${executed.join(", ")}`);
    row("steps in dev's view of the run", `${view.steps.length} (${reused.length} reused: ${reused.length - fromDev} from production, ${fromDev} from dev)`);

    t0 = performance.now();
    for (let i = 0; i < 5; i++) await call(url, "GET", devRun);
    row("one GET of that run view", ms(since(t0) / 5));
  } finally {
    for (const a of agents) await a.stop({ drainMs: 0 });
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill("SIGTERM");
      await new Promise((r) => server!.once("exit", r));
    }
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  return rows;
};

const frozenViewBench = async (adapter: Adapter, commits: ReturnType<typeof workload>): Promise<WorkflowRow[]> => {
  const dir = await mkdtemp(join(tmpdir(), "trib-bench-branch-view-"));
  const nats = adapter === "jetstream" ? await startNatsServer() : undefined;
  const log: EventLog =
    adapter === "embedded" ? new EmbeddedEventLog({ dir: join(dir, "log") }) : await JetStreamEventLog.connect({ servers: nats!.url });
  try {
    const ref = logRef("bench", "parent");
    await log.createEnv(ref);
    const inflight = new Set<Promise<unknown>>();
    for (const [i, events] of commits.entries()) {
      const p = log.append(ref, events, { expectedLastSeq: i });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      if (inflight.size >= 2000) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    const to = await log.lastSeq(ref);

    const store = await LmdbProjectionStore.open(join(dir, "frozen"), PROJECTIONS);
    const t0 = performance.now();
    const { events } = await new Projector({ log, ref, store, to, onNotice: () => {} }).start();
    const t = since(t0);
    await store.close();
    return [
      {
        adapter,
        what: `frozen branch view of ${events.toLocaleString("en-US")} parent events (${to.toLocaleString("en-US")} commits)`,
        value: `${((t * VIEW_EVENTS) / events).toFixed(0)} ms per 100,000 events, ${Math.round((events * 1000) / t).toLocaleString("en-US")} events/s`,
      },
    ];
  } finally {
    await log.close();
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  }
};

export const runBranchBench = async (options: { adapters: readonly Adapter[]; steps?: number }): Promise<WorkflowRow[]> => {
  const rows: WorkflowRow[] = [];
  for (const adapter of options.adapters) rows.push(...(await rerunBench(adapter, options.steps ?? 1000)));
  const commits = workload(VIEW_EVENTS);
  for (const adapter of options.adapters) rows.push(...(await frozenViewBench(adapter, commits)));
  return rows;
};
