/**
 * The agents connected to one environment: who they are, what they host and
 * report running, when they were last heard from, and when those that left
 * went away. Registers an agent on `hello`, drops it when its connection
 * closes or it misses three heartbeats, and hands every other frame to
 * `handleFrame`. What an agent causes is attributed to it (`agentPrincipal`);
 * a loss found by the watchdog is the server's doing, attributed to nobody.
 */
import { parseAgentId, parseField, type AgentId, type Principal } from "../../events/index.js";
import type { AgentMessage, ServerMessage } from "../../protocol/messages.js";
import { rejectionMessage, type AgentSlot } from "../core/index.js";
import type { Orchestration } from "../orchestration.js";
import { handleFrame, type FrameDeps } from "./frames.js";

/** One side of an agent's connection, as the scheduler uses it. */
export interface AgentConnection {
  send(message: ServerMessage): void;
  close(reason: string): void;
}

export type Hello = Extract<AgentMessage, { type: "hello" }>;

interface ConnectedAgent extends Omit<AgentSlot, "targets"> {
  /** What it hosts (`repository:target`); replaced when it reloads its modules. */
  targets: ReadonlySet<string>;
  readonly conn: AgentConnection;
  /** The `by` of what it causes. */
  readonly by: Principal;
  draining: boolean;
  lastSeen: number;
  reported: Set<string>;
  reportedAt: number;
}

export interface SessionsOptions extends Omit<FrameDeps, "orch"> {
  /** Heartbeat interval asked of agents, ms. An agent silent for 3 intervals is lost. */
  readonly heartbeatMs: number;
  readonly clock: () => number;
  /** Something changed that the next scheduling pass should see (an agent came, left, or reported). */
  readonly onChange: () => void;
}

/** What the API shows of a connected agent. */
export interface ConnectedInfo {
  readonly agentId: string;
  readonly tags: AgentSlot["tags"];
  readonly concurrency: number;
  readonly targets: string[];
  readonly running: number;
  /** Stopping: it finishes what it runs and is given nothing new. */
  readonly draining: boolean;
}

/**
 * Who an agent is, as the author of events: its id, and the token it
 * connected with (`credential`: the principal its WebSocket credential
 * was checked as; none without `--auth`).
 */
export const agentPrincipal = (agentId: AgentId, credential: Principal | undefined): Principal => {
  const tokenId = credential?.kind === "admin" ? undefined : credential?.tokenId;
  return { kind: "agent", agentId, ...(tokenId === undefined ? {} : { tokenId }) };
};

export class AgentSessions {
  private readonly agents = new Map<AgentId, ConnectedAgent>();
  /** When each agent that is not connected now left (agents seen since this process started). */
  private readonly lost = new Map<AgentId, number>();
  private readonly watchdog: NodeJS.Timeout;
  private readonly frames: FrameDeps;

  constructor(
    private readonly orch: Orchestration,
    private readonly o: SessionsOptions,
  ) {
    this.frames = { orch, logs: o.logs, maxAssetBytes: o.maxAssetBytes, ...(o.blobs ? { blobs: o.blobs } : {}) };
    this.watchdog = setInterval(() => this.checkHeartbeats(), o.heartbeatMs);
    this.watchdog.unref();
  }

  /**
   * Registers an agent that said `hello` (its id, or one made for it);
   * returns its id. `credential`: the principal its connection's token was
   * checked as (none without `--auth`).
   */
  async connect(conn: AgentConnection, hello: Hello, credential?: Principal): Promise<AgentId> {
    const given = parseField(parseAgentId, "agentId", hello.agentId ?? `agent-${this.orch.newId().slice(-10).toLowerCase()}`);
    if (given._tag === "Left") throw new Error(given.left);
    const agentId = given.right;
    const old = this.agents.get(agentId);
    if (old) {
      this.agents.delete(agentId);
      old.conn.close("replaced by a new connection of the same agent");
    }
    // Until it is registered again it is away, with the usual grace from now (not from its assignments).
    if (!this.agents.has(agentId)) this.lost.set(agentId, this.o.clock());
    const by = agentPrincipal(agentId, credential);
    const r = await this.orch.execute(
      { type: "ConnectAgent", agentId, tags: hello.tags, concurrency: hello.concurrency, manifests: hello.manifests },
      { by },
    );
    if (!r.ok) throw new Error(rejectionMessage(r.rejection));
    const now = this.o.clock();
    this.agents.set(agentId, {
      agentId,
      conn,
      by,
      tags: hello.tags,
      concurrency: hello.concurrency,
      targets: new Set(hello.manifests.flatMap((m) => m.targets.map((t) => `${m.repository}:${t.name}`))),
      reported: new Set(hello.running),
      reportedAt: now,
      lastSeen: now,
      draining: false,
    });
    this.lost.delete(agentId);
    conn.send({ type: "welcome", agentId, heartbeatMs: this.o.heartbeatMs });
    this.o.onChange();
    return agentId;
  }

