/**
 * The Tributary server: an HTTP API for the CLI (and scripts), and a
 * WebSocket endpoint for agents, in front of one orchestrator per
 * environment. See docs/api.md.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { WebSocketServer, type WebSocket } from "ws";
import { CorruptEvent, InvalidNameError, logRef, parseRunId, type EventLog, type Value } from "../events/index.js";
import { EmbeddedEventLog, JetStreamEventLog, verifyLog } from "../events/storage/index.js";
import {
  getAsset,
  getEnvironment,
  getRunView,
  listAgents,
  listRuns,
  staleSteps,
  stepsOfRun,
  type AssetDoc,
  type RunView,
} from "../projections/index.js";
import {
  AGENT_PATH,
  INLINE_VALUE_BYTES,
  MAX_FRAME_BYTES,
  packArguments,
  PROTOCOL_VERSION,
  decodeMessage,
  encodeMessage,
  type AgentMessage,
  type ServerMessage,
} from "../protocol/messages.js";
import { apiSchema, checkAgentMessage, checkBody, checkQuery, matchRoute } from "../protocol/index.js";
import { toJson } from "./json.js";
import { discard, HttpError, noBody, readBody, send } from "./http-io.js";
import { rejectionMessage, rejectionStatus, type Rejection } from "./core/rejections.js";
import { Environments, Refused, type Env } from "./environments.js";
import { stepKeys } from "./keys.js";
import { unhostedTarget } from "./core/decide.js";
import type { Model } from "./core/model.js";
import { assetRefOf, type AgentConnection } from "./scheduler.js";
import { BlobCorrupt, BlobMismatch, BlobTooLarge, isBlobKey, type BlobStore } from "../events/storage/blob-store.js";
import { FsBlobStore } from "../events/storage/blob-store-fs.js";
import { NatsBlobStore } from "../events/storage/blob-store-nats.js";
import { DataDirLock } from "./data-lock.js";

export interface ServerOptions {
  /** Data directory: embedded log, projections, task logs. Default `./.tributary`. */
  readonly dataDir?: string;
  /** NATS server URL(s): use JetStream for the event log instead of the embedded one. */
  readonly nats?: string;
  /** HTTP port; 0 picks a free one. Default 7777. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Largest blob (one file of an asset), bytes. Default 8 GiB. */
  readonly maxBlobBytes?: number;
  /** Largest asset (all its files), bytes. Default 8 GiB. */
  readonly maxAssetBytes?: number;
  /** The project whose `production` environment exists from the start. Default `default`. */
  readonly defaultProject?: string;
  /** Heartbeat interval asked of agents, ms. Default 2,000. */
  readonly heartbeatMs?: number;
  /**
   * How long agents have, after the server starts, to connect again before
   * the executions they ran are abandoned, ms. Default: the agents' reconnect
   * backoff cap (2 s) plus two heartbeats.
   */
  readonly restartGraceMs?: number;
  readonly onNotice?: (message: string) => void;
}

export const DEFAULT_PROJECT = "default";
export const DEFAULT_ENV = "production";
const DEFAULT_MAX_BYTES = 8 * 1024 ** 3;
const goingAway = () => new HttpError(503, "the server is shutting down: retry in a moment");

const rejected = (r: Rejection) => new HttpError(rejectionStatus(r), rejectionMessage(r));

export class TributaryServer {
  private readonly envs: Environments;
  private readonly http: HttpServer;
  private readonly wss: WebSocketServer;
  private readonly notice: (m: string) => void;
  readonly dataDir: string;
  private closing = false;
  private closed: Promise<void> | undefined;
  /** Aborted when the server starts closing. */
  private readonly stopping = new AbortController();

