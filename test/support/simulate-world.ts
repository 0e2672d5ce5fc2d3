/**
 * The simulated world around a real orchestrator core: agents, the code they
 * run, users, a fake clock and a seeded random source. Every event comes
 * from the real `decide` over a model of the real projections folded in
 * memory (`MemoryStore` + `applyCommit`), and the scheduler's assignments,
 * time-outs and abandonments from the real `nextActions`; this file keeps
 * only what lies outside the orchestrator (who is connected, what each
 * execution's code does next, what users ask) and what the server's runner
 * does after a commit (resolve deferrals, sweep and cancel what an ended run
 * left). Used by `simulate-actors.ts` and `simulate.ts`; not a public API.
 */
import { IdGenerator, type AgentId, type AssetId, type EnvName, type EventId, type ProjectName } from "../../src/events/ids.js";
import type { Event, Value } from "../../src/events/types.js";
import {
  decide,
  modelOf,
  rejectionMessage,
  trackActive,
  type ActiveExecution,
  type Command,
  type DecideContext,
} from "../../src/orchestrator/core/index.js";
import { MemoryStore, PROJECTIONS, stepKey, type StepDoc } from "../../src/projections/index.js";
import type { SpecCommand, SpecModel } from "./decider-spec.js";
import { Random } from "./prng.js";
import { ML_REPO, REPOSITORIES, buildCatalog, type Call, type Catalog, type TargetDef } from "./simulate-catalog.js";

/** What to simulate. Only `seed` and `runs` are required. */
export interface SimulateOptions {
  readonly seed: number;
  /** Runs users submit; the generator ends when all of them (and the runs they spawn) are finished. */
  readonly runs: number;
  /** Agents (every third one has a GPU). Default 3. */
  readonly agents?: number;
  /** Runs users have in flight at once. Default 4. */
  readonly parallelRuns?: number;
  /** Start of the fake clock, ms since the epoch. Default 2025-03-01T06:00:00Z. */
  readonly start?: number;
  /** Default "acme". */
  readonly project?: string;
  /** Default "staging". */
  readonly env?: string;
  /** Probability that a run is cancelled while in flight. Default 0.05. */
  readonly cancelChance?: number;
  /** Probability that a finished run gets one step re-run. Default 0.08. */
  readonly rerunChance?: number;
  /** Mean time between agent disconnects, ms of fake time; 0 = never. Default 3000. */
  readonly disconnectEveryMs?: number;
}

export interface Agent {
  readonly id: AgentId;
  readonly gpu: boolean;
  readonly concurrency: number;
  readonly tags: { readonly [tag: string]: readonly string[] };
  readonly repositories: readonly string[];
  /** `repository:target` of everything it hosts. */
  readonly targets: ReadonlySet<string>;
  connected: boolean;
  /** When it left, while it is away. */
  lostAt?: number;
  reconnectAt?: number;
}

/** The code of one execution, running on the agent it was assigned to. */
export interface Proc {
  readonly executionId: string;
  readonly runId: string;
  readonly stepId: string;
  readonly agent: Agent;
  readonly def: TargetDef;
  phase: "assigned" | "started";
  /** When its next action is due. */
  due: number;
  /** Tasks: how the code ends; `hang` never reports (the scheduler times it out). */
  outcome?: "success" | "retryable" | "terminal" | "hang";
  finishAt?: number;
  todo: ("restore" | "persist")[];
  /** Workflows: the calls of the batch still to make, the steps called so far in it, calls made. */
  queue: Call[];
  batch: number;
  children: { runId: string; stepId: string }[];
  calls: number;
  caught: number;
}

/** What a user intends for a run they submitted. */
export interface UserRun {
  readonly runId: string;
  ended: boolean;
  cancelAt?: number;
  rerunAt?: number;
}

/** How long an assigned execution may be unreported, or its agent away, before the scheduler abandons it (fake ms). */
export const GRACE_MS = 40;

const DEFAULT_START = Date.UTC(2025, 2, 1, 6, 0, 0);

/** Step statuses that are an outcome (as `stepOutcome` reads them). */
const OUTCOMES = new Set(["succeeded", "reused", "failed", "cancelled"]);

export const hasOutcome = (s: StepDoc | undefined): boolean => s !== undefined && OUTCOMES.has(s.status);

