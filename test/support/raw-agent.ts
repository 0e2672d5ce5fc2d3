/**
 * A bare WebSocket client of the agent endpoint, for tests that speak the
 * protocol by hand (malformed frames included): sends frames, collects what
 * the server answers.
 */
import WebSocket from "ws";
import { AGENT_PATH, decodeMessage, encodeMessage, type AgentMessage, type ServerMessage } from "../../src/protocol/messages.js";

export class RawAgent {
  readonly received: ServerMessage[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const m = decodeMessage(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer));
      if (m) this.received.push(m as unknown as ServerMessage);
      this.wake();
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on("error", () => undefined);
  }

  static async connect(server: string, headers: Record<string, string> = {}): Promise<RawAgent> {
    const r = await RawAgent.tryConnect(server, headers);
    if (!(r instanceof RawAgent)) throw new Error(`the upgrade was refused: ${r.status} ${r.body}`);
    return r;
  }

  /** Connects, or the HTTP answer of a refused upgrade (its status and body). */
  static tryConnect(server: string, headers: Record<string, string> = {}): Promise<RawAgent | { status: number; body: string }> {
    const ws = new WebSocket(server.replace(/^http/, "ws") + AGENT_PATH, { headers });
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new RawAgent(ws)));
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.once("error", reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a message (encoded) or raw bytes; `text` sends a text frame. */
  send(m: AgentMessage | Record<string, unknown> | Uint8Array, text = false): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const bytes = m instanceof Uint8Array ? m : encodeMessage(m as AgentMessage);
    this.ws.send(text ? Buffer.from(bytes).toString("latin1") : bytes, { binary: !text });
  }

  /** The first received message (from index `from`) that matches, waiting up to `ms`. */
  async next<T extends ServerMessage["type"]>(
    type: T | readonly T[],
    ms = 5000,
    match: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true,
    from = 0,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const types: readonly string[] = Array.isArray(type) ? type : [type];
    const end = Date.now() + ms;
    for (;;) {
      const found = this.received
        .slice(from)
        .find((m) => types.includes(m.type) && match(m as Extract<ServerMessage, { type: T }>));
      if (found) return found as Extract<ServerMessage, { type: T }>;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no ${types.join("|")} frame within ${ms} ms; received ${JSON.stringify(this.received.map((m) => m.type))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(left, 200));
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.waiters.add(done);
      }).finally(() => this.waiters.clear());
    }
  }

  /** Resolves once the server has closed the socket (or it was closed already). */
  async closedWith(ms = 5000): Promise<{ code: number; reason: string }> {
    const end = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > end) throw new Error(`the socket was not closed within ${ms} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.add(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.closed;
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once("close", () => resolve());
      this.ws.terminate();
    });
  }
}
