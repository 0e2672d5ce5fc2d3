/**
 * A test double of the orchestrator: a real WebSocket server speaking
 * protocol.ts, driven by the test. It welcomes agents, records every message
 * they send, acknowledges results, and (when `orchestrate` is on) runs the
 * steps that task code submits on the same agent, retries them at once on a
 * retryable failure (up to their `retries.limit`), and answers `result`
 * requests: a one-agent orchestrator without a log or backoff.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import type { Value } from "../../src/events/index.js";
import { AGENT_PATH, decodeMessage, encodeMessage, type AgentMessage, type Outcome, type ServerMessage } from "../../src/agent/protocol.js";

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

  private constructor(
    readonly wss: WebSocketServer,
    readonly options: ScriptedServerOptions,
  ) {
    this.ackResults = options.ack ?? true;
    wss.on("connection", (ws) => this.#accept(ws));
  }

  static async start(options: ScriptedServerOptions = {}, port = 0): Promise<ScriptedServer> {
    const wss = new WebSocketServer({ port, host: "127.0.0.1", path: AGENT_PATH });
    await once(wss, "listening");
    return new ScriptedServer(wss, options);
  }

  get port(): number {
    return (this.wss.address() as AddressInfo).port;
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
      case "hello":
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
