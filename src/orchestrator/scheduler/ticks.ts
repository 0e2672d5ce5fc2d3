/**
 * The scheduling pass: `nextActions` over the executions in flight and the
 * connected agents, its actions carried out as commands (assign, time out,
 * abandon), and a timer for the next time something falls due. Passes are
 * coalesced: a kick during a pass runs one more after it.
 */
import { parseRunId, parseStepId, type AgentId } from "../../events/index.js";
import { nextActions, type Command, type AgentSlot } from "../core/index.js";
import { INPUT_KEY } from "../core/deciders/waits.js";
import type { Orchestration } from "../orchestration.js";

/** Longest wait of an agent between two attempts to connect (its backoff's cap, see src/agent/connection.ts). */
const AGENT_MAX_BACKOFF_MS = 2000;

export interface TickOptions {
  /** Heartbeat interval asked of agents, ms: an assigned execution missing from its agent's heartbeats for two is abandoned. */
  readonly heartbeatMs: number;
  /** How long agents have after a server start to connect again before their executions are abandoned. */
  readonly restartGraceMs?: number;
  readonly clock: () => number;
  readonly onNotice?: (message: string) => void;
  /** The connected agents. */
  agents(): readonly AgentSlot[];
  /** When an agent not connected now left, if it was seen since this process started. */
  lostAt(agentId: AgentId): number | undefined;
}

export class TickLoop {
  /** When this loop started: executions assigned before were assigned by an earlier server process. */
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private wakeAt: number | undefined;
  private ticking = false;
  private again = false;
  private closed = false;

  constructor(
    private readonly orch: Orchestration,
    private readonly o: TickOptions,
  ) {
    this.startedAt = o.clock();
  }

  private get graceMs(): number {
    return this.o.heartbeatMs * 2;
  }

  /**
   * After a restart, agents need time to notice and connect again: their
   * backoff's cap, plus the usual grace.
   */
  private get restartGraceMs(): number {
    return this.o.restartGraceMs ?? AGENT_MAX_BACKOFF_MS + this.graceMs;
  }

  /** Asks for a scheduling pass soon (coalesced). */
  kick(): void {
    if (this.closed) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    if (this.timer && this.wakeAt === 0) return;
    clearTimeout(this.timer);
    this.wakeAt = 0;
    this.timer = setTimeout(() => void this.tick(), 0);
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.wakeAt = undefined;
    if (this.closed) return;
    this.ticking = true;
    try {
      const now = this.o.clock();
      const liveness = {
        graceMs: this.graceMs,
        startedAt: this.startedAt,
        restartGraceMs: this.restartGraceMs,
        lostAt: (agentId: AgentId) => this.o.lostAt(agentId),
      };
      const plan = nextActions(this.orch.activeExecutions(), this.o.agents(), now, liveness, (step) => {
        // `runId/stepId` of a handle in the arguments: a handle whose ids could be no step's never resolves.
        if (step.startsWith(INPUT_KEY)) return this.orch.model.input(step.slice(INPUT_KEY.length))?.status === "answered"; // a prompt's answer
        const [runId, stepId] = step.split("/");
        const r = parseRunId(runId);
        const s = parseStepId(stepId);
        return r._tag === "Right" && s._tag === "Right" && this.orch.hasOutcome(r.right, s.right);
      }, { paused: this.orch.model.environment()?.paused !== undefined });
      const done = plan.actions.map((a) => {
        const cmd: Command =
          a.type === "assign"
            ? { type: "AssignExecution", executionId: a.executionId, agentId: a.agentId }
            : a.type === "timeout"
              ? { type: "TimeOutExecution", executionId: a.executionId }
              : { type: "AbandonExecution", executionId: a.executionId, agentId: a.agentId, reason: a.reason, cause: a.cause };
        return this.orch.execute(cmd).catch((e: unknown) => this.o.onNotice?.(`scheduler: ${(e as Error).message}`));
      });
      await Promise.all(done);
      if (plan.wakeAt !== undefined && !this.closed) {
        this.wakeAt = plan.wakeAt;
        this.timer = setTimeout(() => void this.tick(), Math.max(1, plan.wakeAt - this.o.clock()));
      }
    } finally {
      this.ticking = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
