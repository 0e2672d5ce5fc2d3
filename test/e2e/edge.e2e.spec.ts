/**
 * The edge is a wall (issue 8, part 2): agent frames and HTTP requests that
 * do not fit their schema are refused with a message naming the field, and
 * nothing of them reaches the log, so rebuild and `log verify` keep working.
 */
import { request, type IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROTOCOL_VERSION } from "../../src/protocol/messages.js";
import { ROUTES } from "../../src/protocol/index.js";
import { RawAgent } from "../support/raw-agent.js";
import { LOG_KINDS, startHarness, type Harness } from "./support.js";

interface Verified {
  lastSeq: number;
  commits: number;
  failures: { seq: number; reason: string }[];
}

/** A hello of the raw agent; a field given as `undefined` in `over` is left out. */
const hello = (project: string, over: Record<string, unknown> = {}, targetOptions: Record<string, unknown> = {}) => {
  const m: Record<string, unknown> = { ...helloFields(project, targetOptions), ...over };
  for (const [k, v] of Object.entries(over)) if (v === undefined) delete m[k];
  return m;
};

const helloFields = (project: string, targetOptions: Record<string, unknown>) => ({
  type: "hello",
  protocol: PROTOCOL_VERSION,
  project,
  env: "production",
  tags: {},
  concurrency: 2,
  running: [],
  manifests: [
    {
      repository: "raw",
      targets: [
        { name: "wf", kind: "workflow", parameters: [{ name: "x" }], options: targetOptions },
        { name: "t", kind: "task", parameters: [], options: {} },
      ],
    },
  ],
});

/** The log's last sequence once nothing more is appended (the server records a disconnection after the socket closes). */
const settledSeq = async (h: Harness): Promise<number> => {
  let last = -1;
  for (;;) {
    const { lastSeq } = await h.api.ok<Verified>("GET", "/log/verify");
    if (lastSeq === last) return lastSeq;
    last = lastSeq;
    await new Promise((r) => setTimeout(r, 200));
  }
};

/** The environment's log is unchanged, decodes from end to end, and rebuilds to the same dump. */
const expectLogIntact = async (h: Harness, lastSeq: number) => {
  const verified = await h.api.ok<Verified>("GET", "/log/verify");
  expect(verified).toMatchObject({ lastSeq, commits: lastSeq, failures: [] });
  const before = await h.api.ok<{ lines: string[] }>("GET", "/projections/dump");
  expect(await h.api.ok<{ rebuilt: number }>("POST", "/projections/rebuild")).toMatchObject({ rebuilt: lastSeq });
  expect((await h.api.ok<{ lines: string[] }>("GET", "/projections/dump")).lines).toEqual(before.lines);
};

describe.each(LOG_KINDS)("the poisoned hello of issue 8 (%s log)", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(() => h?.close());

  it('a hello whose target option timeoutMs is "soon" is refused naming the field; nothing is appended and rebuild still works', async () => {
    const { lastSeq } = await h.api.ok<Verified>("GET", "/log/verify");
    const raw = await RawAgent.connect(h.server.url);
    raw.send(hello(h.api.project, {}, { timeoutMs: "soon" }));
    const refused = await raw.next("refused");
    expect(refused.reason).toMatch(/manifests\[0\]\.targets\[0\]\.options\.timeoutMs must be a whole number >= 0/);
    await expect.poll(() => raw.closed?.code).toBe(1008);
    await expectLogIntact(h, lastSeq);
    expect((await h.api.ok<{ known: unknown[] }>("GET", "/agents")).known).toEqual([]);
  });

  it("every other misfit of a hello is refused with the field it names, and records nothing", async () => {
    const { lastSeq } = await h.api.ok<Verified>("GET", "/log/verify");
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ concurrency: "many" }, /concurrency must be a whole number >= 1/],
      [{ concurrency: 0 }, /concurrency must be a whole number >= 1/],
      [{ tags: ["gpu"] }, /tags must be an object/],
      [{ tags: { gpu: "yes" } }, /tags\.gpu must be an array/],
      [{ project: "bad.name" }, /project: invalid project name "bad\.name"/],
      [{ agentId: "bad id" }, /agentId: invalid agent id "bad id"/],
      [{ running: [1] }, /running\[0\] must be a non-empty string/],
      [{ manifests: [{ repository: "r", targets: [{ name: "x", kind: "job", parameters: [], options: {} }] }] }, /manifests\[0\]\.targets\[0\]\.kind must be one of "workflow", "task"/],
      [{ manifests: [{ repository: "r", targets: [{ name: "x", kind: "task", parameters: [], options: { retries: { limit: 1 } } }] }] }, /options\.retries\.delayMs is missing/],
      [{ surprise: true }, /surprise is not a known field/],
      [{ agentId: undefined, env: undefined }, /env is missing/],
    ];
    for (const [over, expected] of cases) {
      const raw = await RawAgent.connect(h.server.url);
      raw.send(hello(h.api.project, over));
      const refused = await raw.next("refused");
      expect(refused.reason, JSON.stringify(over)).toMatch(expected);
      await raw.close();
    }
    const old = await RawAgent.connect(h.server.url);
    old.send(hello(h.api.project, { protocol: 99, manifests: "whatever" }));
    expect((await old.next("refused")).reason).toMatch(/protocol version 99 is not supported/);
    await old.close();
    await expectLogIntact(h, lastSeq);
  });
});

