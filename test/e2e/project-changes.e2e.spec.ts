/**
 * `GET /api/projects` and `GET /api/projects/{p}/changes` (Server-Sent
 * Events) against a real server with --auth and a real agent: the admin
 * lists every project, a token its own; the project's stream says every
 * environment with its log's length at once, then each environment made,
 * branched, rebased or archived and each log that grew, coalesced; a token
 * hears only the environments it covers; a revoked token cuts the stream;
 * a stopping server ends it.
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProjectChangesMessage, ProjectRow } from "../../src/protocol/api.js";
import { openSse, type Sse } from "../support/sse.js";
import { cli, eventually, startHarness, type Harness } from "./support.js";

const ADMIN = randomBytes(24).toString("hex");

const changesOf = (s: Sse): ProjectChangesMessage[] => s.messages.filter((m) => m.event === "changes").map((m) => m.data as ProjectChangesMessage);
const readyOf = async (s: Sse): Promise<ProjectChangesMessage> => (await eventually(() => s.messages.find((m) => m.event === "ready"))).data as ProjectChangesMessage;
/** The last sequence the stream said of `env`, and the lifecycle types it said of it. */
const heard = (s: Sse, env: string) => {
  const all = [...s.messages.filter((m) => m.event === "ready").map((m) => m.data as ProjectChangesMessage), ...changesOf(s)].flatMap((m) => m.envs.filter((e) => e.name === env));
  return { lastSeq: all.at(-1)?.lastSeq, types: new Set(all.flatMap((e) => e.types)) };
};

