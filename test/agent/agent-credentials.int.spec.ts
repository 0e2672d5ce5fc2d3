/**
 * The agent's token: sent on the WebSocket upgrade and on blob requests;
 * an upgrade answered 401 or 403 is final (no retry), at start and on a
 * reconnection; other answers are retried as before. A node:http server in
 * the test plays the refusing server (what --auth answers: the status and
 * `{ error }`, no socket); the real server's checks are tested end to end.
 */
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { AgentRefusedError, startAgent, type AgentLogEntry } from "../../src/index.js";
import { BlobClient } from "../../src/agent/blob-client.js";
import { main } from "../../src/cli/main.js";
import { ScriptedServer } from "./scripted-server.js";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
const SECRET = "trib_0abc_s3cretS3cretS3cret_x9";
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A server answering every upgrade with `status` and `{ error }`; records each upgrade's Authorization header. */
const refusing = async (status: number, error: string, port = 0): Promise<{ server: Server; url: string; upgrades: (string | undefined)[] }> => {
  const upgrades: (string | undefined)[] = [];
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on("upgrade", (req: IncomingMessage, socket: Duplex) => {
    upgrades.push(req.headers.authorization);
    const body = JSON.stringify({ error });
    socket.end(`HTTP/1.1 ${status} Refused\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(() => new Promise((r) => server.close(r)));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, upgrades };
};

describe("an agent's token", () => {
  it("goes on the upgrade; a 401 or 403 fails the start at once with the server's reason, without retrying", async () => {
    for (const [status, error] of [
      [401, "the token was revoked: ask an admin for a new one"],
      [403, "the token covers environments dev-*, not production"],
    ] as const) {
      const s = await refusing(status, error);
      const logs: AgentLogEntry[] = [];
      const started = startAgent({ server: s.url, token: SECRET, modules: ["basic.ts"], cwd: fixtures, workers: 1, onLog: (e) => logs.push(e) });
      const e = await started.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(AgentRefusedError);
      expect(e).toMatchObject({ status, reason: error });
      expect((e as Error).message).toBe(`the server refused the agent (HTTP ${status}): ${error}`);
      // Its backoff would have tried again within 100 ms.
      await sleep(400);
      expect(s.upgrades).toEqual([`Bearer ${SECRET}`]);
      expect(JSON.stringify(logs)).not.toContain("s3cret");
    }
  });

  it("other answers to the upgrade are retried, and said with their status", async () => {
    const s = await refusing(503, "the server is stopping");
    const logs: AgentLogEntry[] = [];
    const started = startAgent({ server: s.url, modules: ["basic.ts"], cwd: fixtures, workers: 1, onLog: (e) => logs.push(e) });
    while (s.upgrades.length < 2) await sleep(20);
    expect(s.upgrades[0]).toBeUndefined();
    expect(logs.map((l) => l.message)).toContainEqual(expect.stringMatching(/answered the connection with HTTP 503 \(the server is stopping\); retrying$/));
    // The server comes back on the same port: the agent connects.
    const port = (s.server.address() as AddressInfo).port;
    await new Promise((r) => s.server.close(r));
    s.server.closeAllConnections();
    const back = await ScriptedServer.start({}, port);
    cleanups.push(() => back.close());
    const agent = await started;
    cleanups.push(() => agent.stop({ drainMs: 0 }));
    expect(agent.connected).toBe(true);
  });

  it("refused on a reconnection (revoked meanwhile): the agent emits 'refused' and stops", async () => {
    const first = await ScriptedServer.start();
    const port = first.port;
    const agent = await startAgent({ server: first.url, token: SECRET, modules: ["basic.ts"], cwd: fixtures, workers: 1, onLog: () => undefined });
    cleanups.push(() => agent.stop({ drainMs: 0 }));
    const refused = once(agent, "refused") as Promise<[AgentRefusedError]>;
    await first.close();
    const s = await refusing(401, "the token was revoked: ask an admin for a new one", port);
    const [e] = await refused;
    expect(e).toMatchObject({ status: 401, reason: "the token was revoked: ask an admin for a new one" });
    expect(s.upgrades).toEqual([`Bearer ${SECRET}`]);
    await sleep(400);
    expect(s.upgrades).toHaveLength(1);
    expect(agent.connected).toBe(false);
  });

  it("tributary agent exits 4 with the server's message and what to do, never the token", async () => {
    const s = await refusing(403, "the token's role read does not grant agent");
    const errors: string[] = [];
    const { error } = console;
    const saved = process.env.TRIBUTARY_TOKEN;
    console.error = (...a: unknown[]) => void errors.push(a.join(" "));
    process.env.TRIBUTARY_TOKEN = SECRET;
    try {
      expect(await main(["agent", join(fixtures, "basic.ts"), "--server", s.url, "--workers", "1"])).toBe(4);
    } finally {
      console.error = error;
      if (saved === undefined) delete process.env.TRIBUTARY_TOKEN;
      else process.env.TRIBUTARY_TOKEN = saved;
    }
    expect(errors.at(-1)).toMatch(/^tributary agent: the server refused the agent \(HTTP 403\): the token's role read does not grant agent \(ask an admin for a token with role agent or admin/);
    expect(s.upgrades).toEqual([`Bearer ${SECRET}`]);
    expect(errors.join("\n")).not.toContain("s3cret");
  });

  it("goes on every blob request (HEAD, PUT, GET)", async () => {
    const seen: { method: string; authorization: string | undefined }[] = [];
    const stored = new Map<string, Buffer>();
    const server = createServer((req, res) => {
      seen.push({ method: req.method ?? "", authorization: req.headers.authorization });
      const key = req.url ?? "";
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.method === "PUT") stored.set(key, Buffer.concat(chunks));
        const bytes = stored.get(key);
        if (bytes === undefined) return res.writeHead(404).end();
        res.writeHead(200, { "content-length": String(bytes.length) });
        res.end(req.method === "GET" ? bytes : undefined);
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    cleanups.push(() => new Promise((r) => server.close(r)));
    const blobs = new BlobClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { project: "p", env: "e" }, { token: SECRET });
    cleanups.push(async () => blobs.close());
    const dir = await mkdtemp(join(tmpdir(), "trib-blob-cred-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { sha256, size } = await blobs.putBytes(Buffer.from("hello"));
    expect(await blobs.has(sha256)).toBe(true);
    await writeFile(join(dir, "f"), "hello");
    await blobs.upload(join(dir, "f"), size, sha256);
    expect(Buffer.from(await blobs.getBytes(sha256, size)).toString()).toBe("hello");
    await blobs.download(sha256, join(dir, "g"), size);
    expect(seen.map((s) => s.method)).toEqual(["PUT", "HEAD", "PUT", "GET", "GET"]);
    expect(seen.map((s) => s.authorization)).toEqual(seen.map(() => `Bearer ${SECRET}`));
  });

  it("a token no header can carry is refused by startAgent, without echoing it", async () => {
    for (const token of [`${SECRET}\n`, `${SECRET} x`, ""]) {
      const e = await startAgent({ server: "http://127.0.0.1:1", token, modules: ["basic.ts"] }).catch((x: unknown) => x);
      expect((e as Error).message).toMatch(/^startAgent: token must be the text of an access token/);
      expect((e as Error).message).not.toContain("s3cret");
    }
  });
});