describe("agent frames and HTTP requests at the edge (embedded log)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness("embedded");
  });
  afterAll(() => h?.close());

  it("frames of a connected agent that misfit their schema get an error naming the field; nothing is recorded and the agent carries on", async () => {
    const raw = await RawAgent.connect(h.server.url);
    raw.send(hello(h.api.project));
    await raw.next("welcome");
    const runId = await h.api.submit("raw:wf", [1]);
    const exec = await raw.next("execute");
    const executionId = exec.executionId;
    const seqBefore = (await h.api.ok<Verified>("GET", "/log/verify")).lastSeq;
    const target = { repository: "raw", target: "t" };
    const misfits: [Record<string, unknown>, RegExp][] = [
      [{ type: "submit", requestId: 7, executionId, target, arguments: [], options: { timeoutMs: "soon" } }, /invalid submit message: options\.timeoutMs must be a whole number >= 0/],
      [{ type: "submit", requestId: 8, executionId, target, arguments: [], options: { cache: { maxAgeMs: -1 } } }, /options\.cache\.maxAgeMs must be a whole number >= 0/],
      [{ type: "submit", requestId: 9, executionId, target, arguments: [{ "$tributary.handle": { runId: 5 } }] }, /arguments\[0\]\["\$tributary\.handle"\]: (runId|stepId) (must be a non-empty string|is missing)/],
      [{ type: "submit", requestId: 10, executionId, target: { repository: "raw" }, arguments: [] }, /target\.target is missing/],
      [{ type: "submit", requestId: 11, executionId, target, arguments: [], options: { requires: { gpu: "yes" } } }, /options\.requires\.gpu must be an array/],
      [{ type: "succeeded", requestId: 12, executionId }, /invalid succeeded message: value is missing/],
      [{ type: "failed", requestId: 13, executionId, error: { type: "E", message: "m" } }, /error\.retryable is missing/],
      [{ type: "persist", requestId: 14, executionId, entries: [{ path: "a", size: -1, sha256: "x" }] }, /entries\[0\]\.size must be a whole number >= 0/],
      [{ type: "result", requestId: 15, executionId, handle: { runId, stepId: "1", executionId }, wait: "yes" }, /wait must be true or false/],
      [{ type: "restore", requestId: 16, executionId }, /assetId is missing/],
      [{ type: "log", executionId, level: "loud", message: "hi", at: 1 }, /level must be one of "debug", "info", "warn", "error"/],
      [{ type: "suspend", requestId: 17, executionId, delayMs: -5 }, /invalid suspend message: delayMs must be/],
      [{ type: "suspend", requestId: 18, executionId, waitingFor: [{ runId }] }, /invalid suspend message: waitingFor\[0\]\.(stepId|executionId) is missing/],
      [{ type: "suspend", requestId: 19, executionId }, /a suspension needs a time \(until, delayMs\) or something to wait for/],
      [{ type: "prompt", requestId: 20, executionId, call: 1, title: "", schema: {} }, /invalid prompt message: title/],
      [{ type: "prompt", requestId: 21, executionId, call: 1, title: "ok?", schema: { type: "boolean", $ref: "#" } }, /prompt\(\): schema\.\$ref: the keyword "\$ref" is not supported/],
      [{ type: "heartbeat", running: "all" }, /running must be an array/],
      [{ type: "started" }, /executionId is missing/],
      [{ type: "frobnicate" }, /unknown message type "frobnicate"/],
    ];
    for (const [frame, expected] of misfits) {
      const from = raw.received.length;
      raw.send(frame);
      const error = await raw.next("error", 5000, () => true, from);
      expect(error.message, JSON.stringify(frame)).toMatch(expected);
      if (typeof frame["requestId"] === "number") expect(error.requestId).toBe(frame["requestId"]);
    }
    const from = raw.received.length;
    raw.send(new Uint8Array([0xc1, 0xff, 0x00]));
    expect((await raw.next("error", 5000, () => true, from)).message).toMatch(/malformed frame/);
    expect((await h.api.ok<Verified>("GET", "/log/verify")).lastSeq).toBe(seqBefore);
    expect((await h.api.history(runId)).map((e) => e.type)).not.toContain("StepScheduled".repeat(2));
    // The same connection still works: a valid result finishes the run.
    raw.send({ type: "succeeded", requestId: 99, executionId, value: { at: new Date(5), big: 2n ** 70n, bytes: new Uint8Array([1, 2]) } });
    await raw.next("ack", 5000, (m) => m.requestId === 99);
    expect(await h.api.result(runId)).toEqual({ status: "succeeded", value: { at: new Date(5), big: 2n ** 70n, bytes: new Uint8Array([1, 2]) } });
    const steps = (await h.api.view(runId)).steps;
    expect(steps).toHaveLength(1);
    await raw.close();
    await expectLogIntact(h, await settledSeq(h));
  });

  it("HTTP: unknown routes 404, wrong methods 405, misfit parameters, queries and bodies 400 naming the field, never a 500", async () => {
    const base = `/api/projects/${h.api.project}/envs/production`;
    const hex = "a".repeat(64);
    const cases: [string, string, string | undefined, number, RegExp][] = [
      ["GET", "/api/nope", undefined, 404, /no such endpoint: \/api\/nope/],
      ["GET", "/assets/elsewhere.js", undefined, 404, /no such file of Studio/],
      ["GET", `${base}/runz`, undefined, 404, /no such endpoint/],
      ["DELETE", `${base}/runs`, undefined, 405, /DELETE is not allowed on .*: use GET or POST/],
      ["POST", "/api/health", "{}", 405, /use GET/],
      ["POST", `${base}/runs`, "{", 400, /not valid JSON/],
      ["POST", `${base}/runs`, JSON.stringify({ target: 5 }), 400, /body\.target must be/],
      ["POST", `${base}/runs`, JSON.stringify({ target: "a:b", arguments: "x" }), 400, /body\.arguments must be an array/],
      ["POST", `${base}/runs`, JSON.stringify({ target: "a:b", idempotencyKey: 3 }), 400, /body\.idempotencyKey must be/],
      ["POST", `${base}/runs`, JSON.stringify({ target: "a:b", extra: 1 }), 400, /body\.extra is not a known field/],
      ["POST", `${base}/runs`, JSON.stringify([1]), 400, /body must be an object/],
      ["POST", `${base}/runs`, undefined, 400, /needs a JSON body/],
      ["POST", `/api/projects/${h.api.project}/envs`, JSON.stringify({ name: "x", at: -1 }), 400, /body\.at must be a whole number >= 0/],
      ["POST", `${base}/update`, JSON.stringify({ base: 3 }), 400, /body\.base must be/],
      ["POST", `${base}/runs/abc/cancel`, JSON.stringify({ now: true }), 400, /body\.now is not a known field/],
      ["GET", `${base}/runs?limit=abc`, undefined, 400, /query parameter limit must be a whole number from 1 to 10000/],
      ["GET", `${base}/runs?limit=5&limit=6`, undefined, 400, /limit is given twice/],
      ["GET", `${base}/runs?color=red`, undefined, 400, /color is not a known field/],
      ["GET", `${base}/runs/abc/result?wait=maybe`, undefined, 400, /wait must be one of "true", "false", "1", "0"/],
      ["GET", `${base}/runs/bad.id`, undefined, 400, /invalid run id "bad\.id"/],
      ["GET", `/api/projects/bad.name/envs`, undefined, 400, /invalid project name "bad\.name"/],
      ["GET", `${base}/assets/%zz`, undefined, 400, /percent-encoding/],
      ["GET", `${base}/assets?run=a.b`, undefined, 400, /invalid run id "a\.b"/],
      ["GET", `${base}/blobs/nothex`, undefined, 400, /invalid blob key/],
      ["DELETE", `${base}/blobs/sha256:${hex}`, undefined, 405, /use GET or HEAD or PUT/],
      // The blob API moved under the environment (agent protocol 2): the old global path is no endpoint.
      ["GET", `/api/blobs/sha256:${hex}`, undefined, 404, /no such endpoint/],
      ["GET", `${base}/health`, "{}", 404, /no such endpoint/],
      ["GET", "/api/health", "{\"a\":1}", 400, /GET requests take no body/],
    ];
    for (const [method, path, body, status, expected] of cases) {
      const res = await rawRequest(h.server.url, method, path, body);
      expect(res.status, `${method} ${path} → ${res.text}`).toBe(status);
      expect((JSON.parse(res.text) as { error: string }).error, `${method} ${path}`).toMatch(expected);
      if (status === 405) expect(res.headers["allow"]).toBeTruthy();
    }
  });

  it("a body over 1 MiB gets 413 with a message, not a reset connection, with or without a content-length", async () => {
    const url = new URL(`/api/projects/${h.api.project}/envs/production/runs`, h.server.url);
    const big = JSON.stringify({ target: "raw:wf", arguments: ["x".repeat(1024 * 1024 + 10)] });
    const sized = await fetch(url, { method: "POST", body: big, headers: { "content-type": "application/json" } });
    expect(sized.status).toBe(413);
    expect(((await sized.json()) as { error: string }).error).toMatch(/over the limit of 1048576 bytes/);
    const chunks = (async function* () {
      for (let i = 0; i < 40; i++) yield new TextEncoder().encode("x".repeat(64 * 1024));
    })();
    const streamed = await fetch(url, { method: "POST", body: ReadableStream.from(chunks), duplex: "half" } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { error: string }).error).toMatch(/over the limit/);
    // A large body sent to a request refused before it is read still gets its answer.
    const early = await fetch(new URL(`/api/projects/${h.api.project}/envs/production/runs/x/history`, h.server.url), { method: "PUT", body: big });
    expect(early.status).toBe(405);
    expect(((await early.json()) as { error: string }).error).toMatch(/PUT is not allowed/);
    expect((await fetch(new URL("/api/health", h.server.url))).status).toBe(200);
    // Under the body limit, arguments too large for the log are kept as a blob: the run is accepted, and the log still verifies.
    const heavy = await fetch(url, { method: "POST", body: JSON.stringify({ target: "raw:wf", arguments: ["x".repeat(600_000)] }) });
    expect(heavy.status).toBe(200);
    const { runId } = (await heavy.json()) as { runId: string };
    expect((await h.api.view(runId)).run).toMatchObject({ arguments: [], argumentsBlob: { size: expect.any(Number) } });
    expect((await h.api.ok<Verified>("GET", "/log/verify")).failures).toEqual([]);
  });

  it("GET /api/schema serves the JSON Schema of every route and agent message", async () => {
    const res = await fetch(new URL("/api/schema", h.server.url));
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      routes: { method: string; path: string; body?: { properties: Record<string, unknown> } }[];
      agentMessages: Record<string, { properties: Record<string, unknown> }>;
    };
    expect(doc.routes.map((r) => `${r.method} ${r.path}`)).toEqual(ROUTES.map((r) => `${r.method} /api/${r.path.replace(/:(\w+)/g, "{$1}")}`));
    const submit = doc.routes.find((r) => r.method === "POST" && r.path.endsWith("/runs"))!;
    expect(Object.keys(submit.body!.properties)).toEqual(["target", "arguments", "idempotencyKey", "queue"]);
    expect(Object.keys(doc.agentMessages).sort()).toEqual(
      ["cancel", "failed", "heartbeat", "hello", "load-checkpoint", "log", "manifests", "metric", "persist", "progress", "prompt", "restore", "result", "save-checkpoint", "started", "submit", "succeeded", "suspend"],
    );
    expect(JSON.stringify(doc.agentMessages["hello"])).toContain('"timeoutMs":{"minimum":0');
  });
});

/** Any method, with or without a body (fetch sends none with GET). */
const rawRequest = (server: string, method: string, path: string, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> =>
  new Promise((resolve, reject) => {
    const req = request(new URL(path, server), { method, ...(body === undefined ? {} : { headers: { "content-length": Buffer.byteLength(body) } }) }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
