/**
 * The agent under stress: refusal, concurrency, aborts (cooperative and
 * not), heartbeats, reconnection with buffered results, bad frames, stop.
 */
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { AgentRefusedError, startAgent, type Agent, type AgentLogEntry, type AgentOptions } from "../../src/index.js";
import { encodeMessage } from "../../src/protocol/messages.js";
import { packValue } from "../../src/events/codec.js";
import { ScriptedServer, type ScriptedServerOptions } from "./scripted-server.js";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const serve = async (options: ScriptedServerOptions = {}, port = 0): Promise<ScriptedServer> => {
  const s = await ScriptedServer.start(options, port);
  cleanups.push(() => s.close());
  return s;
};

const agentFor = async (server: ScriptedServer, options: Partial<AgentOptions> = {}): Promise<Agent> => {
  const a = await startAgent({ server: server.url, modules: ["basic.ts"], cwd: fixtures, workers: 1, onLog: () => undefined, ...options });
  cleanups.push(() => a.stop({ drainMs: 0 }));
  return a;
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("an agent", () => {
  it("fails to start with the server's reason when refused", async () => {
    const server = await serve({ refuse: "protocol 1 is not supported: this server speaks 2" });
    const started = startAgent({ server: server.url, modules: ["basic.ts"], cwd: fixtures, workers: 1 });
    await expect(started).rejects.toBeInstanceOf(AgentRefusedError);
    await expect(started).rejects.toMatchObject({ reason: "protocol 1 is not supported: this server speaks 2" });
  });

  it("fails to start, naming the module, when a module does not load", async () => {
    const server = await serve();
    const started = startAgent({ server: server.url, modules: ["broken.ts"], cwd: fixtures, workers: 1 });
    await expect(started).rejects.toThrow(/cannot load module .*broken\.ts: this module fails to load/);
    expect(server.sockets).toHaveLength(0);
  });

  it("runs at most `concurrency` executions at once and queues the rest", async () => {
    const server = await serve();
    const agent = await agentFor(server, { concurrency: 2, workers: 2 });
    for (let i = 0; i < 5; i++) server.execute(`c-${i}`, "sleepy", [100]);
    await server.waitFor("started");
    expect(agent.running()).toHaveLength(5);
    for (let i = 0; i < 5; i++) expect(await server.result(`c-${i}`)).toMatchObject({ value: "slept" });
    let inFlight = 0;
    let most = 0;
    for (const m of server.received) {
      if (m.type === "started") most = Math.max(most, ++inFlight);
      if (m.type === "succeeded") inFlight--;
    }
    expect(most).toBe(2);
  });

  it("aborts a cooperative execution through its AbortSignal, without restarting its worker", async () => {
    const server = await serve();
    const agent = await agentFor(server, { abortGraceMs: 2000 });
    server.execute("coop", "sleepy", [10_000]);
    await server.waitFor("started", (m) => m.executionId === "coop");
    const t0 = Date.now();
    server.send({ type: "abort", executionId: "coop", reason: "cancelled" });
    expect(await server.result("coop")).toMatchObject({ type: "failed", error: { type: "CancelledError", retryable: false } });
    expect(Date.now() - t0).toBeLessThan(1000);
    server.execute("after", "echo", ["still here"]);
    expect(await server.result("after")).toMatchObject({ value: "still here" });
    expect(agent.running()).toEqual([]);
  });

  it("terminates the worker of a busy-looping execution after the grace period, fails its other executions, and keeps working", async () => {
    const server = await serve();
    await agentFor(server, { abortGraceMs: 300 });
    server.execute("bystander", "sleepy", [5000]);
    await server.waitFor("started", (m) => m.executionId === "bystander");
    server.execute("spin", "busy", []);
    await server.waitFor("started", (m) => m.executionId === "spin");
    const t0 = Date.now();
    server.send({ type: "abort", executionId: "spin", reason: "timed_out" });
    expect(await server.result("spin")).toMatchObject({ type: "failed", error: { type: "TimeoutError", retryable: true } });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(await server.result("bystander")).toMatchObject({ type: "failed", error: { type: "WorkerRestarted", retryable: true } });
    server.execute("after", "echo", [1]);
    expect(await server.result("after")).toMatchObject({ type: "succeeded", value: 1 });
  });

  it("fails the executions of a worker that crashed, and replaces the worker", async () => {
    const server = await serve();
    const logs: AgentLogEntry[] = [];
    await agentFor(server, { workers: 2, onLog: (e) => logs.push(e) });
    server.execute("crasher", "crash", []);
    expect(await server.result("crasher")).toMatchObject({ type: "failed", error: { type: "WorkerRestarted", retryable: true } });
    expect(logs.some((l) => l.message.includes("uncaught in a timer"))).toBe(true);
    server.execute("meanwhile", "echo", ["ok"]);
    expect(await server.result("meanwhile")).toMatchObject({ value: "ok" });
  });

  it("fails an aborted execution that was still queued at once", async () => {
    const server = await serve();
    await agentFor(server, { concurrency: 1 });
    server.execute("first", "sleepy", [300]);
    server.execute("queued", "echo", [1]);
    server.send({ type: "abort", executionId: "queued", reason: "cancelled" });
    expect(await server.result("queued")).toMatchObject({ error: { type: "CancelledError" } });
    expect(server.count((m) => m.type === "started" && m.executionId === "queued")).toBe(0);
    expect(await server.result("first")).toMatchObject({ value: "slept" });
  });

  it("heartbeats at the period of welcome, with its running executions", async () => {
    const server = await serve({ heartbeatMs: 40 });
    await agentFor(server);
    server.execute("hb", "sleepy", [300]);
    await server.waitFor("heartbeat", (m) => m.running.includes("hb"));
    await sleep(200);
    expect(server.count((m) => m.type === "heartbeat")).toBeGreaterThanOrEqual(4);
  });

  it("reconnects after the server goes away, says which executions are still alive (running, or with a result to deliver), and sends the results produced meanwhile", async () => {
    const first = await serve();
    const agent = await agentFor(first);
    const port = first.port;
    first.execute("done-offline", "sleepy", [150]);
    first.execute("still-running", "sleepy", [1200]);
    await first.waitFor("started", (m) => m.executionId === "still-running");
    const disconnected = new Promise((r) => agent.once("disconnected", r));
    await first.close();
    await disconnected;
    expect(agent.connected).toBe(false);
    await new Promise((r) => agent.once("settled", r));

    const second = await serve({}, port);
    const hello = await second.waitFor("hello");
    // A result not yet acknowledged keeps its execution alive: the server must not abandon it before the result arrives.
    expect(hello).toMatchObject({ agentId: "agent-1" });
    expect([...(hello.running as string[])].sort()).toEqual(["done-offline", "still-running"]);
    expect(await second.result("done-offline")).toMatchObject({ value: "slept" });
    expect(await second.result("still-running")).toMatchObject({ value: "slept" });
    expect(first.count((m) => m.type === "succeeded")).toBe(0);
  });

  it("re-sends after a reconnection the results the server has not acknowledged, and only those", async () => {
    const server = await serve();
    await agentFor(server);
    server.execute("acked", "echo", [1]);
    await server.result("acked");
    server.ackResults = false;
    server.execute("unacked", "echo", [2]);
    await server.result("unacked");
    server.socket.terminate();
    await server.waitFor("hello", (m) => m.connection === 1);
    await server.waitFor("succeeded", (m) => m.connection === 1 && m.executionId === "unacked");
    await sleep(50);
    expect(server.count((m) => m.type === "succeeded" && m.executionId === "acked")).toBe(1);
  });

  it("keeps a result the server could not record now (an error with retry) and sends it again on the same connection; a refusal drops it", async () => {
    const server = await serve();
    await agentFor(server);
    server.ackResults = false;
    server.execute("kept", "echo", [1]);
    const first = await server.result("kept");
    server.send({ type: "error", requestId: first.requestId!, message: "the log is unavailable", retry: true });
    const again = await server.waitFor("succeeded", (m) => m.executionId === "kept" && m.requestId === first.requestId && m !== first, 4000);
    expect(again.connection).toBe(first.connection);
    server.send({ type: "error", requestId: first.requestId!, message: "refused for good" });
    await sleep(1500);
    expect(server.count((m) => m.type === "succeeded" && m.executionId === "kept")).toBe(2);
  });

  it("ignores malformed and unknown frames, logs them, and keeps working on the same connection", async () => {
    const server = await serve();
    const logs: AgentLogEntry[] = [];
    await agentFor(server, { onLog: (e) => logs.push(e) });
    const ws = server.socket;
    ws.send(Buffer.from([0xc1, 0xff, 0x00]));
    ws.send("a text frame");
    ws.send(packValue([1, 2, 3]));
    ws.send(packValue({ type: "nonsense" }));
    ws.send(packValue({ type: "execute", executionId: 7 }));
    ws.send(packValue({ type: "abort", executionId: "x", reason: "bored" }));
    ws.send(encodeMessage({ type: "resolved", requestId: 999 }));
    ws.send(encodeMessage({ type: "error", message: "the server is unhappy" }));
    server.execute("after-garbage", "echo", ["fine"]);
    expect(await server.result("after-garbage")).toMatchObject({ value: "fine" });
    expect(server.sockets).toHaveLength(1);
    const warnings = logs.filter((l) => l.source === "agent" && l.level === "warn").map((l) => l.message);
    expect(warnings.filter((w) => w.startsWith("ignored a frame from the server"))).toHaveLength(6);
    expect(warnings).toContain("the server reported an error: the server is unhappy");
  });

  it("stops gracefully: running executions finish and report, new ones are declined", async () => {
    const server = await serve();
    const agent = await agentFor(server);
    server.execute("last", "sleepy", [200]);
    await server.waitFor("started", (m) => m.executionId === "last");
    const stopped = agent.stop();
    server.execute("too-late", "echo", [1]);
    expect(await server.result("too-late")).toMatchObject({ error: { type: "AgentStopping", retryable: true } });
    await stopped;
    expect(await server.result("last", 0)).toMatchObject({ value: "slept" });
    expect(agent.connected).toBe(false);
  });
});