/** The world, and the one way anything happens in it: {@link World.execute}. */
export class World {
  readonly rng: Random;
  /** The fake clock, integer ms since the epoch. */
  now: number;
  /** Sequence of the last commit. */
  seq = 0;
  private readonly ids: IdGenerator;
  readonly project: ProjectName;
  readonly env: EnvName;
  readonly totalRuns: number;
  readonly parallel: number;
  readonly cancelChance: number;
  readonly rerunChance: number;
  readonly disconnectEvery: number;
  readonly agents: readonly Agent[];
  readonly catalog: Catalog;
  private readonly defs: ReadonlyMap<string, TargetDef>;
  /** The orchestrator's state: the real projections, folded in memory. */
  readonly store = new MemoryStore(PROJECTIONS);
  /** The model, read by plain-string ids (the simulation stands in for the edges, which parse them). */
  readonly model: SpecModel = modelOf(this.store) as SpecModel;
  /** Executions in flight, as the scheduler tracks them. */
  readonly active = new Map<string, ActiveExecution>();
  /** Executions agents hold, by id. */
  readonly procs = new Map<string, Proc>();
  /** A workflow step's calls, drawn once: its retries (and resumptions) make the same ones. */
  readonly plans = new Map<string, readonly (readonly Call[])[]>();
  readonly users = new Map<string, UserRun>();
  /** Commands the server's runner issues after a commit, by a key that keeps one of each. */
  readonly followUps = new Map<string, SpecCommand>();
  /** Asset name -> ids persisted, oldest first. */
  readonly assets = new Map<string, AssetId[]>();
  submitted = 0;
  nextSubmitAt: number;
  nextDisconnectAt: number;

  constructor(options: SimulateOptions) {
    this.rng = new Random(options.seed);
    this.now = options.start ?? DEFAULT_START;
    this.ids = new IdGenerator(
      () => this.now,
      (b) => this.rng.fill(b),
    );
    this.project = (options.project ?? "acme") as ProjectName;
    this.env = (options.env ?? "staging") as EnvName;
    this.totalRuns = options.runs;
    this.parallel = options.parallelRuns ?? 4;
    this.cancelChance = options.cancelChance ?? 0.05;
    this.rerunChance = options.rerunChance ?? 0.08;
    this.disconnectEvery = options.disconnectEveryMs ?? 3_000;
    const gpus = Array.from({ length: options.agents ?? 3 }, (_, i) => i % 3 === 2);
    this.catalog = buildCatalog(gpus.some((g) => g));
    this.defs = new Map(this.catalog.all.map((d) => [`${d.repository}:${d.name}`, d]));
    this.agents = gpus.map((gpu, i): Agent => {
      const repositories = gpu ? [ML_REPO] : [...REPOSITORIES];
      return {
        id: (gpu ? `gpu-worker-${i + 1}` : `worker-${i + 1}`) as AgentId,
        gpu,
        concurrency: gpu ? 2 : 4,
        tags: gpu ? { pool: ["gpu"], region: ["eu-west-1"], gpu: ["a100"] } : { pool: ["cpu"], region: ["eu-west-1"] },
        repositories,
        targets: new Set(this.catalog.all.filter((d) => repositories.includes(d.repository)).map((d) => `${d.repository}:${d.name}`)),
        connected: false,
      };
    });
    this.nextSubmitAt = this.now;
    this.nextDisconnectAt = this.now + this.disconnectDelay();
  }

  /** Time to the next agent disconnect: around `disconnectEveryMs`. */
  disconnectDelay(): number {
    return Math.round(this.disconnectEvery * (0.5 + this.rng.float()));
  }

  newId<T>(): T {
    return this.ids.next() as T;
  }

  defOf(target: { readonly repository: string; readonly target: string }): TargetDef {
    const d = this.defs.get(`${target.repository}:${target.target}`);
    if (!d) throw new Error(`simulator: no target ${target.repository}:${target.target} in the catalogue`);
    return d;
  }

  /**
   * Decides `cmd` with the real decider and, when it decides events, commits
   * them: the store folds the commit, the scheduler's view and the world
   * react, the clock moves on. A refusal is a bug of the simulation (it only
   * asks what the orchestrator accepts), and throws, unless `refusable`.
   */
  execute(cmd: SpecCommand, refusable = false): Event[] {
    const ctx: DecideContext = { now: this.now, id: () => this.newId<EventId>() };
    const decision = decide(cmd as Command, this.model, ctx);
    if (decision._tag === "Left") {
      // The runner's follow-ups race with what happened meanwhile (a child run that has finished): it lets them go.
      if (refusable) return [];
      throw new Error(`simulator: ${cmd.type} was refused: ${rejectionMessage(decision.left)}`);
    }
    const events = decision.right as Event[];
    if (events.length === 0) return events;
    const first = events[0]!;
    this.seq++;
    this.store.apply([{ seq: this.seq, id: first.id, subject: "", ...(first.runId === undefined ? {} : { runId: first.runId }), events }]);
    for (const e of events) trackActive(this.active, e, this.model);
    for (const e of events) this.react(e);
    this.now += this.rng.int(1, 5);
    return events;
  }

