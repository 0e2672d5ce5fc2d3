/**
 * The agent's WebSocket to the server: says `hello` on every (re)connection,
 * waits for `welcome`, checks every frame the server sends, and reconnects
 * with exponential backoff (100 ms doubling to 2 s) when the socket closes.
 * With a token, the upgrade request carries `Authorization: Bearer <token>`;
 * a server that answers the upgrade with 401 or 403 refused it: that is
 * final (`onRefused` with the status), no reconnection.
 */
import type { IncomingMessage } from "node:http";
import WebSocket from "ws";
import { AGENT_PATH, decodeMessage, encodeMessage, MAX_FRAME_BYTES } from "../protocol/messages.js";
import type { AgentMessage, LogLevel, ServerMessage } from "../protocol/messages.js";
import type { Frame } from "../protocol/agent.js";
import { untrustedCode } from "../protocol/tls.js";

export interface ConnectionOptions {
  /** `http(s)://host:port` of the server, or the `ws(s)://` URL of its agent endpoint. */
  readonly server: string;
  /** For `wss://`: the CA certificate(s) to trust, PEM (only these then). */
  readonly ca?: string;
  /** The access token to send on the upgrade request. Never logged. */
  readonly token?: string;
  /** The `hello` to send, built at each connection. */
  readonly hello: () => AgentMessage;
  readonly onWelcome: (m: Extract<ServerMessage, { type: "welcome" }>) => void;
  /** A `refused` frame (`status` absent), or the upgrade answered 401 / 403 (then the connection is closed for good). */
  readonly onRefused: (reason: string, status?: 401 | 403) => void;
  /** Every other well-formed message. */
  readonly onMessage: (m: Exclude<ServerMessage, { type: "welcome" | "refused" }>) => void;
  readonly onClose: (code: number, reason: string) => void;
  readonly diagnostic: (level: LogLevel, message: string) => void;
  /** How long to wait for `welcome` after the socket opens, ms. */
  readonly welcomeTimeoutMs?: number;
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2000;

/** The agent endpoint's URL for a server URL. */
export const agentUrl = (server: string): string => {
  const u = new URL(server);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  else if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new TypeError(`server: expected an http(s):// or ws(s):// URL, got ${server}`);
  if (!u.pathname.endsWith(AGENT_PATH)) u.pathname = u.pathname.replace(/\/$/, "") + AGENT_PATH;
  return u.href;
};

export class Connection {
  readonly #opts: ConnectionOptions;
  readonly #url: string;
  #ws: WebSocket | undefined;
  #welcomed = false;
  #closed = false;
  #backoff = MIN_BACKOFF_MS;
  #saidUnreachable = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(opts: ConnectionOptions) {
    this.#opts = opts;
    this.#url = agentUrl(opts.server);
  }

  /** Connected and welcomed. */
  get open(): boolean {
    return this.#welcomed && this.#ws?.readyState === WebSocket.OPEN;
  }

