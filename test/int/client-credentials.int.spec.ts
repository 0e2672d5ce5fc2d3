/**
 * The client's credentials on the wire: a small node:http(s) server in the
 * test records each request's Authorization header and answers as a server
 * with --auth does (401 / 403 with `{ error, reason }` / `{ error, lacks }`). It stands for no Tributary
 * component: what is tested is what the client sends and how it takes the
 * refusals. (The real server's checks: test/e2e, once they land.)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "../../src/client/client.js";
import { ForbiddenError, UnauthenticatedError } from "../../src/client/errors.js";
import { main } from "../../src/cli/main.js";
import { PERMISSIONS } from "../../src/protocol/permissions.js";
import { makeSelfSigned } from "../support/tls-cert.js";

const SECRET = "trib_0abc_s3cretS3cretS3cret_x9";
const REFUSAL_401 = "unknown token: it was never created on this server";
const REFUSAL_403 = "the token's role read does not grant submit in production";
const REFUSAL_403_ENVS = "token a1 covers dev-*: it cannot give production";
const ODD = "trib_0odd_0dd0dd0dd0dd_x9";

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
}

/** Answers 401 without `Bearer <SECRET>`, 403 to POSTs, a log stream of one line (and its run, finished), else `[]`. */
const handler = (seen: Seen[]) => (req: IncomingMessage, res: ServerResponse) => {
  seen.push({ method: req.method ?? "", path: req.url ?? "", authorization: req.headers.authorization });
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  req.resume();
  if (req.url === "/api/health") return json(200, { ok: true });
  // A server that says a word the client does not know: the word is not carried.
  if (req.headers.authorization === `Bearer ${ODD}`) return json(req.method === "POST" ? 403 : 401, { error: "odd", reason: "sideways", lacks: "luck" });
  if (req.headers.authorization !== `Bearer ${SECRET}`) return json(401, { error: REFUSAL_401, reason: "unknown" });
  if (req.method === "POST" && req.url?.endsWith("/tokens")) return json(403, { error: REFUSAL_403_ENVS, lacks: "environment" });
  if (req.method === "POST") return json(403, { error: REFUSAL_403, lacks: "role" });
  if (req.url?.includes("/logs?follow=true")) {
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    return res.end(`${JSON.stringify({ runId: "r1", stepId: "s1", executionId: "e1", level: "info", message: "hello", at: 1 })}\n`);
  }
  // After the stream, the client asks whether the run still runs.
  if (req.url?.endsWith("/runs/r1")) return json(200, { run: { status: "succeeded" } });
  return json(200, []);
};

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
};

const expectNoSecret = (e: unknown) => {
  expect((e as Error).message).not.toContain("s3cret");
  expect(inspect(e, { depth: 10, showHidden: true })).not.toContain("s3cret");
  expect(JSON.stringify({ ...(e as object) })).not.toContain("s3cret");
};