describe("the projects, and the push of a project's environments", () => {
  let h: Harness;
  let project: string;
  const open: Sse[] = [];
  const sse = async (token = ADMIN, p = () => project) => {
    const s = await openSse(`${h.server.url}/api/projects/${p()}/changes`, token);
    open.push(s);
    return s;
  };
  const admin = <T>(method: "GET" | "POST", path: string, body?: unknown) => h.api.call<T>(method, path, body);
  const lastSeqOf = async (env: string) => (await h.envApi(env).ok<{ lastSeq: number }>("GET", "/log/verify")).lastSeq;
  const token = async (envs: string[]) => (await admin<{ token: string; tokenId: string }>("POST", `/api/projects/${project}/tokens`, { role: "read", envs })).body;

  beforeAll(async () => {
    h = await startHarness("embedded", { adminToken: ADMIN });
    await h.agent();
    project = h.api.project;
  });
  afterAll(async () => {
    for (const s of open) s.close();
    await h?.close();
  });

  it("lists the projects: the admin every one with its environments counted, a token only its own, counting what it covers", async () => {
    const other = `${project}-b`;
    expect((await admin("POST", `/api/projects/${other}/envs`, { name: "qa" })).status).toBe(200);
    expect((await admin("POST", `/api/projects/${project}/envs`, { name: "dev-list" })).status).toBe(200);
    const all = (await admin<ProjectRow[]>("GET", "/api/projects")).body;
    expect(all.filter((p) => p.name.startsWith(project))).toEqual([
      { name: project, envs: (await h.api.client.listEnvironments()).length },
      { name: other, envs: 1 },
    ]);
    expect(all.map((p) => p.name)).toEqual([...all.map((p) => p.name)].sort());
    const t = await token(["dev-*"]);
    const mine = await fetch(`${h.server.url}/api/projects`, { headers: { authorization: `Bearer ${t.token}` } });
    expect(mine.status).toBe(200);
    expect(await mine.json()).toEqual([{ name: project, envs: 1 }]);
    expect((await fetch(`${h.server.url}/api/projects`)).status).toBe(401);
  });

  it("says every environment and its log's length at once, then each log that grows and each environment made, branched, rebased, archived", async () => {
    const s = await sse();
    const ready = await readyOf(s);
    const names = (await h.api.client.listEnvironments()).map((e) => e.name);
    expect(ready.envs.map((e) => e.name).sort()).toEqual([...names].sort());
    const before = await lastSeqOf("production");
    expect(ready.envs.find((e) => e.name === "production")).toEqual({ name: "production", lastSeq: expect.any(Number), types: [] });
    expect(ready.envs.find((e) => e.name === "production")!.lastSeq).toBeLessThanOrEqual(before);
    await h.api.run("flows:double", [3]);
    const end = await lastSeqOf("production");
    await eventually(() => (heard(s, "production").lastSeq ?? 0) >= end || undefined);
    expect((await admin("POST", `/api/projects/${project}/envs`, { name: "staging", base: "production" })).status).toBe(200);
    expect((await admin("POST", `/api/projects/${project}/envs`, { name: "fix", from: "production" })).status).toBe(200);
    expect((await admin("POST", `/api/projects/${project}/envs/staging/update`, { base: null })).status).toBe(200);
    expect((await admin("POST", `/api/projects/${project}/envs/fix/archive`)).status).toBe(200);
    await eventually(() => heard(s, "fix").types.has("EnvironmentArchived") || undefined);
    await eventually(() => heard(s, "staging").types.has("EnvironmentRebased") || undefined);
    expect(heard(s, "staging")).toEqual({ lastSeq: await lastSeqOf("staging"), types: new Set(["EnvironmentCreated", "EnvironmentRebased"]) });
    expect(heard(s, "fix")).toEqual({ lastSeq: await lastSeqOf("fix"), types: new Set(["EnvironmentBranched", "EnvironmentArchived"]) });
    // No message without news.
    for (const m of changesOf(s)) expect(m.envs.length).toBeGreaterThan(0);
  });

  it("coalesces a burst: fewer messages than commits, the last with the log's end", async () => {
    const s = await sse();
    const start = (await readyOf(s)).envs.find((e) => e.name === "production")!.lastSeq;
    await h.api.run("flows:fan_out", [200]);
    const end = await lastSeqOf("production");
    await eventually(() => (heard(s, "production").lastSeq ?? 0) >= end || undefined);
    const seqs = changesOf(s).flatMap((m) => m.envs.filter((e) => e.name === "production").map((e) => e.lastSeq));
    expect(seqs.length).toBeLessThan(end - start);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it("a token hears only the environments it covers; without read it is refused; revoked, its stream is cut", async () => {
    expect((await sse("")).status).toBe(401);
    const t = await token(["dev-*"]);
    const s = await sse(t.token);
    expect(s.status).toBe(200);
    expect((await readyOf(s)).envs.map((e) => e.name)).toEqual(["dev-list"]);
    expect((await admin("POST", `/api/projects/${project}/envs`, { name: "hidden" })).status).toBe(200);
    expect((await admin("POST", `/api/projects/${project}/envs`, { name: "dev-new" })).status).toBe(200);
    await eventually(() => heard(s, "dev-new").types.has("EnvironmentCreated") || undefined);
    await h.api.run("flows:double", [4]);
    // Production's commits are coalesced (a message up to 100 ms later): a marker made after them is heard after anything they would be.
    expect((await admin("POST", `/api/projects/${project}/envs`, { name: "dev-marker" })).status).toBe(200);
    await eventually(() => heard(s, "dev-marker").types.has("EnvironmentCreated") || undefined);
    expect(changesOf(s).flatMap((m) => m.envs.map((e) => e.name))).toEqual(["dev-new", "dev-marker"]);
    // Another project's stream is not this token's.
    expect((await sse(t.token, () => `${project}-b`)).status).toBe(403);
    await admin("POST", `/api/projects/${project}/tokens/${t.tokenId}/revoke`, {});
    await s.ended;
  });

  it("a project with no environments yet is not unknown: an empty ready, then its first environment made", async () => {
    const fresh = `${project}-fresh`;
    const s = await sse(ADMIN, () => fresh);
    expect(s.status).toBe(200);
    expect((await readyOf(s)).envs).toEqual([]);
    expect((await admin("POST", `/api/projects/${fresh}/envs`, { name: "first" })).status).toBe(200);
    await eventually(() => heard(s, "first").types.has("EnvironmentCreated") || undefined);
  });

  it("a client gone while the environments are listed leaves no heartbeat and no listener behind", async () => {
    const { hostname, port } = new URL(h.server.url);
    /** A request whose client goes away after `ms` (before the listing ends, for most). */
    const dropped = (path: string, ms: number) =>
      new Promise<void>((resolve) => {
        const sock = connect(Number(port), hostname, () => {
          sock.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN}\r\n\r\n`);
          setTimeout(() => sock.destroy(), ms);
        });
        sock.on("close", () => resolve());
        sock.on("error", () => resolve());
      });
    const timers = () => process.getActiveResourcesInfo().filter((x) => x === "Timeout").length;
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    try {
      // A stream that got going: what a whole one sets up, to see it taken down.
      const s = await sse();
      await readyOf(s);
      s.close();
      const before = timers();
      for (let i = 0; i < 150; i++) {
        await dropped(`/api/projects/${project}-none/changes`, i % 3); // no environments: the listing is one wait
        await dropped(`/api/projects/${project}/changes`, i % 4);
      }
      // The server has seen every close once a request after them is answered.
      expect((await admin("GET", "/api/projects")).status).toBe(200);
      await eventually(() => timers() <= before + 3 || undefined).catch(() => undefined);
      // Each leaked stream would hold a 15 s heartbeat and an abort listener on the server's stop signal.
      expect(timers()).toBeLessThanOrEqual(before + 3);
      expect(warnings.filter((w) => /MaxListeners/.test(w))).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("the CLI: projects ls lists what the API does; runs ls --since/--until filters by the server, a bad time refused naming it", async () => {
    const env = { TRIBUTARY_TOKEN: ADMIN };
    const listed = await cli(["projects", "ls", "--server", h.server.url, "--json"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual((await admin("GET", "/api/projects")).body);
    const all = await h.api.client.listRuns({ limit: 10_000 });
    const mid = new Date(all[Math.floor(all.length / 2)]!.submittedAt).toISOString();
    const at = ["--server", h.server.url, "--project", project, "--limit", "10000", "--json"];
    const since = await cli(["runs", "ls", ...at, "--since", mid], env);
    expect(since.code, since.stderr).toBe(0);
    const until = await cli(["runs", "ls", ...at, "--until", mid], env);
    const ids = (text: string) => (JSON.parse(text) as { runId: string }[]).map((r) => r.runId);
    expect(ids(since.stdout)).toEqual(all.filter((r) => r.submittedAt >= Date.parse(mid)).map((r) => r.runId));
    expect(ids(until.stdout)).toEqual(all.filter((r) => r.submittedAt < Date.parse(mid)).map((r) => r.runId));
    const bad = await cli(["runs", "ls", ...at, "--since", "last tuesday"], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/since/);
  });

  it("ends when the server stops", async () => {
    const s = await sse();
    await readyOf(s);
    const closing = h.close();
    await s.ended;
    await closing;
    h = undefined as unknown as Harness;
  });
});
