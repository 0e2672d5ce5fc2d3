/**
 * The chaos harness: a real `tributary server` child process and real agent
 * child processes run the `chaos:*` workload while the server (and some of
 * the time an agent, and on JetStream the nats-server) is killed with
 * SIGKILL and restarted on the same port and data. At the end it checks,
 * from the HTTP API and from the marker files the tasks wrote:
 *   - every run succeeded, each root with the result computed by `workload.ts`;
 *   - no step has two successful executions (counted in each run's history);
 *   - no step or execution is left pending, queued or running;
 *   - no finished call ran again (a `.redo.` marker), unless the agent that
 *     finished it was killed before its result was recorded;
 *   - a projections rebuild reproduces the live dump.
 * See docs/chaos.md.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, mkdir, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import { fromJson, toJson } from "../../src/protocol/json.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";
import { freePort } from "../support/ports.js";
import { makeSubmission, Rng, type Submission } from "./workload.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/tributary.mjs");
export const CHAOS_FLOWS = join(ROOT, "test/chaos/flows.ts");
const PROJECT = "chaos";
const ENV_PATH = `/api/projects/${PROJECT}/envs/production`;

export type Adapter = "embedded" | "jetstream";

export interface ChaosOptions {
  readonly adapter: Adapter;
  /** Server kills (SIGKILL), each followed by a restart on the same port and data. */
  readonly kills: number;
  readonly seed: number;
  /** Longest outage between a kill and the restart, ms (each is drawn in [0, max]). Default 8000. */
  readonly maxOutageMs?: number;
  /** Time the server stays up between kills, drawn in [min, max] ms. Default 500–3000. */
  readonly minUptimeMs?: number;
  readonly maxUptimeMs?: number;
  /** Chance, per kill cycle, that an agent is killed too (and a new one started). Default 0.3. */
  readonly agentKillChance?: number;
  /** Chance, per kill cycle on JetStream, that the nats-server is killed with the server. Default 0.3. */
  readonly natsKillChance?: number;
  /** Chance, per kill cycle on JetStream, that the nats-server alone is killed (and restarted) while the server runs. Default 0.15. */
  readonly natsAloneChance?: number;
  /** Agent processes running at once. Default 2. */
  readonly agents?: number;
  /** Runs submitted before the first kill. Default 6. */
  readonly initialRuns?: number;
  /** No new run is submitted while this many are unfinished. Default 8. */
  readonly maxInFlight?: number;
  /** Concurrency of each agent. Default 64. */
  readonly concurrency?: number;
  /** A new run is submitted every [min, max] ms while the chaos goes on. Default 700–2000. */
  readonly submitEveryMs?: readonly [number, number];
  /** How long to wait for every run once the last restart is done. Default 120000. */
  readonly settleMs?: number;
  readonly heartbeatMs?: number;
  /** Server port; default a free one. The same port is used for every restart. */
  readonly port?: number;
  /** nats-server port (JetStream); default a free one. */
  readonly natsPort?: number;
  /** Keep the temporary directories (data, markers, nats store). */
  readonly keep?: boolean;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

export interface ChaosReport {
  readonly adapter: Adapter;
  readonly seed: number;
  readonly kills: number;
  readonly agentKills: number;
  readonly natsKills: number;
  /** Runs the harness submitted (roots). */
  readonly submitted: number;
  /** Every run of the environment: roots and child runs. */
  readonly runs: number;
  /** Task executions started, by the tasks' own markers. */
  readonly tasksExecuted: number;
  /** Workflow executions started, by their markers. */
  readonly workflowsExecuted: number;
  /** Calls whose code started again after it had returned once (not excused). */
  readonly redone: number;
  /**
   * Where the redos ran: a new execution of the step that had finished; a new
   * step of the same run for the same call (its caller was retried); another
   * run (a second child run for the same call, or a cache miss).
   */
  readonly redoneHow: { readonly sameStep: number; readonly newStep: number; readonly otherRun: number };
  /** Calls that returned twice from overlapping executions (neither started after the other returned); not an invariant. */
  readonly overlapping: number;
  /** Redos whose first finish was on an agent killed before the result was recorded. */
  readonly redoneExcused: number;
  /** Steps with two or more `ExecutionSucceeded` in their run's history. */
  readonly doubleSuccesses: number;
  /** Runs (roots and children) that did not succeed, or roots with a wrong result. */
  readonly failedRuns: number;
  /** Steps left pending/running and executions left queued/assigned/running. */
  readonly leftActive: number;
  /** Times the server process exited without being killed. */
  readonly serverSelfExits: number;
  /** Submissions answered 400 "no connected agent" (after a restart, before the agents are back); retried. */
  readonly submitsRefusedNoAgent: number;
  readonly maxOutageMs: number;
  readonly wallMs: number;
  readonly rebuildEqual: boolean;
  /** One line per violated invariant (empty: all held). */
  readonly failures: readonly string[];
  readonly dirs: readonly string[];
}

