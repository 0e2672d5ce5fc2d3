/**
 * The scheduler's pure core: given the executions in flight, the connected
 * agents and the time, what to do now — assign queued executions to agents
 * that host their target and satisfy `requires`, time out executions past
 * their deadline, abandon executions their agent no longer runs — and when
 * to look again.
 */
import type { AbandonCause, AgentId, ConcurrencyLimit, Event, ExecutionId, RunId, StepId, TargetRef } from "../../events/index.js";
import type { ExecutionDoc, StepDoc } from "../../projections/index.js";
import { HANDLE_TAG } from "../../protocol/constants.js";
import { isHandleValue } from "../../protocol/values.js";
import type { Model } from "./model.js";

/** An execution that has not finished, as the scheduler tracks it. */
export interface ActiveExecution {
  readonly executionId: ExecutionId;
  readonly runId: RunId;
  readonly stepId: StepId;
  readonly status: "queued" | "assigned" | "running";
  readonly target: TargetRef;
  readonly requires?: { readonly [tag: string]: readonly string[] };
  readonly timeoutMs?: number;
  readonly notBefore?: number;
  readonly agentId?: AgentId;
  readonly assignedAt?: number;
  readonly startedAt?: number;
  /** Steps (`runId/stepId`) whose outcome the execution waits for before it may be assigned (option `wait`). */
  readonly waitFor?: readonly string[];
  /** The concurrency limits it counts against (its step's `options.concurrency`). */
  readonly concurrency?: readonly ConcurrencyLimit[];
  /** Wait keys a resume is held for: assigned once any has resolved (`ExecutionCreated.resumeWhen`). */
  readonly resumeWhen?: readonly string[];
}

/** What holds every queued execution, whatever the agents: the environment paused. */
export interface Gate {
  /** The environment is paused: nothing new is assigned (what runs goes on). */
  readonly paused?: boolean;
}

/**
 * Assigned and running executions per concurrency key: the permits taken.
 * Derived from the active set, itself derived from the log, so a restart
 * leaks none.
 */
export const permitsTaken = (active: Iterable<ActiveExecution>): Map<string, number> => {
  const taken = new Map<string, number>();
  for (const x of active) {
    if (x.status === "queued" || !x.concurrency) continue;
    for (const c of x.concurrency) taken.set(c.key, (taken.get(c.key) ?? 0) + 1);
  }
  return taken;
};

/** The first of an execution's limits that is full, if one is. */
export const fullLimit = (x: ActiveExecution, taken: ReadonlyMap<string, number>): (ConcurrencyLimit & { readonly taken: number }) | undefined => {
  for (const c of x.concurrency ?? []) {
    const n = taken.get(c.key) ?? 0;
    if (n >= c.limit) return { ...c, taken: n };
  }
  return undefined;
};

/** A connected agent, as the scheduler sees it. */
export interface AgentSlot {
  readonly agentId: AgentId;
  /** `repository:target` of every target it hosts. */
  readonly targets: ReadonlySet<string>;
  readonly tags: { readonly [tag: string]: readonly string[] };
  readonly concurrency: number;
  /** Executions it reported running in its last heartbeat, and when. */
  readonly reported: ReadonlySet<string>;
  readonly reportedAt: number;
  /** It is stopping (it declined work saying so): it keeps what it runs and gets nothing new. */
  readonly draining?: boolean;
}

export type Action =
  | { readonly type: "assign"; readonly runId: RunId; readonly executionId: ExecutionId; readonly agentId: AgentId }
  | { readonly type: "timeout"; readonly runId: RunId; readonly executionId: ExecutionId }
  | {
      readonly type: "abandon";
      readonly runId: RunId;
      readonly executionId: ExecutionId;
      readonly agentId: AgentId;
      readonly reason: string;
      readonly cause: AbandonCause;
    };

/** When an execution in flight counts as lost with its agent. */
export interface Liveness {
  /**
   * How long an assigned execution may be missing from its agent's
   * heartbeats, or its agent away, before it is abandoned.
   */
  readonly graceMs: number;
  /** When this server process started: what was assigned before, an earlier process assigned. */
  readonly startedAt?: number;
  /** How long an agent has, after the server started, to connect again. */
  readonly restartGraceMs?: number;
  /** When an agent not connected now left this server process; `undefined` if it has not been connected since the start. */
  readonly lostAt?: (agentId: AgentId) => number | undefined;
}

