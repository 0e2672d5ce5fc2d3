/**
 * The agent runtime against a scripted server over a real WebSocket, with
 * real worker threads loading TypeScript and JavaScript fixtures.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROTOCOL_VERSION, startAgent, type Agent, type AgentLogEntry } from "../../src/index.js";
import { HANDLE_TAG } from "../../src/protocol/messages.js";
import { ScriptedServer } from "./scripted-server.js";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
const example = fileURLToPath(new URL("../../examples/orders.ts", import.meta.url));

let server: ScriptedServer;
let agent: Agent;
const logs: AgentLogEntry[] = [];

beforeAll(async () => {
  server = await ScriptedServer.start();
  agent = await startAgent({
    server: server.url,
    project: "shop",
    env: "staging",
    tags: { gpu: "a100", region: ["eu", "us"] },
    concurrency: 8,
    workers: 2,
    modules: ["basic.ts", "plain.mjs", example],
    cwd: fixtures,
    onLog: (e) => logs.push(e),
  });
});

afterAll(async () => {
  await agent?.stop({ drainMs: 100 });
  await server?.close();
});

describe("an agent", () => {
  it("says hello with its protocol version, project, env, tags, concurrency and manifests, and takes the id of welcome", async () => {
    const hello = await server.waitFor("hello");
    expect(hello).toMatchObject({ protocol: PROTOCOL_VERSION, project: "shop", env: "staging", tags: { gpu: ["a100"], region: ["eu", "us"] }, concurrency: 8, running: [] });
    expect(hello.agentId).toBeUndefined();
    expect(hello.manifests.map((m) => m.repository)).toEqual(["basic", "plain", "orders"]);
    expect(hello.manifests[0]?.targets.find((t) => t.name === "add")).toEqual({
      name: "add",
      kind: "task",
      parameters: [{ name: "a" }, { name: "b", default: "1" }],
      options: { retries: { limit: 3, delayMs: 1000, factor: 2, maxDelayMs: 60_000 } },
      codeHash: expect.stringMatching(/^[0-9a-f]{16}$/),
      arity: { min: 1, max: 2 },
    });
    expect(agent.agentId).toBe("agent-1");
    expect(agent.connected).toBe(true);
  });

  it("runs an execution: started, then succeeded with the value (Date, bytes and bigint intact)", async () => {
    const value = { when: new Date(1000), bytes: new Uint8Array([1, 2, 3]), big: 2n ** 80n, list: [1.5, "x", null] };
    server.execute("ok-1", "echo", [value]);
    const result = await server.result("ok-1");
    expect(result).toMatchObject({ type: "succeeded", value });
    const started = await server.waitFor("started", (m) => m.executionId === "ok-1");
    expect(server.received.indexOf(started)).toBeLessThan(server.received.indexOf(result));
    expect(result.requestId).toBeTypeOf("number");
  });

  it("runs TypeScript and JavaScript repositories, with default parameters", async () => {
    server.execute("add-1", "add", [41]);
    server.execute("shout-1", "shout", ["hey", 2], "plain");
    expect(await server.result("add-1")).toMatchObject({ value: 42 });
    expect(await server.result("shout-1")).toMatchObject({ value: "HEYHEY" });
  });

  it("reports a thrown error with its type, message, stack and retryability", async () => {
    server.execute("f-range", "fail_range", []);
    server.execute("f-terminal", "fail_terminal", []);
    server.execute("f-picky-type", "fail_picky", ["type"]);
    server.execute("f-picky-range", "fail_picky", ["range"]);
    expect(await server.result("f-range")).toMatchObject({ type: "failed", error: { type: "RangeError", message: "out of range", retryable: true } });
    const range = await server.result("f-range");
    expect(range.type === "failed" && range.error.stack).toMatch(/RangeError: out of range\n\s+at .*basic\.ts/);
    expect(await server.result("f-terminal")).toMatchObject({ error: { type: "TerminalError", retryable: false } });
    expect(await server.result("f-picky-type")).toMatchObject({ error: { type: "TypeError", retryable: false } });
    expect(await server.result("f-picky-range")).toMatchObject({ error: { type: "RangeError", retryable: true } });
  });

  it("fails an unknown target, and a result that cannot be passed, without retry", async () => {
    server.execute("unknown-1", "nope", []);
    server.execute("bad-result", "bad_result", []);
    expect(await server.result("unknown-1")).toMatchObject({ error: { type: "UnknownTarget", message: "this agent does not host basic:nope", retryable: false } });
    expect(await server.result("bad-result")).toMatchObject({ error: { type: "InvalidValueError", message: "result: a Map cannot be passed (arguments and results must be JSON values, Date, Uint8Array, bigint, handles or assets)", retryable: false } });
  });

  it("gives task code its context", async () => {
    server.send({ type: "execute", executionId: "info-1", runId: "run-9", stepId: "step-9", attempt: 3, target: { repository: "basic", target: "info" }, arguments: [] });
    expect(await server.result("info-1")).toMatchObject({ value: { runId: "run-9", stepId: "step-9", executionId: "info-1", attempt: 3, target: "info" } });
  });

  it("sends log lines with levels and fields (a field that is not a value as its string form)", async () => {
    server.execute("logs-1", "logs", []);
    await server.result("logs-1");
    const info = await server.waitFor("log", (m) => m.executionId === "logs-1" && m.level === "info");
    expect(info).toMatchObject({ message: "hello from a task", fields: { n: 1, when: new Date(0), fn: expect.stringMatching(/^\(\)\s*=>\s*1$/) } });
    expect(info.at).toBeTypeOf("number");
    await server.waitFor("log", (m) => m.executionId === "logs-1" && m.level === "error");
    expect(logs.some((l) => l.source === "task" && l.message === "hello from a task")).toBe(true);
  });

  it("relays a task's calls to other tasks: submit, then result", async () => {
    server.execute("nested-1", "calls_other", [5]);
    expect(await server.result("nested-1")).toMatchObject({ type: "succeeded", value: [5, 6] });
    const submits = server.received.filter((m) => m.type === "submit" && m.executionId === "nested-1");
    expect(submits).toMatchObject([
      { target: { repository: "basic", target: "echo" }, arguments: [5] },
      { target: { repository: "basic", target: "echo" }, arguments: [6] },
    ]);
    expect(server.count((m) => m.type === "result" && m.executionId === "nested-1" && m.wait)).toBe(2);
  });

  it("rethrows a called task's failure in the caller with its name, message, stack and class", async () => {
    server.execute("catch-1", "catches_failure", []);
    const r = await server.result("catch-1");
    expect(r).toMatchObject({ value: { name: "RangeError", message: "out of range", isRange: true } });
    const failed = [...server.outcomes.values()].find((o) => o.status === "failed" && o.error.message === "out of range");
    expect(r.type === "succeeded" && (r.value as { stack: string }).stack).toBe(failed?.status === "failed" && failed.error.stack);
  });

  it("refuses an argument that cannot be passed at the call site", async () => {
    server.execute("badarg-1", "bad_argument", []);
    expect(await server.result("badarg-1")).toMatchObject({ value: 'InvalidValueError: task "echo": argument 0 .items[2]: a Set cannot be passed (arguments and results must be JSON values, Date, Uint8Array, bigint, handles or assets)' });
    expect(server.count((m) => m.type === "submit" && m.executionId === "badarg-1")).toBe(0);
  });

  it("returns a handle as a reference, and resolves a handle received as an argument", async () => {
    server.execute("ret-handle", "returns_handle", []);
    const r = await server.result("ret-handle");
    const ref = r.type === "succeeded" ? (r.value as Record<string, { executionId: string }>)[HANDLE_TAG] : undefined;
    expect(ref?.executionId).toMatch(/^child-/);
    server.execute("take-handle", "takes_handle", [{ [HANDLE_TAG]: ref } as never]);
    expect(await server.result("take-handle")).toMatchObject({ value: "inner" });
  });

  it("runs the README example: a fan-out where one charge fails once and is retried, then a task that calls a task", async () => {
    server.execute("orders-1", "process_orders", [[101, 102, 103]], "orders");
    expect(await server.result("orders-1")).toMatchObject({ type: "succeeded", value: { orders: 3, total: "0.60 EUR" } });
    const charges = server.received.filter((m) => m.type === "submit" && m.executionId === "orders-1");
    expect(charges.map((m) => m.type === "submit" && m.arguments)).toEqual([[101], [102], [103], [[{ order: 101, amount: 10 }, { order: 102, amount: 20 }, { order: 103, amount: 30 }]]]);
    expect(charges[0]).toMatchObject({ options: { retries: { limit: 2, delayMs: 200 } } });
    const failedOnce = server.received.filter((m) => m.type === "failed" && m.error.message === "payment gateway busy for order 102");
    expect(failedOnce).toMatchObject([{ error: { type: "Error", retryable: true } }]);
    expect(server.count((m) => m.type === "submit" && m.target.target === "format_total")).toBe(1);
  });

  it("reports a promise that task code left rejected, without failing the worker", async () => {
    server.execute("floating-1", "floating", []);
    expect(await server.result("floating-1")).toMatchObject({ type: "succeeded", value: "still fine" });
    expect(logs.some((l) => l.source === "agent" && l.message.includes("unhandled rejection in task code: Error: nobody listens"))).toBe(true);
  });

  it("keeps nothing after the server acknowledged the results", async () => {
    await new Promise((r) => setTimeout(r, 50));
    expect(agent.running()).toEqual([]);
  });
});
