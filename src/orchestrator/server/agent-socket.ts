/**
 * Agents' WebSocket (`/agent`): the upgrade, the `hello` handshake (the
 * protocol version first, then the frame's schema), and every later frame
 * decoded and checked against its type's schema before the environment's
 * scheduler acts on it. Frames the server sends are kept within the frame
 * limit.
 */
import type { Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { AgentId, Principal } from "../../events/index.js";
import { AGENT_SOCKET_PERMISSION, checkAgentMessage } from "../../protocol/index.js";
import {
  AGENT_PATH,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  decodeMessage,
  encodeMessage,
  type AgentMessage,
  type ServerMessage,
} from "../../protocol/messages.js";
import type { Access, Caller, Denied } from "../auth/access.js";
import type { AgentConnection, EnvScheduler, Hello } from "../scheduler/index.js";
import { answerRaw } from "./http-io.js";

/** What the socket hands an agent's session to. */
export type AgentHost = Pick<EnvScheduler, "connect" | "onMessage" | "disconnect" | "agentToken">;

export interface AgentSocketOptions {
  /** The scheduler of the environment a hello names (refuses an unknown environment). */
  hostOf(project: string, env: string): Promise<AgentHost>;
  /** Aborted when the server starts closing: sockets closed then are not agents leaving. */
  readonly stopping: AbortSignal;
  readonly notice: (message: string) => void;
  /** With --auth: who connects (the upgrade's `Authorization`), and whether they may host the hello's environment. */
  readonly access: Access;
}

/** Close code of a session whose credential was revoked (an application code: 4000-4999). */
export const REVOKED_CLOSE = 4401;
const MAX_TIMER_MS = 2 ** 31 - 1;

export class AgentSockets {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });

  constructor(
    http: HttpServer | HttpsServer,
    private readonly o: AgentSocketOptions,
  ) {
    http.on("upgrade", (req, socket, head) => {
      if (new URL(req.url ?? "/", "http://x").pathname !== AGENT_PATH) {
        socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
        return;
      }
      let caller: Caller | undefined;
      if (o.access.enabled) {
        const who = o.access.identify(req.headers.authorization);
        // Refused before the socket is made: an HTTP answer the agent reads, as any client would.
        if ("status" in who) return refuseUpgrade(socket, who);
        caller = who;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, caller));
    });
    o.access.onChange(() => {
      for (const [tokenId, sockets] of this.byToken) {
        const refusal = o.access.refusal(tokenId);
        if (!refusal) continue;
        const reason = refusal.reason === "revoked" ? `token ${tokenId} was revoked: the agent needs a new one` : refusal.message;
        for (const ws of sockets) {
          if (ws.readyState !== ws.OPEN) continue;
          ws.send(encodeMessage({ type: "refused", reason, status: 401 }));
          ws.close(REVOKED_CLOSE, "token revoked");
        }
        this.byToken.delete(tokenId);
      }
    });
  }

  /** Ends the session when its token expires (timers reach at most ~24.8 days: a longer wait is taken in steps). */
  private endAtExpiry(ws: WebSocket, tokenId: string, at: number, holder: { timer?: NodeJS.Timeout }): void {
    const left = at - Date.now();
    holder.timer = setTimeout(() => {
      if (left > MAX_TIMER_MS) return this.endAtExpiry(ws, tokenId, at, holder);
      if (ws.readyState !== ws.OPEN) return;
      ws.send(encodeMessage({ type: "refused", reason: `token ${tokenId} expired at ${new Date(at).toISOString()}: the agent needs a new one`, status: 401 }));
      ws.close(REVOKED_CLOSE, "token expired");
    }, Math.max(0, Math.min(left, MAX_TIMER_MS)));
    holder.timer.unref();
  }

  /** Sockets of agents that connected with a token, by its id: cut when it is revoked. */
  private readonly byToken = new Map<string, Set<WebSocket>>();

  /** Tells every agent the server is going away (close code 1001: they reconnect with backoff), and accepts no more. */
  goingAway(): void {
    for (const c of this.wss.clients) c.close(1001, "server shutting down");
    this.wss.close();
  }

  /** Cuts whatever connection is still open. */
  terminate(): void {
    for (const c of this.wss.clients) c.terminate();
  }

  private accept(ws: WebSocket, caller: Caller | undefined): void {
    const { stopping } = this.o;
    let agent: { id: AgentId; host: AgentHost } | undefined;
    let helloSeen = false;
    const conn = this.connection(ws);
    const refuse = (reason: string, status?: 401 | 403) => {
      conn.send({ type: "refused", reason, ...(status ? { status } : {}) });
      ws.close(1008, "refused");
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
          return refuse(
            `protocol version ${JSON.stringify(m["protocol"] ?? null)} is not supported: this server speaks version ${PROTOCOL_VERSION}; upgrade the agent or the server`,
          );
        }
        const problem = checkAgentMessage(m) ?? arityProblem(m["manifests"] as readonly unknown[]);
        if (problem) return refuse(problem);
        if (caller) {
          const denied = this.o.access.permit(caller, { permission: AGENT_SOCKET_PERMISSION, project: m["project"] as string, env: m["env"] as string });
          // 401 when the token was revoked or expired since the upgrade; 403 when it does not reach this environment.
          if (denied) return refuse(denied.message, denied.status);
          if (caller.token) {
            const id = caller.token.tokenId;
            const set = this.byToken.get(id) ?? new Set<WebSocket>();
            this.byToken.set(id, set.add(ws));
            const expiry: { timer?: NodeJS.Timeout } = {};
            if (caller.token.expiresAt !== undefined) this.endAtExpiry(ws, id, caller.token.expiresAt, expiry);
            ws.once("close", () => {
              set.delete(ws);
              clearTimeout(expiry.timer);
            });
          }
        }
        void this.hello(conn, m as unknown as Hello, caller?.principal).then(
          (a) => {
            agent = a;
            // The socket closed while the hello was being recorded: the agent left at once.
            if (ws.readyState === ws.CLOSING || ws.readyState === ws.CLOSED) {
              if (!stopping.aborted) void a.host.disconnect(a.id, conn, "connection closed");
            }
          },
          (e: unknown) => refuse((e as Error).message, e instanceof AgentIdTaken ? 403 : undefined),
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
      void agent.host.onMessage(agent.id, m as unknown as AgentMessage);
    });
    ws.on("close", () => {
      // A server that stops closes every socket: the agents did not leave, and come back when it is up again.
      if (agent && !stopping.aborted) void agent.host.disconnect(agent.id, conn, "connection closed");
    });
    ws.on("error", () => ws.terminate());
  }

  /** The scheduler's side of the socket: frames over the limit are not sent (an answer becomes an error). */
  private connection(ws: WebSocket): AgentConnection {
    const conn: AgentConnection = {
      send: (m: ServerMessage) => {
        if (ws.readyState !== ws.OPEN) return;
        const bytes = encodeMessage(m);
        if (bytes.length <= MAX_FRAME_BYTES) return ws.send(bytes);
        // The agent would drop the connection on it: an answer becomes an error; anything else is not sent.
        const message = `the server's ${m.type} message is ${bytes.length} bytes, over the frame limit of ${MAX_FRAME_BYTES}: keep large values in assets`;
        this.o.notice(`agent connection: ${message}`);
        if ("requestId" in m && m.requestId !== undefined) ws.send(encodeMessage({ type: "error", requestId: m.requestId, message }));
      },
      close: (reason: string) => ws.close(1000, reason.slice(0, 120)),
    };
    return conn;
  }

  /** A hello checked against its schema: registers the agent with its environment's scheduler. */
  private async hello(conn: AgentConnection, m: Hello, credential: Principal | undefined): Promise<{ id: AgentId; host: AgentHost }> {
    const host = await this.o.hostOf(m.project, m.env);
    // An agent id is its token's while that token is valid: another token may not take it over (nor the work assigned to it).
    const held = m.agentId === undefined || credential?.kind !== "token" ? undefined : host.agentToken(m.agentId);
    if (held !== undefined && credential?.kind === "token" && held !== credential.tokenId && this.o.access.live(held)) {
      throw new AgentIdTaken(`agent id ${m.agentId} belongs to token ${held}, which is still valid: connect with that token, or choose another agent id`);
    }
    const id = await host.connect(conn, m, credential);
    return { id, host };
  }
}

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

/** A hello that names the agent id of another token's agent. */
class AgentIdTaken extends Error {}

/** Answers a refused upgrade as HTTP: the status, and the JSON `{ error }` every other refusal has. */
const refuseUpgrade = (socket: Duplex, d: Denied): void =>
  answerRaw(
    socket,
    d.status,
    d.status === 401 ? "Unauthorized" : "Forbidden",
    { error: d.message, ...(d.reason ? { reason: d.reason } : {}), ...(d.lacks ? { lacks: d.lacks } : {}) },
    { "www-authenticate": 'Bearer realm="tributary"' },
  );
