import { describe, expect, it } from "vitest";
import { decodeCommit, encodeCommit } from "../../src/events/codec.js";
import { prepareCommit } from "../../src/events/storage/prepare.js";
import { logRef } from "../../src/events/subjects.js";
import type { Event, EventType } from "../../src/events/types.js";
import { countEvents, simulate, simulationStats, type SimulateOptions } from "../support/simulate.js";

const history = (options: SimulateOptions): Event[][] => [...simulate(options)];

const bytesOf = (commits: readonly Event[][]): Buffer => Buffer.concat(commits.map((c) => encodeCommit(c)));

/**
 * Replays a history the way a strict orchestrator would see it and returns
 * every rule it breaks, as "seq N: what". Written from the event catalogue,
 * not from the simulator's internals, so the two check each other.
 */
const violations = (commits: readonly Event[][]): string[] => {
  const out: string[] = [];
  type ExecState = "created" | "assigned" | "started" | "ended";
  const agents = new Map<string, { connected: boolean; epoch: number }>();
  const runs = new Map<string, { rootStepId: string; cancelled: boolean; failed: boolean }>();
  // Steps by `runId/stepId`: a step id names a step within its run.
  const steps = new Map<string, { runId: string; cacheKey?: string; execs: string[]; successes: number; reruns: number }>();
  const key = (runId: string, stepId: string) => `${runId}/${stepId}`;
  const execs = new Map<
    string,
    {
      runId: string;
      stepId: string;
      state: ExecState;
      end?: EventType;
      retryable?: boolean;
      notBefore?: number;
      agent?: string;
      epoch?: number;
    }
  >();
  const succeededAt = new Map<string, number>(); // executionId -> seq
  const assets = new Set<string>();
  const deferred = new Set<string>(); // `runId/stepId` of steps deferred to another
  let lastId = "";
  let lastAt = 0;

  commits.forEach((events, i) => {
    const seq = i + 1;
    const bad = (what: string) => out.push(`seq ${seq}: ${what}`);
    const runIds = new Set(events.map((e) => e.runId));
    if (runIds.size !== 1) bad("commit mixes runs");
    const cancelCommit = events.some((e) => e.type === "RunCancelled");
    const run = events[0]?.runId === undefined ? undefined : runs.get(events[0].runId);
    // The root's execution ends without a retry: the run fails, and what it left in flight is cancelled in the same commit.
    const rootFails =
      run !== undefined &&
      events.some((e) => (e.type === "ExecutionFailed" || e.type === "ExecutionTimedOut" || e.type === "ExecutionAbandoned") && e.data.stepId === run.rootStepId) &&
      !events.some((e) => e.type === "ExecutionCreated" && e.data.stepId === run.rootStepId);
    // A sweep: cancellations only, of what a run that has ended left.
    const sweep = run !== undefined && (run.cancelled || run.failed) && events.every((e) => e.type === "ExecutionCancelled");
    if ((seq === 1) !== (events[0]?.type === "EnvironmentCreated")) bad("EnvironmentCreated must be exactly the first commit");

    events.forEach((e, k) => {
      if (e.id <= lastId) bad(`event id ${e.id} does not increase`);
      if (e.at < lastAt) bad(`time goes back at ${e.type}`);
      lastId = e.id;
      lastAt = e.at;
      if (e.runId !== undefined) {
        const run = runs.get(e.runId);
        if (e.type !== "RunSubmitted" && !run) bad(`${e.type} for unknown run ${e.runId}`);
        if (run?.cancelled && !cancelCommit) bad(`${e.type} after its run was cancelled`);
      }
      const exec = "executionId" in e.data && e.type !== "ExecutionCreated" ? execs.get(e.data.executionId) : undefined;
      const needExec = (states: readonly ExecState[]) => {
        const d = e.data as { executionId: string; stepId: string };
        if (!exec) return bad(`${e.type} before ExecutionCreated of ${d.executionId}`);
        if (exec.runId !== e.runId || exec.stepId !== d.stepId) bad(`${e.type} names the wrong run or step`);
        if (!states.includes(exec.state)) bad(`${e.type} while the execution is ${exec.state}`);
      };
      const agentMoved = () => {
        const a = agents.get(exec?.agent ?? "");
        return !a || !a.connected || a.epoch !== exec?.epoch;
      };
      const end = (retryable?: boolean) => {
        if (!exec) return;
        exec.state = "ended";
        exec.end = e.type;
        if (retryable !== undefined) exec.retryable = retryable;
      };

      switch (e.type) {
        case "EnvironmentCreated":
          if (seq !== 1) bad("second EnvironmentCreated");
          break;
        case "AgentConnected": {
          const a = agents.get(e.data.agentId);
          if (a?.connected) bad(`agent ${e.data.agentId} connected twice`);
          agents.set(e.data.agentId, { connected: true, epoch: (a?.epoch ?? 0) + 1 });
          break;
        }
        case "ManifestRegistered":
          if (!agents.get(e.data.agentId)?.connected) bad("manifest of an agent that is not connected");
          break;
        case "AgentDisconnected": {
          const a = agents.get(e.data.agentId);
          if (!a?.connected) bad("disconnect of an agent that is not connected");
          else a.connected = false;
          break;
        }
        case "RunSubmitted": {
          if (k !== 0 || runs.has(e.runId)) bad("RunSubmitted must open a new run's first commit");
          runs.set(e.runId, { rootStepId: e.data.rootStepId, cancelled: false, failed: false });
          const [, root, first] = events;
          if (root?.type !== "StepScheduled" || root.data.stepId !== e.data.rootStepId || root.data.parentExecutionId !== undefined) {
            bad("RunSubmitted is not followed by its root StepScheduled");
          }
          if (first?.type !== "ExecutionCreated" || first.data.stepId !== e.data.rootStepId || first.data.attempt !== 1) {
            bad("the root step has no first ExecutionCreated in the submit commit");
          }
          if (e.data.parent && !execs.has(e.data.parent.executionId)) bad("parent execution is unknown");
          break;
        }
        case "RunCancelled":
          runs.get(e.runId)!.cancelled = true;
          break;
        case "StepScheduled": {
          if (steps.has(key(e.runId, e.data.stepId))) bad(`step ${e.data.stepId} scheduled twice`);
          steps.set(key(e.runId, e.data.stepId), {
            runId: e.runId,
            ...(e.data.cacheKey === undefined ? {} : { cacheKey: e.data.cacheKey }),
            execs: [],
            successes: 0,
            reruns: 0,
          });
          const isRoot = runs.get(e.runId)?.rootStepId === e.data.stepId;
          const parent = execs.get(e.data.parentExecutionId ?? "");
          if (!isRoot && (parent?.state !== "started" || parent.runId !== e.runId)) bad("child step without a started parent execution");
          break;
        }
        case "ExecutionCreated": {
          const step = steps.get(key(e.runId, e.data.stepId));
          if (!step || step.runId !== e.runId) {
            bad("ExecutionCreated for an unknown step");
            break;
          }
          if (execs.has(e.data.executionId)) bad("execution created twice");
          if (e.data.attempt !== step.execs.length + 1) bad(`attempt ${e.data.attempt} after ${step.execs.length} executions`);
          const prev = execs.get(step.execs.at(-1) ?? "");
          if (prev && prev.state !== "ended") bad("a second live execution of one step");
          if ((e.data.reason === "first") !== (prev === undefined)) bad(`reason ${e.data.reason} for attempt ${e.data.attempt}`);
          if (e.data.reason === "retry") {
            const retriable =
              prev?.end === "ExecutionTimedOut" ||
              prev?.end === "ExecutionAbandoned" ||
              (prev?.end === "ExecutionFailed" && prev.retryable);
            if (!retriable) bad(`retry after ${prev?.end}`);
            // A retry waits for its policy's backoff; one after an abandonment goes at once when the step has no policy.
            const waits = prev?.end !== "ExecutionAbandoned" || e.data.notBefore !== undefined;
            if (waits && (e.data.notBefore === undefined || e.data.notBefore < e.at)) bad("retry without a future notBefore");
          }
          if (e.data.reason === "rerun") step.reruns++;
          step.execs.push(e.data.executionId);
          execs.set(e.data.executionId, {
            runId: e.runId,
            stepId: e.data.stepId,
            state: "created",
            ...(e.data.notBefore === undefined ? {} : { notBefore: e.data.notBefore }),
          });
          break;
        }
        case "ExecutionAssigned": {
          needExec(["created"]);
          const a = agents.get(e.data.agentId);
          if (!a?.connected) bad("assigned to an agent that is not connected");
          if (exec) {
            if (e.at < (exec.notBefore ?? 0)) bad("assigned before notBefore");
            exec.state = "assigned";
            exec.agent = e.data.agentId;
            exec.epoch = a?.epoch ?? -1;
          }
          break;
        }
        case "ExecutionStarted":
          needExec(["assigned"]);
          if (agentMoved()) bad("started on an agent that went away");
          if (exec) exec.state = "started";
          break;
        case "ExecutionSucceeded":
        case "ExecutionFailed":
        case "ExecutionTimedOut": {
          // A time-out is the server's own: it may come while the agent is away (before the abandonment).
          needExec(e.type === "ExecutionTimedOut" ? ["assigned", "started"] : ["started"]);
          if (e.type !== "ExecutionTimedOut" && agentMoved()) bad(`${e.type} from an agent that went away`);
          end(e.type === "ExecutionFailed" ? e.data.error.retryable : undefined);
          const step = steps.get(key(e.runId, e.data.stepId));
          if (e.type === "ExecutionSucceeded" && step) {
            step.successes++;
            if (step.successes > 1 + step.reruns) bad(`step ${e.data.stepId} succeeded twice without a rerun`);
            succeededAt.set(e.data.executionId, seq);
          }
          break;
        }
        case "ExecutionAbandoned":
          needExec(["assigned", "started"]);
          if (exec?.agent !== e.data.agentId) bad("abandoned by an agent it was not assigned to");
          if (!agentMoved()) bad("abandoned while its agent is still connected");
          end();
          break;
        case "ExecutionCancelled":
          needExec(["created", "assigned", "started"]);
          if (!cancelCommit && !rootFails && !sweep) bad("execution cancelled without its run");
          end();
          break;
        case "StepResultReused": {
          const step = steps.get(key(e.runId, e.data.stepId));
          const src = steps.get(key(e.data.source.runId, e.data.source.stepId));
          const scheduledHere = events.some((x) => x.type === "StepScheduled" && x.data.stepId === e.data.stepId);
          // A deferred step takes the result of the step it waited for once that one has it: in a later commit.
          if (!scheduledHere && !deferred.has(key(e.runId, e.data.stepId))) bad("reuse outside the scheduling commit, of a step not deferred");
          if (step?.cacheKey !== e.data.cacheKey || src?.cacheKey !== e.data.cacheKey) bad("reuse across different cache keys");
          if (succeededAt.get(e.data.source.executionId) !== e.data.source.seq) bad("reused result is not where the source says");
          break;
        }
        case "StepDeferred": {
          deferred.add(key(e.runId, e.data.stepId));
          const to = execs.get(e.data.to.executionId);
          if (!to || to.state === "ended") bad("deferred to an execution that is not live");
          if (steps.get(key(e.data.to.runId, e.data.to.stepId))?.cacheKey !== steps.get(key(e.runId, e.data.stepId))?.cacheKey) bad("deferred to a different step");
          break;
        }
        case "AssetPersisted":
          needExec(["started"]);
          if (assets.has(e.data.assetId)) bad("asset persisted twice");
          assets.add(e.data.assetId);
          break;
        case "AssetRestored":
          needExec(["started"]);
          if (e.data.fromEnv === undefined && !assets.has(e.data.assetId)) bad("restored an asset never persisted");
          break;
        case "EnvironmentBranched":
        case "EnvironmentRebased":
        case "EnvironmentArchived":
          break;
      }
    });
    if (cancelCommit || rootFails) {
      for (const x of execs.values()) {
        if (x.runId === events[0]!.runId && x.state !== "ended") bad("a live execution survived its run's cancellation or failure");
      }
    }
    if (run && rootFails && !run.cancelled) run.failed = true;
  });
  for (const [id, x] of execs) if (x.state !== "ended") out.push(`end: execution ${id} never ended (${x.state})`);
  return out;
};

