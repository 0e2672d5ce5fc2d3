/**
 * The effects of an acknowledged commit: work sent to agents and work
 * stopped, steps deferred to a step that now has an outcome resolved, the
 * runs spawned by a run that failed or was cancelled cancelled, and what an
 * ended run left in flight swept.
 */
import { parseRunId, parseStepId, type AgentId, type Commit, type Principal, type RunId, type StepId, type Value } from "../../events/index.js";
import type { ServerMessage } from "../../protocol/messages.js";
import type { Model } from "../core/index.js";
import { cancelChildRuns } from "../cascades.js";
import type { Orchestration } from "../orchestration.js";

export interface EffectsDeps {
  /** Sends to a connected agent (nothing if it is not connected). */
  send(agentId: AgentId, message: ServerMessage): void;
  /** Asks for a scheduling pass soon. */
  kick(): void;
  readonly onNotice?: (message: string) => void;
}

export class CommitEffects {
  private readonly sweeping = new Set<string>();
  private closed = false;

  constructor(
    private readonly orch: Orchestration,
    private readonly d: EffectsDeps,
  ) {}

  /** Effects of an acknowledged commit, `model` as of then. */
  onCommitted(commit: Commit, model: Model): void {
    for (const e of commit.events) {
      switch (e.type) {
        case "ExecutionAssigned": {
          const step = model.step(e.runId, e.data.stepId);
          const x = model.execution(e.data.executionId);
          if (!step || !x) break;
          // Not connected any more: the next ticks abandon the execution.
          this.d.send(e.data.agentId, {
            type: "execute",
            executionId: x.executionId,
            runId: x.runId,
            stepId: x.stepId,
            attempt: x.attempt,
            target: step.target,
            arguments: step.arguments as readonly Value[],
            ...(step.argumentsBlob === undefined ? {} : { argumentsBlob: step.argumentsBlob }),
            ...(step.options.timeoutMs ? { timeoutMs: step.options.timeoutMs } : {}),
          });
          break;
        }
        case "ExecutionCancelled":
        case "ExecutionTimedOut": {
          this.resolveDeferrals(e.runId, e.data.stepId);
          if (e.type === "ExecutionTimedOut") this.cancelChildRunsIfFailed(model, e.runId, e.data.stepId, e.by);
          const agentId = model.execution(e.data.executionId)?.agentId;
          if (agentId !== undefined) {
            this.d.send(agentId, { type: "abort", executionId: e.data.executionId, reason: e.type === "ExecutionCancelled" ? "cancelled" : "timed_out" });
          }
          break;
        }
        case "ExecutionSucceeded":
        case "StepResultReused":
          this.resolveDeferrals(e.runId, e.data.stepId);
          break;
        case "ExecutionFailed":
          this.resolveDeferrals(e.runId, e.data.stepId);
          this.cancelChildRunsIfFailed(model, e.runId, e.data.stepId, e.by);
          break;
        case "ExecutionAbandoned":
          this.resolveDeferrals(e.runId, e.data.stepId);
          this.d.send(e.data.agentId, { type: "abort", executionId: e.data.executionId, reason: "abandoned" });
          this.cancelChildRunsIfFailed(model, e.runId, e.data.stepId, e.by);
          break;
        case "RunCancelled":
          // On behalf of whoever cancelled the parent (none when the server did).
          cancelChildRuns(this.orch, e.runId, e.data.reason, e.by);
          this.sweep(e.runId);
          break;
        case "StepDeferred":
          // It may have deferred to a step that has just finished.
          this.resolveDeferrals(e.data.to.runId, e.data.to.stepId);
          break;
        case "ExecutionCreated":
        case "EnvironmentResumed":
          this.d.kick();
          break;
        default:
          break;
      }
    }
  }

  /** Steps deferred to a step that has an outcome take its result (or execute, if it failed). */
  resolveDeferrals(runId: RunId, stepId: StepId): void {
    if (!this.orch.hasOutcome(runId, stepId)) return;
    for (const d of this.orch.model.deferrals(runId, stepId)) {
      void this.orch.execute({ type: "ResolveDeferred", runId: d.runId, stepId: d.stepId }).catch((e: unknown) =>
        this.d.onNotice?.(`resolving deferred step ${d.runId}/${d.stepId}: ${(e as Error).message}`),
      );
    }
  }

  /** At start: deferrals whose step finished while the server was down. */
  resolveAllDeferrals(): void {
    for (const [key] of this.orch.source.range("deferrals")) {
      // Keyed `runId/stepId` (stepKey) by the projection: ids it recorded.
      const [runId, stepId] = key.split("/");
      const r = parseRunId(runId);
      const s = parseStepId(stepId);
      if (r._tag === "Right" && s._tag === "Right") this.resolveDeferrals(r.right, s.right);
    }
  }

  /**
   * When the root step's end failed its run, what the run still has in
   * flight is cancelled: the rest of its executions, and the runs it spawned
   * (on behalf of `by`, who caused the end: the agent that reported the failure).
   */
  private cancelChildRunsIfFailed(model: Model, runId: RunId, stepId: StepId, by: Principal | undefined): void {
    const r = model.run(runId);
    if (r?.status !== "failed" || r.rootStepId !== stepId) return;
    cancelChildRuns(this.orch, runId, `run ${runId} failed`, by);
    this.sweep(runId);
  }

  /**
   * Cancels, a commit's worth at a time, what a run that has ended left in
   * flight past what its last commit could hold (see `SweepRun`).
   */
  sweep(runId: RunId): void {
    if (this.sweeping.has(runId) || this.closed) return;
    this.sweeping.add(runId);
    void (async () => {
      try {
        for (;;) {
          const r = await this.orch.execute({ type: "SweepRun", runId });
          if (!r.ok || r.events.length === 0 || this.closed) return;
        }
      } catch (e) {
        this.d.onNotice?.(`sweeping run ${runId}: ${(e as Error).message}`);
      } finally {
        this.sweeping.delete(runId);
      }
    })();
  }

  /** At start: runs that ended while what they left in flight was not yet all cancelled. */
  sweepEndedRuns(): void {
    const runs = new Set([...this.orch.activeExecutions()].map((x) => x.runId));
    for (const runId of runs) {
      const status = this.orch.model.run(runId)?.status;
      if (status === "failed" || status === "cancelled") this.sweep(runId);
    }
  }

  close(): void {
    this.closed = true;
  }
}
