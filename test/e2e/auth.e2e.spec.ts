/**
 * `--auth` on both logs: every route and the agents' WebSocket against every
 * role (table-driven from ROUTES and PERMISSIONS, so a new route is covered
 * the day it is added), the refusals of bad credentials, the scope of a
 * token (project, environment patterns), no token making a wider one, the
 * secrets kept out of the log, the projections and every answer, and the
 * tokens surviving a restart. A real server with a real log; raw HTTP, so
 * that the server's edge is what is tested.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { SERVER_LOG } from "../../src/events/index.js";
import { GRANTS } from "../../src/orchestrator/core/index.js";
import { TributaryServer, type ServerOptions } from "../../src/orchestrator/server/index.js";
import { PERMISSIONS, ROUTES, type Route } from "../../src/protocol/index.js";
import { fromJson, toJson } from "../../src/protocol/json.js";
import { PROTOCOL_VERSION } from "../../src/protocol/messages.js";
import { formatToken, mintToken } from "../../src/orchestrator/auth/token.js";
import { RawAgent } from "../support/raw-agent.js";
import { startAgent } from "../../src/agent/runtime.js";
import { Client } from "../../src/client/index.js";
import { freshProject, LOG_KINDS, type LogKind } from "./support.js";

const FILES = join(import.meta.dirname, "fixtures/files.ts");

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly json: { error?: string } & Record<string, unknown>;
}

const ROLES = ["read", "submit", "agent", "admin"] as const;

/** Every file under `dir`, recursively. */
const filesUnder = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });

const hello = (project: string, env: string, agentId?: string) => ({
  type: "hello",
  ...(agentId === undefined ? {} : { agentId }),
  protocol: PROTOCOL_VERSION,
  project,
  env,
  tags: {},
  concurrency: 1,
  running: [],
  manifests: [{ repository: "raw", targets: [{ name: "t", kind: "task", parameters: [], options: {} }] }],
});

