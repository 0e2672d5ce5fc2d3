/**
 * Every HTTP route, table-driven from `ROUTES` (src/protocol/http.ts): for
 * each route a case with its success path and the refusals that belong to it
 * (bad path parameter, bad query, bad body, an unknown environment, run,
 * step or asset, a state that refuses it). Refusals that every route of a
 * kind has are made from the route itself (each path parameter, the query,
 * a body where none is taken, an unknown environment); the table adds the
 * route's own. A meta-test fails when a route has no case (or a case no
 * route), so a new route without a test fails the suite.
 *
 * One real server (embedded log, with --auth: every request presents the
 * admin token) with a real agent hosting the flows and files fixtures.
 */
import { createHash, randomBytes } from "node:crypto";
import { request, type IncomingHttpHeaders } from "node:http";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromJson, toJson } from "../../src/protocol/json.js";
import { PARAMS, ROUTES, type ParamName, type Route } from "../../src/protocol/http.js";
import { eventually, FLOWS, startHarness, type Harness } from "./support.js";

const FILES = resolve(import.meta.dirname, "fixtures/files.ts");
const WAITS = resolve(import.meta.dirname, "fixtures/waits.ts");

/** A run of waits:approval, and its input once asked (pending). */
const pendingInput = async (c: Ctx): Promise<{ runId: string; inputId: string }> => {
  const runId = await c.h.api.submit("waits:approval", [10]);
  const inputId = await eventually(async () => (await c.ok<{ inputId: string }[]>("GET", `${c.env}/inputs?run=${runId}`))[0]?.inputId, 15_000, "the input asked");
  return { runId, inputId };
};

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly bytes: Buffer;
  /** The body decoded as the API's JSON, if it is JSON. */
  readonly json: unknown;
}

/** Any method, path and body (a value is sent as JSON; a string or bytes as they are). */
/** The admin token of the test's server: every route is tried as it is used, with --auth. */
const ADMIN = randomBytes(24).toString("hex");

const call = (server: string, method: string, path: string, body?: unknown): Promise<Reply> =>
  new Promise((done, fail) => {
    const payload = body === undefined ? undefined : typeof body === "string" || body instanceof Uint8Array ? Buffer.from(body) : Buffer.from(toJson(body));
    const req = request(new URL(path, server), { method, headers: { authorization: `Bearer ${ADMIN}`, ...(payload ? { "content-length": payload.length } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => {
        const bytes = Buffer.concat(chunks);
        let json: unknown;
        if (bytes.length > 0 && /json/.test(res.headers["content-type"] ?? "")) json = fromJson(bytes.toString());
        done({ status: res.statusCode ?? 0, headers: res.headers, bytes, json });
      });
    });
    req.on("error", fail);
    req.end(payload);
  });

/** What the admin reads of an event stream until `done(text)`, then the request is dropped. */
const readEvents = (server: string, path: string, done: (text: string) => boolean): Promise<string> =>
  new Promise((resolveRead, fail) => {
    const req = request(new URL(path, server), { headers: { authorization: `Bearer ${ADMIN}` } }, (res) => {
      if (res.statusCode !== 200) fail(new Error(`GET ${path}: ${res.statusCode}`));
      expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
        if (done(text)) {
          req.destroy();
          resolveRead(text);
        }
      });
    });
    req.on("error", (e) => (e.message === "socket hang up" ? undefined : fail(e)));
    req.end();
  });

/** What the cases share: the server, runs made once, a blob. */
interface Ctx {
  readonly h: Harness;
  readonly project: string;
  /** `/api/projects/<project>/envs/production` */
  readonly env: string;
  /** A run of flows:double(21), succeeded. */
  readonly doneRun: string;
  /** A run of files:files_flow, which persisted an asset. */
  readonly filesRun: string;
  /** A run of flows:logs, which logged a line. */
  readonly logsRun: string;
  /** A blob uploaded (PUT) through production only: production sees it (its `BlobStored`), no other environment does. */
  readonly blob: { readonly key: string; readonly bytes: Buffer };
  /** Sends a request and returns the reply. */
  call(method: string, path: string, body?: unknown): Promise<Reply>;
  /** Sends a request that must answer 200, and returns its JSON. */
  ok<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  /** A new environment of the project (its path): empty, or based on or branched from another. */
  freshEnv(options?: { readonly base?: string; readonly from?: string; readonly at?: number }): Promise<string>;
  /** An environment of another project (its path), made once. */
  otherProjectEnv(): Promise<string>;
}

/** The key and size of a file of the asset the files run persisted in production. */
const assetBlob = async (c: Ctx): Promise<{ key: string; size: number }> => {
  const [asset] = await c.ok<{ persisted: { entries: { blobKey: string; size: number }[] } }[]>("GET", `${c.env}/assets?run=${c.filesRun}`);
  const entry = asset?.persisted.entries[0];
  if (!entry) throw new Error(`run ${c.filesRun} persisted no file`);
  return { key: entry.blobKey, size: entry.size };
};

interface Refusal {
  /** What is wrong, for the test's message. */
  readonly what: string;
  readonly method?: string;
  readonly path: string;
  readonly body?: unknown;
  readonly status: number;
  readonly error: RegExp;
}

interface RouteCase {
  /** Concrete path parameters for the generic refusals (the env is the test's production). */
  readonly params?: (c: Ctx) => Partial<Record<ParamName, string>>;
  /** A body the route accepts, for the generic refusals that need one to get past the body check. */
  readonly body?: unknown;
  /** The success path: requests and what they answer. */
  success(c: Ctx): Promise<void>;
  /** The route's own refusals (beyond the generic ones). */
  refusals(c: Ctx): Refusal[] | Promise<Refusal[]>;
}

const BAD: Record<ParamName, { value: string; error: RegExp }> = {
  project: { value: "bad.name", error: /invalid project name "bad\.name"/ },
  env: { value: "bad.name", error: /invalid environment name "bad\.name"/ },
  runId: { value: "bad.id", error: /invalid run id "bad\.id"/ },
  stepId: { value: "bad.id", error: /invalid step id "bad\.id"/ },
  assetId: { value: "bad.id", error: /invalid asset id "bad\.id"/ },
  key: { value: "sha256:nothex", error: /invalid blob key "sha256:nothex"/ },
  tokenId: { value: "Bad_Id", error: /invalid token id "Bad_Id"/ },
  pool: { value: "Bad_Pool", error: /invalid pool name "Bad_Pool"/ },
  inputId: { value: "bad.id", error: /invalid input id "bad\.id"/ },
};

const keyOf = (r: Route) => `${r.method} ${r.path}`;
const paramNames = (r: Route) => r.path.split("/").filter((p) => p.startsWith(":")).map((p) => p.slice(1) as ParamName);
/** `/api/<route path>` with the parameters filled in. */
const pathOf = (r: Route, params: Partial<Record<string, string>>) =>
  `/api/${r.path
    .split("/")
    .map((p) => (p.startsWith(":") ? encodeURIComponent(params[p.slice(1)] ?? `missing-${p.slice(1)}`) : p))
    .join("/")}`;
/** The route a request's method and path have the shape of (parameters not checked). */
const shapeOf = (method: string, path: string): Route | undefined => {
  const parts = new URL(path, "http://x").pathname.split("/").filter(Boolean).slice(1);
  return ROUTES.find((r) => {
    const rp = r.path.split("/");
    return r.method === method && rp.length === parts.length && rp.every((p, i) => p.startsWith(":") || p === parts[i]);
  });
};

const byKey = (rows: readonly [string, RouteCase][]) => new Map(rows);

const ENV = "projects/:project/envs/:env";
const RUN = `${ENV}/runs/:runId`;

