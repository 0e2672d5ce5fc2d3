/**
 * The launcher of an environment's pools (`launcher: "process"`): every
 * second it reads the pools (from the log's projections) and the queue, and
 * starts `tributary agent` processes on this machine for the executions that
 * only a pool can run (the pure decision: `core/pools.ts`), each named
 * `pool_<pool>_<random>` with the pool's modules and tags (plus
 * `pool=<name>`). They stop themselves once idle (`--idle-exit`), drain on
 * the SIGTERM this launcher sends when their pool is deleted or the server
 * stops, and write their stderr and stdout to
 * `<data>/pool-logs/<project>/<env>/<pool>/<agentId>.log`. An agent started
 * by a server that was killed lives on, reconnects to the next server, is
 * counted as its pool's, and exits once idle.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, closeSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { poolOfAgent, type LogRef } from "../events/index.js";
import { listAgents } from "../projections/index.js";
import { poolAgentId, poolHosts, poolLaunches } from "./core/pools.js";
import type { EnvRuntime } from "./runtime.js";
import type { EnvScheduler } from "./scheduler/index.js";

export interface PoolLauncherOptions {
  /** This server's URL for its agents; `undefined` until it listens. */
  readonly url: () => string | undefined;
  /** The token its agents present (a server with --auth), passed in their environment (never on a command line). */
  readonly token?: string;
  /** Where the agents' output goes: `<logRoot>/<project>/<env>/<pool>/<agentId>.log`. */
  readonly logRoot: string;
  /** A pool agent exits after this long with nothing to run, ms. Default 30 s. */
  readonly idleExitMs?: number;
  readonly onNotice: (message: string) => void;
}

/** A pool agent this launcher started, as `GET …/pools` shows it. */
export interface PoolAgentInfo {
  readonly agentId: string;
  readonly pid: number | undefined;
  readonly startedAt: number;
  /** Its output (stderr and stdout). */
  readonly log: string;
  readonly connected: boolean;
}

const CANDIDATES = ["../../bin/tributary.mjs", "../../../bin/tributary.mjs"];
/** The `tributary` command of this installation (from the sources or from the build). */
const BIN = CANDIDATES.map((c) => fileURLToPath(new URL(c, import.meta.url))).find((p) => existsSync(p));
const TICK_MS = 1000;

export class PoolLauncher {
  private readonly children = new Map<string, { pool: string; child: ChildProcess; startedAt: number; log: string }>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private said = false;
  /** Pools whose agents failed soon after their start: not started again before `at` (5 s, doubling, up to a minute). */
  private readonly backoff = new Map<string, { at: number; failures: number }>();

  constructor(
    private readonly ref: LogRef,
    private readonly rt: EnvRuntime,
    private readonly scheduler: EnvScheduler,
    private readonly o: PoolLauncherOptions,
  ) {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** One pass: agents of deleted pools told to stop, and new agents started where executions wait for a pool. */
  tick(now = Date.now()): void {
    if (this.closed) return;
    const pools = this.rt.model.pools();
    const names = new Set(pools.map((p) => p.name));
    for (const [id, c] of this.children) if (!names.has(c.pool)) this.stopChild(id, "its pool was deleted");
    if (pools.length === 0) return;
    const url = this.o.url();
    if (url === undefined) return;
    if (BIN === undefined) {
      if (!this.said) this.o.onNotice("pools: the tributary command was not found beside the server: no pool agent can be started");
      this.said = true;
      return;
    }
    const connected = new Set(this.scheduler.connected().map((a) => a.agentId));
    const alive = (pool: string) => {
      const mine = [...this.children.entries()].filter(([, c]) => c.pool === pool).map(([id]) => id);
      // Agents of the pool started by an earlier server (they outlived it) count too.
      const others = [...connected].filter((id) => poolOfAgent(id) === pool && !this.children.has(id));
      return mine.length + others.length;
    };
    const hosts = poolHosts(listAgents(this.rt.source));
    const launches = poolLaunches(pools.map((pool) => ({ pool, alive: alive(pool.name) })), hosts, this.scheduler.queue(now));
    for (const { pool, start } of launches) {
      if ((this.backoff.get(pool)?.at ?? 0) > now) continue;
      const doc = pools.find((p) => p.name === pool)!;
      for (let i = 0; i < start; i++) this.start(doc.name, doc.modules, doc.tags, url, now);
    }
  }

  /** The agents this launcher started for `pool`, alive now. */
  agents(pool: string): PoolAgentInfo[] {
    const connected = new Set(this.scheduler.connected().map((a) => a.agentId));
    return [...this.children.entries()]
      .filter(([, c]) => c.pool === pool)
      .map(([agentId, c]) => ({ agentId, pid: c.child.pid, startedAt: c.startedAt, log: c.log, connected: connected.has(agentId) }));
  }

  /** The directory of a pool's agents' output. */
  logDir(pool: string): string {
    return join(this.o.logRoot, this.ref.project, this.ref.env, pool);
  }

  /** Stops launching; its agents are told to stop (SIGTERM: they drain and give back what they run). */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const id of [...this.children.keys()]) this.stopChild(id, "the server is stopping");
  }

  private start(pool: string, modules: readonly string[], tags: { readonly [k: string]: readonly string[] }, url: string, now: number): void {
    const agentId = poolAgentId(pool, randomBytes(8).toString("hex"));
    const dir = this.logDir(pool);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const log = join(dir, `${agentId}.log`);
    const fd = openSync(log, "a", 0o600);
    const tagArgs = [["pool", [pool]] as const, ...Object.entries(tags)].flatMap(([k, vs]) => vs.flatMap((v) => ["--tag", `${k}=${v}`]));
    const idle = `${this.o.idleExitMs ?? 30_000}`;
    const args = [BIN!, "agent", "--server", url, "--project", this.ref.project, "--env", this.ref.env, "--agent-id", agentId, "--idle-exit", idle, ...tagArgs, ...modules];
    const env = { ...process.env, ...(this.o.token === undefined ? {} : { TRIBUTARY_TOKEN: this.o.token }) };
    const child = spawn(process.execPath, args, { stdio: ["ignore", fd, fd], env });
    closeSync(fd);
    this.children.set(agentId, { pool, child, startedAt: now, log });
    this.o.onNotice(`pool ${pool} (${this.ref.project}/${this.ref.env}): started agent ${agentId} (pid ${child.pid}); its output: ${log}`);
    child.once("exit", (code, signal) => {
      this.children.delete(agentId);
      // One that fails early (a module that does not load, a server that refuses it) is not restarted in a loop.
      const failed = code !== 0 && signal === null && Date.now() - now < 10_000;
      if (failed) {
        const failures = (this.backoff.get(pool)?.failures ?? 0) + 1;
        this.backoff.set(pool, { at: Date.now() + Math.min(60_000, 5000 * 2 ** (failures - 1)), failures });
      } else if (code === 0) this.backoff.delete(pool);
      this.o.onNotice(`pool ${pool} (${this.ref.project}/${this.ref.env}): agent ${agentId} exited (${signal ?? `code ${code}`})${failed ? `: see ${log}; the pool starts none for a while` : ""}`);
    });
    child.once("error", (e) => this.o.onNotice(`pool ${pool}: could not start an agent: ${e.message}`));
  }

  private stopChild(agentId: string, why: string): void {
    const c = this.children.get(agentId);
    if (!c) return;
    this.children.delete(agentId);
    this.o.onNotice(`pool ${c.pool}: stopping agent ${agentId}: ${why}`);
    c.child.kill("SIGTERM");
  }
}
