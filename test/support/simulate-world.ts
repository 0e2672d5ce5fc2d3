/**
 * The simulator's state and the bookkeeping every decision shares: creating
 * and ending executions, scheduling steps (with cache reuse and deferral),
 * resolving steps, retries. Used by `simulate-decisions.ts` and
 * `simulate.ts`; not a public API.
 */
import {
  IdGenerator,
  type AgentId,
  type AssetId,
  type EnvName,
  type ExecutionId,
  type ProjectName,
  type RunId,
  type StepId,
} from "../../src/events/ids.js";
import {
  CURRENT_VERSION,
  type Event,
  type EventOf,
  type EventType,
  type ExecutionReason,
  type ResultSource,
  type ResultValue,
  type Value,
} from "../../src/events/types.js";
import { Random } from "./prng.js";
import { ML_REPO, REPOSITORIES, buildCatalog, canonical, sha256, type Call, type Catalog, type TargetDef } from "./simulate-catalog.js";

/** What to simulate. Only `seed` and `runs` are required. */
export interface SimulateOptions {
  readonly seed: number;
  /** Runs to submit; the generator ends when all of them are finished. */
  readonly runs: number;
  /** Agents (every third one has a GPU). Default 3. */
  readonly agents?: number;
  /** Runs in flight at once. Default 4. */
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
  connected: boolean;
  /** Free task slots of the current connection. */
  slots: number;
  reconnectAt?: number;
}

export interface Run {
  readonly id: RunId;
  status: "active" | "done" | "cancelled";
  /** The root step first. */
  readonly steps: Step[];
  readonly live: Set<Exec>;
  cancelAt?: number;
  rerunAt?: number;
}

export interface Step {
  readonly id: StepId;
  readonly run: Run;
  readonly def: TargetDef;
  readonly args: readonly Value[];
  readonly cacheKey?: string;
  status: "pending" | "succeeded" | "failed" | "cancelled";
  readonly execs: Exec[];
  /** Failures and time-outs so far, for the retry policy. */
  failures: number;
  /** Steps deferred to this one: they resolve when it does. */
  readonly waiters: Step[];
  /** A manual re-run is under way: its outcome does not propagate. */
  rerun: boolean;
  // Workflows only: the calls to make, the next batch, the batch awaited now.
  plan?: readonly (readonly Call[])[];
  batch: number;
  children: Step[];
  /** Failed calls the workflow caught and went on from. */
  caught: number;
}

export interface Exec {
  readonly id: ExecutionId;
  readonly step: Step;
  status: "created" | "assigned" | "started" | "lost" | "done";
  agent?: Agent;
  /** When its next action is due. */
  due: number;
  finishAt: number;
  outcome: "success" | "retryable" | "terminal" | "timeout";
  todo: ("restore" | "persist")[];
}

const DEFAULT_START = Date.UTC(2025, 2, 1, 6, 0, 0);

/** Everything the simulated orchestrator knows, plus the fake clock and id source. */
export class World {
  readonly rng: Random;
  /** The fake clock, integer ms since the epoch. */
  now: number;
  /** Sequence of the last commit yielded. */
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
  submitted = 0;
  nextSubmitAt: number;
  nextDisconnectAt: number;
  /** Runs with something still to do. */
  readonly runs = new Set<Run>();
  readonly live = new Set<Exec>();
  /** cacheKey -> the pending step executing it (what a new step may defer to). */
  readonly inflight = new Map<string, Step>();
  readonly cache = new Map<string, { source: ResultSource; result: ResultValue; at: number }>();
  /** Asset name -> ids persisted, oldest first. */
  readonly assets = new Map<string, AssetId[]>();

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
    this.agents = Array.from({ length: options.agents ?? 3 }, (_, i): Agent => {
      const gpu = i % 3 === 2;
      return {
        id: (gpu ? `gpu-worker-${i + 1}` : `worker-${i + 1}`) as AgentId,
        gpu,
        concurrency: gpu ? 2 : 4,
        tags: gpu ? { pool: ["gpu"], region: ["eu-west-1"], gpu: ["a100"] } : { pool: ["cpu"], region: ["eu-west-1"] },
        repositories: gpu ? [ML_REPO] : [...REPOSITORIES],
        connected: false,
        slots: 0,
      };
    });
    this.catalog = buildCatalog(this.agents.some((a) => a.gpu));
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

  runEvent<T extends EventType>(type: T, runId: RunId, data: EventOf<T>["data"]): Event {
    return { id: this.newId(), type, v: CURRENT_VERSION[type], at: this.now, runId, data } as unknown as Event;
  }

  envEvent<T extends EventType>(type: T, data: EventOf<T>["data"]): Event {
    return { id: this.newId(), type, v: CURRENT_VERSION[type], at: this.now, data } as unknown as Event;
  }
}

/** The `executionId` and `stepId` every execution event carries. */
export const ref = (e: Exec) => ({ executionId: e.id, stepId: e.step.id });