export interface Plan {
  readonly actions: readonly Action[];
  /** When something becomes due (a `notBefore`, a deadline), if anything will. */
  readonly wakeAt?: number;
}

/** Does an agent with `tags` satisfy `requires` (every key, with one of its values)? */
export const satisfies = (
  tags: { readonly [tag: string]: readonly string[] },
  requires: { readonly [tag: string]: readonly string[] } | undefined,
): boolean =>
  !requires || Object.entries(requires).every(([k, vs]) => (tags[k] ?? []).some((v) => vs.includes(v)));

export const nextActions = (
  active: Iterable<ActiveExecution>,
  agents: readonly AgentSlot[],
  now: number,
  /** How long an assigned execution may be missing from its agent's heartbeats before it is abandoned, and more (see {@link Liveness}). */
  liveness: number | Liveness,
  /** Has the step `runId/stepId` an outcome? (For executions with `waitFor`.) */
  resolved: (step: string) => boolean = () => true,
  /** What holds all queued work (the environment paused). */
  gate: Gate = {},
): Plan => {
  const { graceMs, startedAt, restartGraceMs = graceMs, lostAt } = typeof liveness === "number" ? { graceMs: liveness } : liveness;
  const actions: Action[] = [];
  let wakeAt: number | undefined;
  const soon = (t: number) => (wakeAt = wakeAt === undefined ? t : Math.min(wakeAt, t));
  const byId = new Map(agents.map((a) => [a.agentId, a]));
  const load = new Map<string, number>(agents.map((a) => [a.agentId, 0]));
  const queued: ActiveExecution[] = [];
  const all = [...active];
  const taken = permitsTaken(all);

  for (const x of all) {
    if (x.status === "queued") {
      queued.push(x);
      continue;
    }
    load.set(x.agentId!, (load.get(x.agentId!) ?? 0) + 1);
    const since = x.startedAt ?? x.assignedAt ?? now;
    if (x.timeoutMs !== undefined && x.timeoutMs > 0) {
      const deadline = since + x.timeoutMs;
      if (deadline <= now) {
        actions.push({ type: "timeout", runId: x.runId, executionId: x.executionId });
        continue;
      }
      soon(deadline);
    }
    const agent = byId.get(x.agentId!);
    const assignedAt = x.assignedAt ?? now;
    // Assigned by an earlier server process: a loss now is the restart's doing.
    const before = startedAt !== undefined && assignedAt < startedAt;
    const abandon = (reason: string, cause: AbandonCause) =>
      actions.push({ type: "abandon", runId: x.runId, executionId: x.executionId, agentId: x.agentId!, reason, cause });
    if (agent) {
      // An agent that reports, well after the assignment, that it does not run
      // the execution has lost it (a lost message, a restart of either side).
      if (!agent.reported.has(x.executionId) && agent.reportedAt - assignedAt > graceMs) {
        abandon("not running on its agent", before ? "server-restart" : "not-running");
      }
      continue;
    }
    // Its agent is away: it has the grace from when it left (or, if it has not
    // been seen since the server started, the longer grace after a restart).
    const left = lostAt?.(x.agentId!);
    const awaySince = left !== undefined ? Math.max(assignedAt, left) : before ? startedAt! : assignedAt;
    const grace = left === undefined && before ? restartGraceMs : graceMs;
    if (now - awaySince > grace) abandon("its agent is not connected", "agent-lost");
    else soon(awaySince + grace + 1);
  }

  for (const x of queued) {
    if (gate.paused) break; // nothing new while paused (time-outs and abandons above still apply)
    if (x.notBefore !== undefined && x.notBefore > now) {
      soon(x.notBefore);
      continue;
    }
    if (x.waitFor?.some((s) => !resolved(s))) continue; // held until its handle arguments resolve
    if (fullLimit(x, taken)) continue; // held until an execution counting against the same limit ends
    if (x.resumeWhen && !x.resumeWhen.some(resolved)) continue; // a resume held until one of its wait keys resolves
    const key = `${x.target.repository}:${x.target.target}`;
    let best: AgentSlot | undefined;
    let bestFree = 0;
    for (const a of agents) {
      if (a.draining) continue;
      const free = a.concurrency - (load.get(a.agentId) ?? 0);
      if (free > bestFree && a.targets.has(key) && satisfies(a.tags, x.requires)) {
        best = a;
        bestFree = free;
      }
    }
    if (!best) continue; // queued until an agent that can run it has room
    load.set(best.agentId, (load.get(best.agentId) ?? 0) + 1);
    for (const c of x.concurrency ?? []) taken.set(c.key, (taken.get(c.key) ?? 0) + 1);
    actions.push({ type: "assign", runId: x.runId, executionId: x.executionId, agentId: best.agentId });
  }
  return wakeAt === undefined ? { actions } : { actions, wakeAt };
};