describe.each(LOG_KINDS)("--auth on the %s log", (kind: LogKind) => {
  const admin = randomBytes(24).toString("hex");
  const project = freshProject();
  const notices: string[] = [];
  let dataDir: string;
  let server: TributaryServer;
  /** Token texts by a name of the test's. */
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};

  const options = (): ServerOptions => ({
    dataDir,
    port: 0,
    defaultProject: project,
    heartbeatMs: 500,
    auth: true,
    adminToken: admin,
    onNotice: (m) => notices.push(m),
    ...(kind === "jetstream" ? { nats: inject("natsUrl") } : {}),
  });

  const call = async (token: string | undefined, method: string, path: string, body?: unknown): Promise<Reply> => {
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    let payload: string | Buffer | undefined;
    if (body instanceof Uint8Array) payload = Buffer.from(body);
    else if (body !== undefined) {
      payload = toJson(body);
      headers["content-type"] = "application/json";
    }
    const res = await fetch(new URL(path, server.url), { method, headers, ...(payload === undefined ? {} : { body: payload }) });
    // An event stream (…/changes) does not end: its status is the answer.
    if (res.ok && /^text\/event-stream/.test(res.headers.get("content-type") ?? "")) {
      await res.body?.cancel();
      return { status: res.status, headers: res.headers, json: {} };
    }
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: (text && /json/.test(res.headers.get("content-type") ?? "") ? fromJson(text) : {}) as Reply["json"] };
  };

  const make = async (name: string, body: Record<string, unknown>, as = admin, inProject = project): Promise<string> => {
    const r = await call(as, "POST", `/api/projects/${inProject}/tokens`, { name, ...body });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    tokens[name] = r.json["token"] as string;
    ids[name] = r.json["tokenId"] as string;
    return tokens[name]!;
  };

  /** A concrete path of `route` in the test's project (`env`: its environment). */
  const pathOf = (route: Route, env = "production") =>
    "/api/" +
    route.path
      .replace(":project", project)
      .replace(":env", env)
      .replace(":runId", "no-such-run")
      .replace(":stepId", "no-such-step")
      .replace(":assetId", "no-such-asset")
      .replace(":key", `sha256:${"0".repeat(64)}`)
      .replace(":tokenId", "nosuchtoken")
      .replace(":inputId", "no-such-input")
      .replace(":pool", "nosuchpool");

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "trib-auth-"));
    server = await TributaryServer.start(options());
    for (const role of ROLES) await make(role, { role });
    await make("read-dev", { role: "read", envs: ["dev-*"] });
    await make("admin-dev", { role: "admin", envs: ["dev-*"] });
    await make("agent-dev", { role: "agent", envs: ["dev-*"] });
    await make("other-project", { role: "admin" }, admin, `${project}-other`);
    await make("revoked", { role: "read" });
    expect((await call(admin, "POST", `/api/projects/${project}/tokens/${ids["revoked"]}/revoke`, { reason: "test" })).status).toBe(200);
    await make("expiring", { role: "admin", expiresInMs: 1000 });
    for (const env of ["dev", "dev-a", "matrix"]) expect((await call(admin, "POST", `/api/projects/${project}/envs`, { name: env })).status).toBe(200);
  });

  afterAll(async () => {
    if (kind === "jetstream") {
      for (const ref of await server.log.listEnvs(project)) await server.log.deleteEnv(ref).catch(() => undefined);
    }
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("asks every route but health for a credential: 401 with a challenge, before anything is read", async () => {
    for (const route of ROUTES) {
      const r = await call(undefined, route.method, pathOf(route));
      if (PERMISSIONS[route.name] === "public") {
        expect(r.status, route.name).toBe(200);
        continue;
      }
      expect(r.status, route.name).toBe(401);
      expect(r.headers.get("www-authenticate"), route.name).toBe('Bearer realm="tributary"');
      if (route.method !== "HEAD") expect(r.json.error, route.name).toMatch(/^no token: give one with --token or TRIBUTARY_TOKEN/);
    }
  });

  it("refuses a malformed, unknown, wrong-secret, revoked or expired token with a 401 saying which", async () => {
    const path = `/api/projects/${project}/envs/production/runs`;
    const read = tokens["read"]!;
    const id = read.split("_")[1]!;
    const cases: [string, string | undefined, RegExp][] = [
      ["garbage", "garbage", /^that is not a Tributary token/],
      ["a token cut short", read.slice(0, -1), /^that is not a Tributary token/],
      ["a wrong check", `${read.slice(0, -1)}${read.endsWith("0") ? "1" : "0"}`, /^that is not a Tributary token/],
      ["not Bearer", undefined, /expected the header 'Authorization: Bearer <token>'/],
      ["a token never made", mintToken().token, /^unknown token: it was never created on this server$/],
      ["revoked", tokens["revoked"], /^the token was revoked: ask an admin for a new one \(token /],
    ];
    for (const [what, token, error] of cases) {
      const r =
        token === undefined
          ? await fetch(new URL(path, server.url), { headers: { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` } }).then(async (x) => ({
              status: x.status,
              json: (await x.json()) as { error?: string },
            }))
          : await call(token, "GET", path);
      expect({ what, status: r.status, error: r.json.error }).toEqual({ what, status: 401, error: expect.stringMatching(error) });
    }
    // A known id with a secret that is not its own: refused as unknown, saying nothing of the id.
    const forged = formatToken(id, "0".repeat(52));
    const r = await call(forged, "GET", path);
    expect({ status: r.status, error: r.json.error }).toEqual({ status: 401, error: "unknown token: it was never created on this server" });
    // Expired, once its second is up.
    await new Promise((done) => setTimeout(done, 1100));
    const expired = await call(tokens["expiring"], "GET", path);
    expect(expired.status).toBe(401);
    expect(expired.json.error).toMatch(/^the token has expired: ask an admin for a new one \(token \w+, at \d{4}-/);
  });

  it("answers garbage credentials, of any shape and size, with a 401 (or a 431 past Node's header limit), never a fault", async () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 48271) % 2147483647), seed % n);
    const printable = (len: number) => Array.from({ length: len }, () => String.fromCharCode(0x21 + rnd(94))).join("");
    const minted = mintToken();
    const shapes = [
      () => printable(1 + rnd(64)),
      () => `Bearer ${printable(1 + rnd(200))}`,
      () => `bearer\t${printable(20)}`,
      () => `Bearer ${tokens["read"]} extra`,
      () => `Bearer Bearer ${tokens["read"]}`,
      () => `Bearer ${minted.token.toUpperCase()}`,
      () => `Bearer trib_${printable(16)}_${printable(52)}_${printable(6)}`,
      () => `Bearer ${"x".repeat(4000 + rnd(4000))}`,
      () => `Bearer ${admin}x`,
      () => `Bearer ${admin.slice(1)}`,
    ];
    const routes = ROUTES.filter((r) => PERMISSIONS[r.name] !== "public");
    for (let i = 0; i < 300; i++) {
      const route = routes[rnd(routes.length)]!;
      const header = shapes[rnd(shapes.length)]!();
      const res = await fetch(new URL(pathOf(route), server.url), { method: route.method, headers: { authorization: header } });
      const text = await res.text();
      expect({ i, route: route.name, status: res.status }).toEqual({ i, route: route.name, status: 401 });
      if (route.method !== "HEAD") expect(JSON.parse(text).error).toMatch(/^(no token|that is not a Tributary token|unknown token)/);
    }
    // Past Node's limit on headers: 431, as JSON, before any check.
    const huge = await fetch(new URL(`/api/projects/${project}/envs`, server.url), { headers: { authorization: `Bearer ${"x".repeat(20_000)}` } });
    expect(huge.status).toBe(431);
    expect((await huge.json()) as unknown).toEqual({ error: expect.stringMatching(/HPE_HEADER_OVERFLOW/) });
  });

  it("lets each role use exactly the routes its role grants, and answers 403 naming the role otherwise", async () => {
    for (const route of ROUTES) {
      const permission = PERMISSIONS[route.name];
      for (const role of ROLES) {
        const granted = permission === "public" || permission === "any" || GRANTS[permission].includes(role);
        // No body (or one that does not fit): a granted request gets past the check and is refused for its shape, never for who asks.
        // (Its own environment: the admin's archiveEnv archives it.)
        const body = route.rawBody ? Buffer.from("x") : undefined;
        const r = await call(tokens[role], route.method, pathOf(route, "matrix"), body);
        const label = `${role} on ${route.name} (${permission})`;
        if (granted) expect([401, 403], `${label}: ${r.status} ${r.json.error}`).not.toContain(r.status);
        else {
          expect(r.status, label).toBe(403);
          if (route.method !== "HEAD") expect(r.json.error, label).toMatch(new RegExp(`^token ${ids[role]} \\(${role}\\) has role ${role}; this needs `));
        }
      }
      // The admin token passes every check.
      const r = await call(admin, route.method, pathOf(route, "matrix"), route.rawBody ? Buffer.from("x") : undefined);
      expect([401, 403], `admin on ${route.name}: ${r.status} ${r.json.error}`).not.toContain(r.status);
    }
  });

  it("keeps a token to its project and its environment patterns", async () => {
    const runs = (env: string, p = project) => `/api/projects/${p}/envs/${env}/runs`;
    expect((await call(tokens["read-dev"], "GET", runs("dev-a"))).status).toBe(200);
    const prod = await call(tokens["read-dev"], "GET", runs("production"));
    expect({ status: prod.status, error: prod.json.error }).toEqual({
      status: 403,
      error: `token ${ids["read-dev"]} (read-dev) covers dev-* of ${project}, not environment ${project}/production`,
    });
    // `dev-*` does not cover `dev` itself.
    expect((await call(tokens["read-dev"], "GET", runs("dev"))).status).toBe(403);
    const other = await call(tokens["other-project"], "GET", runs("production"));
    expect({ status: other.status, error: other.json.error }).toEqual({
      status: 403,
      error: `token ${ids["other-project"]} (other-project) is for project ${project}-other, not ${project}`,
    });
    // The environments a token lists are those it covers.
    const listed = await call(tokens["read-dev"], "GET", `/api/projects/${project}/envs`);
    expect((listed.json as unknown as { name: string }[]).map((e) => e.name)).toEqual(["dev-a"]);
    // An environment admin makes environments within its patterns only, and branches only from what it may read.
    const adminDev = tokens["admin-dev"];
    expect((await call(adminDev, "POST", `/api/projects/${project}/envs`, { name: "dev-b" })).status).toBe(200);
    expect((await call(adminDev, "POST", `/api/projects/${project}/envs`, { name: "staging" })).status).toBe(403);
    const branch = await call(adminDev, "POST", `/api/projects/${project}/envs`, { name: "dev-c", from: "production" });
    expect({ status: branch.status, error: branch.json.error }).toEqual({
      status: 403,
      error: `token ${ids["admin-dev"]} (admin-dev) covers dev-* of ${project}, not environment ${project}/production`,
    });
    expect((await call(adminDev, "POST", `/api/projects/${project}/envs/dev-b/update`, { base: "production" })).status).toBe(403);
    expect((await call(adminDev, "POST", `/api/projects/${project}/envs/dev-b/update`, { base: "dev-a" })).status).toBe(200);
  });

  it("makes no token wider than the one that makes it", async () => {
    const path = `/api/projects/${project}/tokens`;
    const adminDev = tokens["admin-dev"];
    const wide = await call(adminDev, "POST", path, { role: "read", envs: ["*"] });
    expect(wide.json).toEqual({ error: `token ${ids["admin-dev"]} (admin-dev) covers dev-*: it cannot give *`, lacks: "environment" });
    expect(wide.status).toBe(403);
    // Without patterns, its maker's.
    const same = await call(adminDev, "POST", path, { role: "read", name: "same-reach" });
    expect(same.json).toMatchObject({ envs: ["dev-*"], by: { kind: "token", tokenId: ids["admin-dev"] } });
    expect((await call(adminDev, "POST", path, { role: "read", envs: ["dev", "dev-a"] })).json.error).toMatch(/it cannot give dev$/);
    const narrow = await call(adminDev, "POST", path, { role: "submit", envs: ["dev-a", "dev-x*"], name: "narrow" });
    expect(narrow.status).toBe(200);
    // It lists, and revokes, only the tokens within its reach.
    const listed = (await call(adminDev, "GET", path)).json as unknown as { tokenId: string; by?: unknown }[];
    expect(listed.map((t) => t.tokenId).sort()).toEqual([ids["read-dev"], ids["admin-dev"], ids["agent-dev"], narrow.json["tokenId"], same.json["tokenId"]].sort());
    // Each says who made it.
    expect(listed.find((t) => t.tokenId === ids["read-dev"])?.by).toEqual({ kind: "admin" });
    expect(listed.find((t) => t.tokenId === narrow.json["tokenId"])?.by).toEqual({ kind: "token", tokenId: ids["admin-dev"], name: "admin-dev" });
    const outOfReach = await call(adminDev, "POST", `${path}/${ids["read"]}/revoke`, {});
    expect({ status: outOfReach.status, error: outOfReach.json.error }).toEqual({ status: 404, error: `no token ${ids["read"]}: list tokens with 'tributary tokens ls'` });
    // A token of another project cannot reach this one's tokens at all.
    expect((await call(tokens["other-project"], "GET", path)).status).toBe(403);
  });

  it("asks the agents' WebSocket for an agent token of the environment its hello names", async () => {
    const refused = await RawAgent.tryConnect(server.url);
    expect(refused).toEqual({ status: 401, body: expect.stringContaining("no token: give one with --token or TRIBUTARY_TOKEN") });
    const bad = await RawAgent.tryConnect(server.url, { authorization: `Bearer ${tokens["revoked"]}` });
    expect(bad).toMatchObject({ status: 401, body: expect.stringContaining("revoked") });

    const refusalOf = async (token: string, env: string) => {
      const a = await RawAgent.connect(server.url, { authorization: `Bearer ${token}` });
      a.send(hello(project, env));
      const m = await a.next(["refused", "welcome"]);
      a.close();
      return m.type === "refused" ? m.reason : "welcome";
    };
    expect(await refusalOf(tokens["agent-dev"]!, "production")).toBe(
      `token ${ids["agent-dev"]} (agent-dev) covers dev-* of ${project}, not environment ${project}/production`,
    );
    expect(await refusalOf(tokens["read"]!, "production")).toMatch(/has role read; this needs agent or admin$/);
    expect(await refusalOf(tokens["agent-dev"]!, "dev-a")).toBe("welcome");
    expect(await refusalOf(admin, "production")).toBe("welcome");

    // Revoking a token ends the sessions that connected with it.
    const doomed = await make("doomed-agent", { role: "agent" });
    const a = await RawAgent.connect(server.url, { authorization: `Bearer ${doomed}` });
    a.send(hello(project, "production"));
    await a.next("welcome");
    expect((await call(admin, "POST", `/api/projects/${project}/tokens/${ids["doomed-agent"]}/revoke`, {})).status).toBe(200);
    const cut = await a.next("refused");
    expect(cut.reason).toBe(`token ${ids["doomed-agent"]} was revoked: the agent needs a new one`);
    await a.closedWith();
    expect(a.closed?.code).toBe(4401);

    // An agent id is its token's while that token is valid: another token cannot take it over.
    const first = await make("first-agent", { role: "agent" });
    const second = await make("second-agent", { role: "agent" });
    const one = await RawAgent.connect(server.url, { authorization: `Bearer ${first}` });
    one.send(hello(project, "production", "fixed-1"));
    await one.next("welcome");
    await one.close();
    const two = await RawAgent.connect(server.url, { authorization: `Bearer ${second}` });
    two.send(hello(project, "production", "fixed-1"));
    const taken = await two.next("refused");
    expect(taken).toMatchObject({
      status: 403,
      reason: `agent id fixed-1 belongs to token ${ids["first-agent"]}, which is still valid: connect with that token, or choose another agent id`,
    });
    // Once that token is revoked, the id is free.
    expect((await call(admin, "POST", `/api/projects/${project}/tokens/${ids["first-agent"]}/revoke`, {})).status).toBe(200);
    const three = await RawAgent.connect(server.url, { authorization: `Bearer ${second}` });
    three.send(hello(project, "production", "fixed-1"));
    await three.next("welcome");
    await three.close();

    // And a token that expires ends its sessions then.
    const brief = await make("brief-agent", { role: "agent", expiresInMs: 1000 });
    const b = await RawAgent.connect(server.url, { authorization: `Bearer ${brief}` });
    b.send(hello(project, "production"));
    await b.next("welcome");
    expect((await b.next("refused", 5000)).reason).toMatch(new RegExp(`^token ${ids["brief-agent"]} expired at \\d{4}-.*: the agent needs a new one$`));
    expect((await b.closedWith()).code).toBe(4401);
  });

  it("runs work end to end with scoped tokens, and lets a blob be read only through an environment that refers to it", async () => {
    const agent = await startAgent({
      server: server.url,
      project,
      env: "dev-a",
      token: tokens["agent-dev"]!,
      modules: [FILES],
      workers: 1,
      onLog: () => undefined,
    });
    try {
      const submitter = new Client({ url: server.url, project, env: "dev-a", token: tokens["submit"]! });
      const run = await submitter.submit("files:files_flow", ["auth"]);
      expect((await run.outcome()).status).toBe("succeeded");
      const assets = (await call(tokens["read-dev"], "GET", `/api/projects/${project}/envs/dev-a/assets?run=${run.runId}`)).json as unknown as {
        persisted: { entries: { blobKey?: string }[] };
      }[];
      const key = assets.flatMap((a) => a.persisted.entries).find((e) => e.blobKey)?.blobKey;
      expect(key).toMatch(/^sha256:/);
      const blob = (token: string | undefined, p: string, env: string) => call(token, "GET", `/api/projects/${p}/envs/${env}/blobs/${key}`);
      expect((await blob(tokens["read-dev"], project, "dev-a")).status).toBe(200);
      expect((await blob(tokens["agent-dev"], project, "dev-a")).status).toBe(200);
      // The same bytes, asked through an environment that does not refer to them: as if there were none.
      expect((await blob(admin, project, "dev")).status).toBe(404);
      expect((await blob(tokens["read-dev"], project, "production")).status).toBe(403);
      // Another project's token reaches neither this project nor, through its own, the blob.
      expect((await blob(tokens["other-project"], project, "dev-a")).status).toBe(403);
      expect((await call(admin, "POST", `/api/projects/${project}-other/envs`, { name: "mine" })).status).toBe(200);
      expect((await blob(tokens["other-project"], `${project}-other`, "mine")).status).toBe(404);
      // Who did what is on the events: the submit token submitted, the agent (with its token) reported.
      const history = (await call(tokens["read-dev"], "GET", `/api/projects/${project}/envs/dev-a/runs/${run.runId}/history`)).json as unknown as {
        type: string;
        by?: unknown;
      }[];
      expect(history.find((e) => e.type === "RunSubmitted")?.by).toEqual({ kind: "token", tokenId: ids["submit"], name: "submit" });
      expect(history.find((e) => e.type === "ExecutionSucceeded")?.by).toMatchObject({ kind: "agent", tokenId: ids["agent-dev"] });
    } finally {
      await agent.stop({ drainMs: 0 });
    }
  });

  it("ends a long poll and a followed log when their token is revoked", async () => {
    // A run whose agent is gone (it ran in the test before): it waits for ever.
    const submitted = await call(admin, "POST", `/api/projects/${project}/envs/dev-a/runs`, { target: "files:files_flow", arguments: ["waits"] });
    expect(submitted.status, JSON.stringify(submitted.json)).toBe(200);
    const runId = submitted.json["runId"] as string;
    const watcher = await make("watcher", { role: "read" });
    const run = `/api/projects/${project}/envs/dev-a/runs/${runId}`;
    const poll = fetch(new URL(`${run}/result?wait=true`, server.url), { headers: { authorization: `Bearer ${watcher}` } });
    // Its answer may start before the revocation (then it is cut) or not (then it is the 401).
    const ended = fetch(new URL(`${run}/logs?follow=true`, server.url), { headers: { authorization: `Bearer ${watcher}` } }).then(async (follow) =>
      follow.status === 401 ? "refused" : follow.text().then(() => "ended", () => "cut"),
    );
    await new Promise((done) => setTimeout(done, 300));
    expect((await call(admin, "POST", `/api/projects/${project}/tokens/${ids["watcher"]}/revoke`, {})).status).toBe(200);
    const answered = await poll;
    expect(answered.status).toBe(401);
    expect(await answered.json()).toEqual({ error: `the token was revoked: ask an admin for a new one (token ${ids["watcher"]})`, reason: "revoked" });
    expect(["refused", "ended", "cut"]).toContain(await ended);
  });

  it("keeps every secret out of the log, the projections, the lists and the notices", async () => {
    const secrets = [admin, ...Object.values(tokens).map((t) => t.split("_")[2]!)];
    const found = (where: string, bytes: Buffer) => secrets.filter((s) => bytes.includes(Buffer.from(s))).map((s) => `${where}: ${s.slice(0, 6)}…`);
    const hits: string[] = [];
    for (const f of filesUnder(dataDir)) hits.push(...found(f, readFileSync(f)));
    for await (const c of server.log.readRaw(SERVER_LOG)) hits.push(...found(`server log commit ${c.seq}`, Buffer.from(c.bytes)));
    for await (const c of server.log.readRaw({ project: project as never, env: "production" as never })) hits.push(...found(`log commit ${c.seq}`, Buffer.from(c.bytes)));
    hits.push(...found("notices", Buffer.from(notices.join("\n"))));
    const listed = await call(admin, "GET", `/api/projects/${project}/tokens`);
    hits.push(...found("tokens ls", Buffer.from(JSON.stringify(listed.json))));
    expect(JSON.stringify(listed.json)).not.toMatch(/"hash"/);
    hits.push(...found("whoami", Buffer.from(JSON.stringify((await call(tokens["read"], "GET", "/api/whoami")).json))));
    expect(hits).toEqual([]);
  });

  it("keeps its tokens and revocations across a restart", async () => {
    await server.close();
    server = await TributaryServer.start(options());
    const path = `/api/projects/${project}/envs/production/runs`;
    expect((await call(tokens["read"], "GET", path)).status).toBe(200);
    expect((await call(tokens["revoked"], "GET", path)).json.error).toMatch(/^the token was revoked/);
    const who = await call(tokens["submit"], "GET", "/api/whoami");
    expect(who.json).toMatchObject({ auth: true, principal: { kind: "token", tokenId: ids["submit"], name: "submit" }, token: { role: "submit", envs: ["*"] } });
    expect((await call(admin, "GET", "/api/whoami")).json).toEqual({ auth: true, principal: { kind: "admin" } });
  });
});

describe("a server without --auth", () => {
  it("makes no tokens (they would wait for the day --auth is on), and says how to", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "trib-open-"));
    const project = freshProject();
    const server = await TributaryServer.start({ dataDir, port: 0, defaultProject: project, onNotice: () => {} });
    try {
      const res = await fetch(new URL(`/api/projects/${project}/tokens`, server.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ role: "admin" }),
      });
      expect(res.status).toBe(409);
      expect(await res.json()).toEqual({
        error: "this server checks no credentials (it was started without --auth): start it with --auth, then make tokens with its admin token",
      });
      expect(await (await fetch(new URL(`/api/projects/${project}/tokens`, server.url))).json()).toEqual([]);
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