  /** What follows an event outside the log: agents get and drop work; the runner's follow-ups. */
  private react(e: Event): void {
    switch (e.type) {
      case "AgentConnected": {
        const a = this.agents.find((x) => x.id === e.data.agentId)!;
        a.connected = true;
        delete a.lostAt;
        delete a.reconnectAt;
        return;
      }
      case "AgentDisconnected": {
        const a = this.agents.find((x) => x.id === e.data.agentId)!;
        a.connected = false;
        a.lostAt = this.now;
        a.reconnectAt = this.now + this.rng.int(300, 2_500);
        // What it ran is lost with it: the scheduler abandons it after the grace.
        for (const p of this.procs.values()) if (p.agent === a) this.procs.delete(p.executionId);
        return;
      }
      case "ExecutionAssigned": {
        const step = this.model.step(e.runId, e.data.stepId)!;
        const agent = this.agents.find((x) => x.id === e.data.agentId)!;
        this.procs.set(e.data.executionId, {
          executionId: e.data.executionId,
          runId: e.runId,
          stepId: e.data.stepId,
          agent,
          def: this.defOf(step.target),
          phase: "assigned",
          due: this.now + this.rng.int(2, 15),
          todo: [],
          queue: [],
          batch: 0,
          children: [],
          calls: 0,
          caught: 0,
        });
        return;
      }
      case "ExecutionStarted": {
        const p = this.procs.get(e.data.executionId);
        if (p) this.started(p);
        return;
      }
      case "ExecutionSucceeded":
      case "ExecutionFailed":
      case "ExecutionCancelled":
      case "ExecutionTimedOut":
      case "ExecutionAbandoned":
        this.procs.delete(e.data.executionId);
        this.resolveDeferrals(e.runId, e.data.stepId);
        if (e.type !== "ExecutionSucceeded") this.afterFailure(e.runId, e.data.stepId);
        this.userRunEnded(e.runId);
        return;
      case "StepResultReused":
        this.resolveDeferrals(e.runId, e.data.stepId);
        this.userRunEnded(e.runId);
        return;
      case "StepDeferred":
        this.resolveDeferrals(e.data.to.runId, e.data.to.stepId);
        return;
      case "RunCancelled":
        this.userRunEnded(e.runId);
        this.cancelChildRuns(e.runId, e.data.reason);
        this.followUps.set(`sweep ${e.runId}`, { type: "SweepRun", runId: e.runId });
        return;
      default:
        return;
    }
  }

  /** The code starts: a task draws how it ends; a workflow, its calls (once per step). */
  private started(p: Proc): void {
    p.phase = "started";
    const { def } = p;
    if (def.kind === "workflow") {
      const key = stepKey(p.runId, p.stepId);
      const step = this.model.step(p.runId, p.stepId)!;
      const plan = this.plans.get(key) ?? def.plan(this.rng, step.arguments as readonly Value[], this.now);
      this.plans.set(key, plan);
      p.queue = [...(plan[0] ?? [])];
      p.batch = 1;
      p.due = this.now + this.rng.int(2, 10);
      return;
    }
    const rerun = this.model.execution(p.executionId)?.reason === "rerun";
    const r = this.rng.float();
    const timeout = def.options.timeoutMs;
    p.outcome = rerun
      ? r < 0.85
        ? "success"
        : "terminal"
      : r < 0.07
        ? "retryable"
        : r < 0.1
          ? "terminal"
          : r < 0.16 && timeout !== undefined
            ? "hang"
            : "success";
    p.finishAt = this.now + this.rng.int(...def.durationMs);
    if (def.restores !== undefined && this.assets.has(def.restores) && this.rng.chance(0.7)) p.todo.push("restore");
    if (def.persists !== undefined && (p.outcome === "success" || this.rng.chance(0.3))) p.todo.push("persist");
    p.due = p.todo.length > 0 ? this.now + this.rng.int(3, 20) : p.finishAt;
  }

  /**
   * Steps deferred to a step that has an outcome take its result, or execute
   * (the runner's `resolveDeferrals`); in a cancelled run `decide` resolves
   * nothing.
   */
  private resolveDeferrals(runId: string, stepId: string): void {
    if (!hasOutcome(this.model.step(runId, stepId))) return;
    for (const d of this.model.deferrals(runId, stepId)) {
      this.followUps.set(`resolve ${d.runId}/${d.stepId}`, { type: "ResolveDeferred", runId: d.runId, stepId: d.stepId });
    }
  }

  /** A root step that failed for good fails its run: what it spawned is cancelled, what it left swept. */
  private afterFailure(runId: string, stepId: string): void {
    const r = this.model.run(runId);
    if (r?.status !== "failed" || r.rootStepId !== stepId) return;
    this.cancelChildRuns(runId, `run ${runId} failed`);
    this.followUps.set(`sweep ${runId}`, { type: "SweepRun", runId });
  }

  private cancelChildRuns(runId: string, reason: string): void {
    for (const x of this.active.values()) {
      if (this.model.run(x.runId)?.parent?.runId === runId) {
        this.followUps.set(`cancel ${x.runId}`, { type: "CancelRun", runId: x.runId, reason: `parent run ${runId} cancelled: ${reason}` });
      }
    }
  }

  /** A user's run that has just ended may get one of its steps re-run later. */
  private userRunEnded(runId: string): void {
    const u = this.users.get(runId);
    const r = this.model.run(runId);
    if (!u || !r || r.status === "running" || u.ended) return;
    u.ended = true;
    delete u.cancelAt;
    if (r.status !== "cancelled" && this.rng.chance(this.rerunChance)) u.rerunAt = this.now + this.rng.int(50, 500);
  }
}