/**
 * Keeps the map of active executions in step with an applied event. `m`
 * must already include the event's commit (for the step's target and options).
 */
export const trackActive = (active: Map<string, ActiveExecution>, e: Event, m: Model): void => {
  switch (e.type) {
    case "ExecutionCreated": {
      const step = m.step(e.runId, e.data.stepId);
      if (!step) return;
      active.set(e.data.executionId, {
        executionId: e.data.executionId,
        runId: e.runId,
        stepId: e.data.stepId,
        status: "queued",
        target: step.target,
        ...(step.options.requires ? { requires: step.options.requires } : {}),
        ...(step.options.timeoutMs ? { timeoutMs: step.options.timeoutMs } : {}),
        ...(e.data.notBefore === undefined ? {} : { notBefore: e.data.notBefore }),
        ...(step.options.wait ? { waitFor: handlesIn(step.arguments) } : {}),
        ...(step.options.concurrency?.length ? { concurrency: step.options.concurrency } : {}),
        ...(e.data.resumeWhen === undefined ? {} : { resumeWhen: e.data.resumeWhen }),
      });
      return;
    }
    case "ExecutionAssigned": {
      const x = active.get(e.data.executionId);
      if (x) active.set(x.executionId, { ...x, status: "assigned", agentId: e.data.agentId, assignedAt: e.at });
      return;
    }
    case "ExecutionStarted": {
      const x = active.get(e.data.executionId);
      if (x) active.set(x.executionId, { ...x, status: "running", startedAt: e.at });
      return;
    }
    case "ExecutionSucceeded":
    case "ExecutionFailed":
    case "ExecutionCancelled":
    case "ExecutionTimedOut":
    case "ExecutionAbandoned":
    case "ExecutionSuspended":
    case "ExecutionRecurred":
      active.delete(e.data.executionId);
      return;
    default:
      return;
  }
};

/** An execution not yet finished, as its documents have it (loaded at start, and after a reload). */
export const activeOf = (x: ExecutionDoc, step: StepDoc): ActiveExecution => ({
  executionId: x.executionId,
  runId: x.runId,
  stepId: x.stepId,
  status: x.status as ActiveExecution["status"],
  target: step.target,
  ...(step.options.requires ? { requires: step.options.requires } : {}),
  ...(step.options.timeoutMs ? { timeoutMs: step.options.timeoutMs } : {}),
  ...(x.notBefore === undefined ? {} : { notBefore: x.notBefore }),
  ...(x.agentId === undefined ? {} : { agentId: x.agentId }),
  ...(x.assignedAt === undefined ? {} : { assignedAt: x.assignedAt }),
  ...(x.startedAt === undefined ? {} : { startedAt: x.startedAt }),
  ...(step.options.wait ? { waitFor: handlesIn(step.arguments) } : {}),
  ...(step.options.concurrency?.length ? { concurrency: step.options.concurrency } : {}),
  ...(x.resumeWhen === undefined ? {} : { resumeWhen: x.resumeWhen }),
});

/** `runId/stepId` of every handle inside `value`, at any depth. */
export const handlesIn = (value: unknown): string[] => {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (isHandleValue(v)) {
      const ref = v[HANDLE_TAG];
      out.push(`${ref.runId}/${ref.stepId}`);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "object" && v !== null && !(v instanceof Date) && !(v instanceof Uint8Array)) Object.values(v).forEach(walk);
  };
  walk(value);
  return out;
};
