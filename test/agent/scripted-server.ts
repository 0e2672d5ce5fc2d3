/**
 * A test double of the orchestrator: a real WebSocket server speaking
 * protocol.ts, driven by the test. It welcomes agents, records every message
 * they send, acknowledges results, and (when `orchestrate` is on) runs the
 * steps that task code submits on the same agent, retries them at once on a
 * retryable failure (up to their `retries.limit`), and answers `result`
 * requests: a one-agent orchestrator without a log or backoff.
 *
 * On the same port, a real blob API (`HEAD | PUT | GET /api/projects/:project/envs/:env/blobs/sha256:<hex>`,
 * any project and environment: the double does not check what an environment refers to)
 * stores blobs as files in a temporary directory, streaming, and logs every
 * request; it answers `persist` (after checking the blobs are stored) and
 * `restore` from an in-memory table of assets.
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rename, rm, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { WebSocket, WebSocketServer } from "ws";
import type { Value } from "../../src/events/index.js";
import { AGENT_PATH, decodeMessage, encodeMessage, type AgentMessage, type AssetRef, type Outcome, type ServerMessage } from "../../src/protocol/messages.js";

export interface ScriptedServerOptions {
  /** Answer `hello` with `welcome` (default), or with `refused` and this reason. */
  readonly refuse?: string;
  readonly heartbeatMs?: number;
  /** Run submitted steps on the agent and answer result requests. Default true. */
  readonly orchestrate?: boolean;
  /** Answer results with `ack` at first. Default true. */
  readonly ack?: boolean;
}

type Received = AgentMessage & { readonly connection: number };

/** A request to the blob API. */
export interface BlobRequest {
  readonly method: string;
  /** The hex sha256 of the key. */
  readonly sha256: string;
  readonly status: number;
  /** Bytes received (PUT) or sent (GET). */
  readonly bytes: number;
}

export class ScriptedServer {
  readonly received: Received[] = [];
  readonly sockets: WebSocket[] = [];
  /** Final outcomes, by step id. */
  readonly outcomes = new Map<string, Outcome>();
  /** Answer results with `ack` (can be switched off mid-test). */
  ackResults: boolean;
  #waiters: { pred: (m: Received) => boolean; resolve(m: Received): void }[] = [];
  #parked: { stepId: string; requestId: number; socket: WebSocket }[] = [];
  /** Steps submitted by task code, by execution id. */
  #steps = new Map<string, { stepId: string; target: { repository: string; target: string }; args: readonly Value[]; attempt: number; limit: number }>();
  #nextId = 1;
  /** Every request to the blob API, in order of completion. */
  readonly blobRequests: BlobRequest[] = [];
  /** Blobs (hex sha256) served with a wrong byte (same length; one byte for an empty blob). */
  readonly corruptBlobs = new Set<string>();
  /** PUTs over this many bytes are answered 413. */
  maxBlobBytes = Number.POSITIVE_INFINITY;
  /** Assets recorded by `persist` (or put here by the test), by id. */
  readonly assets = new Map<string, AssetRef>();
  /** Answer `persist` and `restore` (can be switched off mid-test: they are recorded, unanswered). */
  answerAssets = true;
  #envs = new Map<number, string>();

