/**
 * A fuzz campaign against a real server (a child process on the embedded or
 * the JetStream log) with a real agent hosting test/e2e/fixtures/flows.ts
 * and files.ts, and fixtures/cancels.ts.
 *
 * 1. Records real agent sessions: the agent talks to the server through a
 *    recording WebSocket proxy while a few workflows run.
 * 2. Sends `inputs` inputs, seeded: mutated recorded frames of every agent
 *    message type on fresh WebSocket connections (hellos on connections of
 *    their own), and random methods, paths, queries, headers and bodies on
 *    every HTTP route.
 * 3. Throughout, `/api/health` must answer within a bound and the server
 *    process must live; every refusal must be a 4xx or an `error`/`refused`
 *    frame with a message and no stack trace.
 * 4. At the end, per environment: a rebuild reproduces the live dump, and
 *    `log verify` finds every commit decodes.
 *
 * The same seed gives the same inputs (the ids inside recorded frames differ
 * from run to run, as the server makes them).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent as HttpAgent, createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket, { WebSocketServer } from "ws";
import { startAgent, type Agent } from "../../src/agent/index.js";
import { AGENT_PATH, decodeMessage, encodeMessage, type AgentMessage, type ServerMessage } from "../../src/protocol/messages.js";
import { fromJson, toJson } from "../../src/protocol/json.js";
import { Random } from "../support/prng.js";
import { BIN, FLOWS, ROOT, freePort } from "../e2e/support.js";
import { mutateFrame } from "./mutate.js";
import { call, httpInput, httpInputs } from "./http-inputs.js";
import { AGENT_TYPES, STACK, count, kindOf, type CampaignReport } from "./report.js";

export type { CampaignReport } from "./report.js";

export interface CampaignOptions {
  readonly inputs: number;
  readonly seed: number;
  readonly log?: "embedded" | "jetstream";
  /** NATS URL for the JetStream log. */
  readonly nats?: string;
  /** Longest acceptable health answer, ms. Default 2,000. */
  readonly healthBoundMs?: number;
  readonly onProgress?: (done: number, report: CampaignReport) => void;
}

