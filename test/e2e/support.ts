/**
 * End-to-end test support: a real server (in this process, or as a child
 * process to kill), real agents over a real WebSocket, and the HTTP API
 * through `tributary/client`, as the CLI uses it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { inject } from "vitest";
import type { Outcome } from "../../src/protocol/messages.js";
import { startAgent, type Agent } from "../../src/agent/runtime.js";
import { Client, type SubmitOptions } from "../../src/client/index.js";
import { decodeJson, encodeJson } from "../../src/client/transport.js";
import { TributaryServer, type ServerOptions } from "../../src/orchestrator/server/index.js";
export { freePort } from "../support/ports.js";
import type { RunView } from "../../src/projections/index.js";

export const FLOWS = resolve(import.meta.dirname, "fixtures/flows.ts");
export const ROOT = resolve(import.meta.dirname, "../..");
export const BIN = join(ROOT, "bin/tributary.mjs");

export type LogKind = "embedded" | "jetstream";
export const LOG_KINDS: readonly LogKind[] = ["embedded", "jetstream"];

/**
 * One environment's API as the tests use it: `tributary/client` (`client`),
 * plus `call`, raw HTTP for tests of the server's edge (the request reaches
 * the server as written, without the client's checks).
 */
export class Api {
  readonly client: Client;

  constructor(
    readonly url: string,
    readonly project: string,
    readonly env = "production",
    /** Sent on every request (a server with --auth). */
    readonly token?: string,
  ) {
    this.client = new Client({ url, project, env, ...(token === undefined ? {} : { token }) });
  }

  /** Any request as written, and the status and decoded body of its answer. */
  async call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = this.token === undefined ? {} : { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(new URL(path, this.url), { method, headers, ...(body === undefined ? {} : { body: encodeJson(body) }) });
    const text = await res.text();
    return { status: res.status, body: (text ? decodeJson(text) : undefined) as T };
  }

  /** A request to a route of this environment (`rest` after `…/envs/{env}`), through the client. */
  ok<T>(method: "GET" | "POST", rest: string, body?: unknown): Promise<T> {
    return this.client.request<T>(method, `/api/projects/${this.project}/envs/${this.env}${rest}`, body);
  }

  async submit(target: string, args: unknown[] = [], extra: SubmitOptions = {}): Promise<string> {
    return (await this.client.submit(target, args, extra)).runId;
  }

  /** The run's outcome; a server that goes away fails it at once (no waiting out). */
  result(runId: string): Promise<Outcome> {
    return this.client.run(runId).outcome({ retryForMs: 0 });
  }

  async run(target: string, args: unknown[] = []): Promise<{ runId: string; outcome: Outcome; view: RunView }> {
    const runId = await this.submit(target, args);
    const outcome = await this.result(runId);
    return { runId, outcome, view: await this.view(runId) };
  }

  view(runId: string): Promise<RunView> {
    return this.client.run(runId).view();
  }

  /** The run's events, loosely typed for the tests' look-ups. */
  async history(runId: string): Promise<{ seq: number; type: string; at: number; data: Record<string, unknown> }[]> {
    return (await this.client.run(runId).history()) as unknown as { seq: number; type: string; at: number; data: Record<string, unknown> }[];
  }
}

/** A fresh project name, so that tests sharing the test nats-server stay apart. */
export const freshProject = (): string => `e2e-${randomBytes(5).toString("hex")}`;

export interface Harness {
  readonly server: TributaryServer;
  readonly api: Api;
  readonly dataDir: string;
  agent(options?: { tags?: Record<string, string[]>; concurrency?: number; modules?: string[]; env?: string }): Promise<Agent>;
  /** The API of another environment of the same project. */
  envApi(env: string): Api;
  close(): Promise<void>;
}

/**
 * A server in this process (port 0) on the given log, and agents on demand.
 * With `adminToken`, the server checks credentials (`--auth`) and the
 * harness's clients and agents present that admin token.
 */
export const startHarness = async (
  kind: LogKind,
  options: { heartbeatMs?: number; server?: Pick<ServerOptions, "studioDir" | "poolIdleExitMs">; adminToken?: string } = {},
): Promise<Harness> => {
  const token = options.adminToken;
  const dataDir = await mkdtemp(join(tmpdir(), "trib-e2e-"));
  const project = freshProject();
  const server = await TributaryServer.start({
    dataDir,
    port: 0,
    defaultProject: project,
    heartbeatMs: options.heartbeatMs ?? 500,
    onNotice: () => {},
    ...(kind === "jetstream" ? { nats: inject("natsUrl") } : {}),
    ...(token === undefined ? {} : { auth: true, adminToken: token }),
    ...options.server,
  });
  const agents: Agent[] = [];
  return {
    server,
    dataDir,
    api: new Api(server.url, project, "production", token),
    envApi: (env: string) => new Api(server.url, project, env, token),
    async agent(o = {}) {
      const a = await startAgent({
        server: server.url,
        project,
        env: o.env ?? "production",
        tags: o.tags ?? {},
        concurrency: o.concurrency ?? 16,
        modules: o.modules ?? [FLOWS],
        ...(token === undefined ? {} : { token }),
      });
      agents.push(a);
      return a;
    },
    async close() {
      await Promise.all(agents.map((a) => a.stop({ drainMs: 0 }).catch(() => undefined)));
      if (kind === "jetstream") {
        for (const ref of await server.log.listEnvs(project)) await server.log.deleteEnv(ref).catch(() => undefined);
      }
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
};

/** Runs `tributary ...args` as a child process. */
/** Kills `child` with SIGKILL (no chance to clean up: a crash) and resolves once it has exited. */
export const kill9 = (child: ChildProcess): Promise<void> =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });

export const spawnCli = (args: string[], env: Record<string, string> = {}): ChildProcess =>
  spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });

/** Runs a CLI command to completion: exit code, stdout, stderr. */
export const cli = (args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolveRun) => {
    const child = spawnCli(args, env);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
  });

/** Waits until `f` returns a truthy value (polling), or fails after `ms`. */
export const eventually = async <T>(f: () => Promise<T> | T, ms = 10_000, what = "condition"): Promise<NonNullable<T>> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** Waits for a line matching `re` on a child's stdout or stderr. */
export const waitForOutput = (child: ChildProcess, re: RegExp, ms = 15_000): Promise<string> =>
  new Promise((resolveLine, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no output matching ${re} within ${ms} ms; saw:\n${seen}`)), ms);
    const on = (d: Buffer) => {
      seen += d.toString();
      const m = re.exec(seen);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off("data", on);
        child.stderr?.off("data", on);
        resolveLine(m[0]);
      }
    };
    child.stdout?.on("data", on);
    child.stderr?.on("data", on);
  });