  private constructor(
    readonly log: EventLog,
    readonly blobs: BlobStore,
    options: ServerOptions,
    /** The data directory's lock, released by `close` (or, on a hard exit, by `lock.release()`). */
    readonly lock: DataDirLock,
  ) {
    this.dataDir = options.dataDir ?? ".tributary";
    this.notice = options.onNotice ?? ((m) => console.error(m));
    this.envs = new Environments({
      log,
      dataDir: this.dataDir,
      heartbeatMs: options.heartbeatMs ?? 2000,
      ...(options.restartGraceMs === undefined ? {} : { restartGraceMs: options.restartGraceMs }),
      onNotice: this.notice,
      blobs,
      maxAssetBytes: options.maxAssetBytes ?? DEFAULT_MAX_BYTES,
    });
    this.http = createServer((req, res) => void this.handle(req, res));
    // Requests Node's parser refuses (an unknown method, a malformed header) get a JSON 400 too, not a bare one.
    this.http.on("clientError", (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable || err.code === "ECONNRESET") return void socket.destroy();
      const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
      const what = err.code === "HPE_INVALID_METHOD" ? "an unknown HTTP method" : `a malformed HTTP request (${err.code ?? err.message})`;
      const text = JSON.stringify({ error: `${what}: see GET /api/schema for the API` });
      socket.end(
        `HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
      );
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
    this.http.on("upgrade", (req, socket, head) => {
      if (new URL(req.url ?? "/", "http://x").pathname !== AGENT_PATH) {
        socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onAgentSocket(ws));
    });
  }

  /** Opens the log, starts every environment's orchestrator (resuming pending work), and listens. */
  static async start(options: ServerOptions = {}): Promise<TributaryServer> {
    const dataDir = options.dataDir ?? ".tributary";
    // Before anything under the data directory is opened (with --nats too: projections and task logs live there).
    const lock = DataDirLock.acquire(dataDir);
    let log: EventLog | undefined;
    let blobs: BlobStore;
    try {
      log = options.nats ? await JetStreamEventLog.connect({ servers: options.nats }) : new EmbeddedEventLog({ dir: join(dataDir, "log") });
      const maxBlobBytes = options.maxBlobBytes ?? DEFAULT_MAX_BYTES;
      blobs = options.nats
        ? await NatsBlobStore.connect({ servers: options.nats, maxBlobBytes })
        : new FsBlobStore({ dir: join(dataDir, "blobs"), maxBlobBytes });
    } catch (e) {
      await log?.close().catch(() => undefined);
      lock.release();
      throw e;
    }
    const server = new TributaryServer(log, blobs, options, lock);
    try {
      for (const ref of await log.listEnvs()) {
        try {
          await server.env(ref.project, ref.env);
        } catch (e) {
          if (!(e instanceof CorruptEvent)) throw e;
          const where = options.nats ? `--nats ${options.nats}` : `--data ${dataDir}`;
          throw new CorruptEvent(
            `${e.reason}. The log of ${ref.project}/${ref.env} does not decode, so the server cannot start: list every commit that fails with ` +
              `'tributary log verify --project ${ref.project} --env ${ref.env} ${where}', and restore the log from a backup`,
            e.seq,
            { cause: e },
          );
        }
      }
      await server.env(options.defaultProject ?? DEFAULT_PROJECT, DEFAULT_ENV, {});
      await new Promise<void>((resolve, reject) => {
        server.http.once("error", reject);
        server.http.listen(options.port ?? 7777, options.host ?? "127.0.0.1", () => resolve());
      });
    } catch (e) {
      await server.close();
      throw e;
    }
    return server;
  }

  /** `http://host:port` */
  get url(): string {
    const a = this.http.address();
    if (!a || typeof a === "string") throw new Error("the server is not listening");
    return `http://${a.address}:${a.port}`;
  }

  /** The orchestrator of an environment, started on first use. */
  env(project: string, env: string, create?: { base?: string }): Promise<Env> {
    return this.envs.get(project, env, create);
  }

  // -------------------------------------------------------------------------
  // Agents

  private onAgentSocket(ws: WebSocket): void {
    let agent: { id: string; env: Env } | undefined;
    let helloSeen = false;
    const conn: AgentConnection = {
      send: (m: ServerMessage) => {
        if (ws.readyState !== ws.OPEN) return;
        const bytes = encodeMessage(m);
        if (bytes.length <= MAX_FRAME_BYTES) return ws.send(bytes);
        // The agent would drop the connection on it: an answer becomes an error; anything else is not sent.
        const message = `the server's ${m.type} message is ${bytes.length} bytes, over the frame limit of ${MAX_FRAME_BYTES}: keep large values in assets`;
        this.notice(`agent connection: ${message}`);
        if ("requestId" in m && m.requestId !== undefined) ws.send(encodeMessage({ type: "error", requestId: m.requestId, message }));
      },
      close: (reason: string) => ws.close(1000, reason.slice(0, 120)),
    };
    ws.on("message", (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      const m = isBinary ? decodeMessage(bytes) : undefined;
      if (!m) {
        conn.send({ type: "error", message: "malformed frame: expected a binary msgpack message with a string 'type'" });
        return;
      }
      if (!agent) {
        if (helloSeen) return; // hello in progress
        if (m.type !== "hello") {
          conn.send({ type: "error", message: `expected hello first, got ${JSON.stringify(m.type.slice(0, 64))}` });
          return;
        }
        helloSeen = true;
        // The version first: another version's hello may have another shape.
        if (m["protocol"] !== PROTOCOL_VERSION) {
          conn.send({
            type: "refused",
            reason: `protocol version ${JSON.stringify(m["protocol"] ?? null)} is not supported: this server speaks version ${PROTOCOL_VERSION}; upgrade the agent or the server`,
          });
          ws.close(1008, "refused");
          return;
        }
        const problem = checkAgentMessage(m) ?? arityProblem(m["manifests"] as readonly unknown[]);
        if (problem) {
          conn.send({ type: "refused", reason: problem });
          ws.close(1008, "refused");
          return;
        }
        void this.hello(conn, m as unknown as Extract<AgentMessage, { type: "hello" }>).then(
          (a) => {
            agent = a;
            if (!a) ws.close(1008, "refused");
            // The socket closed while the hello was being recorded: the agent left at once.
            else if (ws.readyState === ws.CLOSING || ws.readyState === ws.CLOSED) {
              if (!this.closing) void a.env.scheduler.disconnect(a.id, conn, "connection closed");
            }
          },
          (e: unknown) => {
            conn.send({ type: "refused", reason: (e as Error).message });
            ws.close(1008, "refused");
          },
        );
        return;
      }
      // Checked against its type's schema before any command is made of it.
      const problem = checkAgentMessage(m);
      if (problem) {
        const requestId = m["requestId"];
        conn.send({ type: "error", ...(Number.isSafeInteger(requestId) ? { requestId: requestId as number } : {}), message: problem });
        return;
      }
      void agent.env.scheduler.onMessage(agent.id, m as unknown as AgentMessage);
    });
    ws.on("close", () => {
      // A server that stops closes every socket: the agents did not leave, and come back when it is up again.
      if (agent && !this.closing) void agent.env.scheduler.disconnect(agent.id, conn, "connection closed");
    });
    ws.on("error", () => ws.terminate());
  }

  /** A hello checked against its schema: registers the agent. */
  private async hello(conn: AgentConnection, m: Extract<AgentMessage, { type: "hello" }>): Promise<{ id: string; env: Env } | undefined> {
    const env = await this.env(m.project, m.env);
    const id = await env.scheduler.connect(conn, m);
    return { id, env };
  }

  // -------------------------------------------------------------------------
  // HTTP API

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (this.closing) throw goingAway();
      const url = new URL(req.url ?? "/", "http://x");
      let parts: string[];
      try {
        parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
      } catch {
        throw new HttpError(400, "the path is not valid percent-encoding");
      }
      if (parts[0] !== "api") throw new HttpError(404, "not found: the API lives under /api (see GET /api/schema)");
      // The edge: the route, its path parameters, query and body are checked before anything is done.
      const method = req.method ?? "GET";
      const match = matchRoute(method, parts.slice(1));
      if (!match.ok) {
        if (match.allow) res.setHeader("allow", match.allow.join(", "));
        throw new HttpError(match.status, match.message);
      }
      const { route } = match.matched;
      const badQuery = checkQuery(route, url.searchParams);
      if (badQuery) throw new HttpError(400, badQuery);
      if (parts[1] === "blobs") return await this.blob(req, res, parts[2]!);
      const body = method === "POST" || method === "PUT" ? await readBody(req) : await noBody(req);
      const badBody = checkBody(route, body);
      if (badBody) throw new HttpError(400, badBody);
      if (route.path === "schema") return send(res, 200, apiSchema());
      const out = await this.route(method, parts, url.searchParams, body, res);
      if (out === STREAMED) return;
      send(res, 200, out);
    } catch (e) {
      const status =
        e instanceof HttpError || e instanceof Refused ? e.status : e instanceof InvalidNameError ? 400 : 500;
      // What fails because the server is stopping (its orchestrators closed) is for the client to retry.
      if (status === 500 && this.closing) return this.answerGoingAway(res);
      if (status === 503) return this.answerGoingAway(res, (e as Error).message);
      if (status === 500) this.notice(`API error: ${(e as Error).stack ?? String(e)}`);
      if (!res.headersSent) {
        // A body left unread (over the limit, or refused before it was read) is read and dropped first, so the
        // client, still sending, hears the answer instead of a reset.
        if (!req.complete) await discard(req);
        if (!req.complete) res.setHeader("connection", "close");
        send(res, status, { error: (e as Error).message });
      } else res.end();
    }
  }

  private async route(method: string, p: string[], q: URLSearchParams, body: unknown, res: ServerResponse): Promise<unknown> {
    if (p[0] !== "api") throw new HttpError(404, "not found: the API lives under /api");
    if (p[1] === "health" && p.length === 2) return { ok: true, log: this.log.kind };
    if (p[1] !== "projects" || p.length < 3) throw new HttpError(404, `no such endpoint: /${p.join("/")}`);
    const project = p[2]!;
    if (p.length === 4 && p[3] === "envs") {
      if (method === "GET") {
        const refs = await this.log.listEnvs(project);
        const out = [];
        for (const r of refs) {
          const e = await this.env(r.project, r.env);
          out.push({ name: r.env, lastSeq: e.rt.lastSeq, ...(getEnvironment(e.rt.source) ?? {}) });
        }
        return out;
      }
      const { name, base, from, at, atTime } = (body ?? {}) as Record<string, unknown>;
      if (typeof name !== "string") throw new HttpError(400, 'give the environment\'s name as {"name": "..."}');
      const ref = logRef(project, name);
      if (await this.log.hasEnv(ref)) throw rejected({ _tag: "EnvironmentExists", env: `${project}/${name}` });
      if (from !== undefined) {
        if (typeof from !== "string") throw new HttpError(400, "from must be an environment name");
        if (at !== undefined && !Number.isSafeInteger(at)) throw new HttpError(400, "at must be a log sequence number");
        const time = atTime === undefined ? undefined : Date.parse(String(atTime));
        if (time !== undefined && Number.isNaN(time)) throw new HttpError(400, `atTime ${JSON.stringify(atTime)} is not an ISO date`);
        const e = await this.envs.branch(project, name, from, at as number | undefined, time);
        return { name, ...getEnvironment(e.rt.source) };
      }
      if (base !== undefined) {
        if (typeof base !== "string") throw new HttpError(400, "base must be an environment name");
        await this.envs.requireBase(project, base);
      }
      const e = await this.env(project, name, typeof base === "string" ? { base } : {});
      return { name, ...getEnvironment(e.rt.source) };
    }
    if (p.length === 6 && p[3] === "envs" && method === "POST" && (p[5] === "update" || p[5] === "archive")) {
      if (p[5] === "archive") await this.envs.archive(project, p[4]!);
      else {
        const { base } = (body ?? {}) as { base?: unknown };
        if (base !== null && typeof base !== "string") throw new HttpError(400, 'give the new base as {"base": "name"} or {"base": null}');
        await this.envs.rebase(project, p[4]!, base);
      }
      return { name: p[4], ...getEnvironment((await this.env(project, p[4]!)).rt.source) };
    }
    if (p[3] !== "envs" || p.length < 6) throw new HttpError(404, `no such endpoint: /${p.join("/")}`);
    if (p[5] === "log" && p[6] === "verify") {
      // Straight from the log: the environment's orchestrator may not start on a log that does not decode.
      const ref = logRef(project, p[4]!);
      if (!(await this.log.hasEnv(ref))) throw rejected({ _tag: "UnknownEnvironment", env: `${project}/${p[4]}` });
      return { project, env: p[4], log: this.log.kind, ...(await verifyLog(this.log, ref)) };
    }
    const env = await this.env(project, p[4]!);
    const { rt } = env;
    const rest = p.slice(5);
    const [what, id, sub, stepId, action] = rest;

    if (what === "runs" && rest.length === 1) {
      if (method === "GET") return listRuns(rt.source, Number(q.get("limit") ?? 50));
      return this.submit(env, body);
    }
    if (what === "runs" && id !== undefined) {
      const runId = id;
      if (parseRunId(runId)._tag === "Left") throw new HttpError(400, `invalid run id ${JSON.stringify(runId)}`);
      const rerun = sub === "steps" && stepId !== undefined && action === "rerun" && method === "POST";
      const view = rerun ? await this.envs.importRun(env, runId, rerunCheck(rt.model, stepId)) : getRunView(rt.source, runId as never);
      if (!view) throw rejected({ _tag: "UnknownRun", runId });
      if (rest.length === 2 && method === "GET") return { ...view, stale: staleSteps(view) };
      if (sub === "history" && method === "GET") {
        const out = [];
        for await (const c of this.log.read(env.ref, { runId: runId as never })) {
          for (let i = 0; i < c.events.length; i++) out.push({ seq: c.seq, index: i, ...c.events[i] });
        }
        return out;
      }
      if (sub === "result" && method === "GET") {
        const wait = q.get("wait") === "true" || q.get("wait") === "1";
        const outcome = wait ? await this.unlessClosing(rt.waitForStep(runId, view.run.rootStepId)) : await rt.outcomeOf(runId, view.run.rootStepId);
        return { runId, ...(outcome ? { outcome } : { pending: true }) };
      }
      if (sub === "logs" && method === "GET") {
        if (q.get("follow") !== "true" && q.get("follow") !== "1") return env.logs.read(runId);
        return this.followLogs(env, runId, res);
      }
      if (sub === "cancel" && method === "POST") {
        const r = await rt.execute({ type: "CancelRun", runId, reason: "cancelled by user" });
        if (!r.ok) throw rejected(r.rejection);
        if (r.events.length === 0) return { runId, cancelled: true, already: true };
        if (r.events.some((e) => e.type === "RunCancelled")) return { runId, cancelled: true, seq: r.seq };
        // A finished run with re-runs in flight: those stopped, the run keeps its outcome.
        return { runId, cancelled: false, stopped: r.events.length, status: rt.model.run(runId)?.status, seq: r.seq };
      }
      if (rerun) {
        const r = await rt.execute({ type: "RerunStep", runId, stepId, ...memoKeyNow(env, runId, stepId) });
        if (!r.ok) throw rejected(r.rejection);
        const step = rt.model.step(runId, stepId)!;
        const cascade = (body as { cascade?: unknown } | undefined)?.cascade === true;
        if (cascade) void this.cascade(env, runId, stepId);
        const warning = waiting(env, step.target);
        return { runId, stepId, executionId: step.executions[step.executions.length - 1], seq: r.seq, cascade, ...(warning ? { warning } : {}) };
      }
    }
    if (what === "assets" && method === "GET") {
      if (id === undefined) {
        const run = q.get("run");
        return [...rt.source.range<AssetDoc>("assets")]
          .map(([, d]) => d)
          .filter((d) => d.persisted && (run === null || d.persisted.runId === run));
      }
      const found = rt.model.asset(id);
      if (!found) throw rejected({ _tag: "UnknownAsset", assetId: id });
      return { ...found.doc, ref: assetRefOf(found.env, found.doc), local: getAsset(rt.source, id as never) ?? null };
    }
    if (what === "agents" && method === "GET") return { connected: env.scheduler.connected(), known: listAgents(rt.source) };
    if (what === "projections" && id === "dump" && method === "GET") return { lastSeq: rt.lastSeq, lines: rt.dump() };
    if (what === "projections" && id === "rebuild" && method === "POST") {
      const commits = await this.envs.rebuild(env);
      return { rebuilt: commits, lastSeq: rt.lastSeq };
    }
    if (what === "steps" && method === "GET" && id !== undefined) return stepsOfRun(rt.source, id as never);
    throw new HttpError(404, `no such endpoint: ${method} /${p.join("/")}`);
  }

  /**
   * After a re-run of `stepId`, re-runs its caller once it has its new
   * result, and so on up to the root: each caller's code runs again and its
   * unchanged calls are reused (memo), so the new result propagates.
   */
  private async cascade(env: Env, runId: string, stepId: string): Promise<void> {
    let current = stepId;
    for (;;) {
      const outcome = await env.rt.waitForStep(runId, current);
      if (outcome.status !== "succeeded") return;
      const caller = callerOf(env, runId, current);
      if (!caller) return;
      const r = await env.rt.execute({ type: "RerunStep", runId, stepId: caller, ...memoKeyNow(env, runId, caller) });
      if (!r.ok) {
        this.notice(`cascade of ${runId}: re-running step ${caller} refused: ${rejectionMessage(r.rejection)}`);
        return;
      }
      current = caller;
    }
  }

  /** `HEAD | GET | PUT /api/blobs/sha256:<hex>`: blobs, streamed both ways. */
  private async blob(req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
    if (!isBlobKey(key)) throw new HttpError(400, `invalid blob key ${JSON.stringify(key)}: expected sha256:<64 hex digits>`);
    if (req.method === "PUT") {
      const size = req.headers["content-length"] === undefined ? undefined : Number(req.headers["content-length"]);
      try {
        const info = await this.blobs.put(req, { sha256: key.slice(7), ...(size === undefined ? {} : { size }) });
        return send(res, 200, info);
      } catch (e) {
        if (e instanceof BlobMismatch) throw new HttpError(400, e.message);
        if (e instanceof BlobTooLarge) throw new HttpError(413, e.message);
        throw e;
      }
    }
    let info;
    try {
      info = await this.blobs.stat(key);
    } catch (e) {
      if (e instanceof BlobCorrupt) throw new HttpError(500, e.message);
      throw e;
    }
    if (!info) throw new HttpError(404, `no blob ${key}`);
    if (req.method === "HEAD") {
      res.writeHead(200, { "content-length": info.size });
      return void res.end();
    }
    if (req.method !== "GET") throw new HttpError(405, "blobs are read with GET, probed with HEAD and written with PUT");
    const stream = await this.blobs.get(key);
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": info.size });
    await pipeline(stream, res).catch(() => res.destroy());
  }

  private async submit(env: Env, body: unknown): Promise<unknown> {
    const b = (body ?? {}) as { target?: unknown; arguments?: unknown; idempotencyKey?: unknown };
    if (typeof b.target !== "string" || !/^[^:]+:[^:]+$/.test(b.target)) {
      throw new HttpError(400, 'give the target as "repository:target", e.g. {"target": "orders:process_orders"}');
    }
    if (b.arguments !== undefined && !Array.isArray(b.arguments)) throw new HttpError(400, "arguments must be an array");
    if (b.idempotencyKey !== undefined && typeof b.idempotencyKey !== "string") throw new HttpError(400, "idempotencyKey must be a string");
    const [repository, target] = b.target.split(":") as [string, string];
    const given = (b.arguments ?? []) as Value[];
    // Arguments too large to log inline are kept as a blob, as agents do with theirs.
    const packed = packArguments(given);
    const argumentsBlob = packed.length > INLINE_VALUE_BYTES ? await this.blobs.put(Readable.from([Buffer.from(packed)])) : undefined;
    const args = argumentsBlob === undefined ? given : [];
    const r = await env.rt.execute({
      type: "SubmitRun",
      runId: env.rt.newId(),
      target: { repository, target },
      arguments: args,
      ...(argumentsBlob === undefined
        ? {}
        : { argumentsBlob: { key: argumentsBlob.key, size: argumentsBlob.size, sha256: argumentsBlob.sha256 }, argumentCount: given.length }),
      keys: stepKeys(env.rt.model, { repository, target }, args, undefined, argumentsBlob),
      ...(b.idempotencyKey === undefined ? {} : { idempotencyKey: b.idempotencyKey }),
    });
    if (!r.ok) throw rejected(r.rejection);
    const created = r.events.find((e) => e.type === "RunSubmitted");
    const runId = created?.runId ?? (b.idempotencyKey === undefined ? undefined : env.rt.model.runForKey(b.idempotencyKey));
    const warning = created ? waiting(env, { repository, target }) : undefined;
    return { runId, created: created !== undefined, seq: r.seq, ...(warning ? { warning } : {}) };
  }

  private followLogs(env: Env, runId: string, res: ServerResponse): typeof STREAMED {
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    for (const line of env.logs.read(runId)) res.write(toJson(line) + "\n");
    const stop = env.logs.follow((line) => {
      if (line.runId === runId) res.write(toJson(line) + "\n");
    });
    const finished = env.rt.waitForStep(runId, getRunView(env.rt.source, runId as never)!.run.rootStepId);
    void finished.then(() => setTimeout(() => res.end(), 100));
    // A stopping server ends the stream: the client asks again (and skips the lines it has) once it is back.
    const end = () => res.end();
    this.stopping.signal.addEventListener("abort", end, { once: true });
    res.on("close", () => {
      stop();
      this.stopping.signal.removeEventListener("abort", end);
    });
    return STREAMED;
  }

  /** Waits for `work`, unless the server starts closing first: then a 503 that tells the client to retry. */
  private unlessClosing<T>(work: Promise<T>): Promise<T> {
    const signal = this.stopping.signal;
    if (signal.aborted) return Promise.reject(goingAway());
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(goingAway());
      signal.addEventListener("abort", onAbort, { once: true });
    });
    return Promise.race([work, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
  }

  private answerGoingAway(res: ServerResponse, message = goingAway().message): void {
    if (res.headersSent) return void res.end();
    send(res, 503, { error: message }, { "retry-after": "1", connection: "close" });
  }

  /**
   * Stops, in well under a second when nothing hangs: stops listening;
   * answers long polls (`result?wait=true`) with 503 and Retry-After and ends
   * log streams, so that clients retry; tells agents the server is going
   * away (close code 1001: they reconnect with backoff); lets the appends in
   * flight finish and flushes the projections; closes the log; releases the
   * data directory's lock.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    const stopped = new Promise<void>((r) => (this.http.listening ? this.http.close(() => r()) : r()));
    this.stopping.abort();
    for (const c of this.wss.clients) c.close(1001, "server shutting down");
    this.wss.close();
    try {
      await this.envs.close();
      this.http.closeIdleConnections();
      // Whatever is still open (an agent that does not answer the close, a slow request) is cut.
      const cut = setTimeout(() => {
        this.http.closeAllConnections();
        for (const c of this.wss.clients) c.terminate();
      }, 200);
      await stopped;
      clearTimeout(cut);
      for (const c of this.wss.clients) c.terminate();
      await this.blobs.close();
      await this.log.close();
    } finally {
      this.lock.release();
    }
  }
}

const STREAMED = Symbol("streamed");

/** The step whose execution called `stepId` (in a branch, maybe an execution of the parent environment). */
const callerOf = (env: Env, runId: string, stepId: string): string | undefined => {
  const step = env.rt.model.step(runId, stepId);
  const parent = step?.parentExecutionId;
  if (parent === undefined) return undefined;
  const x = env.rt.model.execution(parent);
  if (x) return x.stepId;
  return env.rt.model
    .stepsOfRun(runId)
    .find((s) => s.reusedFrom?.executionId === parent || s.resultExecutionId === parent)?.stepId;
};

/** The memo key of a step with the code its environment's agents host now. */
const memoKeyNow = (env: Env, runId: string, stepId: string): { memoKey?: string } => {
  const step = env.rt.model.step(runId, stepId);
  return step ? { memoKey: stepKeys(env.rt.model, step.target, step.arguments as never, step.options, step.argumentsBlob).memo } : {};
};

/** Before a run is brought into a branch to re-run `stepId`: is that step's target hosted here? */
const rerunCheck =
  (m: Model, stepId: string) =>
  (view: RunView): Rejection | undefined => {
    const step = view.steps.find((s) => s.stepId === stepId);
    if (!step) return { _tag: "UnknownStep", runId: view.run.runId, stepId };
    return unhostedTarget(m, step.target);
  };

/** What to tell whoever queued work for a target that no connected agent hosts: it waits. */
const waiting = (env: Env, t: { readonly repository: string; readonly target: string }): string | undefined =>
  env.scheduler.hosts(`${t.repository}:${t.target}`)
    ? undefined
    : `no connected agent hosts ${t.repository}:${t.target} now: it waits until one connects to ${env.ref.project}/${env.ref.env} ('tributary agent --env ${env.ref.env} MODULE')`;

/** A target's optional `arity` must be `{ min, max? }`, whole numbers with min <= max (it is logged with the manifest). */
const arityProblem = (manifests: readonly unknown[]): string | undefined => {
  const nat = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  for (const [i, r] of manifests.entries()) {
    const targets = (r as { targets?: unknown } | null)?.targets;
    if (!Array.isArray(targets)) continue;
    for (const [j, t] of targets.entries()) {
      const a = (t as { arity?: unknown } | null)?.arity;
      if (a === undefined) continue;
      const { min, max } = (a ?? {}) as { min?: unknown; max?: unknown };
      if (typeof a !== "object" || a === null || !nat(min) || (max !== undefined && (!nat(max) || (max as number) < (min as number)))) {
        return `manifests[${i}].targets[${j}].arity must be { min, max? }: whole numbers >= 0, max >= min, no max for a rest parameter`;
      }
    }
  }
  return undefined;
};