export const createExec = (w: World, step: Step, reason: ExecutionReason, notBefore?: number): Event => {
  const exec: Exec = { id: w.newId(), step, status: "created", due: notBefore ?? w.now, finishAt: 0, outcome: "success", todo: [] };
  const attempt = step.execs.length + 1;
  step.execs.push(exec);
  w.live.add(exec);
  step.run.live.add(exec);
  return w.runEvent("ExecutionCreated", step.run.id, {
    executionId: exec.id,
    stepId: step.id,
    attempt,
    reason,
    ...(notBefore === undefined ? {} : { notBefore }),
  });
};

export const endExec = (w: World, exec: Exec): void => {
  // A lost execution's slot went with its agent's connection.
  if (exec.agent && exec.step.def.kind === "task" && (exec.status === "assigned" || exec.status === "started")) {
    exec.agent.slots++;
  }
  exec.status = "done";
  w.live.delete(exec);
  exec.step.run.live.delete(exec);
};

export const newStep = (w: World, run: Run, call: Call): Step => {
  const { def, args } = call;
  const cache = def.options.cache;
  const step: Step = {
    id: w.newId(),
    run,
    def,
    args,
    ...(cache ? { cacheKey: `sha256:${sha256(`${cache.namespace}|${def.repository}|${def.name}|${canonical(args)}`)}` } : {}),
    status: "pending",
    execs: [],
    failures: 0,
    waiters: [],
    rerun: false,
    batch: 0,
    children: [],
    caught: 0,
  };
  run.steps.push(step);
  return step;
};

/** StepScheduled, then a reuse of a cached result, a deferral, or a first execution. */
export const schedule = (w: World, step: Step, parent?: Exec): Event[] => {
  const { def, run } = step;
  const out: Event[] = [
    w.runEvent("StepScheduled", run.id, {
      stepId: step.id,
      target: { repository: def.repository, target: def.name },
      kind: def.kind,
      arguments: step.args,
      options: def.options,
      ...(step.cacheKey === undefined ? {} : { cacheKey: step.cacheKey }),
      ...(def.options.memo ? { memoKey: sha256(`${run.id}|${def.name}|${canonical(step.args)}`).slice(0, 32) } : {}),
      ...(parent ? { parentExecutionId: parent.id } : {}),
    }),
  ];
  const key = step.cacheKey;
  const hit = key === undefined ? undefined : w.cache.get(key);
  const maxAge = def.options.cache?.maxAgeMs;
  const pending = key === undefined ? undefined : w.inflight.get(key);
  if (key !== undefined && hit && (maxAge === undefined || w.now - hit.at <= maxAge)) {
    out.push(w.runEvent("StepResultReused", run.id, { stepId: step.id, cacheKey: key, source: hit.source, result: hit.result }));
    step.status = "succeeded";
  } else if (def.options.defer && pending) {
    const target = pending.execs.findLast((e) => e.status !== "done")!;
    out.push(w.runEvent("StepDeferred", run.id, { stepId: step.id, to: { runId: pending.run.id, ...ref(target) } }));
    pending.waiters.push(step);
  } else {
    const delay = def.options.delayMs;
    out.push(createExec(w, step, "first", delay === undefined ? undefined : w.now + delay));
    if (key !== undefined) w.inflight.set(key, step);
  }
  return out;
};

/** A step reached its outcome: wake the steps deferred to it; a root ends its run. */
export const resolve = (w: World, step: Step, status: "succeeded" | "failed"): void => {
  step.status = status;
  if (step.cacheKey !== undefined && w.inflight.get(step.cacheKey) === step) w.inflight.delete(step.cacheKey);
  for (const waiter of step.waiters.splice(0)) if (waiter.status === "pending") resolve(w, waiter, status);
  const run = step.run;
  if (run.steps[0] === step && run.status === "active") {
    run.status = "done";
    delete run.cancelAt;
    if (w.rng.chance(w.rerunChance)) run.rerunAt = w.now + w.rng.int(50, 500);
  }
};

/** After a failure or time-out: the retry's ExecutionCreated, or the step fails. */
export const retryOrFail = (w: World, exec: Exec, errorType: string | undefined, retryable: boolean): Event[] => {
  const step = exec.step;
  step.failures++;
  const p = step.def.options.retries;
  const allowed =
    !step.rerun &&
    retryable &&
    p !== undefined &&
    step.failures <= p.limit &&
    (errorType === undefined || p.retryOn === undefined || p.retryOn.includes(errorType));
  if (allowed) {
    const delay = Math.min(p.delayMs * p.factor ** (step.failures - 1), p.maxDelayMs);
    return [createExec(w, step, "retry", w.now + Math.round(delay))];
  }
  if (step.rerun) {
    step.rerun = false;
    step.status = "failed";
  } else resolve(w, step, "failed");
  return [];
};

export const succeed = (w: World, exec: Exec, result: ResultValue): Event[] => {
  const step = exec.step;
  const e = w.runEvent("ExecutionSucceeded", step.run.id, { ...ref(exec), result });
  endExec(w, exec);
  if (step.cacheKey !== undefined) {
    // This commit will be stored at the next sequence: that is where the result lives.
    const source = { env: w.env, runId: step.run.id, stepId: step.id, executionId: exec.id, seq: w.seq + 1 };
    w.cache.set(step.cacheKey, { source, result, at: w.now });
  }
  if (step.rerun) {
    step.rerun = false;
    step.status = "succeeded";
  } else resolve(w, step, "succeeded");
  return [e];
};