  private constructor(
    readonly http: Server,
    readonly wss: WebSocketServer,
    readonly blobDir: string,
    readonly options: ScriptedServerOptions,
  ) {
    this.ackResults = options.ack ?? true;
    wss.on("connection", (ws) => this.#accept(ws));
    http.on("request", (req, res) => void this.#http(req, res));
  }

  static async start(options: ScriptedServerOptions = {}, port = 0): Promise<ScriptedServer> {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: AGENT_PATH });
    http.listen(port, "127.0.0.1");
    await once(http, "listening");
    const blobDir = await mkdtemp(path.join(tmpdir(), "tributary-scripted-blobs-"));
    return new ScriptedServer(http, wss, blobDir, options);
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** Where the blob of `sha256` is stored. */
  blobFile(sha256: string): string {
    return path.join(this.blobDir, sha256);
  }

  /** Blob requests of a method (for a key, if given). */
  blobCount(method: string, sha256?: string): number {
    return this.blobRequests.filter((r) => r.method === method && (sha256 === undefined || r.sha256 === sha256)).length;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The socket of the latest connection. */
  get socket(): WebSocket {
    const ws = this.sockets.at(-1);
    if (ws === undefined) throw new Error("no agent has connected");
    return ws;
  }

  send(m: ServerMessage, ws: WebSocket = this.socket): void {
    ws.send(encodeMessage(m));
  }

  /** Sends an `execute` for a target of repository `basic` (or another). */
  execute(executionId: string, target: string, args: readonly Value[], repository = "basic", attempt = 1): void {
    this.send({ type: "execute", executionId, runId: "run-1", stepId: `step-${executionId}`, attempt, target: { repository, target }, arguments: args });
  }

  /** The first message (already received or to come) that matches. */
  waitFor<T extends AgentMessage["type"]>(type: T, pred: (m: Extract<Received, { type: T }>) => boolean = () => true, timeoutMs = 5000): Promise<Extract<Received, { type: T }>> {
    const match = (m: Received): boolean => m.type === type && pred(m as Extract<Received, { type: T }>);
    const found = this.received.find(match);
    if (found !== undefined) return Promise.resolve(found as Extract<Received, { type: T }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} message within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        pred: match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<Received, { type: T }>);
        },
      });
    });
  }

  /** The result (succeeded or failed) of an execution. */
  result(executionId: string, timeoutMs = 5000): Promise<Extract<Received, { type: "succeeded" | "failed" }>> {
    return Promise.race([
      this.waitFor("succeeded", (m) => m.executionId === executionId, timeoutMs),
      this.waitFor("failed", (m) => m.executionId === executionId, timeoutMs),
    ]);
  }

  count(pred: (m: Received) => boolean): number {
    return this.received.filter(pred).length;
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
    await closed;
    await rm(this.blobDir, { recursive: true, force: true });
  }

  async #http(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const m = /^\/api\/projects\/[^/]+\/envs\/[^/]+\/blobs\/sha256:([0-9a-f]{64})$/.exec(url.pathname);
    const done = (status: number, body?: unknown, bytes = 0): void => {
      if (m?.[1] !== undefined) this.blobRequests.push({ method: req.method ?? "", sha256: m[1], status, bytes });
      if (res.headersSent) return;
      res.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (m?.[1] === undefined) return done(404, { error: "not found" });
    const sha256 = m[1];
    const file = this.blobFile(sha256);
    const size = await stat(file).then(
      (s) => s.size,
      () => undefined,
    );
    try {
      switch (req.method) {
        case "HEAD":
          return done(size === undefined ? 404 : 200);
        case "GET": {
          if (size === undefined) return done(404, { error: `no blob sha256:${sha256}` });
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size === 0 && this.corruptBlobs.has(sha256) ? 1 : size) });
          let first = true;
          const corrupt = this.corruptBlobs.has(sha256);
          const flip = new Transform({
            transform(chunk: Buffer, _e, cb) {
              if (corrupt && first && chunk.length > 0) {
                const copy = Buffer.from(chunk);
                copy[0] = (copy[0] ?? 0) ^ 0xff;
                chunk = copy;
              }
              first = false;
              cb(null, chunk);
            },
            flush(cb) {
              cb(null, corrupt && size === 0 ? Buffer.from([0]) : undefined);
            },
          });
          await pipeline(createReadStream(file), flip, res);
          return done(200, undefined, size);
        }
        case "PUT": {
          const declared = Number(req.headers["content-length"] ?? Number.NaN);
          if (declared > this.maxBlobBytes) {
            req.resume(); // a test double: read the (small) body, then refuse
            await once(req, "end");
            return done(413, { error: `blob over the limit of ${this.maxBlobBytes} bytes` });
          }
          const temp = `${file}.${randomBytes(4).toString("hex")}.part`;
          const hash = createHash("sha256");
          let n = 0;
          const max = this.maxBlobBytes;
          const meter = new Transform({
            transform(chunk: Buffer, _e, cb) {
              n += chunk.length;
              if (n > max) return cb(new Error("too large"));
              hash.update(chunk);
              cb(null, chunk);
            },
          });
          try {
            await pipeline(req, meter, createWriteStream(temp));
          } catch {
            await rm(temp, { force: true });
            return done(n > max ? 413 : 400, { error: n > max ? `blob over the limit of ${max} bytes` : "upload interrupted" }, n);
          }
          const got = hash.digest("hex");
          if (got !== sha256) {
            await rm(temp, { force: true });
            return done(400, { error: `the bytes do not match: expected sha256 ${sha256}, got ${got} (${n} bytes)` }, n);
          }
          await rename(temp, file);
          return done(200, { key: `sha256:${sha256}`, size: n, sha256 }, n);
        }
        default:
          return done(405, { error: "method not allowed" });
      }
    } catch (err) {
      res.destroy();
      return done(500, { error: String(err) });
    }
  }

  async #persist(ws: WebSocket, m: Extract<Received, { type: "persist" }>): Promise<void> {
    for (const e of m.entries) {
      const size = await stat(this.blobFile(e.sha256)).then(
        (s) => s.size,
        () => undefined,
      );
      if (size !== e.size) {
        this.send({ type: "error", requestId: m.requestId, message: `entry ${e.path}: blob sha256:${e.sha256} is not stored` }, ws);
        return;
      }
    }
    // A persist re-sent after a reconnection (same request id) gets the same asset.
    const id = `asset-${m.executionId}-${m.requestId}`;
    const asset: AssetRef = {
      assetId: id,
      env: this.#envs.get(m.connection) ?? "default",
      entries: m.entries,
      ...(m.name !== undefined ? { name: m.name } : {}),
      ...(m.metadata !== undefined ? { metadata: m.metadata } : {}),
    };
    this.assets.set(id, asset);
    this.send({ type: "persisted", requestId: m.requestId, asset }, ws);
  }

  #accept(ws: WebSocket): void {
    const connection = this.sockets.push(ws) - 1;
    ws.on("message", (data: Buffer) => {
      const m = decodeMessage(data) as AgentMessage | undefined;
      if (m === undefined) throw new Error("the agent sent a malformed frame");
      const r = { ...m, connection } as Received;
      this.received.push(r);
      this.#react(ws, r);
      for (const w of this.#waiters.filter((w) => w.pred(r))) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(r);
      }
    });
  }

  #react(ws: WebSocket, m: Received): void {
    const o = this.options;
    switch (m.type) {
      case "persist":
        if (this.answerAssets) void this.#persist(ws, m);
        return;
      case "restore": {
        if (!this.answerAssets) return;
        const asset = this.assets.get(m.assetId);
        this.send(asset !== undefined ? { type: "restored", requestId: m.requestId, asset } : { type: "error", requestId: m.requestId, message: `unknown asset ${m.assetId}` }, ws);
        return;
      }
      case "hello":
        this.#envs.set(m.connection, m.env);
        if (o.refuse !== undefined) {
          this.send({ type: "refused", reason: o.refuse }, ws);
          ws.close(4000, "refused");
        } else this.send({ type: "welcome", agentId: m.agentId ?? "agent-1", heartbeatMs: o.heartbeatMs ?? 60_000 }, ws);
        return;
      case "succeeded":
      case "failed": {
        if (m.requestId !== undefined && this.ackResults) this.send({ type: "ack", requestId: m.requestId }, ws);
        const step = this.#steps.get(m.executionId);
        if (step !== undefined && m.type === "failed" && m.error.retryable && step.attempt <= step.limit) {
          const executionId = `${step.stepId}-attempt-${step.attempt + 1}`;
          this.#steps.set(executionId, { ...step, attempt: step.attempt + 1 });
          this.send({ type: "execute", executionId, runId: "run-1", stepId: step.stepId, attempt: step.attempt + 1, target: step.target, arguments: step.args }, ws);
          return;
        }
        const stepId = step?.stepId ?? `step-${m.executionId}`;
        const outcome: Outcome = m.type === "succeeded" ? { status: "succeeded", value: m.value } : { status: "failed", error: m.error };
        if (!this.outcomes.has(stepId)) this.outcomes.set(stepId, outcome);
        for (const p of this.#parked.filter((p) => p.stepId === stepId)) {
          this.#parked.splice(this.#parked.indexOf(p), 1);
          this.send({ type: "resolved", requestId: p.requestId, outcome }, p.socket);
        }
        return;
      }
      case "submit": {
        if (o.orchestrate === false) return;
        const executionId = `child-${this.#nextId++}`;
        const handle = { runId: "run-1", stepId: `step-${executionId}`, executionId };
        this.#steps.set(executionId, { stepId: handle.stepId, target: m.target, args: m.arguments, attempt: 1, limit: m.options?.retries?.limit ?? 0 });
        this.send({ type: "submitted", requestId: m.requestId, handle }, ws);
        this.send({ type: "execute", ...handle, attempt: 1, target: m.target, arguments: m.arguments }, ws);
        return;
      }
      case "result": {
        if (o.orchestrate === false) return;
        const outcome = this.outcomes.get(m.handle.stepId);
        if (outcome !== undefined || !m.wait) this.send({ type: "resolved", requestId: m.requestId, ...(outcome ? { outcome } : {}) }, ws);
        else this.#parked.push({ stepId: m.handle.stepId, requestId: m.requestId, socket: ws });
        return;
      }
      case "cancel":
        if (o.orchestrate !== false) this.send({ type: "ack", requestId: m.requestId }, ws);
        return;
      default:
        return;
    }
  }
}