describe("the client's token", () => {
  const seen: Seen[] = [];
  let http: Server;
  let https: Server;
  let url = "";
  let httpsUrl = "";
  let ca = "";
  let dir = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "trib-client-cred-"));
    const cert = makeSelfSigned(dir);
    ca = cert.cert;
    http = createServer(handler(seen));
    https = createHttpsServer({ cert: cert.cert, key: cert.key }, handler(seen));
    url = `http://127.0.0.1:${await listen(http)}`;
    httpsUrl = `https://127.0.0.1:${await listen(https)}`;
  });
  afterAll(async () => {
    await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => https.close(r))]);
    await rm(dir, { recursive: true, force: true });
  });

  it("goes as 'Authorization: Bearer' on every request, streams included, with the global fetch and with ca (undici)", async () => {
    for (const client of [new Client({ url, token: SECRET }), new Client({ url: httpsUrl, ca, token: SECRET })]) {
      seen.length = 0;
      await client.health();
      expect(await client.listRuns()).toEqual([]);
      const lines = [];
      for await (const line of client.run("r1").followLogs({ retryForMs: 0 })) lines.push(line);
      expect(lines.map((l) => l.message)).toEqual(["hello"]);
      await client.withEnv("dev").listRuns();
      expect(seen.map((s) => s.path)).toEqual([
        "/api/health",
        "/api/projects/default/envs/production/runs",
        "/api/projects/default/envs/production/runs/r1/logs?follow=true",
        "/api/projects/default/envs/production/runs/r1",
        "/api/projects/default/envs/dev/runs",
      ]);
      expect(seen.map((s) => s.authorization)).toEqual(seen.map(() => `Bearer ${SECRET}`));
    }
  });

  it("without one, no Authorization header is sent, and the server's 401 is an UnauthenticatedError, not waited out", async () => {
    seen.length = 0;
    const client = new Client({ url });
    const e = await client.listRuns().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnauthenticatedError);
    expect(e).toMatchObject({ status: 401, message: REFUSAL_401, request: "GET /api/projects/default/envs/production/runs", reason: "unknown" });
    expect(seen[0]!.authorization).toBeUndefined();
    // The waiting calls retry connection errors and 5xx only: one request, then the refusal.
    seen.length = 0;
    await expect(client.run("r1").outcome()).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(new Client({ url, token: "trib_wrong" }).run("r1").result()).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(seen.map((s) => s.path)).toEqual(["/api/projects/default/envs/production/runs/r1/result?wait=true", "/api/projects/default/envs/production/runs/r1/result?wait=true"]);
  });

  it("a 403 is a ForbiddenError naming the permission the route asks; neither error holds the token", async () => {
    const client = new Client({ url, token: SECRET });
    const e = await client.submit("m:w", []).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ForbiddenError);
    expect(e).toMatchObject({ status: 403, message: REFUSAL_403, permission: PERMISSIONS.submitRun, lacks: "role" });
    expectNoSecret(e);
    const created = await client.createToken({ role: "read" }).catch((x: unknown) => x);
    expect(created).toMatchObject({ status: 403, permission: PERMISSIONS.createToken, lacks: "environment" });
    expectNoSecret(await new Client({ url, token: `${SECRET}x` }).whoami().catch((x: unknown) => x));
  });

  it("a reason or lack the client does not know is not carried", async () => {
    const odd = new Client({ url, token: ODD });
    const e401 = await odd.listRuns().catch((x: unknown) => x);
    expect(e401).toBeInstanceOf(UnauthenticatedError);
    expect((e401 as UnauthenticatedError).reason).toBeUndefined();
    const e403 = await odd.submit("m:w", []).catch((x: unknown) => x);
    expect(e403).toBeInstanceOf(ForbiddenError);
    expect((e403 as ForbiddenError).lacks).toBeUndefined();
  });

  it("the CLI exits 4 with the server's message and what to do, and never prints the token", async () => {
    const errors: string[] = [];
    const out: string[] = [];
    const { error, log } = console;
    console.error = (...a: unknown[]) => void errors.push(a.join(" "));
    console.log = (...a: unknown[]) => void out.push(a.join(" "));
    try {
      expect(await main(["runs", "ls", "--server", url])).toBe(4);
      expect(errors.pop()).toBe(`tributary runs: ${REFUSAL_401} (give a valid token with --token TOKEN or TRIBUTARY_TOKEN)`);
      expect(await main(["submit", "m:w", "--server", url, "--token", SECRET])).toBe(4);
      expect(errors.pop()).toMatch(new RegExp(`^tributary submit: ${REFUSAL_403} \\(ask an admin for a token with role submit or admin that covers`));
      expect(await main(["tokens", "create", "--role", "read", "--envs", "production", "--server", url, "--token", SECRET])).toBe(4);
      expect(errors.pop()).toBe(`tributary tokens: ${REFUSAL_403_ENVS} (give --envs within your token's (see tributary whoami))`);
      expect(out, "no token text printed").toEqual([]);
      expect(await main(["tokens", "revoke", "abc", "--server", url, "--token", `${SECRET}x`])).toBe(4);
      // Found wrong by the CLI itself: exit 4 too, before any request.
      const before = seen.length;
      for (const bad of ["", `Bearer ${SECRET}`, "x".repeat(5000)]) expect(await main(["runs", "ls", "--server", url, "--token", bad])).toBe(4);
      expect(seen.length).toBe(before);
      const sent = seen.length;
      expect(await main(["tokens", "create", "--role", "read", "--expires", "soon", "--server", url])).toBe(1);
      expect(errors.pop()).toMatch(/^tributary tokens: --expires takes a duration/);
      expect(seen.length, "refused before any request").toBe(sent);
      // The token's text given where its id goes: refused, not echoed.
      expect(await main(["tokens", "revoke", SECRET, "--server", url, "--token", SECRET])).toBe(1);
    } finally {
      console.error = error;
      console.log = log;
    }
    expect([...errors, ...out].join("\n")).not.toContain("s3cret");
  });
});
