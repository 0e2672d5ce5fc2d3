/**
 * The edge's schemas: they accept what the agent and the server really send
 * (their types say so at compile time, valid frames at run time), and refuse
 * misfits naming the field and what it must be.
 */
import type { Static } from "@sinclair/typebox";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { AgentMessage, ServerMessage } from "../../src/protocol/messages.js";
import type { StepOptions, TargetManifest, Value } from "../../src/events/index.js";
import {
  AGENT_MESSAGES,
  RepositoryManifestSchema,
  SERVER_MESSAGES,
  StepOptionsSchema,
  checkAgentMessage,
  checkServerMessage,
  jsonValueProblem,
  pathOf,
  valueProblem,
} from "../../src/protocol/index.js";

type Of<U, T> = Extract<U, { type: T }>;
type AgentSchemas = typeof AGENT_MESSAGES;
/** The message types whose schema and TypeScript type have different fields (a field added to one and not the other). */
type FieldMismatch = {
  [K in AgentMessage["type"]]: [keyof Of<AgentMessage, K>] extends [keyof Static<AgentSchemas[K]>]
    ? [keyof Static<AgentSchemas[K]>] extends [keyof Of<AgentMessage, K>]
      ? never
      : K
    : K;
}[AgentMessage["type"]];

describe("protocol schemas", () => {
  it("every message type of the protocol has a schema, and what fits a schema fits its type", () => {
    expectTypeOf<keyof typeof AGENT_MESSAGES>().toEqualTypeOf<AgentMessage["type"]>();
    expectTypeOf<keyof typeof SERVER_MESSAGES>().toEqualTypeOf<ServerMessage["type"]>();
    expectTypeOf<Static<(typeof AGENT_MESSAGES)["hello"]>>().toExtend<Of<AgentMessage, "hello">>();
    expectTypeOf<Static<(typeof AGENT_MESSAGES)["submit"]>>().toExtend<Of<AgentMessage, "submit">>();
    expectTypeOf<Static<(typeof AGENT_MESSAGES)["persist"]>>().toExtend<Of<AgentMessage, "persist">>();
    expectTypeOf<Static<(typeof AGENT_MESSAGES)["log"]>>().toExtend<Of<AgentMessage, "log">>();
    expectTypeOf<Static<(typeof AGENT_MESSAGES)["failed"]>>().toExtend<Of<AgentMessage, "failed">>();
    expectTypeOf<Static<(typeof AGENT_MESSAGES)["suspend"]>>().toExtend<Of<AgentMessage, "suspend">>();
    expectTypeOf<Static<(typeof AGENT_MESSAGES)["prompt"]>>().toExtend<Of<AgentMessage, "prompt">>();
    // A field added to a message's type must be added to its schema (or the server refuses it), and back.
    expectTypeOf<FieldMismatch>().toEqualTypeOf<never>();
    expectTypeOf<keyof Static<typeof StepOptionsSchema>>().toEqualTypeOf<keyof StepOptions>();
    expectTypeOf<keyof Static<typeof RepositoryManifestSchema>["targets"][number]>().toEqualTypeOf<keyof TargetManifest>();
    expectTypeOf<Static<(typeof AGENT_MESSAGES)["manifests"]>>().toExtend<Of<AgentMessage, "manifests">>();
    expect(Object.keys(AGENT_MESSAGES)).toHaveLength(18);
  });

  it("valid frames of every agent message type pass, with tagged values of every kind", () => {
    const handle = { runId: "r1", stepId: "s1", executionId: "r1-s1-1" };
    const values: Value[] = [null, 1, "x", true, new Date(0), new Uint8Array([1]), 2n ** 70n, { "$tributary.handle": handle }, { deep: [[[{ a: 1 }]]] }];
    const frames: AgentMessage[] = [
      { type: "hello", protocol: 1, project: "default", env: "production", tags: { gpu: ["yes"] }, concurrency: 4, manifests: [{ repository: "r", targets: [{ name: "t", kind: "task", parameters: [{ name: "a", annotation: "number" }], options: { retries: { limit: 1, delayMs: 0, factor: 1, maxDelayMs: 0 }, timeoutMs: 5, cache: { maxAgeMs: 1 }, memo: true } }] }], running: [] },
      { type: "heartbeat", running: ["x"] },
      { type: "started", executionId: "x" },
      { type: "succeeded", executionId: "x", value: values, requestId: 1 },
      { type: "failed", executionId: "x", error: { type: "E", message: "m", stack: "s", retryable: false } },
      { type: "submit", requestId: 1, executionId: "x", target: { repository: "r", target: "t" }, arguments: values, options: { wait: true, requires: { gpu: ["a"] } } },
      { type: "result", requestId: 1, executionId: "x", handle, wait: true },
      { type: "cancel", requestId: 1, executionId: "x", handle },
      { type: "persist", requestId: 1, executionId: "x", entries: [{ path: "a", size: 1, sha256: "0".repeat(64) }], name: "n", metadata: { rows: 1 } },
      { type: "restore", requestId: 1, executionId: "x", assetId: "a", to: "d" },
      { type: "log", executionId: "x", level: "warn", message: "m", fields: { at: new Date(0) }, at: 1 },
      { type: "save-checkpoint", requestId: 1, executionId: "x", name: "progress", value: values },
      { type: "save-checkpoint", requestId: 2, executionId: "x", name: "big", value: null, valueBlob: { key: `sha256:${"0".repeat(64)}`, size: 1, sha256: "0".repeat(64) } },
      { type: "load-checkpoint", requestId: 1, executionId: "x", name: "progress" },
      { type: "progress", executionId: "x", fraction: 0.5, message: "half" },
      { type: "progress", executionId: "x" },
      { type: "metric", executionId: "x", name: "loss/train", value: -0.5 },
    ];
    for (const f of frames) expect(checkAgentMessage(f), f.type).toBeUndefined();
    const server: ServerMessage[] = [
      { type: "welcome", agentId: "a", heartbeatMs: 1000 },
      { type: "execute", executionId: "x", runId: "r", stepId: "s", attempt: 1, target: { repository: "r", target: "t" }, arguments: values },
      { type: "resolved", requestId: 1, outcome: { status: "failed", error: { type: "E", message: "m", retryable: true } } },
      { type: "persisted", requestId: 1, asset: { assetId: "a", env: "production", entries: [] } },
      { type: "checkpoint", requestId: 1, found: true, value: values },
      { type: "checkpoint", requestId: 2, found: false, value: null },
    ];
    for (const f of server) expect(checkServerMessage(f), f.type).toBeUndefined();
  });

  it("misfits are refused naming the field and what it must be", () => {
    expect(checkAgentMessage({ type: "cancel", requestId: -1, executionId: "x", handle: { runId: "r", stepId: "s", executionId: "x" } })).toBe(
      "invalid cancel message: requestId must be a whole number >= 0",
    );
    expect(checkAgentMessage({ type: "log", executionId: "x", level: "info", message: "m", at: Number.NaN })).toBe("invalid log message: at must be a time in ms since 1970 (a valid date)");
    expect(checkAgentMessage({ type: "heartbeat", running: [], x: 1 })).toBe("invalid heartbeat message: x is not a known field: remove it");
    expect(checkServerMessage({ type: "abort", executionId: "x", reason: "bored" })).toMatch(/reason must be one of "cancelled", "timed_out", "abandoned"/);
    expect(checkAgentMessage({ type: "progress", executionId: "x", fraction: 2 })).toMatch(/^invalid progress message: fraction must be/);
    expect(checkAgentMessage({ type: "metric", executionId: "x", name: "a b", value: 1 })).toMatch(/^invalid metric message: name/);
    expect(checkAgentMessage({ type: "metric", executionId: "x", name: "a", value: Number.POSITIVE_INFINITY })).toMatch(/^invalid metric message: value/);
    const submit = { type: "submit", requestId: 1, executionId: "x", target: { repository: "r", target: "t" }, arguments: [] };
    expect(checkAgentMessage({ ...submit, options: { concurrency: [{ key: "group:db", limit: 2 }], group: "db" } })).toBeUndefined();
    expect(checkAgentMessage({ ...submit, options: { concurrency: [{ key: "group:db", limit: 0 }] } })).toMatch(/^invalid submit message: options\.concurrency\[0\]\.limit must be/);
    expect(checkAgentMessage({ ...submit, options: { group: "" } })).toMatch(/^invalid submit message: options\.group/);
    expect(checkAgentMessage({ type: "constructor" })).toMatch(/^unknown message type "constructor"/);
    expect(checkAgentMessage({ type: "__proto__" })).toMatch(/^unknown message type/);
  });

  it("values: depth is bounded, and tags must hold references", () => {
    let deep: unknown = 0;
    for (let i = 0; i < 129; i++) deep = [deep];
    expect(valueProblem(deep, "v")).toMatch(/nested deeper than 128 levels/);
    expect(valueProblem({ "$tributary.asset": { assetId: "a" } }, "v")).toMatch(/^v\["\$tributary\.asset"\]: env is missing/);
    expect(valueProblem({ "$tributary.handle": "x", other: 1 }, "v")).toBeUndefined(); // not a tag: two keys
    expect(valueProblem([new Date(Number.NaN)], "v")).toBe("v[0] must be a valid date");
    // A key the codec would rename is refused, not silently changed (found by trying it: it broke idempotency).
    expect(valueProblem(JSON.parse('[{"a": {"__proto__": 1}}]'), "body.arguments")).toBe('body.arguments[0].a has a key "__proto__", which values cannot hold: rename it');
    expect(pathOf("/manifests/0/targets/1/options/timeoutMs")).toBe("manifests[0].targets[1].options.timeoutMs");
    expect(pathOf("/a~1b/c d")).toBe('["a/b"]["c d"]');
  });

  it("values about to be sent as JSON: the same walk, also refusing what JSON would drop or change; what crossed a wire is not held to it", () => {
    let deep: unknown = 0;
    for (let i = 0; i < 128; i++) deep = [deep];
    const fine = [deep, new Date(0), new Uint8Array([1]), 2n, { a: undefined, b: [null, -1.5] }, { "$tributary.handle": { runId: "R", stepId: "1", executionId: "R-1-1" } }];
    for (const v of fine) expect([valueProblem(v, "v"), jsonValueProblem(v, "v")]).toEqual([undefined, undefined]);
    expect(jsonValueProblem([deep], "v")).toMatch(/nested deeper than 128 levels/);
    expect(jsonValueProblem({ "$tributary.asset": { assetId: "a" } }, "v")).toMatch(/^v\["\$tributary\.asset"\]: env is missing/);
    // msgpack carries NaN: the server takes it from an agent; JSON does not: the client refuses it.
    expect(valueProblem([Number.NaN], "v")).toBeUndefined();
    expect(jsonValueProblem([1, [Number.NaN]], "v")).toBe("v[1][0] is NaN, which JSON cannot carry: use null or a string");
    expect(jsonValueProblem({ n: { $bigint: "1" } }, "v")).toMatch(/^v\.n is an object of the one key "\$bigint"/);
    expect(jsonValueProblem({ n: { $bigint: 1 } }, "v")).toBeUndefined(); // not read back as a tag: its value is not a string
    const shared = { x: 1 };
    expect(jsonValueProblem([shared, shared, { again: shared }], "v")).toBeUndefined(); // shared, not a cycle
  });
});