const CASES = byKey([
  [
    "GET health",
    {
      async success(c) {
        expect(await c.ok("GET", "/api/health")).toEqual({ ok: true, log: "embedded" });
      },
      refusals: () => [],
    },
  ],
  [
    "GET whoami",
    {
      async success(c) {
        // This harness's server checks credentials; the cases call as its admin (auth.e2e.spec.ts tries every role).
        expect(await c.ok("GET", "/api/whoami")).toEqual({ auth: true, principal: { kind: "admin" } });
      },
      refusals: () => [],
    },
  ],
  [
    "GET projects/:project/tokens",
    {
      async success(c) {
        const made = await c.ok<{ tokenId: string }>("POST", `/api/projects/${c.project}/tokens`, { role: "read", name: "listed" });
        const list = await c.ok<{ tokenId: string; name?: string }[]>("GET", `/api/projects/${c.project}/tokens`);
        expect(list.find((t) => t.tokenId === made.tokenId)).toMatchObject({ name: "listed", role: "read", envs: ["*"] });
        // Never a secret, nor its hash.
        expect(JSON.stringify(list)).not.toMatch(/trib_|hash/);
        expect(await c.ok("GET", "/api/projects/nobody-here/tokens")).toEqual([]);
      },
      refusals: () => [],
    },
  ],
  [
    "POST projects/:project/tokens",
    {
      body: { role: "read" },
      async success(c) {
        const made = await c.ok<{ token: string; tokenId: string; envs: string[]; expiresAt?: number; createdAt: number }>(
          "POST",
          `/api/projects/${c.project}/tokens`,
          { role: "submit", envs: ["dev", "dev-*"], expiresInMs: 60_000 },
        );
        expect(made.token).toMatch(new RegExp(`^trib_${made.tokenId}_[0-9a-z]{52}_[0-9a-z]{6}$`));
        expect(made).toMatchObject({ role: "submit", envs: ["dev", "dev-*"] });
        // 60 s from the request (the edge's clock; the creation's time is the decision's, a moment later).
        expect(made.expiresAt! - made.createdAt).toBeGreaterThan(59_000);
        expect(made.expiresAt! - made.createdAt).toBeLessThanOrEqual(60_000);
      },
      refusals: (c) => [
        { what: "no body", path: `/api/projects/${c.project}/tokens`, status: 400, error: /the request needs a JSON body: an object with role/ },
        { what: "an unknown role", path: `/api/projects/${c.project}/tokens`, body: { role: "root" }, status: 400, error: /body\.role/ },
        { what: "a pattern with /", path: `/api/projects/${c.project}/tokens`, body: { role: "read", envs: ["dev/*"] }, status: 400, error: /invalid environment pattern "dev\/\*".*dev-\*/ },
        { what: "no patterns", path: `/api/projects/${c.project}/tokens`, body: { role: "read", envs: [] }, status: 400, error: /body\.envs/ },
        { what: "an expiry too short", path: `/api/projects/${c.project}/tokens`, body: { role: "read", expiresInMs: 5 }, status: 400, error: /body\.expiresInMs/ },
      ],
    },
  ],
  [
    "POST projects/:project/tokens/:tokenId/revoke",
    {
      params: () => ({ tokenId: "nosuchtoken" }),
      body: {},
      async success(c) {
        const made = await c.ok<{ tokenId: string }>("POST", `/api/projects/${c.project}/tokens`, { role: "read" });
        const revoked = await c.ok<{ revoked?: { reason?: string } }>("POST", `/api/projects/${c.project}/tokens/${made.tokenId}/revoke`, { reason: "test" });
        expect(revoked.revoked).toMatchObject({ reason: "test" });
        // Again: nothing changes, the same answer.
        expect(await c.ok("POST", `/api/projects/${c.project}/tokens/${made.tokenId}/revoke`, {})).toMatchObject({ revoked: { reason: "test" } });
        // Another project's token is as unknown as none.
        const r = await c.call("POST", `/api/projects/other-project/tokens/${made.tokenId}/revoke`, {});
        expect(r.status).toBe(404);
      },
      refusals: (c) => [
        { what: "an unknown token", path: `/api/projects/${c.project}/tokens/nosuchtoken/revoke`, body: {}, status: 404, error: /no token nosuchtoken/ },
      ],
    },
  ],
  [
    "GET schema",
    {
      async success(c) {
        const doc = await c.ok<{ routes: { method: string; path: string }[]; agentMessages: object }>("GET", "/api/schema");
        expect(doc.routes.map((r) => `${r.method} ${r.path}`)).toEqual(ROUTES.map((r) => `${r.method} /api/${r.path.replace(/:(\w+)/g, "{$1}")}`));
        expect(Object.keys(doc.agentMessages)).toContain("hello");
      },
      refusals: () => [],
    },
  ],
  [
    "GET projects",
    {
      async success(c) {
        const projects = await c.ok<{ name: string; envs: number }[]>("GET", "/api/projects");
        const envs = await c.ok<unknown[]>("GET", `/api/projects/${c.project}/envs`);
        expect(projects.find((p) => p.name === c.project)).toEqual({ name: c.project, envs: envs.length });
      },
      refusals: () => [],
    },
  ],
  [
    "GET projects/:project/changes",
    {
      async success(c) {
        const { lastSeq } = await c.ok<{ lastSeq: number }>("GET", `${c.env}/log/verify`);
        const text = await readEvents(c.h.server.url, `/api/projects/${c.project}/changes`, (t) => /event: ready\n/.test(t));
        const m = /^retry: \d+\n\nevent: ready\ndata: (.*)\n\n/.exec(text);
        const ready = JSON.parse(m![1]!) as { envs: { name: string; lastSeq: number }[] };
        expect(ready.envs.find((e) => e.name === "production")!.lastSeq).toBeGreaterThanOrEqual(lastSeq);
      },
      refusals: () => [],
    },
  ],
  [
    "GET projects/:project/envs",
    {
      async success(c) {
        const envs = await c.ok<{ name: string; lastSeq: number }[]>("GET", `/api/projects/${c.project}/envs`);
        expect(envs.find((e) => e.name === "production")).toMatchObject({ name: "production", lastSeq: expect.any(Number) });
        // A project nobody has used has no environments.
        expect(await c.ok("GET", "/api/projects/nobody-here/envs")).toEqual([]);
      },
      refusals: () => [],
    },
  ],
  [
    "POST projects/:project/envs",
    {
      body: { name: "made-by-generic-refusal" },
      async success(c) {
        const made = await c.ok("POST", `/api/projects/${c.project}/envs`, { name: "staging-r", base: "production" });
        expect(made).toMatchObject({ name: "staging-r", base: "production" });
        const branch = await c.ok("POST", `/api/projects/${c.project}/envs`, { name: "branch-r", from: "production" });
        expect(branch).toMatchObject({ name: "branch-r" });
        const names = (await c.ok<{ name: string }[]>("GET", `/api/projects/${c.project}/envs`)).map((e) => e.name);
        expect(names).toEqual(expect.arrayContaining(["staging-r", "branch-r"]));
      },
      refusals: (c) => [
        { what: "no body", path: `/api/projects/${c.project}/envs`, status: 400, error: /the request needs a JSON body: an object with name/ },
        { what: "a bad name", path: `/api/projects/${c.project}/envs`, body: { name: "bad.name" }, status: 400, error: /body\.name: invalid environment name "bad\.name"/ },
        { what: "a negative sequence", path: `/api/projects/${c.project}/envs`, body: { name: "x", at: -1 }, status: 400, error: /body\.at must be a whole number >= 0/ },
        { what: "an existing name", path: `/api/projects/${c.project}/envs`, body: { name: "production" }, status: 409, error: /environment .*production already exists/ },
        { what: "an unknown base", path: `/api/projects/${c.project}/envs`, body: { name: "orphan", base: "nowhere" }, status: 404, error: /nowhere/ },
        { what: "an atTime that is not a date", path: `/api/projects/${c.project}/envs`, body: { name: "when", from: "production", atTime: "yesterday" }, status: 400, error: /atTime "yesterday" is not an ISO date/ },
        { what: "an atTime of February 30", path: `/api/projects/${c.project}/envs`, body: { name: "when", from: "production", atTime: "2026-02-30" }, status: 400, error: /atTime "2026-02-30" is not an ISO date that exists/ },
      ],
    },
  ],
  [
    `POST ${ENV}/update`,
    {
      body: { base: null },
      async success(c) {
        const env = await c.freshEnv();
        expect(await c.ok("POST", `${env}/update`, { base: "production" })).toMatchObject({ base: "production" });
        const cleared = await c.ok("POST", `${env}/update`, { base: null });
        expect(cleared["base"]).toBeUndefined();
      },
      refusals: async (c) => {
        const env = await c.freshEnv();
        return [
          { what: "no body", path: `${env}/update`, status: 400, error: /needs a JSON body: an object with base/ },
          { what: "a base that is not a name", path: `${env}/update`, body: { base: 3 }, status: 400, error: /body\.base must be/ },
          { what: "an unknown base", path: `${env}/update`, body: { base: "nowhere" }, status: 404, error: /nowhere/ },
          { what: "itself as its base (a cycle)", path: `${env}/update`, body: { base: env.split("/").at(-1) }, status: 409, error: /cycle/ },
        ];
      },
    },
  ],
  [
    `GET ${ENV}/changes`,
    {
      async success(c) {
        // Resumed from the start: the ready message, then one message for the commits since (read back from the log).
        const { lastSeq } = await c.ok<{ lastSeq: number }>("GET", `${c.env}/log/verify`);
        const text = await readEvents(c.h.server.url, `${c.env}/changes?after=0`, (t) => /event: changes\n/.test(t));
        expect(text).toMatch(/^retry: \d+\n\nevent: ready\ndata: \{"seq":\d+\}\n\n/);
        const m = /id: (\d+)\nevent: changes\ndata: (.*)\n\n/.exec(text);
        const changes = JSON.parse(m![2]!) as { from: number; seq: number; types: string[]; runs: { runId: string }[] };
        expect(changes.from).toBe(1);
        expect(changes.seq).toBeGreaterThanOrEqual(lastSeq);
        expect(Number(m![1])).toBe(changes.seq);
        expect(changes.types).toContain("RunSubmitted");
        expect(changes.runs.map((r) => r.runId)).toEqual(expect.arrayContaining([c.doneRun, c.filesRun, c.logsRun]));
      },
      refusals: (c) => [{ what: "after that is not a sequence", path: `${c.env}/changes?after=-1`, status: 400, error: /query parameter after must be a whole number from 0: the log sequence to resume after/ }],
    },
  ],
  [
    `POST ${ENV}/archive`,
    {
      async success(c) {
        const env = await c.freshEnv();
        expect(await c.ok("POST", `${env}/archive`)).toMatchObject({ archived: expect.anything() });
        // An archived environment accepts no new runs.
        const r = await c.call("POST", `${env}/runs`, { target: "flows:double", arguments: [1] });
        expect(r.status).toBe(409);
      },
      refusals: async (c) => {
        const env = await c.freshEnv();
        await c.ok("POST", `${env}/archive`);
        return [{ what: "an archived environment as a base", path: `/api/projects/${c.project}/envs`, method: "POST", body: { name: "on-archived", base: env.split("/").at(-1) }, status: 409, error: /archived/ }];
      },
    },
  ],
  [
    `POST ${ENV}/pause`,
    {
      async success(c) {
        const env = await c.freshEnv();
        const paused = await c.ok<{ paused?: { at: number; reason?: string } }>("POST", `${env}/pause`, { reason: "maintenance" });
        expect(paused.paused).toMatchObject({ at: expect.any(Number), reason: "maintenance" });
        // Pausing again changes nothing (the first pause stays).
        expect((await c.ok<{ paused?: { at: number } }>("POST", `${env}/pause`)).paused).toEqual(paused.paused);
        await c.ok("POST", `${env}/resume`);
      },
      refusals: async (c) => {
        const env = await c.freshEnv();
        return [
          { what: "a reason that is not a string", path: `${env}/pause`, body: { reason: 5 }, status: 400, error: /body\.reason must be/ },
          { what: "an unknown field", path: `${env}/pause`, body: { for: "ever" }, status: 400, error: /for is not a known field/ },
        ];
      },
    },
  ],
  [
    `POST ${ENV}/resume`,
    {
      async success(c) {
        const env = await c.freshEnv();
        await c.ok("POST", `${env}/pause`);
        const resumed = await c.ok<{ paused?: unknown; name: string }>("POST", `${env}/resume`);
        expect(resumed.paused).toBeUndefined();
        expect(resumed.name).toBe(env.split("/").at(-1));
        // Resuming one not paused changes nothing.
        expect((await c.ok<{ paused?: unknown }>("POST", `${env}/resume`)).paused).toBeUndefined();
      },
      refusals: async (c) => {
        const env = await c.freshEnv();
        return [{ what: "a body (the route takes none)", path: `${env}/resume`, body: { now: true }, status: 400, error: /now is not a known field/ }];
      },
    },
  ],
  [
    `GET ${ENV}/runs`,
    {
      async success(c) {
        const runs = await c.ok<{ runId: string }[]>("GET", `${c.env}/runs`);
        expect(runs.map((r) => r.runId)).toEqual(expect.arrayContaining([c.doneRun, c.filesRun, c.logsRun]));
        expect(await c.ok<unknown[]>("GET", `${c.env}/runs?limit=1`)).toHaveLength(1);
        type Row = { runId: string; status: string; target: { repository: string; target: string } };
        const all = await c.ok<Row[]>("GET", `${c.env}/runs`);
        const older = await c.ok<Row[]>("GET", `${c.env}/runs?before=${all[0]!.runId}`);
        expect(older.map((r) => r.runId)).toEqual(all.slice(1).map((r) => r.runId));
        const status = all[0]!.status;
        const byStatus = await c.ok<Row[]>("GET", `${c.env}/runs?status=${status}`);
        expect(byStatus.map((r) => r.runId)).toEqual(all.filter((r) => r.status === status).map((r) => r.runId));
        const target = `${all[0]!.target.repository}:${all[0]!.target.target}`;
        const byTarget = await c.ok<Row[]>("GET", `${c.env}/runs?target=${encodeURIComponent(target)}&limit=2`);
        expect(byTarget.map((r) => r.runId)).toEqual(all.filter((r) => `${r.target.repository}:${r.target.target}` === target).slice(0, 2).map((r) => r.runId));
        // A time range: submitted at or after since, before until.
        const timed = await c.ok<(Row & { submittedAt: number })[]>("GET", `${c.env}/runs?limit=10000`);
        const mid = timed[Math.floor(timed.length / 2)]!.submittedAt;
        const iso = (ms: number) => new Date(ms).toISOString();
        const since = await c.ok<Row[]>("GET", `${c.env}/runs?limit=10000&since=${encodeURIComponent(iso(mid))}`);
        expect(since.map((r) => r.runId)).toEqual(timed.filter((r) => r.submittedAt >= mid).map((r) => r.runId));
        const until = await c.ok<Row[]>("GET", `${c.env}/runs?limit=10000&until=${encodeURIComponent(iso(mid))}`);
        expect(until.map((r) => r.runId)).toEqual(timed.filter((r) => r.submittedAt < mid).map((r) => r.runId));
        expect(since.length + until.length).toBe(timed.length);
        expect(until.length).toBeGreaterThan(0);
        expect(await c.ok("GET", `${c.env}/runs?since=${iso(mid)}&until=${iso(mid)}`)).toEqual([]);
        // A day that exists in a leap year only, and an offset, are dates.
        expect(await c.ok("GET", `${c.env}/runs?since=2028-02-29&until=${encodeURIComponent("2028-03-01T23:59:59.5+14:00")}`)).toEqual([]);
      },
      refusals: (c) => [
        { what: "a since that is not a time", path: `${c.env}/runs?since=yesterday`, status: 400, error: /query parameter since must be an ISO date/ },
        { what: "a since with no such day", path: `${c.env}/runs?since=2026-13-45`, status: 400, error: /query parameter since: "2026-13-45" is not a valid ISO date/ },
        { what: "a since of February 30 (not moved to March)", path: `${c.env}/runs?since=2026-02-30`, status: 400, error: /query parameter since: "2026-02-30" is not a valid ISO date or time \(no such day or time\)/ },
        { what: "an until of February 29 of a common year", path: `${c.env}/runs?until=2027-02-29`, status: 400, error: /query parameter until: "2027-02-29" is not a valid ISO date/ },
        { what: "an until at 24:00", path: `${c.env}/runs?until=2026-12-01T24:00`, status: 400, error: /query parameter until: "2026-12-01T24:00"/ },
        { what: "a since with an offset of +99:99", path: `${c.env}/runs?since=${encodeURIComponent("2026-12-01T00:00:00+99:99")}`, status: 400, error: /query parameter since/ },
        { what: "an until before since", path: `${c.env}/runs?since=2026-12-02&until=2026-12-01`, status: 400, error: /since \(2026-12-02\) is after until \(2026-12-01\)/ },
        { what: "an unknown status", path: `${c.env}/runs?status=done`, status: 400, error: /status/ },
        { what: "a target without its repository", path: `${c.env}/runs?target=x`, status: 400, error: /target/ },
        { what: "a limit of 0", path: `${c.env}/runs?limit=0`, status: 400, error: /query parameter limit must be a whole number from 1 to 10000/ },
        { what: "a limit that is not a number", path: `${c.env}/runs?limit=abc`, status: 400, error: /limit must be a whole number/ },
        { what: "a limit given twice", path: `${c.env}/runs?limit=1&limit=2`, status: 400, error: /limit is given twice/ },
      ],
    },
  ],
  [
    `POST ${ENV}/runs`,
    {
      body: { target: "flows:double", arguments: [1] },
      async success(c) {
        const made = await c.ok<{ runId: string; created: boolean; seq: number }>("POST", `${c.env}/runs`, { target: "flows:double", arguments: [5], idempotencyKey: "routes-1" });
        expect(made).toMatchObject({ runId: expect.any(String), created: true, seq: expect.any(Number) });
        expect(await c.ok("POST", `${c.env}/runs`, { target: "flows:double", arguments: [5], idempotencyKey: "routes-1" })).toEqual({ runId: made.runId, created: false });
        expect(await c.h.api.result(made.runId)).toEqual({ status: "succeeded", value: 10 });
      },
      refusals: (c) => [
        { what: "no body", path: `${c.env}/runs`, status: 400, error: /needs a JSON body: an object with target/ },
        { what: "a body that is not JSON", path: `${c.env}/runs`, body: "{", status: 400, error: /not valid JSON/ },
        { what: "a target without repository", path: `${c.env}/runs`, body: { target: "double" }, status: 400, error: /body\.target must/ },
        { what: "arguments that are not a list", path: `${c.env}/runs`, body: { target: "flows:double", arguments: 1 }, status: 400, error: /body\.arguments must be an array/ },
        { what: "an unknown field", path: `${c.env}/runs`, body: { target: "flows:double", priority: 1 }, status: 400, error: /body\.priority is not a known field/ },
        { what: "an unknown target", path: `${c.env}/runs`, body: { target: "flows:nope" }, status: 400, error: /unknown target flows:nope/ },
        { what: "a task as a run", path: `${c.env}/runs`, body: { target: "flows:add", arguments: [1, 2] }, status: 400, error: /task/ },
        { what: "the wrong number of arguments", path: `${c.env}/runs`, body: { target: "flows:double", arguments: [1, 2, 3] }, status: 400, error: /argument/ },
        { what: "a reused idempotency key with other arguments", path: `${c.env}/runs`, body: { target: "flows:double", arguments: [6], idempotencyKey: "routes-1" }, status: 409, error: /idempotency key "routes-1" was already used/ },
      ],
    },
  ],
  [
    `GET ${RUN}`,
    {
      params: (c) => ({ runId: c.doneRun }),
      async success(c) {
        const view = await c.ok<{ run: { runId: string; status: string }; steps: unknown[]; stale: unknown }>("GET", `${c.env}/runs/${c.doneRun}`);
        expect(view.run).toMatchObject({ runId: c.doneRun, status: "succeeded" });
        expect(view.steps).toHaveLength(1);
        expect(view).toHaveProperty("stale");
        // As of a sequence of the log: at the run's first commit it was running; at its last, and past the end, as now.
        const history = await c.ok<{ seq: number; at: number }[]>("GET", `${c.env}/runs/${c.doneRun}/history`);
        const first = history[0]!;
        const last = history[history.length - 1]!;
        const prodName = c.env.split("/").pop()!;
        const asOf = (seq: number) => ({ ...view, asOf: { env: prodName, seq } });
        const atFirst = await c.ok("GET", `${c.env}/runs/${c.doneRun}?at=${first.seq}`);
        expect(atFirst).toMatchObject({ run: { runId: c.doneRun, status: "running" }, asOf: { env: prodName, seq: first.seq } });
        expect(await c.ok("GET", `${c.env}/runs/${c.doneRun}?at=${last.seq}`)).toEqual(asOf(last.seq));
        expect(await c.ok("GET", `${c.env}/runs/${c.doneRun}?at=999999999`)).toEqual(asOf(last.seq));
        expect(await c.ok("GET", `${c.env}/runs/${c.doneRun}?atTime=${new Date(last.at).toISOString()}`)).toEqual(asOf(last.seq));
        expect(await c.ok("GET", `${c.env}/runs/${c.doneRun}?atTime=${new Date(first.at).toISOString()}`)).toMatchObject({ run: { status: "running" } });
        // A branch made at the run's first commit sees the run from production's log (not brought in: no `at`, no run):
        // `at` reads that log, a sequence of it, no further than the branch point, and the answer says so.
        const branch = await c.freshEnv({ from: prodName, at: first.seq });
        expect((await c.call("GET", `${branch}/runs/${c.doneRun}`)).status).toBe(404);
        const seen = { env: prodName, seq: first.seq, seenFrom: "parent", upTo: first.seq };
        const { asOf: _own, ...firstView } = atFirst as typeof atFirst & { asOf: unknown };
        expect(await c.ok("GET", `${branch}/runs/${c.doneRun}?at=${first.seq}`)).toEqual({ ...firstView, asOf: seen });
        expect(await c.ok("GET", `${branch}/runs/${c.doneRun}?at=${last.seq}`)).toEqual({ ...firstView, asOf: seen });
        expect(await c.ok("GET", `${branch}/runs/${c.doneRun}?atTime=${new Date(last.at).toISOString()}`)).toEqual({ ...firstView, asOf: seen });
        // A branch made after the run sees all of it, as production does.
        const later = await c.freshEnv({ from: prodName });
        expect(await c.ok("GET", `${later}/runs/${c.doneRun}?at=${last.seq}`)).toMatchObject({ ...view, asOf: { env: prodName, seq: last.seq, seenFrom: "parent" } });
        const before = await c.call("GET", `${branch}/runs/${c.doneRun}?at=${first.seq - 1}`);
        expect(before.status).toBe(404);
        expect(before.bytes.toString()).toMatch(new RegExp(`did not exist yet at seq ${first.seq - 1}: its first event in [^ ]+/${prodName} is at seq ${first.seq}`));
        expect((await c.call("GET", `${branch}/runs/no-such-run?at=1`)).status).toBe(404);
        // The log read is production's, not in the path: a token must read production too (a branch's parent, or a base).
        const based = await c.freshEnv({ base: prodName });
        expect(await c.ok("GET", `${based}/runs/${c.doneRun}?at=999999999`)).toMatchObject({ run: { runId: c.doneRun }, asOf: { env: prodName, seenFrom: "base" } });
        const names = [branch, based].map((e) => e.split("/").pop()!);
        const tokenOf = async (envs: string[]) => {
          const made = await c.ok<{ token: string; tokenId: string }>("POST", `/api/projects/${c.project}/tokens`, { role: "read", envs });
          return { ...made, get: (path: string) => fetch(new URL(path, c.h.server.url), { headers: { authorization: `Bearer ${made.token}` } }) };
        };
        const narrow = await tokenOf(names);
        const wide = await tokenOf([...names, prodName]);
        for (const [env, at] of [[branch, first.seq], [based, 999999999], [branch, first.seq - 1]] as const) {
          const refused = await narrow.get(`${env}/runs/${c.doneRun}?at=${at}`);
          const text = await refused.text();
          expect(refused.status, text).toBe(403);
          expect(text).toContain(`token ${narrow.tokenId} covers`);
          expect(text).toContain(`not environment ${c.project}/${prodName}`);
          expect(text).not.toMatch(/seq/);
          expect((await wide.get(`${env}/runs/${c.doneRun}?at=${at}`)).status).toBe(at < first.seq ? 404 : 200);
        }
        // Its own environment's runs (and an unknown one) it still reads as before.
        expect((await narrow.get(`${branch}/runs/no-such-run?at=1`)).status).toBe(404);
      },
      refusals: async (c) => {
        const [first] = await c.ok<{ seq: number; at: number }[]>("GET", `${c.env}/runs/${c.doneRun}/history`);
        const run = `${c.env}/runs/${c.doneRun}`;
        return [
          { what: "a sequence before the run", path: `${run}?at=${first!.seq - 1}`, status: 404, error: new RegExp(`did not exist yet at seq ${first!.seq - 1}: its first event .* is at seq ${first!.seq}`) },
          { what: "a time before the run", path: `${run}?atTime=2000-01-01T00:00:00Z`, status: 404, error: /did not exist yet at 2000-01-01T00:00:00.000Z/ },
          { what: "at of 0", path: `${run}?at=0`, status: 400, error: /query parameter at must be a whole number from 1/ },
          { what: "at that is not a whole number", path: `${run}?at=1.5`, status: 400, error: /at must be a whole number from 1/ },
          { what: "at that is not a number", path: `${run}?at=abc`, status: 400, error: /at must be a whole number from 1/ },
          { what: "at given twice", path: `${run}?at=1&at=2`, status: 400, error: /at is given twice/ },
          { what: "atTime that is not ISO", path: `${run}?atTime=yesterday`, status: 400, error: /atTime must be an ISO date/ },
          { what: "atTime of an impossible day", path: `${run}?atTime=2026-13-45`, status: 400, error: /atTime "2026-13-45" is not a date/ },
          { what: "atTime of February 30 (not moved to March)", path: `${run}?atTime=2026-02-30`, status: 400, error: /query parameter atTime "2026-02-30" is not a date \(no such day or time\)/ },
          { what: "both at and atTime", path: `${run}?at=1&atTime=2026-01-01`, status: 400, error: /give at .* or atTime .*, not both/ },
        ];
      },
    },
  ],
  [
    `GET ${RUN}/history`,
    {
      params: (c) => ({ runId: c.doneRun }),
      async success(c) {
        const history = await c.ok<{ seq: number; index: number; type: string }[]>("GET", `${c.env}/runs/${c.doneRun}/history`);
        expect(history.map((e) => e.type)).toEqual(["RunSubmitted", "StepScheduled", "ExecutionCreated", "ExecutionAssigned", "ExecutionStarted", "ExecutionSucceeded"]);
        expect(history.map((e) => e.seq)).toEqual([...history.map((e) => e.seq)].sort((a, b) => a - b));
      },
      refusals: () => [],
    },
  ],
  [
    `GET ${RUN}/compare`,
    {
      params: (c) => ({ runId: c.doneRun }),
      async success(c) {
        type Answer = { a: { runId: string }; b: { runId: string }; envs: { a: string; b: string }; steps: { place: string; change: string; a?: { stepId: string }; b?: { stepId: string } }[] };
        // With itself (the defaults): one step, the same.
        const self = await c.ok<Answer>("GET", `${c.env}/runs/${c.doneRun}/compare`);
        expect(self.envs).toEqual({ a: "production", b: "production" });
        expect(self.steps).toEqual([expect.objectContaining({ place: "root", change: "same" })]);
        // With another run: its root's arguments differ.
        const other = await c.h.api.run("flows:double", [5]);
        const diff = await c.ok<Answer>("GET", `${c.env}/runs/${c.doneRun}/compare?with=${other.runId}`);
        expect(diff.b.runId).toBe(other.runId);
        expect(diff.steps.map((m) => m.change)).toEqual(["arguments-changed"]);
        // Another environment: a branch that has not brought the run in has none (runs diff's e2e compares a re-run in a branch).
        const branch = await c.freshEnv({ from: "production" });
        const name = branch.split("/").pop()!;
        const missing = await c.call("GET", `${c.env}/runs/${c.doneRun}/compare?withEnv=${name}`);
        expect(missing.status).toBe(404);
        expect(String((missing.json as { error: string }).error)).toMatch(new RegExp(`no run ${c.doneRun}`));
        // A token reading production only may not read the other side.
        const { token } = await c.ok<{ token: string }>("POST", `/api/projects/${c.project}/tokens`, { role: "read", envs: ["production"] });
        const asReader = (q: string) => fetch(new URL(`${c.env}/runs/${c.doneRun}/compare${q}`, c.h.server.url), { headers: { authorization: `Bearer ${token}` } });
        expect((await asReader("")).status).toBe(200);
        const denied = await asReader(`?withEnv=${name}`);
        expect(denied.status).toBe(403);
        expect(await denied.text()).toMatch(new RegExp(name));
      },
      refusals: (c) => [
        { what: "with that is not a run id", path: `${c.env}/runs/${c.doneRun}/compare?with=a.b`, status: 400, error: /query parameter with: invalid run id "a\.b"/ },
        { what: "withEnv that is not a name", path: `${c.env}/runs/${c.doneRun}/compare?withEnv=a.b`, status: 400, error: /query parameter withEnv: invalid environment name "a\.b"/ },
        { what: "an unknown other run", path: `${c.env}/runs/${c.doneRun}/compare?with=no-such-run`, status: 404, error: /no run no-such-run/ },
        { what: "an unknown other environment", path: `${c.env}/runs/${c.doneRun}/compare?withEnv=nowhere`, status: 404, error: /nowhere/ },
      ],
    },
  ],
  [
    `GET ${RUN}/result`,
    {
      params: (c) => ({ runId: c.doneRun }),
      async success(c) {
        expect(await c.ok("GET", `${c.env}/runs/${c.doneRun}/result`)).toEqual({ runId: c.doneRun, outcome: { status: "succeeded", value: 42 } });
        expect(await c.ok("GET", `${c.env}/runs/${c.doneRun}/result?wait=true`)).toEqual({ runId: c.doneRun, outcome: { status: "succeeded", value: 42 } });
        const slow = await c.h.api.submit("flows:sleep_flow", [30_000, 1]);
        expect(await c.ok("GET", `${c.env}/runs/${slow}/result?wait=0`)).toEqual({ runId: slow, pending: true });
        await c.ok("POST", `${c.env}/runs/${slow}/cancel`);
      },
      refusals: (c) => [{ what: "wait that is not a flag", path: `${c.env}/runs/${c.doneRun}/result?wait=maybe`, status: 400, error: /wait must be one of "true", "false", "1", "0"/ }],
    },
  ],
  [
    `GET ${RUN}/logs`,
    {
      params: (c) => ({ runId: c.logsRun }),
      async success(c) {
        const lines = await c.ok<{ message: string; fields?: object; level: string }[]>("GET", `${c.env}/runs/${c.logsRun}/logs`);
        expect(lines).toMatchObject([{ level: "info", message: "hello from a task", fields: { answer: 42 } }]);
        // Followed: ndjson, ending because the run has ended.
        const followed = await c.call("GET", `${c.env}/runs/${c.logsRun}/logs?follow=true`);
        expect(followed.status).toBe(200);
        expect(followed.headers["content-type"]).toBe("application/x-ndjson");
        expect(followed.bytes.toString().trim().split("\n").map((l) => (fromJson(l) as { message: string }).message)).toEqual(["hello from a task"]);
      },
      refusals: (c) => [{ what: "follow that is not a flag", path: `${c.env}/runs/${c.logsRun}/logs?follow=always`, status: 400, error: /follow must be one of/ }],
    },
  ],
  [
    `POST ${RUN}/cancel`,
    {
      params: (c) => ({ runId: c.doneRun }),
      async success(c) {
        const runId = await c.h.api.submit("flows:sleep_flow", [30_000, 1]);
        expect(await c.ok("POST", `${c.env}/runs/${runId}/cancel`)).toMatchObject({ runId, cancelled: true, seq: expect.any(Number) });
        expect(await c.ok("POST", `${c.env}/runs/${runId}/cancel`)).toEqual({ runId, cancelled: true, already: true });
        expect((await c.h.api.view(runId)).run.status).toBe("cancelled");
      },
      refusals: (c) => [
        { what: "a run that succeeded", path: `${c.env}/runs/${c.doneRun}/cancel`, status: 409, error: new RegExp(`run ${c.doneRun} has already succeeded`) },
        { what: "a body", path: `${c.env}/runs/${c.doneRun}/cancel`, body: { now: true }, status: 400, error: /body\.now is not a known field/ },
      ],
    },
  ],
  [
    `POST ${RUN}/steps/:stepId/rerun`,
    {
      params: (c) => ({ runId: c.doneRun, stepId: "1" }),
      body: {},
      async success(c) {
        const { runId } = await c.h.api.run("flows:double", [4]);
        const r = await c.ok<{ runId: string; stepId: string; executionId: string; cascade: boolean }>("POST", `${c.env}/runs/${runId}/steps/1/rerun`, { cascade: false });
        expect(r).toMatchObject({ runId, stepId: "1", executionId: expect.any(String), cascade: false });
        await expect.poll(async () => (await c.h.api.view(runId)).executions[r.executionId]?.status, { timeout: 10_000 }).toBe("succeeded");
        // Without a body too.
        const again = await c.ok<{ executionId: string }>("POST", `${c.env}/runs/${runId}/steps/1/rerun`);
        await expect.poll(async () => (await c.h.api.view(runId)).executions[again.executionId]?.status, { timeout: 10_000 }).toBe("succeeded");
      },
      refusals: (c) => [
        { what: "an unknown step", path: `${c.env}/runs/${c.doneRun}/steps/99/rerun`, body: {}, status: 404, error: new RegExp(`run ${c.doneRun} has no step 99`) },
        { what: "cascade that is not a boolean", path: `${c.env}/runs/${c.doneRun}/steps/1/rerun`, body: { cascade: "yes" }, status: 400, error: /body\.cascade must be/ },
      ],
    },
  ],
  [
    `GET ${ENV}/steps/:runId`,
    {
      params: (c) => ({ runId: c.doneRun }),
      async success(c) {
        const steps = await c.ok<{ runId: string; stepId: string; status: string }[]>("GET", `${c.env}/steps/${c.doneRun}`);
        expect(steps).toMatchObject([{ runId: c.doneRun, stepId: "1", status: "succeeded" }]);
        // A run that is not there has no steps.
        expect(await c.ok("GET", `${c.env}/steps/no-such-run`)).toEqual([]);
      },
      refusals: () => [],
    },
  ],
  [
    `GET ${ENV}/assets`,
    {
      async success(c) {
        const all = await c.ok<{ assetId: string; persisted: { runId: string } }[]>("GET", `${c.env}/assets`);
        expect(all.length).toBeGreaterThan(0);
        const ofRun = await c.ok<{ assetId: string; persisted: { runId: string } }[]>("GET", `${c.env}/assets?run=${c.filesRun}`);
        expect(ofRun.length).toBeGreaterThan(0);
        expect(ofRun.every((a) => a.persisted.runId === c.filesRun)).toBe(true);
        expect(await c.ok("GET", `${c.env}/assets?run=${c.doneRun}`)).toEqual([]);
      },
      refusals: (c) => [{ what: "a run that is not a run id", path: `${c.env}/assets?run=a.b`, status: 400, error: /query parameter run: invalid run id "a\.b"/ }],
    },
  ],
  [
    `GET ${ENV}/assets/:assetId`,
    {
      params: () => ({ assetId: "unused" }),
      async success(c) {
        const [first] = await c.ok<{ assetId: string }[]>("GET", `${c.env}/assets?run=${c.filesRun}`);
        const one = await c.ok<{ assetId: string; ref: { assetId: string; env: string; entries: unknown[] } }>("GET", `${c.env}/assets/${first!.assetId}`);
        expect(one).toMatchObject({ assetId: first!.assetId, ref: { assetId: first!.assetId, env: "production" } });
        expect(one.ref.entries.length).toBeGreaterThan(0);
      },
      refusals: (c) => [{ what: "an unknown asset", path: `${c.env}/assets/no-such-asset`, status: 404, error: /no asset no-such-asset/ }],
    },
  ],
  [
    `GET ${ENV}/agents`,
    {
      async success(c) {
        const agents = await c.ok<{ connected: { agentId: string; targets: string[] }[]; known: { agentId: string }[]; manifests: { repository: string; targets: { name: string; parameters: unknown[] }[] }[]; queue: unknown[] }>("GET", `${c.env}/agents`);
        expect(agents.manifests.find((m) => m.repository === "flows")?.targets.map((t) => t.name)).toContain("double");
        expect(Array.isArray(agents.queue)).toBe(true);
        expect(agents.connected).toHaveLength(1);
        expect(agents.connected[0]!.targets).toEqual(expect.arrayContaining(["flows:double", "files:files_flow"]));
        expect(agents.known.map((a) => a.agentId)).toContain(agents.connected[0]!.agentId);
      },
      refusals: () => [],
    },
  ],
  [
    `GET ${ENV}/pools`,
    {
      async success(c) {
        const env = await c.freshEnv();
        expect(await c.ok("GET", `${env}/pools`)).toEqual({ pools: [] });
        await c.ok("POST", `${env}/pools`, { name: "listed", launcher: "process", modules: [FLOWS], max: 2, tags: { gpu: ["a100"] } });
        const { pools } = await c.ok<{ pools: { name: string; max: number; agents: unknown[]; logDir: string }[] }>("GET", `${env}/pools`);
        expect(pools).toMatchObject([{ name: "listed", launcher: "process", modules: [FLOWS], max: 2, tags: { gpu: ["a100"] }, agents: [] }]);
        expect(pools[0]!.logDir).toMatch(/pool-logs\/.+\/listed$/);
      },
      refusals: () => [],
    },
  ],
  [
    `POST ${ENV}/pools`,
    {
      body: { name: "generic", launcher: "process", modules: [FLOWS] },
      async success(c) {
        const env = await c.freshEnv();
        const made = await c.ok<{ name: string; max: number; created: boolean }>("POST", `${env}/pools`, { name: "made", launcher: "process", modules: [FLOWS] });
        expect(made).toMatchObject({ name: "made", max: 1, tags: {}, created: true });
        // The same again: unchanged.
        expect(await c.ok("POST", `${env}/pools`, { name: "made", launcher: "process", modules: [FLOWS] })).toMatchObject({ created: false });
      },
      refusals: async (c) => {
        const env = await c.freshEnv();
        await c.ok("POST", `${env}/pools`, { name: "taken", launcher: "process", modules: [FLOWS] });
        return [
          { what: "no body", path: `${env}/pools`, status: 400, error: /needs a JSON body: an object with name/ },
          { what: "a bad name", path: `${env}/pools`, body: { name: "Bad_Pool", launcher: "process", modules: [FLOWS] }, status: 400, error: /body\.name: invalid pool name "Bad_Pool"/ },
          { what: "another launcher", path: `${env}/pools`, body: { name: "k8s", launcher: "kubernetes", modules: [FLOWS] }, status: 400, error: /body\.launcher/ },
          { what: "no modules", path: `${env}/pools`, body: { name: "empty", launcher: "process", modules: [] }, status: 400, error: /body\.modules/ },
          { what: "a relative module", path: `${env}/pools`, body: { name: "rel", launcher: "process", modules: ["flows.ts"] }, status: 400, error: /body\.modules\[0\]/ },
          { what: "a module that is not there", path: `${env}/pools`, body: { name: "gone", launcher: "process", modules: ["/nowhere/flows.ts"] }, status: 400, error: /body\.modules\[0\]: \/nowhere\/flows\.ts is not a file on the server's machine/ },
          { what: "max 0", path: `${env}/pools`, body: { name: "zero", launcher: "process", modules: [FLOWS], max: 0 }, status: 400, error: /body\.max/ },
          { what: "the name of another pool", path: `${env}/pools`, body: { name: "taken", launcher: "process", modules: [FLOWS], max: 3 }, status: 409, error: /pool taken already exists/ },
        ];
      },
    },
  ],
  [
    `GET ${ENV}/inputs`,
    {
      async success(c) {
        const { runId, inputId } = await pendingInput(c);
        const pending = await c.ok<{ inputId: string; status: string; title: string; runId: string }[]>("GET", `${c.env}/inputs?status=pending`);
        expect(pending.find((i) => i.inputId === inputId)).toMatchObject({ status: "pending", title: "Refund 10 EUR?", runId });
        expect((await c.ok<unknown[]>("GET", `${c.env}/inputs?run=${c.doneRun}`))).toEqual([]);
        await c.ok("POST", `${c.env}/inputs/${inputId}/answer`, { value: { ok: false } });
        expect((await c.ok<{ inputId: string }[]>("GET", `${c.env}/inputs?status=answered`)).map((i) => i.inputId)).toContain(inputId);
      },
      refusals: (c) => [
        { what: "an unknown status", path: `${c.env}/inputs?status=later`, status: 400, error: /query parameter status/ },
        { what: "a run that is not a run id", path: `${c.env}/inputs?run=a.b`, status: 400, error: /query parameter run: invalid run id "a\.b"/ },
      ],
    },
  ],
  [
    `GET ${ENV}/inputs/:inputId`,
    {
      params: () => ({ inputId: "unused" }),
      async success(c) {
        const { runId, inputId } = await pendingInput(c);
        const one = await c.ok<{ inputId: string; runId: string; schema: { required: string[] }; status: string }>("GET", `${c.env}/inputs/${inputId}`);
        expect(one).toMatchObject({ inputId, runId, status: "pending", schema: { required: ["ok"] } });
        await c.ok("POST", `${c.env}/inputs/${inputId}/answer`, { value: { ok: false } });
      },
      refusals: (c) => [{ what: "an unknown input", path: `${c.env}/inputs/no-such-input`, status: 404, error: /no input no-such-input/ }],
    },
  ],
  [
    `POST ${ENV}/inputs/:inputId/answer`,
    {
      params: () => ({ inputId: "unused" }),
      body: { value: { ok: true } },
      async success(c) {
        const { runId, inputId } = await pendingInput(c);
        expect(await c.ok("POST", `${c.env}/inputs/${inputId}/answer`, { value: { ok: true, note: "fine" } })).toMatchObject({ inputId, answered: true });
        expect(await c.h.api.result(runId)).toEqual({ status: "succeeded", value: "refunded 10" });
        // The same answer again is no change; the input keeps it.
        expect(await c.ok("POST", `${c.env}/inputs/${inputId}/answer`, { value: { note: "fine", ok: true } })).toEqual({ inputId, answered: true, already: true });
      },
      async refusals(c) {
        const { inputId } = await pendingInput(c);
        const done = await pendingInput(c);
        await c.ok("POST", `${c.env}/inputs/${done.inputId}/answer`, { value: { ok: true } });
        return [
          { what: "an unknown input", method: "POST", path: `${c.env}/inputs/no-such-input/answer`, body: { value: 1 }, status: 404, error: /no input no-such-input/ },
          { what: "an answer that does not fit the schema", method: "POST", path: `${c.env}/inputs/${inputId}/answer`, body: { value: { ok: "yes" } }, status: 400, error: /does not fit the schema .*value\.ok must be boolean/ },
          { what: "a property the schema does not allow", method: "POST", path: `${c.env}/inputs/${inputId}/answer`, body: { value: { ok: true, extra: 1 } }, status: 400, error: /value\.extra is not a known property/ },
          { what: "no value", method: "POST", path: `${c.env}/inputs/${inputId}/answer`, body: {}, status: 400, error: /value/ },
          { what: "another answer to an answered input", method: "POST", path: `${c.env}/inputs/${done.inputId}/answer`, body: { value: { ok: false } }, status: 409, error: /has been answered already/ },
        ];
      },
    },
  ],
  [
    `POST ${ENV}/pools/:pool/delete`,
    {
      params: () => ({ pool: "nosuchpool" }),
      body: {},
      async success(c) {
        const env = await c.freshEnv();
        await c.ok("POST", `${env}/pools`, { name: "doomed", launcher: "process", modules: [FLOWS] });
        expect(await c.ok("POST", `${env}/pools/doomed/delete`, {})).toEqual({ name: "doomed", deleted: true });
        expect(await c.ok("GET", `${env}/pools`)).toEqual({ pools: [] });
      },
      refusals: (c) => [{ what: "an unknown pool", path: `${c.env}/pools/nosuchpool/delete`, body: {}, status: 404, error: /no pool nosuchpool/ }],
    },
  ],
  [
    `GET ${ENV}/projections/dump`,
    {
      async success(c) {
        const dump = await c.ok<{ lastSeq: number; lines: string[] }>("GET", `${c.env}/projections/dump`);
        expect(dump.lastSeq).toBeGreaterThan(0);
        expect(dump.lines.some((l) => l.includes(c.doneRun))).toBe(true);
      },
      refusals: () => [],
    },
  ],
  [
    `POST ${ENV}/projections/rebuild`,
    {
      async success(c) {
        const env = await c.freshEnv();
        await c.ok("POST", `${env}/update`, { base: "production" });
        const before = await c.ok<{ lastSeq: number; lines: string[] }>("GET", `${env}/projections/dump`);
        expect(before.lines.length).toBeGreaterThan(0);
        const rebuilt = await c.ok<{ rebuilt: number; lastSeq: number }>("POST", `${env}/projections/rebuild`);
        expect(rebuilt).toEqual({ rebuilt: before.lastSeq, lastSeq: before.lastSeq });
        expect((await c.ok<{ lines: string[] }>("GET", `${env}/projections/dump`)).lines).toEqual(before.lines);
      },
      refusals: () => [],
    },
  ],
  [
    `GET ${ENV}/log/verify`,
    {
      async success(c) {
        const v = await c.ok<{ project: string; env: string; log: string; lastSeq: number; commits: number; failures: unknown[] }>("GET", `${c.env}/log/verify`);
        expect(v).toMatchObject({ project: c.project, env: "production", log: "embedded", failures: [] });
        expect(v.commits).toBe(v.lastSeq);
      },
      refusals: () => [],
    },
  ],
  [
    `GET ${ENV}/blobs/:key`,
    {
      params: (c) => ({ key: c.blob.key }),
      async success(c) {
        // A file of the asset the files run persisted: production refers to it.
        const { key, size } = await assetBlob(c);
        const r = await c.call("GET", `${c.env}/blobs/${key}`);
        expect(r.status).toBe(200);
        expect(r.headers["content-type"]).toBe("application/octet-stream");
        expect(r.bytes.length).toBe(size);
        expect(`sha256:${createHash("sha256").update(r.bytes).digest("hex")}`).toBe(key);
        // So do a branch of production (its parent up to the branch point) and an environment based on it.
        const branch = await c.freshEnv({ from: "production" });
        const based = await c.freshEnv({ base: "production" });
        for (const env of [branch, based]) expect((await c.call("GET", `${env}/blobs/${key}`)).bytes.equals(r.bytes), env).toBe(true);
        // Bytes uploaded through production, which no run refers to: the upload is the reference.
        const up = await c.call("GET", `${c.env}/blobs/${c.blob.key}`);
        expect(up.status).toBe(200);
        expect(up.bytes.equals(c.blob.bytes)).toBe(true);
      },
      async refusals(c) {
        const { key } = await assetBlob(c);
        const unrelated = await c.freshEnv();
        const other = await c.otherProjectEnv();
        return [
          { what: "an unknown blob", path: `${c.env}/blobs/sha256:${"0".repeat(64)}`, status: 404, error: /^no blob sha256:0{64}$/ },
          // Stored (uploaded through production), but not through this environment: the same answer as for bytes never stored.
          { what: "a blob uploaded through another environment", path: `${unrelated}/blobs/${c.blob.key}`, status: 404, error: new RegExp(`^no blob ${c.blob.key}$`) },
          { what: "a blob uploaded through another project's environment", path: `${other}/blobs/${c.blob.key}`, status: 404, error: new RegExp(`^no blob ${c.blob.key}$`) },
          { what: "an asset's blob, from an unrelated environment of the project", path: `${unrelated}/blobs/${key}`, status: 404, error: new RegExp(`^no blob ${key}$`) },
          { what: "an asset's blob, from another project's environment", path: `${other}/blobs/${key}`, status: 404, error: new RegExp(`^no blob ${key}$`) },
        ];
      },
    },
  ],
  [
    `HEAD ${ENV}/blobs/:key`,
    {
      params: (c) => ({ key: c.blob.key }),
      async success(c) {
        // Whether this environment sees the key (an agent's question before an upload): uploaded through it here.
        const r = await c.call("HEAD", `${c.env}/blobs/${c.blob.key}`);
        expect(r.status).toBe(200);
        expect(Number(r.headers["content-length"])).toBe(c.blob.bytes.length);
        expect(r.bytes.length).toBe(0);
        // An asset's file, and what an environment inherits (a branch, a base), are seen too.
        const { key, size } = await assetBlob(c);
        for (const env of [c.env, await c.freshEnv({ from: "production" }), await c.freshEnv({ base: "production" })]) {
          const h = await c.call("HEAD", `${env}/blobs/${key}`);
          expect({ status: h.status, size: Number(h.headers["content-length"]) }, env).toEqual({ status: 200, size });
        }
      },
      // A HEAD answer has no body to carry the message: the status says it. Stored elsewhere is the same 404 as never stored.
      async refusals(c) {
        const { key } = await assetBlob(c);
        const unrelated = await c.freshEnv();
        const other = await c.otherProjectEnv();
        return [
          { what: "an unknown blob", path: `${c.env}/blobs/sha256:${"0".repeat(64)}`, status: 404, error: /^$/ },
          { what: "a blob uploaded through another environment", path: `${unrelated}/blobs/${c.blob.key}`, status: 404, error: /^$/ },
          { what: "a blob uploaded through another project's environment", path: `${other}/blobs/${c.blob.key}`, status: 404, error: /^$/ },
          { what: "an asset's blob, from another project's environment", path: `${other}/blobs/${key}`, status: 404, error: /^$/ },
        ];
      },
    },
  ],
  [
    `PUT ${ENV}/blobs/:key`,
    {
      params: (c) => ({ key: c.blob.key }),
      body: Buffer.from("x"),
      async success(c) {
        const bytes = randomBytes(4096);
        const sha = createHash("sha256").update(bytes).digest("hex");
        const put = await c.call("PUT", `${c.env}/blobs/sha256:${sha}`, bytes);
        expect(put.status).toBe(200);
        expect(put.json).toEqual({ key: `sha256:${sha}`, size: bytes.length, sha256: sha });
        // The upload is a fact of production's log (BlobStored): production sees the key, and reads it.
        const { lines } = await c.ok<{ lines: string[] }>("GET", `${c.env}/projections/dump`);
        expect(lines.filter((l) => l.startsWith(`blob-refs\tsha256:${sha}\t`) && l.includes('"use":"upload"'))).toHaveLength(1);
        expect((await c.call("HEAD", `${c.env}/blobs/sha256:${sha}`)).status).toBe(200);
        expect((await c.call("GET", `${c.env}/blobs/sha256:${sha}`)).bytes.equals(bytes)).toBe(true);
        // Again: stored and seen already, nothing more is recorded.
        const before = (await c.ok<{ lastSeq: number }>("GET", `${c.env}/log/verify`)).lastSeq;
        expect((await c.call("PUT", `${c.env}/blobs/sha256:${sha}`, bytes)).status).toBe(200);
        expect((await c.ok<{ lastSeq: number }>("GET", `${c.env}/log/verify`)).lastSeq).toBe(before);
        // Another environment does not see it until the same bytes are uploaded through it (storage still keeps one copy).
        const unrelated = await c.freshEnv();
        expect((await c.call("HEAD", `${unrelated}/blobs/sha256:${sha}`)).status).toBe(404);
        expect((await c.call("PUT", `${unrelated}/blobs/sha256:${sha}`, bytes)).status).toBe(200);
        expect((await c.call("GET", `${unrelated}/blobs/sha256:${sha}`)).bytes.equals(bytes)).toBe(true);
      },
      refusals: (c) => [
        {
          what: "bytes whose sha256 is not the key",
          path: `${c.env}/blobs/sha256:${"1".repeat(64)}`,
          body: Buffer.from("not those bytes"),
          status: 400,
          error: /sha256/,
        },
      ],
    },
  ],
]);

/**
 * The refusals every route of a kind has: each path parameter invalid, an
 * unknown query parameter, a body where none is taken (GET) or an unknown
 * field in it (POST with JSON), an environment that does not exist.
 */
const genericRefusals = (r: Route, c: Ctx, rc: RouteCase): Refusal[] => {
  const params: Partial<Record<string, string>> = { project: c.project, env: "production", ...rc.params?.(c) };
  const good = pathOf(r, params);
  const out: Refusal[] = [];
  for (const name of paramNames(r)) {
    out.push({ what: `an invalid ${name}`, path: pathOf(r, { ...params, [name]: BAD[name].value }), body: rc.body, status: 400, error: BAD[name].error });
  }
  out.push({
    what: "an unknown query parameter",
    path: `${good}?surprise=1`,
    body: rc.body,
    status: 400,
    error: r.query ? /query parameter surprise is not a known field/ : /query parameter "surprise" is not known here: this endpoint takes none/,
  });
  if (r.method === "GET") out.push({ what: "a body on a GET", path: good, body: "{}", status: 400, error: /GET requests take no body/ });
  if (r.method === "POST" && !r.rawBody) {
    out.push({ what: "an unknown field in the body", path: good, body: { ...(rc.body as object), surprise: 1 }, status: 400, error: /body\.surprise is not a known field/ });
  }
  if (paramNames(r).includes("env") && !(r.method === "POST" && r.path === "projects/:project/envs")) {
    out.push({ what: "an environment that does not exist", path: pathOf(r, { ...params, env: "nowhere" }), body: rc.body, status: 404, error: /nowhere/ });
  }
  if (r.path.startsWith(`${RUN}`)) {
    out.push({ what: "a run that does not exist", path: pathOf(r, { ...params, runId: "no-such-run" }), body: rc.body, status: 404, error: /no run no-such-run/ });
  }
  // A HEAD answer has no body to carry the message: the status says it.
  return r.method === "HEAD" ? out.map((f) => ({ ...f, error: /^$/ })) : out;
};

/** The production log's last sequence once nothing more is appended for a while (runs of earlier cases may still be ending). */
const quiet = async (c: Ctx): Promise<number> => {
  let last = -1;
  for (;;) {
    const { lastSeq } = await c.ok<{ lastSeq: number }>("GET", `${c.env}/log/verify`);
    if (lastSeq === last) return lastSeq;
    last = lastSeq;
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe("every HTTP route: its success path and its refusals", () => {
  let ctx: Ctx;
  let envs = 0;
  let otherEnv: Promise<string> | undefined;

  beforeAll(async () => {
    const h = await startHarness("embedded", { adminToken: ADMIN });
    await h.agent({ modules: [FLOWS, FILES, WAITS] });
    const project = h.api.project;
    const bytes = randomBytes(1000);
    const key = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    const callOn = (method: string, path: string, body?: unknown) => call(h.server.url, method, path, body);
    const put = await callOn("PUT", `/api/projects/${project}/envs/production/blobs/${key}`, bytes);
    expect(put.status).toBe(200);
    const [doneRun, filesRun, logsRun] = await Promise.all([
      h.api.run("flows:double", [21]).then((r) => r.runId),
      h.api.run("files:files_flow", ["routes"]).then((r) => r.runId),
      h.api.run("flows:logs").then((r) => r.runId),
    ]);
    ctx = {
      h,
      project,
      env: `/api/projects/${project}/envs/production`,
      doneRun,
      filesRun,
      logsRun,
      blob: { key, bytes },
      call: callOn,
      async ok<T>(method: string, path: string, body?: unknown) {
        const r = await callOn(method, path, body);
        if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.bytes.toString()}`);
        return r.json as T;
      },
      async freshEnv(options = {}) {
        const name = `routes-env-${++envs}`;
        const r = await callOn("POST", `/api/projects/${project}/envs`, { name, ...options });
        if (r.status !== 200) throw new Error(`creating ${name}: ${r.status} ${r.bytes.toString()}`);
        return `/api/projects/${project}/envs/${name}`;
      },
      otherProjectEnv() {
        otherEnv ??= (async () => {
          const other = `${project}-other`;
          const r = await callOn("POST", `/api/projects/${other}/envs`, { name: "production" });
          if (r.status !== 200) throw new Error(`creating ${other}/production: ${r.status} ${r.bytes.toString()}`);
          return `/api/projects/${other}/envs/production`;
        })();
        return otherEnv;
      },
    };
  });
  afterAll(() => ctx?.h.close());

  it("every route in ROUTES has a case, and every case a route", () => {
    const routes = ROUTES.map(keyOf);
    expect(routes.filter((k) => !CASES.has(k)), "routes without a case: add one to CASES").toEqual([]);
    expect([...CASES.keys()].filter((k) => !routes.includes(k)), "cases without a route").toEqual([]);
    // And every path parameter of a route has an invalid value to try.
    expect(ROUTES.flatMap(paramNames).filter((p) => !(p in BAD) || !(p in PARAMS))).toEqual([]);
  });

  describe.each(ROUTES.map((r) => [keyOf(r), r] as const))("%s", (key, route) => {
    const rc = CASES.get(key);

    it("succeeds", async () => {
      expect(rc, `no case for ${key}`).toBeDefined();
      await rc!.success(ctx);
    });

    it("refuses what does not fit, with a status and a message naming the problem", async () => {
      expect(rc, `no case for ${key}`).toBeDefined();
      const refusals = [...genericRefusals(route, ctx, rc!), ...(await rc!.refusals(ctx))];
      expect(refusals.length).toBeGreaterThan(0);
      const before = await quiet(ctx);
      for (const f of refusals) {
        const method = f.method ?? route.method;
        const label = `${method} ${f.path} (${f.what})`;
        // The request is one of this route's (or, for a refusal the route leads to, of the route named).
        if (f.method === undefined) expect(shapeOf(method, f.path), label).toBe(route);
        const r = await ctx.call(method, f.path, f.body);
        const error = (r.json as { error?: string } | undefined)?.error ?? "";
        expect({ status: r.status, error }, label).toEqual({ status: f.status, error: expect.stringMatching(f.error) });
      }
      // Refused requests recorded nothing in the test's environment.
      expect((await ctx.ok<{ lastSeq: number }>("GET", `${ctx.env}/log/verify`)).lastSeq, key).toBe(before);
    });
  });
});