  /** The agent's connection closed (its doing). Its executions are abandoned by the next ticks. */
  async disconnect(agentId: AgentId, conn: AgentConnection, reason: string): Promise<void> {
    const a = this.agents.get(agentId);
    if (!a || a.conn !== conn) return;
    await this.drop(a, reason, a.by);
  }

  /** Forgets a connected agent and records that it left, on behalf of `by`. */
  private async drop(a: ConnectedAgent, reason: string, by: Principal | undefined): Promise<void> {
    this.agents.delete(a.agentId);
    this.lost.set(a.agentId, this.o.clock());
    await this.orch.execute({ type: "DisconnectAgent", agentId: a.agentId, reason }, { by }).catch(() => undefined);
    this.o.onChange();
  }

  /** Handles one message from a connected agent. Never throws: problems are answered as `error`. */
  async onMessage(agentId: AgentId, m: AgentMessage): Promise<void> {
    const a = this.agents.get(agentId);
    if (!a) return;
    a.lastSeen = this.o.clock();
    const reply = (msg: ServerMessage) => a.conn.send(msg);
    if (m.type === "heartbeat") {
      a.reported = new Set(m.running);
      a.reportedAt = a.lastSeen;
      this.o.onChange();
      return;
    }
    if (m.type === "hello") return reply({ type: "error", message: "already connected: hello is sent once per connection" });
    if (m.type === "manifests") return this.reloaded(a, m.manifests);
    // An agent that declines work because it is stopping gets no more (else the retry, free and
    // immediate, would come straight back to it): it finishes what it has, and the rest goes elsewhere.
    if (m.type === "failed" && m.error.type === "AgentStopping" && !a.draining) {
      a.draining = true;
      this.o.onChange();
    }
    await handleFrame(this.frames, m, {
      agentId,
      by: a.by,
      reply,
      // The agent reported the execution's end: it no longer runs it, whatever became of the report.
      ended: (executionId) => {
        a.reported.delete(executionId);
        this.o.onChange();
      },
    });
  }

  /** The agent reloaded its modules: its new manifests are registered, and it is offered what they host (and only that). */
  private async reloaded(a: ConnectedAgent, manifests: Hello["manifests"]): Promise<void> {
    const r = await this.orch.execute({ type: "RegisterManifests", agentId: a.agentId, manifests }, { by: a.by });
    if (!r.ok) return a.conn.send({ type: "error", message: rejectionMessage(r.rejection) });
    a.targets = new Set(manifests.flatMap((x) => x.targets.map((t) => `${x.repository}:${t.name}`)));
    this.o.onChange();
  }

  /** Sends to a connected agent; nothing if it is not connected (the next ticks deal with its executions). */
  send(agentId: AgentId, message: ServerMessage): void {
    this.agents.get(agentId)?.conn.send(message);
  }

  /** The connected agents, as the scheduling pass sees them. */
  slots(): readonly AgentSlot[] {
    return [...this.agents.values()];
  }

  /** When an agent not connected now left, if it was seen since this process started. */
  lostAt(agentId: AgentId): number | undefined {
    return this.lost.get(agentId);
  }

  /** Does a connected agent host `repository:target`? */
  hosts(target: string): boolean {
    for (const a of this.agents.values()) if (a.targets.has(target)) return true;
    return false;
  }

  /** Connected agents, for the API. */
  connected(): ConnectedInfo[] {
    return [...this.agents.values()].map((a) => ({
      agentId: a.agentId,
      tags: a.tags,
      concurrency: a.concurrency,
      targets: [...a.targets].sort(),
      running: [...this.orch.activeExecutions()].filter((x) => x.agentId === a.agentId).length,
      draining: a.draining,
    }));
  }

  /** Agents silent for three heartbeats are lost. */
  private checkHeartbeats(): void {
    const now = this.o.clock();
    for (const a of this.agents.values()) {
      if (now - a.lastSeen > this.o.heartbeatMs * 3) {
        a.conn.close("missed heartbeats");
        // Found by the server: nobody's doing.
        void this.drop(a, "missed heartbeats", undefined);
      }
    }
    this.o.onChange();
  }

  close(): void {
    clearInterval(this.watchdog);
    for (const a of this.agents.values()) a.conn.close("server shutting down");
    this.agents.clear();
  }
}