export const runCampaign = async (o: CampaignOptions): Promise<CampaignReport> => {
  const r = new Random(o.seed);
  const report: CampaignReport = {
    seed: o.seed,
    log: o.log ?? "embedded",
    inputs: 0,
    agentFrames: 0,
    httpRequests: 0,
    recordedFrames: {},
    seconds: 0,
    refusals: {},
    accepted: {},
    mutations: {},
    health: { checks: 0, maxMs: 0, slow: 0, slowestAfter: 0 },
    findings: [],
    envs: [],
  };
  const finding = (f: string) => {
    if (report.findings.length < 200) report.findings.push(f.slice(0, 600));
  };
  const dataDir = await mkdtemp(join(tmpdir(), "trib-fuzz-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const project = "default";
  const http = new HttpAgent({ keepAlive: true, maxSockets: 8 });
  let server: ChildProcess | undefined;
  let agent: Agent | undefined;
  let proxy: WebSocketServer | undefined;
  let proxyHttp: Server | undefined;
  let stderr = "";
  let exited: string | undefined;
  const started = Date.now();
  let healthTimer: NodeJS.Timeout | undefined;
  try {
    // -- the server, a process of its own
    server = spawn(
      process.execPath,
      [BIN, "server", "--data", dataDir, "--port", String(port), "--host", "127.0.0.1", ...(o.log === "jetstream" ? ["--nats", o.nats!] : [])],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    server.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    });
    server.on("exit", (code, signal) => (exited = `the server exited (code ${code}, signal ${signal})`));
    await waitUntil(async () => (await call(http, url, "GET", "/api/health", undefined, {}, 1000).catch(() => undefined))?.status === 200, 20_000);

    // -- record real sessions through a proxy
    const recorded = new Map<string, AgentMessage[]>();
    // The proxy passes plain HTTP (the agent's blob uploads and downloads) straight through.
    proxyHttp = createServer((req, res) => {
      const up = request(`${url}${req.url ?? "/"}`, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on("error", () => res.destroy());
      req.pipe(up);
    });
    proxy = new WebSocketServer({ noServer: true });
    proxyHttp.on("upgrade", (req, socket, head) => proxy!.handleUpgrade(req, socket, head, (ws) => proxy!.emit("connection", ws, req)));
    await new Promise<void>((res) => proxyHttp!.listen(0, "127.0.0.1", () => res()));
    proxy.on("connection", (client) => {
      const upstream = new WebSocket(`ws://127.0.0.1:${port}${AGENT_PATH}`);
      const queue: Buffer[] = [];
      upstream.on("open", () => queue.splice(0).forEach((b) => upstream.send(b)));
      client.on("message", (data) => {
        const b = Buffer.from(data as Buffer);
        const m = decodeMessage(b) as unknown as AgentMessage | undefined;
        if (m) recorded.set(m.type, [...(recorded.get(m.type) ?? []), m].slice(-20));
        if (upstream.readyState === WebSocket.OPEN) upstream.send(b);
        else queue.push(b);
      });
      upstream.on("message", (data) => client.readyState === WebSocket.OPEN && client.send(data as Buffer));
      client.on("close", () => upstream.close());
      upstream.on("close", () => client.close());
      upstream.on("error", () => client.terminate());
      client.on("error", () => upstream.terminate());
    });
    const proxyPort = (proxyHttp.address() as { port: number }).port;
    const modules = [FLOWS, join(ROOT, "test/e2e/fixtures/files.ts"), join(ROOT, "test/fuzz/fixtures/cancels.ts")];
    agent = await startAgent({ server: `http://127.0.0.1:${proxyPort}`, project, env: "production", modules, concurrency: 8, onLog: () => {} });
    const runs: string[] = [];
    for (const [target, args] of [
      ["flows:fan_out", [4]],
      ["flows:chain", [3]],
      ["flows:flaky_flow", [1]],
      ["flows:catch_flow", []],
      ["flows:calls_workflow", [2]],
      ["flows:logs", []],
      ["flows:wait_flow", []],
      ["flows:handle_flow", []],
      ["files:files_flow", ["fz"]],
      ["cancels:cancel_flow", []],
    ] as const) {
      const res = await call(http, url, "POST", `/api/projects/${project}/envs/production/runs`, toJson({ target, arguments: args }));
      const runId = (fromJson(res.text) as { runId: string }).runId;
      runs.push(runId);
      await call(http, url, "GET", `/api/projects/${project}/envs/production/runs/${runId}/result?wait=true`, undefined, {}, 20_000);
    }
    await new Promise((res) => setTimeout(res, 2100)); // a heartbeat
    for (const [k, v] of recorded) report.recordedFrames[k] = v.length;
    const seeds = seedFrames(recorded, runs[0]!);

    // -- health, throughout
    const health = async () => {
      const t = Date.now();
      const res = await call(http, url, "GET", "/api/health", undefined, {}, o.healthBoundMs ?? 2000).catch((e: Error) => ({ status: 0, text: e.message }));
      const ms = Date.now() - t;
      report.health.checks++;
      if (ms > report.health.maxMs) {
        report.health.maxMs = ms;
        report.health.slowestAfter = report.inputs;
      }
      if (res.status !== 200) {
        report.health.slow++;
        finding(`health did not answer within ${o.healthBoundMs ?? 2000} ms (${res.status} ${res.text}) after ${report.inputs} inputs`);
      }
    };
    healthTimer = setInterval(() => void health(), 250);

    // -- the campaign
    const httpPlan = httpInputs(r, project, runs);
    while (report.inputs < o.inputs) {
      if (exited) {
        finding(`${exited} after ${report.inputs} inputs; its last words: ${stderr.slice(-2000)}`);
        break;
      }
      if (r.chance(0.6)) {
        const n = Math.min(o.inputs - report.inputs, r.int(1, 40));
        await agentBatch(r, url, seeds, n, report, finding, Math.max(5000, 2 * (o.healthBoundMs ?? 2000)));
        report.inputs += n;
        report.agentFrames += n;
      } else {
        const n = Math.min(o.inputs - report.inputs, r.int(1, 20));
        await Promise.all(Array.from({ length: n }, () => httpInput(http, url, httpPlan(), report, finding)));
        report.inputs += n;
        report.httpRequests += n;
      }
      o.onProgress?.(report.inputs, report);
    }
    clearInterval(healthTimer);
    healthTimer = undefined;
    if (exited) return report;

    // -- the end: the log decodes, and a rebuild reproduces the live dump
    await agent.stop({ drainMs: 0 });
    agent = undefined;
    const envs = JSON.parse((await call(http, url, "GET", `/api/projects/${project}/envs`)).text) as { name: string }[];
    for (const { name } of envs) {
      const base = `/api/projects/${project}/envs/${name}`;
      await waitStable(http, url, base);
      const live = JSON.parse((await call(http, url, "GET", `${base}/projections/dump`)).text) as { lastSeq: number; lines: string[] };
      const rebuilt = await call(http, url, "POST", `${base}/projections/rebuild`, undefined, {}, 60_000);
      const after = JSON.parse((await call(http, url, "GET", `${base}/projections/dump`)).text) as { lastSeq: number; lines: string[] };
      const verify = JSON.parse((await call(http, url, "GET", `${base}/log/verify`, undefined, {}, 60_000)).text) as { failures: { seq: number; reason: string }[] };
      const matches = rebuilt.status === 200 && after.lastSeq === live.lastSeq && JSON.stringify(after.lines) === JSON.stringify(live.lines);
      if (!matches) finding(`${name}: the rebuild (${rebuilt.status} ${rebuilt.text.slice(0, 200)}) does not reproduce the live dump`);
      for (const f of verify.failures) finding(`${name}: commit ${f.seq} does not decode: ${f.reason}`);
      report.envs.push({ env: name, lastSeq: live.lastSeq, rebuildMatches: matches, verifyFailures: verify.failures.length });
    }
    const apiErrors = stderr.match(/API error: [^\n]*/g) ?? [];
    for (const e of apiErrors.slice(0, 20)) finding(`server notice: ${e}`);
    return report;
  } finally {
    report.seconds = Math.round((Date.now() - started) / 100) / 10;
    clearInterval(healthTimer);
    await agent?.stop({ drainMs: 0 }).catch(() => undefined);
    proxy?.close();
    proxyHttp?.closeAllConnections();
    proxyHttp?.close();
    http.destroy();
    if (server && !exited) {
      server.kill("SIGTERM");
      await new Promise((res) => {
        const t = setTimeout(() => {
          server?.kill("SIGKILL");
          res(undefined);
        }, 5000);
        server!.once("exit", () => {
          clearTimeout(t);
          res(undefined);
        });
      });
    }
    await rm(dataDir, { recursive: true, force: true });
  }
};

/** Recorded frames by type, with hand-made valid frames for any type the flows did not send (none, normally). */
const seedFrames = (recorded: Map<string, AgentMessage[]>, runId: string): Map<string, AgentMessage[]> => {
  const seeds = new Map(recorded);
  const executionId = (recorded.get("started")?.[0] as { executionId?: string } | undefined)?.executionId ?? `${runId}-1-1`;
  const handle = { runId, stepId: "1", executionId };
  const add = (m: AgentMessage) => !seeds.has(m.type) && seeds.set(m.type, [m]);
  add({ type: "cancel", requestId: 1, executionId, handle });
  add({ type: "persist", requestId: 2, executionId, entries: [{ path: "out/a.txt", size: 3, sha256: "a".repeat(64) }], name: "a", metadata: { rows: 3 } });
  add({ type: "restore", requestId: 3, executionId, assetId: `${executionId}-a2`, to: "in" });
  add({ type: "result", requestId: 4, executionId, handle, wait: false });
  add({ type: "heartbeat", running: [executionId] });
  add({ type: "log", executionId, level: "info", message: "hi", at: Date.now() });
  add({ type: "suspend", requestId: 5, executionId, call: 1, delayMs: 10 });
  add({ type: "suspend", requestId: 6, executionId, waitingFor: [handle] });
  add({ type: "prompt", requestId: 7, executionId, call: 2, title: "ok?", schema: { type: "boolean" } });
  return seeds;
};

/** A fresh connection: a (mutated) hello alone, or a valid hello then `n` mutated frames of the other types. */
const agentBatch = async (
  r: Random,
  url: string,
  seeds: Map<string, AgentMessage[]>,
  n: number,
  report: CampaignReport,
  finding: (f: string) => void,
  stallMs: number,
): Promise<void> => {
  const ws = new WebSocket(url.replace("http", "ws") + AGENT_PATH);
  const replies: ServerMessage[] = [];
  let closed = false;
  ws.on("message", (d) => {
    const m = decodeMessage(Buffer.from(d as Buffer)) as unknown as ServerMessage | undefined;
    if (m) replies.push(m);
    else finding("the server sent a frame that does not decode");
  });
  ws.on("close", () => (closed = true));
  ws.on("error", () => undefined);
  await new Promise<void>((res) => {
    ws.once("open", () => res());
    ws.once("error", () => res());
  });
  if (ws.readyState !== WebSocket.OPEN) {
    finding(`could not open an agent connection after ${report.inputs} inputs`);
    return;
  }
  const hellos = seeds.get("hello") ?? [];
  const valid = { ...(r.pick(hellos) as object), agentId: `fuzz-${r.hex(8)}` } as Record<string, unknown>;
  const send = (bytes: Uint8Array, text = false) => ws.readyState === WebSocket.OPEN && ws.send(text ? Buffer.from(bytes).toString("latin1") : bytes, { binary: !text });
  if (n === 1 || r.chance(0.15)) {
    // A mutated hello on a connection of its own.
    const m = mutateFrame(r, valid, AGENT_TYPES);
    count(report.mutations, `hello:${m.mutation}`);
    send(m.bytes, m.text);
    await waitFor(() => closed || replies.some((x) => x.type === "welcome" || x.type === "refused" || x.type === "error"), stallMs);
  } else {
    send(encodeMessage(valid as AgentMessage));
    await waitFor(() => replies.some((x) => x.type === "welcome" || x.type === "refused"), stallMs);
    if (!replies.some((x) => x.type === "welcome")) finding(`a recorded hello was not welcomed: ${JSON.stringify(replies).slice(0, 300)}`);
    for (let i = 0; i < n; i++) {
      const type = r.pick(AGENT_TYPES.filter((t) => t !== "hello" && seeds.has(t)));
      const m = mutateFrame(r, r.pick(seeds.get(type)!), AGENT_TYPES);
      count(report.mutations, `${type}:${m.mutation}`);
      send(m.bytes, m.text);
    }
    // A probe that is always answered: once its error arrives, the frames before it were handled.
    send(encodeMessage({ type: "fuzz-probe" } as never));
    await waitFor(() => closed || replies.some((x) => x.type === "error" && /fuzz-probe/.test(x.message)), stallMs);
    if (!closed && !replies.some((x) => x.type === "error" && /fuzz-probe/.test(x.message))) {
      finding(`an agent connection stalled: no answer to the probe within ${stallMs} ms after ${report.inputs} inputs`);
    }
    await new Promise((res) => setTimeout(res, 5));
  }
  for (const m of replies) {
    if (m.type === "error" || m.type === "refused") {
      const message = m.type === "error" ? m.message : m.reason;
      if (typeof message !== "string" || message.length === 0) finding(`an ${m.type} frame without a message`);
      else if (STACK.test(message)) finding(`an ${m.type} frame with a stack trace: ${message}`);
      else if (!/fuzz-probe/.test(message)) count(report.refusals, `${m.type}:${kindOf(message)}`);
    } else count(report.accepted, `frame:${m.type}`);
  }
  ws.terminate();
};

const waitFor = async (f: () => boolean, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await new Promise((res) => setTimeout(res, 2));
};

const waitUntil = async (f: () => Promise<boolean>, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`the server did not start within ${ms} ms`);
    await new Promise((res) => setTimeout(res, 100));
  }
};

/** Waits until the environment's log stops growing (agents disconnected, retries settled). */
const waitStable = async (http: HttpAgent, url: string, base: string): Promise<void> => {
  let last = -1;
  for (let i = 0; i < 50; i++) {
    const res = await call(http, url, "GET", `${base}/projections/dump`);
    const { lastSeq } = JSON.parse(res.text) as { lastSeq: number };
    if (lastSeq === last) return;
    last = lastSeq;
    await new Promise((res) => setTimeout(res, 300));
  }
};
