/**
 * Knowing a blob's hash never makes it readable: the exploit of the security
 * review, end to end with `--auth` on both logs. Project A uploads bytes;
 * project B's agent token cannot learn they exist (HEAD), nor make them
 * "referred to" in B (persist, a result kept as a blob, a call's arguments
 * in a blob), so B's read token cannot download them. Uploading the same
 * bytes through B (having them) makes them visible there, as a fact of B's
 * log (`BlobStored`) that a rebuild keeps. A real server, a bare agent over
 * a real WebSocket, raw HTTP.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import type { Event, LogRef } from "../../src/events/index.js";
import { TributaryServer } from "../../src/orchestrator/server/index.js";
import { PROTOCOL_VERSION } from "../../src/protocol/messages.js";
import { RawAgent } from "../support/raw-agent.js";
import { freshProject, LOG_KINDS, type LogKind } from "./support.js";

describe.each(LOG_KINDS)("blob visibility with --auth on the %s log", (kind: LogKind) => {
  const admin = randomBytes(24).toString("hex");
  const pa = freshProject();
  const pb = `${pa}-b`;
  let dataDir: string;
  let server: TributaryServer;
  let agent: RawAgent;
  const tokens: Record<string, { token: string; tokenId: string }> = {};
  // A's secret bytes, and their reference as B would name them.
  const bytes = randomBytes(3000);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const key = `sha256:${sha256}`;
  const ref = { key, size: bytes.length, sha256 };

  const call = async (token: string, method: string, path: string, body?: Buffer | Record<string, unknown>) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined && !Buffer.isBuffer(body)) headers["content-type"] = "application/json";
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const res = await fetch(new URL(path, server.url), { method, headers, ...(payload === undefined ? {} : { body: payload }) });
    return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
  };
  const blobUrl = (project: string, env: string) => `/api/projects/${project}/envs/${env}/blobs/${key}`;
  /** The blob-refs lines of an environment's projections that name the key. */
  const refsOf = async (project: string, env: string): Promise<string[]> => {
    const r = await call(admin, "GET", `/api/projects/${project}/envs/${env}/projections/dump`);
    expect(r.status).toBe(200);
    return (JSON.parse(r.bytes.toString()) as { lines: string[] }).lines.filter((l) => l.startsWith(`blob-refs\t${key}\t`));
  };
  const eventsOf = async (project: string, env: string): Promise<Event[]> => {
    const out: Event[] = [];
    for await (const c of server.log.read({ project, env } as LogRef)) out.push(...c.events);
    return out;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "trib-blob-scope-"));
    server = await TributaryServer.start({
      dataDir,
      port: 0,
      defaultProject: pa,
      auth: true,
      adminToken: admin,
      onNotice: () => undefined,
      ...(kind === "jetstream" ? { nats: inject("natsUrl") } : {}),
    });
    for (const [project, env] of [[pa, "prod"], [pb, "dev"]] as const) {
      expect((await call(admin, "POST", `/api/projects/${project}/envs`, { name: env })).status).toBe(200);
    }
    for (const [name, project, role] of [["a-agent", pa, "agent"], ["b-agent", pb, "agent"], ["b-read", pb, "read"]] as const) {
      const r = await call(admin, "POST", `/api/projects/${project}/tokens`, { name, role });
      expect(r.status).toBe(200);
      tokens[name] = JSON.parse(r.bytes.toString()) as { token: string; tokenId: string };
    }
    // A uploads its bytes through pa/prod.
    expect((await call(tokens["a-agent"]!.token, "PUT", blobUrl(pa, "prod"), bytes)).status).toBe(200);
    agent = await RawAgent.connect(server.url, { authorization: `Bearer ${tokens["b-agent"]!.token}` });
    agent.send({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      project: pb,
      env: "dev",
      tags: {},
      concurrency: 1,
      running: [],
      manifests: [{ repository: "raw", targets: [{ name: "wf", kind: "workflow", parameters: [], options: {} }, { name: "t", kind: "task", parameters: [], options: {} }] }],
    });
    await agent.next("welcome");
  });

  afterAll(async () => {
    await agent?.close();
    if (kind === "jetstream") {
      for (const p of [pa, pb]) for (const r of await server.log.listEnvs(p)) await server.log.deleteEnv(r).catch(() => undefined);
    }
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("B's agent cannot learn of A's bytes, nor refer to them by hash; B's reader cannot read them", async () => {
    const b = tokens["b-agent"]!.token;
    // HEAD answers only what pb/dev sees: A's upload is the 404 of bytes never stored. A sees its own.
    expect((await call(b, "HEAD", blobUrl(pb, "dev"))).status).toBe(404);
    const own = await call(tokens["a-agent"]!.token, "HEAD", blobUrl(pa, "prod"));
    expect({ status: own.status, size: own.headers.get("content-length") }).toEqual({ status: 200, size: String(bytes.length) });

    const run = await call(admin, "POST", `/api/projects/${pb}/envs/dev/runs`, { target: "raw:wf", arguments: [] });
    expect(run.status, run.bytes.toString()).toBe(200);
    const { runId } = JSON.parse(run.bytes.toString()) as { runId: string };
    const x = await agent.next("execute", 10_000, (m) => m.runId === runId);
    agent.send({ type: "started", executionId: x.executionId });

    const refusal = new RegExp(`^${"(the blob of stolen\\.bin|the result's blob \\(valueBlob\\)|the arguments' blob \\(argumentsBlob\\))"} ${key} is not visible in environment dev of project ${pb}: upload it through this environment first`);
    const answer = async (requestId: number) => agent.next(["error", "persisted", "ack", "submitted"], 10_000, (m) => "requestId" in m && m.requestId === requestId);
    agent.send({ type: "persist", executionId: x.executionId, requestId: 1, entries: [{ path: "stolen.bin", size: bytes.length, sha256 }] });
    expect(await answer(1)).toMatchObject({ type: "error", message: expect.stringMatching(refusal) });
    agent.send({ type: "submit", executionId: x.executionId, requestId: 2, call: 1, target: { repository: "raw", target: "t" }, arguments: [], argumentsBlob: ref, argumentCount: 0 });
    expect(await answer(2)).toMatchObject({ type: "error", message: expect.stringMatching(refusal) });
    agent.send({ type: "succeeded", executionId: x.executionId, value: null, valueBlob: ref, requestId: 3 });
    const refused = await answer(3);
    expect(refused).toMatchObject({ type: "error", message: expect.stringMatching(refusal) });
    expect(refused).not.toHaveProperty("retry");

    // Nothing was recorded that makes the key visible in pb/dev, so B's reader gets the same 404.
    expect(await refsOf(pb, "dev")).toEqual([]);
    expect((await eventsOf(pb, "dev")).filter((e) => JSON.stringify(e.data).includes(sha256))).toEqual([]);
    expect((await call(tokens["b-read"]!.token, "GET", blobUrl(pb, "dev"))).status).toBe(404);
    expect((await call(b, "HEAD", blobUrl(pb, "dev"))).status).toBe(404);

    // Having the bytes is enough: B uploads the same bytes through pb/dev (stored once), then may refer to them.
    expect((await call(b, "PUT", blobUrl(pb, "dev"), bytes)).status).toBe(200);
    expect((await call(b, "HEAD", blobUrl(pb, "dev"))).headers.get("content-length")).toBe(String(bytes.length));
    agent.send({ type: "persist", executionId: x.executionId, requestId: 4, entries: [{ path: "mine.bin", size: bytes.length, sha256 }] });
    expect(await answer(4)).toMatchObject({ type: "persisted" });
    const got = await call(tokens["b-read"]!.token, "GET", blobUrl(pb, "dev"));
    expect({ status: got.status, same: got.bytes.equals(bytes) }).toEqual({ status: 200, same: true });
    // The upload is a fact of B's log, attributed to B's agent token; A's log has its own.
    const stored = (await eventsOf(pb, "dev")).filter((e) => e.type === "BlobStored");
    expect(stored.map((e) => ({ data: e.data, by: e.by }))).toEqual([{ data: { key, size: bytes.length }, by: expect.objectContaining({ tokenId: tokens["b-agent"]!.tokenId }) }]);
    expect((await eventsOf(pa, "prod")).filter((e) => e.type === "BlobStored").map((e) => e.data)).toEqual([{ key, size: bytes.length }]);

    // A rebuild replays the upload: still visible.
    expect((await call(admin, "POST", `/api/projects/${pb}/envs/dev/projections/rebuild`)).status).toBe(200);
    expect(await refsOf(pb, "dev")).toEqual([expect.stringContaining('"use":"upload"')]);
    expect((await call(tokens["b-read"]!.token, "GET", blobUrl(pb, "dev"))).status).toBe(200);
    agent.send({ type: "succeeded", executionId: x.executionId, value: 1, requestId: 5 });
    expect(await answer(5)).toMatchObject({ type: "ack" });
  });
});