/** A child process with its exit awaited and the tail of its output kept. */
class Proc {
  readonly exited: Promise<void>;
  #tail: string[] = [];
  killedByUs = false;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", () => r())));
    const keep = (d: Buffer) => {
      for (const line of d.toString().split("\n")) if (line.trim()) this.#tail.push(line);
      if (this.#tail.length > 30) this.#tail.splice(0, this.#tail.length - 30);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
  }
  get pid(): number {
    return this.child.pid!;
  }
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  tail(): string {
    return this.#tail.join("\n");
  }
  async kill9(): Promise<void> {
    this.killedByUs = true;
    if (this.alive) this.child.kill("SIGKILL");
    await this.exited;
  }
  async stop(): Promise<void> {
    this.killedByUs = true;
    if (!this.alive) return;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    await this.exited;
    clearTimeout(t);
  }
  /** Resolves with the first output line matching `re`; rejects if the process exits first or after `ms`. */
  waitFor(re: RegExp, ms: number): Promise<string> {
    return new Promise((resolveLine, reject) => {
      let seen = "";
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.child.stdout?.off("data", on);
        this.child.stderr?.off("data", on);
        f();
      };
      const on = (d: Buffer) => {
        seen += d.toString();
        const m = re.exec(seen);
        if (m) done(() => resolveLine(m[0]));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`${this.name}: no output matching ${re} within ${ms} ms; saw:\n${seen}`))), ms);
      this.child.stdout?.on("data", on);
      this.child.stderr?.on("data", on);
      void this.exited.then(() => done(() => reject(new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before ${re}; its output:\n${this.tail()}`))));
    });
  }
}

interface Marker {
  readonly what: "start" | "done" | "fail" | "redo";
  readonly kind: "task" | "workflow";
  readonly key: string;
  readonly runId: string;
  readonly stepId: string;
  readonly executionId: string;
  readonly attempt: number;
  readonly pid: number;
  readonly at: number;
}

interface HistoryEvent {
  readonly seq: number;
  readonly type: string;
  readonly at: number;
  readonly data: { readonly stepId?: string; readonly executionId?: string };
}

interface View {
  readonly run: { readonly runId: string; readonly status: string; readonly parent?: unknown; readonly error?: { type: string; message: string } };
  readonly steps: readonly { readonly stepId: string; readonly status: string; readonly kind: string; readonly target: unknown; readonly executions: readonly string[] }[];
  readonly executions: Readonly<Record<string, { readonly status: string; readonly stepId: string; readonly agentId?: string }>>;
}

type Outcome = { status: "succeeded"; value: unknown } | { status: string; error: { type: string; message: string } };

/** Runs one chaos campaign on one log and checks the invariants. */
export const runChaos = async (o: ChaosOptions): Promise<ChaosReport> => {
  const log = o.log ?? (() => {});
  const say = (s: string) => log(`${new Date().toISOString().slice(11, 23)} [${o.adapter}] ${s}`);
  const t0 = Date.now();
  const maxOutage = o.maxOutageMs ?? 8000;
  const minUp = o.minUptimeMs ?? 500;
  const maxUp = o.maxUptimeMs ?? 3000;
  const [minEvery, maxEvery] = o.submitEveryMs ?? [700, 2000];
  const heartbeatMs = o.heartbeatMs ?? 500;
  const chaosRng = new Rng(o.seed);
  const workRng = new Rng(o.seed ^ 0x5eed);

  const dataDir = await mkdtemp(join(tmpdir(), "trib-chaos-data-"));
  const markers = await mkdtemp(join(tmpdir(), "trib-chaos-markers-"));
  const natsDir = o.adapter === "jetstream" ? await mkdtemp(join(tmpdir(), "trib-chaos-nats-")) : undefined;
  const dirs = [dataDir, markers, ...(natsDir ? [natsDir] : [])];
  await mkdir(markers, { recursive: true });
  const port = o.port ?? (await freePort());
  const natsPort = o.natsPort ?? (natsDir ? await freePort() : 0);
  const url = `http://127.0.0.1:${port}`;

  let nats: NatsServer | undefined;
  let server: Proc | undefined;
  const agents: Proc[] = [];
  const everyProc: Proc[] = [];
  const killedAgents = new Map<number, number>(); // pid -> time of its SIGKILL
  let kills = 0;
  let agentKills = 0;
  let natsKills = 0;
  let serverSelfExits = 0;
  let maxOutageMs = 0;
  const failures: string[] = [];
  const onExit = () => {
    for (const p of everyProc) if (p.alive) p.child.kill("SIGKILL");
  };
  process.once("exit", onExit);

  const startNats = async () => {
    nats = await startNatsServer({ storeDir: natsDir!, port: natsPort });
  };
  const startServer = async () => {
    const args = ["server", "--data", dataDir, "--port", String(port), "--heartbeat-ms", String(heartbeatMs), "--project", PROJECT];
    if (natsDir) args.push("--nats", `nats://127.0.0.1:${natsPort}`);
    const p = new Proc("server", spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }));
    everyProc.push(p);
    await p.waitFor(/listening on/, 30_000);
    server = p;
    void p.exited.then(() => {
      if (!p.killedByUs) {
        serverSelfExits++;
        say(`the server exited by itself (${p.child.exitCode ?? p.child.signalCode}); its output:\n${p.tail()}`);
      }
    });
  };
  const startAgentProc = async () => {
    const p = new Proc(
      "agent",
      spawn(process.execPath, [BIN, "agent", "--server", url, "--project", PROJECT, "--env", "production", "--concurrency", String(o.concurrency ?? 64), CHAOS_FLOWS], {
        cwd: ROOT,
        env: { ...process.env, TRIB_CHAOS_MARKERS: markers },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    everyProc.push(p);
    agents.push(p);
    await p.waitFor(/agent \S+ connected/, 30_000);
    connected.add(p);
  };
  const connected = new Set<Proc>();
  /** Starts agents until `want` are alive (those still connecting count). */
  const topUpAgents = () => {
    const want = o.agents ?? 2;
    for (let n = agents.filter((a) => a.alive).length; n < want; n++)
      void startAgentProc().catch((e) => {
        if (!closing) say(`a new agent did not start: ${(e as Error).message}`);
      });
  };

  // --- HTTP -----------------------------------------------------------------
  const call = async <T>(method: "GET" | "POST", path: string, body?: unknown, timeoutMs = 10_000): Promise<{ status: number; body: T }> => {
    const res = await fetch(new URL(path, url), {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      ...(body === undefined ? {} : { body: toJson(body), headers: { "content-type": "application/json" } }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? fromJson(text) : undefined) as T };
  };
  const ok = async <T>(method: "GET" | "POST", rest: string, body?: unknown): Promise<T> => {
    const r = await call<T>(method, `${ENV_PATH}${rest}`, body, 60_000);
    if (r.status !== 200) throw new Error(`${method} ${rest}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };

  // --- submissions ----------------------------------------------------------
  const submitted: { s: Submission; runId?: string; refused?: string }[] = [];
  const submit = async (s: Submission) => {
    const entry: (typeof submitted)[number] = { s };
    submitted.push(entry);
    // Retried through outages; the idempotency key makes a retry of an accepted submission return the same run.
    while (!closing) {
      try {
        const r = await call<{ runId?: string; error?: string }>("POST", `${ENV_PATH}/runs`, { target: s.target, arguments: s.arguments, idempotencyKey: s.tag }, 5000);
        if (r.status === 200 && r.body.runId) {
          entry.runId = r.body.runId;
          return;
        }
        if (r.status === 400 && /no connected agent/.test(r.body.error ?? "")) {
          // After a restart the server refuses targets until an agent hosting them is connected again.
          submitsRefusedNoAgent++;
        } else if (r.status >= 400 && r.status < 500) {
          entry.refused = `${r.status} ${r.body.error ?? ""}`;
          return;
        }
      } catch {
        // the server is down or was killed mid-request: try again
      }
      await sleep(200);
    }
  };
  let submitting = true;
  let submitsRefusedNoAgent = 0;
  let closing = false;
  let next = 0;
  const pending: Promise<void>[] = [];
  // Outcomes are collected all along (the server may be down: then later).
  const outcomes = new Map<string, Outcome>();
  const collect = async () => {
    for (const e of submitted) {
      if (!e.runId || outcomes.has(e.runId) || closing) continue;
      try {
        const r = await call<{ outcome?: Outcome }>("GET", `${ENV_PATH}/runs/${e.runId}/result`, undefined, 5000);
        if (r.status === 200 && r.body.outcome) outcomes.set(e.runId, r.body.outcome);
      } catch {
        // down: next round
      }
    }
  };
  const unfinished = () => submitted.filter((e) => !e.refused && !(e.runId && outcomes.has(e.runId))).length;
  const collector = (async () => {
    while (submitting) {
      await collect();
      await sleep(300);
    }
  })();
  const maxInFlight = o.maxInFlight ?? 8;
  const submitter = (async () => {
    while (submitting) {
      await sleep(chaosRng.int(minEvery, maxEvery));
      // Bounded, so that workflows waiting on their calls never hold every slot of the agents.
      if (submitting && unfinished() < maxInFlight) pending.push(submit(makeSubmission(workRng, "r", next++)));
    }
  })();

  try {
    if (natsDir) await startNats();
    await startServer();
    for (let i = 0; i < (o.agents ?? 2); i++) await startAgentProc();
    say(`server on ${url} (pid ${server!.pid}), ${agents.length} agents, data ${dataDir}, markers ${markers}`);
    for (let i = 0; i < (o.initialRuns ?? 6); i++) pending.push(submit(makeSubmission(workRng, "r", next++)));

    for (let k = 1; k <= o.kills; k++) {
      const uptime = chaosRng.int(minUp, maxUp);
      const killAgent = chaosRng.chance(o.agentKillChance ?? 0.3);
      const agentAt = chaosRng.int(0, uptime);
      const killNats = !!natsDir && chaosRng.chance(o.natsKillChance ?? 0.3);
      const natsAlone = !!natsDir && chaosRng.chance(o.natsAloneChance ?? 0.15);
      const natsAloneAt = chaosRng.int(0, uptime);
      const natsAloneOutage = chaosRng.int(0, Math.floor(maxOutage / 2));
      const outage = chaosRng.int(0, maxOutage);
      // What happens while the server is up, in time order.
      const during: { at: number; act: () => Promise<void> }[] = [];
      if (killAgent)
        during.push({
          at: agentAt,
          act: async () => {
            const live = agents.filter((a) => a.alive && connected.has(a));
            const victim = live[chaosRng.int(0, live.length - 1)];
            if (!victim) return;
            killedAgents.set(victim.pid, Date.now());
            await victim.kill9();
            agentKills++;
            say(`kill ${k}: agent ${victim.pid} killed`);
            topUpAgents(); // its replacement connects as soon as the server is up
          },
        });
      if (natsAlone)
        during.push({
          at: natsAloneAt,
          act: async () => {
            // The nats-server alone, under a running server: it must ride it out.
            const t = Date.now();
            await nats!.kill();
            natsKills++;
            await sleep(natsAloneOutage);
            await startNats();
            say(`kill ${k}: nats-server alone down ${((Date.now() - t) / 1000).toFixed(1)} s`);
          },
        });
      during.sort((a, b) => a.at - b.at);
      const upSince = Date.now();
      for (const d of during) {
        await sleep(Math.max(0, upSince + d.at - Date.now()));
        await d.act();
      }
      await sleep(Math.max(0, upSince + uptime - Date.now()));

      const down = Date.now();
      if (!server!.alive) say(`kill ${k}: the server was already down`);
      await server!.kill9();
      kills++;
      if (killNats) {
        await nats!.kill();
        natsKills++;
      }
      await sleep(outage);
      if (killNats) await startNats();
      await startServer();
      topUpAgents(); // an agent that exited by itself is replaced too
      const out = Date.now() - down;
      maxOutageMs = Math.max(maxOutageMs, out);
      say(`kill ${k}/${o.kills}: server${killNats ? " and nats-server" : ""} down ${(out / 1000).toFixed(1)} s, up again (pid ${server!.pid})`);
    }
    submitting = false;
    await submitter;
    await Promise.all(pending);
    const selfExitedAgents = agents.filter((a) => !a.alive && !a.killedByUs);
    for (const a of selfExitedAgents) failures.push(`agent ${a.pid} exited by itself (${a.child.exitCode ?? a.child.signalCode}); its output:\n${a.tail()}`);
    // Every agent process the chaos left is meant to be up now; replacements may still be connecting.
    say(`chaos over: ${submitted.length} runs submitted; waiting for them (at most ${((o.settleMs ?? 120_000) / 1000).toFixed(0)} s)`);

    // --- settle ---------------------------------------------------------------
    const deadline = Date.now() + (o.settleMs ?? 120_000);
    await collector;
    for (;;) {
      await collect();
      if (unfinished() === 0 || Date.now() > deadline) break;
      await sleep(250);
    }
    // Let what the finished runs left behind (if anything) come to rest before it is counted.
    const allRuns = async () => (await ok<{ runId: string; status: string }[]>("GET", "/runs?limit=10000")).map((r) => r.runId);
    const activeCount = async () => {
      let n = 0;
      for (const runId of await allRuns()) {
        const v = await ok<View>("GET", `/runs/${runId}`);
        n += v.steps.filter((s) => s.status === "pending" || s.status === "running").length;
      }
      return n;
    };
    const restBy = Date.now() + Math.min(15_000, Math.max(0, deadline - Date.now()) + 5000);
    while ((await activeCount()) > 0 && Date.now() < restBy) await sleep(500);

    // --- invariants -------------------------------------------------------------
    for (const e of submitted) {
      if (e.refused) failures.push(`${e.s.tag} (${e.s.target}) was refused at submit: ${e.refused}`);
      else if (!outcomes.has(e.runId!)) failures.push(`${e.s.tag} (${e.s.target}, run ${e.runId}) did not finish within the settle time`);
      else {
        const out = outcomes.get(e.runId!)!;
        if (out.status !== "succeeded") failures.push(`${e.s.tag} (${e.s.target}, run ${e.runId}) ${out.status}: ${"error" in out ? `${out.error.type}: ${out.error.message}` : ""}`);
        else if (!isDeepStrictEqual((out as { value: unknown }).value, e.s.expected))
          failures.push(`${e.s.tag} (${e.s.target}, run ${e.runId}) gave ${JSON.stringify((out as { value: unknown }).value)}, expected ${JSON.stringify(e.s.expected)}`);
      }
    }
    const rootRuns = new Set(submitted.map((e) => e.runId).filter(Boolean));
    const runIds = await allRuns();
    const views = new Map<string, View>();
    let failedRuns = submitted.filter((e) => e.refused || !outcomes.has(e.runId!) || outcomes.get(e.runId!)!.status !== "succeeded" || !isDeepStrictEqual((outcomes.get(e.runId!) as { value?: unknown }).value, e.s.expected)).length;
    let doubleSuccesses = 0;
    let leftActive = 0;
    const activeSummary = new Map<string, number>();
    const abandonedAt = new Map<string, number>();
    for (const runId of runIds) {
      const view = await ok<View>("GET", `/runs/${runId}`);
      views.set(runId, view);
      if (!rootRuns.has(runId) && view.run.status !== "succeeded") {
        failedRuns++;
        failures.push(`child run ${runId} is ${view.run.status}${view.run.error ? `: ${view.run.error.type}: ${view.run.error.message}` : ""}`);
      }
      const history = await ok<HistoryEvent[]>("GET", `/runs/${runId}/history`);
      const successes = new Map<string, number>();
      for (const ev of history) {
        if (ev.type === "ExecutionSucceeded" && ev.data.stepId) successes.set(ev.data.stepId, (successes.get(ev.data.stepId) ?? 0) + 1);
        if (ev.type === "ExecutionAbandoned" && ev.data.executionId) abandonedAt.set(ev.data.executionId, ev.at);
      }
      for (const [stepId, n] of successes) {
        if (n > 1) {
          doubleSuccesses++;
          failures.push(`step ${runId}/${stepId} has ${n} ExecutionSucceeded events`);
        }
      }
      for (const s of view.steps) {
        if (s.status === "pending" || s.status === "running") {
          leftActive++;
          failures.push(`step ${runId}/${s.stepId} (${JSON.stringify(s.target)}) is left ${s.status}`);
        }
      }
      for (const [id, x] of Object.entries(view.executions)) {
        if (x.status === "queued" || x.status === "assigned" || x.status === "running") {
          leftActive++;
          const what = `${x.status} ${view.steps.find((st) => st.stepId === x.stepId)?.kind ?? "?"} executions${x.agentId ? ` on ${x.agentId}` : ""}`;
          activeSummary.set(what, (activeSummary.get(what) ?? 0) + 1);
          failures.push(`execution ${id} of ${runId}/${x.stepId} is left ${x.status}`);
        }
      }
    }

    if (activeSummary.size > 0) {
      const agentsNow = await ok<{ connected: unknown[] }>("GET", "/agents");
      failures.unshift(
        `left active at the end: ${[...activeSummary].map(([k, n]) => `${n} ${k}`).join(", ")}; connected agents: ${JSON.stringify(agentsNow.connected)}`,
      );
    }

    // --- markers (the tasks' own record) -------------------------------------
    const marks: Marker[] = [];
    for (const f of await readdir(markers)) {
      if (!/\.(start|done|fail|redo)\./.test(f)) continue;
      marks.push(JSON.parse(await readFile(join(markers, f), "utf8")) as Marker);
    }
    const tasksExecuted = marks.filter((m) => m.what === "start" && m.kind === "task").length;
    const workflowsExecuted = marks.filter((m) => m.what === "start" && m.kind === "workflow").length;
    let redone = 0;
    const redoneHow = { sameStep: 0, newStep: 0, otherRun: 0 };
    let redoneExcused = 0;
    for (const r of marks.filter((m) => m.what === "redo")) {
      const finishedBefore = marks.filter((m) => m.what === "done" && m.key === r.key && m.at <= r.at);
      // A finish is lost, not redone, when its agent was killed after it and before its result was
      // recorded: the execution was abandoned, and only after the kill (an abandonment before it is
      // the server's doing, not the kill's).
      const lost = (d: Marker) => {
        const killedAt = killedAgents.get(d.pid);
        const gaveUp = abandonedAt.get(d.executionId);
        return killedAt !== undefined && killedAt >= d.at && gaveUp !== undefined && gaveUp >= killedAt;
      };
      if (finishedBefore.length > 0 && finishedBefore.every(lost)) {
        redoneExcused++;
        continue;
      }
      redone++;
      const first = finishedBefore[0];
      if (first && first.runId === r.runId && first.stepId === r.stepId) redoneHow.sameStep++;
      else if (first && first.runId === r.runId) redoneHow.newStep++;
      else redoneHow.otherRun++;
      failures.push(
        `${r.kind} ${r.key} ran again after it had finished: execution ${r.executionId} (run ${r.runId}, step ${r.stepId}, attempt ${r.attempt})` +
          (first ? ` after ${first.executionId} (run ${first.runId}, step ${first.stepId}) finished ${r.at - first.at} ms earlier` : ""),
      );
    }

    // Calls whose code returned twice although neither start followed a return: two executions
    // that overlapped (e.g. one abandoned while it still ran). Reported, not an invariant.
    const doneByKey = new Map<string, number>();
    for (const m of marks) if (m.what === "done") doneByKey.set(m.key, (doneByKey.get(m.key) ?? 0) + 1);
    const redoKeys = new Set(marks.filter((m) => m.what === "redo").map((m) => m.key));
    const overlapping = [...doneByKey].filter(([key, n]) => n > 1 && !redoKeys.has(key)).length;

    // --- rebuild ------------------------------------------------------------------
    let rebuildEqual = false;
    for (let attempt = 0; attempt < 3 && !rebuildEqual; attempt++) {
      const live = await ok<{ lastSeq: number; lines: string[] }>("GET", "/projections/dump");
      await ok("POST", "/projections/rebuild");
      const rebuilt = await ok<{ lastSeq: number; lines: string[] }>("GET", "/projections/dump");
      if (rebuilt.lastSeq !== live.lastSeq) continue; // the log moved meanwhile: compare again
      rebuildEqual = isDeepStrictEqual(live.lines, rebuilt.lines);
      if (!rebuildEqual) {
        const a = new Set(live.lines);
        const b = new Set(rebuilt.lines);
        const onlyLive = live.lines.filter((l) => !b.has(l)).slice(0, 3);
        const onlyRebuilt = rebuilt.lines.filter((l) => !a.has(l)).slice(0, 3);
        failures.push(`the rebuilt projections differ from the live ones (${live.lines.length} vs ${rebuilt.lines.length} lines); only live: ${onlyLive.join(" | ")}; only rebuilt: ${onlyRebuilt.join(" | ")}`);
        break;
      }
    }
    if (serverSelfExits > 0) failures.push(`the server exited by itself ${serverSelfExits} time(s)`);

    return {
      adapter: o.adapter,
      seed: o.seed,
      kills,
      agentKills,
      natsKills,
      submitted: submitted.length,
      runs: runIds.length,
      tasksExecuted,
      workflowsExecuted,
      redone,
      redoneExcused,
      redoneHow,
      overlapping,
      doubleSuccesses,
      failedRuns,
      leftActive,
      serverSelfExits,
      submitsRefusedNoAgent,
      maxOutageMs,
      wallMs: Date.now() - t0,
      rebuildEqual,
      failures,
      dirs: o.keep ? dirs : [],
    };
  } finally {
    submitting = false;
    closing = true;
    for (const a of agents) await a.stop();
    await server?.stop();
    await nats?.stop();
    process.removeListener("exit", onExit);
    if (!o.keep) for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
};

/** The campaign as a Markdown table, one column per log. */
export const chaosTable = (rs: readonly ChaosReport[]): string => {
  const rows: [string, (r: ChaosReport) => string][] = [
    ["server kills", (r) => String(r.kills)],
    ["agent kills", (r) => String(r.agentKills)],
    ["nats-server kills", (r) => (r.adapter === "jetstream" ? String(r.natsKills) : "-")],
    ["runs submitted", (r) => String(r.submitted)],
    ["runs (with child runs)", (r) => String(r.runs)],
    ["tasks executed (markers)", (r) => String(r.tasksExecuted)],
    ["workflows executed (markers)", (r) => String(r.workflowsExecuted)],
    ["redone after finishing", (r) => String(r.redone)],
    ["  … as a new execution of the step", (r) => String(r.redoneHow.sameStep)],
    ["  … as a new step of the run", (r) => String(r.redoneHow.newStep)],
    ["  … in another run", (r) => String(r.redoneHow.otherRun)],
    ["redone, excused (agent killed)", (r) => String(r.redoneExcused)],
    ["finished twice, overlapping (info)", (r) => String(r.overlapping)],
    ["steps with 2 successes", (r) => String(r.doubleSuccesses)],
    ["failed / wrong runs", (r) => String(r.failedRuns)],
    ["steps/executions left active", (r) => String(r.leftActive)],
    ["server exits by itself", (r) => String(r.serverSelfExits)],
    ["submits refused: no agent yet (retried)", (r) => String(r.submitsRefusedNoAgent)],
    ["max outage", (r) => `${(r.maxOutageMs / 1000).toFixed(1)} s`],
    ["wall time", (r) => `${(r.wallMs / 1000).toFixed(0)} s`],
    ["rebuild equals live", (r) => (r.rebuildEqual ? "yes" : "no")],
    ["invariants", (r) => (r.failures.length === 0 ? "hold" : `${r.failures.length} violated`)],
  ];
  const head = ["", ...rs.map((r) => r.adapter)];
  const body = rows.map(([name, f]) => [name, ...rs.map(f)]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...body.map(line)].join("\n");
};
