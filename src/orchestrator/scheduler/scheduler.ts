/**
 * The scheduler of one environment: the agents connected to it (sessions),
 * the effects of acknowledged commits, and the scheduling pass around
 * `nextActions` (ticks). It talks to the environment's orchestrator through
 * the narrow {@link Orchestration} interface only.
 */
import type { AgentId, Principal } from "../../events/index.js";
import type { BlobStore } from "../../events/storage/blob-store.js";
import type { AgentMessage } from "../../protocol/messages.js";
import type { Orchestration } from "../orchestration.js";
import type { TaskLogs } from "../task-logs.js";
import { CommitEffects } from "./effects.js";
import { AgentSessions, type AgentConnection, type ConnectedInfo, type Hello } from "./sessions.js";
import { TickLoop } from "./ticks.js";
import { waitingReasons, type Waiting } from "../core/index.js";
import { INPUT_KEY } from "../core/deciders/waits.js";
import { parseRunId, parseStepId } from "../../events/index.js";

export interface SchedulerOptions {
  /** Heartbeat interval asked of agents, ms. An agent silent for 3 intervals is lost. */
  readonly heartbeatMs: number;
  readonly clock?: () => number;
  readonly logs: TaskLogs;
  readonly onNotice?: (message: string) => void;
  /** Where assets' blobs are; `persist` checks that they are there. */
  readonly blobs?: BlobStore;
  /** Largest asset, in bytes (all its files). */
  readonly maxAssetBytes: number;
  /** How long agents have after a server start to connect again before their executions are abandoned. */
  readonly restartGraceMs?: number;
}

export class EnvScheduler {
  private readonly sessions: AgentSessions;
  private readonly effects: CommitEffects;
  private readonly ticks: TickLoop;

  constructor(
    private readonly orch: Orchestration,
    options: SchedulerOptions,
  ) {
    const clock = options.clock ?? Date.now;
    const notice = options.onNotice ? { onNotice: options.onNotice } : {};
    this.ticks = new TickLoop(orch, {
      heartbeatMs: options.heartbeatMs,
      ...(options.restartGraceMs === undefined ? {} : { restartGraceMs: options.restartGraceMs }),
      clock,
      ...notice,
      agents: () => this.sessions.slots(),
      lostAt: (agentId) => this.sessions.lostAt(agentId),
    });
    this.effects = new CommitEffects(orch, {
      send: (agentId, m) => this.sessions.send(agentId, m),
      kick: () => this.ticks.kick(),
      ...notice,
    });
    orch.onCommitted((c, m) => this.effects.onCommitted(c, m));
    this.sessions = new AgentSessions(orch, {
      heartbeatMs: options.heartbeatMs,
      clock,
      logs: options.logs,
      ...(options.blobs ? { blobs: options.blobs } : {}),
      maxAssetBytes: options.maxAssetBytes,
      onChange: () => this.ticks.kick(),
    });
  }

  /**
   * Registers an agent that said `hello`; returns its id. `credential`: the
   * principal its connection's token was checked as (none without `--auth`);
   * what the agent causes is attributed to it and that token.
   */
  /** The token agent `agentId` last connected with, if it connected with one. */
  agentToken(agentId: string): string | undefined {
    return this.orch.model.agent(agentId as AgentId)?.tokenId;
  }

  connect(conn: AgentConnection, hello: Hello, credential?: Principal): Promise<AgentId> {
    return this.sessions.connect(conn, hello, credential);
  }

  /** The agent's connection closed (or was lost). Its executions are abandoned by the next ticks. */
  disconnect(agentId: AgentId, conn: AgentConnection, reason: string): Promise<void> {
    return this.sessions.disconnect(agentId, conn, reason);
  }

  /** Handles one message from a connected agent. Never throws: problems are answered as `error`. */
  onMessage(agentId: AgentId, m: AgentMessage): Promise<void> {
    return this.sessions.onMessage(agentId, m);
  }

  /** Asks for a scheduling pass soon (coalesced). */
  kick(): void {
    this.ticks.kick();
  }

  /** At start: deferrals whose step finished while the server was down. */
  resolveAllDeferrals(): void {
    this.effects.resolveAllDeferrals();
  }

  /** At start: runs that ended while what they left in flight was not yet all cancelled. */
  sweepEndedRuns(): void {
    this.effects.sweepEndedRuns();
  }

  /** Does a connected agent host `repository:target`? */
  hosts(target: string): boolean {
    return this.sessions.hosts(target);
  }

  /** Connected agents, for the API. */
  connected(): ConnectedInfo[] {
    return this.sessions.connected();
  }

  /** Queued executions and why each waits, for the API. */
  queue(now = Date.now()): Waiting[] {
    return waitingReasons(this.orch.activeExecutions(), this.sessions.slots(), now, (step) => {
      if (step.startsWith(INPUT_KEY)) return this.orch.model.input(step.slice(INPUT_KEY.length))?.status === "answered"; // a prompt's answer
      const [runId, stepId] = step.split("/");
      const r = parseRunId(runId);
      const s = parseStepId(stepId);
      return r._tag === "Right" && s._tag === "Right" && this.orch.hasOutcome(r.right, s.right);
    }, { paused: this.orch.model.environment()?.paused !== undefined });
  }

  close(): void {
    this.ticks.close();
    this.effects.close();
    this.sessions.close();
  }
}