  connect(): void {
    if (this.#closed) return;
    if (!serverMessageCheck) {
      void loadServerMessageCheck().then(
        () => this.connect(),
        (err: unknown) => this.#opts.diagnostic("error", `cannot load the protocol's schemas: ${(err as Error).message}`),
      );
      return;
    }
    const ws = new WebSocket(this.#url, {
      maxPayload: MAX_FRAME_BYTES,
      ...(this.#opts.ca === undefined ? {} : { ca: this.#opts.ca }),
      ...(this.#opts.token === undefined ? {} : { headers: { authorization: `Bearer ${this.#opts.token}` } }),
    });
    this.#ws = ws;
    this.#welcomed = false;
    let welcomeTimer: NodeJS.Timeout | undefined;
    // The server's answer to the upgrade when it was not 101 (said instead of ws's own error).
    let answered: string | undefined;
    ws.binaryType = "nodebuffer";
    ws.on("unexpected-response", (_req, res) => {
      const status = res.statusCode ?? 0;
      void errorOfResponse(res).then((message) => {
        if (status === 401 || status === 403) {
          this.#closed = true;
          answered = "";
          this.#opts.onRefused(message || `HTTP ${status}`, status);
        } else answered = `the server at ${this.#url} answered the connection with HTTP ${status}${message ? ` (${message})` : ""}; retrying`;
        ws.terminate();
      });
    });
    ws.on("open", () => {
      welcomeTimer = setTimeout(() => {
        this.#opts.diagnostic("warn", `no welcome from ${this.#url} within ${this.#opts.welcomeTimeoutMs ?? 10_000} ms: reconnecting`);
        ws.terminate();
      }, this.#opts.welcomeTimeoutMs ?? 10_000);
      ws.send(encodeMessage(this.#opts.hello()));
    });
    ws.on("message", (data, isBinary) => {
      if (this.#ws !== ws) return;
      const m = isBinary ? parseServerMessage(toBytes(data)) : "a text frame (frames must be binary msgpack)";
      if (typeof m === "string") {
        this.#opts.diagnostic("warn", `ignored a frame from the server: ${m}`);
        return;
      }
      try {
        if (m.type === "welcome") {
          clearTimeout(welcomeTimer);
          this.#welcomed = true;
          this.#backoff = MIN_BACKOFF_MS;
          this.#saidUnreachable = false;
          this.#opts.onWelcome(m);
        } else if (m.type === "refused") {
          clearTimeout(welcomeTimer);
          this.#opts.onRefused(m.reason, m.status);
        } else this.#opts.onMessage(m);
      } catch (err) {
        // A message that trips the agent must not take the process down.
        this.#opts.diagnostic("error", `failed to handle a ${m.type} message: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    });
    ws.on("error", (err) => {
      // Said once per outage, so that an agent started before its server (or cut off from it) is not silent.
      const first = !this.#welcomed && !this.#saidUnreachable;
      if (first) this.#saidUnreachable = true;
      const untrusted = untrustedCode(err);
      if (answered === "") return;
      this.#opts.diagnostic(
        this.#welcomed || first ? "warn" : "debug",
        answered !== undefined
          ? answered
          : untrusted
            ? `the certificate of the server at ${this.#url} is not trusted (${untrusted}: ${err.message}): give the certificate of the CA that signed it ` +
              `(the server's own for a self-signed one) with --ca FILE or TRIBUTARY_CA (the agent's option ca); retrying`
            : this.#welcomed
              ? `connection to ${this.#url}: ${err.message}`
              : `cannot reach the server at ${this.#url} (${err.message}); retrying`,
      );
    });
    ws.on("close", (code, reason) => {
      clearTimeout(welcomeTimer);
      if (this.#ws !== ws) return;
      const wasWelcomed = this.#welcomed;
      this.#welcomed = false;
      this.#ws = undefined;
      if (wasWelcomed) this.#opts.onClose(code, reason.toString());
      if (this.#closed) return;
      const delay = this.#backoff;
      this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS);
      this.#retry = setTimeout(() => this.connect(), delay);
    });
  }

  /**
   * Sends if connected and welcomed; `false` otherwise (the caller keeps what
   * must not be lost). `encoded`: the message's bytes, when the caller has
   * encoded it already (to check its size).
   */
  send(m: AgentMessage, encoded?: Uint8Array): boolean {
    const ws = this.#ws;
    if (!this.#welcomed || ws === undefined || ws.readyState !== WebSocket.OPEN) return false;
    try {
      const bytes = encoded ?? encodeMessage(m);
      // The server would close the connection on it: the last guard (callers check their frames first).
      if (bytes.length > MAX_FRAME_BYTES) {
        this.#opts.diagnostic("error", `did not send a ${m.type} message of ${bytes.length} bytes: over the frame limit of ${MAX_FRAME_BYTES}`);
        return true;
      }
      ws.send(bytes);
      return true;
    } catch (err) {
      this.#opts.diagnostic("error", `could not send a ${m.type} message: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  /** Closes for good: no reconnection. */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const ws = this.#ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, "agent stopping");
    });
  }
}

/** The `error` of a JSON answer (`{ "error": … }`), else its text: at most 16 KiB read, 2 s waited. */
const errorOfResponse = (res: IncomingMessage): Promise<string> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8").slice(0, 16 * 1024).trim();
      try {
        const parsed = JSON.parse(text) as { error?: unknown };
        resolve(typeof parsed.error === "string" ? parsed.error : text);
      } catch {
        resolve(text);
      }
    };
    const timer = setTimeout(done, 2000);
    res.on("data", (chunk: Buffer) => {
      if (size < 16 * 1024) chunks.push(chunk);
      size += chunk.length;
    });
    res.once("end", done);
    res.once("error", done);
  });

const toBytes = (data: WebSocket.RawData): Uint8Array =>
  Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;

let serverMessageCheck: ((m: Frame) => string | undefined) | undefined;

/**
 * Loads the schemas of the server's messages (src/protocol). Loaded on the
 * first connection, not with this module: worker threads import the SDK,
 * which imports this file, and need no schema library.
 */
export const loadServerMessageCheck = async (): Promise<void> => {
  serverMessageCheck ??= (await import("../protocol/agent.js")).checkServerMessage;
};

/**
 * A checked server message, or what is wrong with the frame: each type's
 * schema in src/protocol (compiled when its first frame arrives). Needs
 * {@link loadServerMessageCheck} first (a connection does it).
 */
export const parseServerMessage = (bytes: Uint8Array): ServerMessage | string => {
  if (!serverMessageCheck) throw new Error("parseServerMessage: call loadServerMessageCheck() first");
  const m = decodeMessage(bytes);
  if (m === undefined) return "not a msgpack object with a string type";
  const problem = serverMessageCheck(m);
  return problem === undefined ? (m as unknown as ServerMessage) : `malformed message: ${problem.slice(0, 500)}`;
};