describe("the simulator", () => {
  it("gives byte-identical histories for the same seed", () => {
    const a = bytesOf(history({ seed: 42, runs: 30 }));
    const b = bytesOf(history({ seed: 42, runs: 30 }));
    expect(a.length).toBeGreaterThan(10_000);
    expect(a.equals(b)).toBe(true);
  });

  it("gives different histories for different seeds", () => {
    expect(bytesOf(history({ seed: 1, runs: 10 })).equals(bytesOf(history({ seed: 2, runs: 10 })))).toBe(false);
  });

  it("makes commits that pass prepareCommit and decode back equal", () => {
    const ref = logRef("acme", "staging");
    for (const events of simulate({ seed: 7, runs: 40 })) {
      const prepared = prepareCommit(ref, events);
      expect(prepared.runId).toBe(events[0]!.runId);
      expect(decodeCommit(prepared.bytes)).toStrictEqual(events);
    }
  });

  it.each([
    { seed: 1, runs: 60 },
    { seed: 2, runs: 60, parallelRuns: 8 },
    { seed: 3, runs: 60, agents: 6, cancelChance: 0.2, rerunChance: 0.3, disconnectEveryMs: 800 },
    { seed: 4, runs: 30, agents: 1, disconnectEveryMs: 0 },
    { seed: 5, runs: 30, agents: 2, parallelRuns: 1 },
  ])("keeps the orchestrator's invariants (%o)", (options) => {
    const commits = history(options);
    expect(violations(commits)).toEqual([]);
    // The runs users submitted; workflows called from workflows are child runs beside them.
    expect(commits.filter((c) => c[0]!.type === "RunSubmitted" && c[0]!.data.parent === undefined)).toHaveLength(options.runs);
  });

  it("keeps the invariants over many seeds and shapes", () => {
    for (let seed = 100; seed < 140; seed++) {
      const options = {
        seed,
        runs: 20,
        agents: 1 + (seed % 5),
        parallelRuns: 1 + (seed % 7),
        cancelChance: 0.15,
        rerunChance: 0.2,
        disconnectEveryMs: 500 + (seed % 3) * 1_000,
      };
      expect(violations(history(options)), JSON.stringify(options)).toEqual([]);
    }
  });

  it("is checked by an invariant check that catches broken histories", () => {
    const base = history({ seed: 1, runs: 15 });
    const broken = (edit: (commits: Event[][]) => void): string[] => {
      const commits = structuredClone(base);
      edit(commits);
      return violations(commits);
    };
    const find = (commits: Event[][], pred: (c: Event[]) => boolean) => commits.findIndex(pred);
    const has = (text: string) => expect.arrayContaining([expect.stringContaining(text)]);

    expect(
      broken((cs) => {
        const i = find(cs, (c) => c.some((e) => e.type === "ExecutionCreated" && e.data.reason === "retry"));
        for (const e of cs[i]!) if (e.type === "ExecutionCreated") (e.data as { attempt: number }).attempt += 1;
      }),
    ).toEqual(has("attempt"));
    expect(
      broken((cs) => {
        const i = find(cs, (c) => c.length === 1 && c[0]!.type === "ExecutionSucceeded");
        cs.splice(i + 1, 0, cs[i]!);
      }),
    ).toEqual(has("while the execution is ended"));
    expect(
      broken((cs) => {
        const i = find(cs, (c) => c[0]!.type === "ExecutionAssigned");
        (cs[i]![0]!.data as { agentId: string }).agentId = "ghost";
      }),
    ).toEqual(has("not connected"));
    expect(
      broken((cs) => {
        const i = find(cs, (c) => c[0]!.type === "ExecutionStarted");
        cs.splice(i, 1);
      }),
    ).toEqual(has("while the execution is assigned"));
    expect(
      broken((cs) => {
        const i = find(cs, (c) => c[0]!.type === "RunSubmitted" && cs.indexOf(c) > 20);
        cs.splice(i, 1);
      }),
    ).toEqual(has("unknown run"));
  });

  it("produces every kind of run and agent event, interleaving runs", () => {
    const commits = history({ seed: 11, runs: 150, cancelChance: 0.1, rerunChance: 0.2 });
    const types = new Set(commits.flat().map((e) => e.type));
    const reasons = new Set(commits.flat().flatMap((e) => (e.type === "ExecutionCreated" ? [e.data.reason] : [])));
    const expected: EventType[] = [
      "EnvironmentCreated",
      "AgentConnected",
      "ManifestRegistered",
      "AgentDisconnected",
      "RunSubmitted",
      "RunCancelled",
      "StepScheduled",
      "ExecutionCreated",
      "ExecutionAssigned",
      "ExecutionStarted",
      "ExecutionSucceeded",
      "ExecutionFailed",
      "ExecutionCancelled",
      "ExecutionTimedOut",
      "ExecutionAbandoned",
      "StepResultReused",
      "StepDeferred",
      "CallResumed",
      "AssetPersisted",
      "AssetRestored",
    ];
    expect([...types].sort()).toEqual(expected.sort());
    expect([...reasons].sort()).toEqual(["first", "rerun", "retry"]);
    // Some run's commits are separated by another run's: the scheduler interleaves.
    const order = commits.map((c) => c[0]!.runId).filter((r) => r !== undefined);
    const interleaved = order.some((r, i) => i > 1 && order[i - 2] === r && order[i - 1] !== r);
    expect(interleaved).toBe(true);
    const values = commits
      .flat()
      .flatMap((e) => (e.type === "ExecutionSucceeded" && e.data.result.kind === "inline" ? [e.data.result.value] : []));
    const has = (pred: (v: unknown) => boolean) => values.some((v) => Object.values(v as object).some(pred));
    expect(has((v) => v instanceof Date)).toBe(true);
    expect(has((v) => v instanceof Uint8Array)).toBe(true);
    expect(has((v) => typeof v === "bigint")).toBe(true);
    expect(commits.flat().some((e) => e.type === "ExecutionSucceeded" && e.data.result.kind === "blob")).toBe(true);
  });

  it("makes events of a realistic size (150-400 bytes on average)", () => {
    const stats = simulationStats({ seed: 9, runs: 100 });
    expect(stats.meanEventBytes).toBeGreaterThan(150);
    expect(stats.meanEventBytes).toBeLessThan(400);
    expect(stats.eventsPerCommit).toBeGreaterThan(1.2);
    expect(stats.events).toBe(countEvents({ seed: 9, runs: 100 }));
    expect(Object.values(stats.byType).reduce((a, b) => a + b, 0)).toBe(stats.events);
  });
});
