/**
 * Attribution end to end, on both logs: a server with `--auth`, requests
 * made with the admin token and with a named token, an agent over the real
 * WebSocket. Each event a request caused carries the principal the server
 * checked; what the agent reported carries the agent; what the server did
 * by itself carries nobody. Raw HTTP, so that the server's edge is tested.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { TributaryServer } from "../../src/orchestrator/server/index.js";
import { fromJson, toJson } from "../../src/protocol/json.js";
import { PROTOCOL_VERSION } from "../../src/protocol/messages.js";
import { RawAgent } from "../support/raw-agent.js";
import { eventually, freshProject, LOG_KINDS, type LogKind } from "./support.js";

type Json = Record<string, unknown>;
type HistoryRow = { type: string; by?: Json; data: Json };

describe.each(LOG_KINDS)("attribution with --auth on the %s log", (kind: LogKind) => {
  const admin = randomBytes(24).toString("hex");
  const project = freshProject();
  let dataDir: string;
  let server: TributaryServer;
  let agent: RawAgent;
  let ci: { token: string; tokenId: string };
  const ADMIN = { kind: "admin" };
  const asCi = () => ({ kind: "token", tokenId: ci.tokenId, name: "ci" });

  const call = async (token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> => {
    const res = await fetch(new URL(`/api/projects/${project}/${path}`, server.url), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: toJson(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? fromJson(text) : {}) as Json };
  };
  const ok = async <T = Json>(token: string, method: string, path: string, body?: unknown): Promise<T> => {
    const r = await call(token, method, path, body);
    expect(r.status, `${method} ${path}: ${JSON.stringify(r.json)}`).toBe(200);
    return r.json as T;
  };
  const history = (runId: string) => ok<HistoryRow[]>(admin, "GET", `envs/production/runs/${runId}/history`);
  const byOf = (rows: readonly HistoryRow[], type: string) => rows.filter((r) => r.type === type).map((r) => r.by);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "trib-by-"));
    server = await TributaryServer.start({
      dataDir,
      port: 0,
      defaultProject: project,
      heartbeatMs: 500,
      auth: true,
      adminToken: admin,
      onNotice: () => undefined,
      ...(kind === "jetstream" ? { nats: inject("natsUrl") } : {}),
    });
    const made = await ok<{ token: string; tokenId: string }>(admin, "POST", "tokens", { name: "ci", role: "submit" });
    ci = { token: made.token, tokenId: made.tokenId };
    const agentToken = (await ok<{ token: string }>(admin, "POST", "tokens", { name: "worker", role: "agent" })).token;
    agent = await RawAgent.connect(server.url, { authorization: `Bearer ${agentToken}` });
    agent.send({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      project,
      env: "production",
      agentId: "worker-1",
      tags: {},
      concurrency: 4,
      running: [],
      manifests: [{ repository: "raw", targets: [{ name: "wf", kind: "workflow", parameters: [], options: {} }] }],
    });
    await agent.next("welcome");
  });

  afterAll(async () => {
    agent?.close();
    if (kind === "jetstream") {
      for (const ref of await server.log.listEnvs(project)) await server.log.deleteEnv(ref).catch(() => undefined);
    }
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("a run submitted with a token and cancelled by the admin names each; the assignment names nobody", async () => {
    const { runId } = await ok<{ runId: string }>(ci.token, "POST", "envs/production/runs", { target: "raw:wf", arguments: [1] });
    await agent.next("execute", 10_000, (m) => m.runId === runId);
    await ok(admin, "POST", `envs/production/runs/${runId}/cancel`);
    const rows = await eventually(async () => {
      const h = await history(runId);
      return h.some((r) => r.type === "ExecutionCancelled") ? h : undefined;
    }, 10_000, "the cancellation in the history");
    expect(byOf(rows, "RunSubmitted")).toEqual([asCi()]);
    expect(byOf(rows, "StepScheduled")).toEqual([asCi()]);
    expect(byOf(rows, "ExecutionAssigned")).toEqual([undefined]);
    expect(byOf(rows, "RunCancelled")).toEqual([ADMIN]);
    expect(byOf(rows, "ExecutionCancelled")).toEqual([ADMIN]);
    const view = await ok<{ run: Json }>(admin, "GET", `envs/production/runs/${runId}`);
    expect(view.run).toMatchObject({ submittedBy: asCi(), cancelledBy: ADMIN });
  });

  it("what the agent reports names the agent; a re-run names who asked for it", async () => {
    const { runId } = await ok<{ runId: string }>(ci.token, "POST", "envs/production/runs", { target: "raw:wf", arguments: [2] });
    const x = await agent.next("execute", 10_000, (m) => m.runId === runId);
    agent.send({ type: "started", executionId: x.executionId });
    agent.send({ type: "succeeded", executionId: x.executionId, value: 4, requestId: 1 });
    await agent.next("ack", 10_000, (m) => m.requestId === 1);
    await ok(ci.token, "POST", `envs/production/runs/${runId}/steps/${x.stepId}/rerun`, {});
    const rows = await history(runId);
    // The agent, and (once the socket passes its credential) the token it connected with.
    const worker = expect.objectContaining({ kind: "agent", agentId: "worker-1" });
    expect(byOf(rows, "ExecutionStarted")).toEqual([worker]);
    expect(byOf(rows, "ExecutionSucceeded")).toEqual([worker]);
    expect(byOf(rows, "ExecutionCreated")).toEqual([asCi(), asCi()]);
    expect(rows.filter((r) => r.type === "ExecutionCreated").map((r) => r.data["reason"])).toEqual(["first", "rerun"]);
  });

  it("environments name who created, branched, rebased and archived them; the server's own default names nobody", async () => {
    const staging = await ok<Json>(admin, "POST", "envs", { name: "staging" });
    expect(staging).toMatchObject({ name: "staging", createdBy: ADMIN });
    await ok(admin, "POST", "envs", { name: "dev-x", from: "production" });
    await ok(admin, "POST", "envs/staging/update", { base: "production" });
    await ok(admin, "POST", "envs/dev-x/archive");
    const envs = await ok<Json[]>(admin, "GET", "envs");
    const named = (name: string) => envs.find((e) => e["name"] === name)!;
    expect(named("staging")).toMatchObject({ createdBy: ADMIN, rebasedBy: ADMIN, base: "production" });
    expect(named("dev-x")).toMatchObject({ createdBy: ADMIN, archivedBy: ADMIN, archived: true, branchedFrom: { parent: "production" } });
    expect(named("production")).not.toHaveProperty("createdBy");
    // A token without the admin role is refused, and records nothing.
    expect((await call(ci.token, "POST", "envs/staging/archive")).status).toBe(403);
    const after = (await ok<Json[]>(admin, "GET", "envs")).find((e) => e["name"] === "staging")!;
    expect(after).toMatchObject({ archived: false, lastSeq: named("staging")["lastSeq"] });
    expect(after).not.toHaveProperty("archivedBy");
  });
});
