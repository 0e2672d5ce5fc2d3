/**
 * The runtime's pipelining and its recovery after a failed append, on a real
 * embedded log (LMDB on a temp dir) wrapped in a {@link FaultyLog}, and a
 * real LMDB projection store.
 *
 * The contract, as `EnvRuntime` keeps it:
 * - commands are decided one after the other, each against the overlay of
 *   every commit decided before it, acknowledged or not; their commits are
 *   appended in the order of the decisions, each fenced on the one before;
 * - effects (`addEffects`) run once a commit is acknowledged, in sequence
 *   order, whatever the order of the acknowledgements; `lastSeq` is the last
 *   acknowledged commit;
 * - a failed append fails its command and every command decided after it
 *   (each with its own append's error, or the first failure's when its own
 *   append succeeded); the commands before it are acknowledged as usual;
 *   the runtime then reloads from the log, and commands that arrive
 *   meanwhile wait for the reload and are decided against the reloaded state;
 * - when the write landed but its answer was lost, the reloaded state has
 *   it (and what was appended behind it), waiters are answered from it, its
 *   effects are not carried out, and an idempotent command retried decides
 *   nothing: the log holds it once.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { LogUnavailable, WrongExpectedSequence, logRef, type Commit } from "../../src/events/index.js";
import { EmbeddedEventLog } from "../../src/events/storage/index.js";
import type { Command } from "../../src/orchestrator/core/commands.js";
import type { RunId, StepId } from "../../src/events/index.js";
import type { SpecCommand, SpecModel } from "../support/decider-spec.js";
import { executionIdOf } from "../../src/orchestrator/core/decide.js";
import { EnvRuntime, type Executed } from "../../src/orchestrator/runtime.js";
import { FaultyLog, type AppendFault } from "../support/faulty-log.js";

const ref = logRef("pipeline", "production");

const manifests = [
  {
    repository: "shop",
    targets: [
      { name: "checkout", kind: "workflow" as const, parameters: [], options: {} },
      { name: "charge", kind: "task" as const, parameters: [], options: {} },
    ],
  },
];
/** Ids here are plain strings: the runtime takes them branded, as an edge parses them. */
const command = (c: SpecCommand): Command => c as Command;
const connect = (agentId = "a1"): Command => command({ type: "ConnectAgent", agentId, tags: {}, concurrency: 64, manifests });
const submit = (runId: string, idempotencyKey?: string): Command => command({
  type: "SubmitRun",
  runId,
  target: { repository: "shop", target: "checkout" },
  arguments: [],
  ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
});
const root = (runId: string) => executionIdOf(runId, "1", 1);
const assign = (runId: string, executionId: string = root(runId)): Command => command({ type: "AssignExecution", executionId, agentId: "a1" });
const start = (runId: string, executionId: string = root(runId)): Command => command({ type: "RecordStarted", executionId, agentId: "a1" });
const succeed = (runId: string, value: number, executionId: string = root(runId)): Command => command({
  type: "RecordResult",
  executionId,
  agentId: "a1",
  outcome: { ok: true, value },
});
const call = (runId: string, n: number): Command => command({
  type: "ScheduleStep",
  runId,
  call: { executionId: root(runId), callId: `${root(runId)}/${n}` },
  target: { repository: "shop", target: "charge" },
  kind: "task",
  arguments: [n],
  options: {},
});

interface Seen {
  readonly seq: number;
  readonly ids: readonly string[];
  /** `lastSeq` of the runtime when the effect ran. */
  readonly lastSeq: number;
  /** Had the log acknowledged the commit to the runtime when the effect ran? */
  readonly acked: boolean;
}

/** A runtime on a faulty embedded log, with its effects recorded; closed after the test. */
const setup = async () => {
  const dir = await mkdtemp(join(tmpdir(), "trib-pipeline-"));
  const inner = new EmbeddedEventLog({ dir: join(dir, "log") });
  const log = new FaultyLog(inner);
  const notices: string[] = [];
  const rt = new EnvRuntime({ log, ref, storePath: join(dir, "store"), onNotice: (m) => notices.push(m) });
  await rt.start();
  const seen: Seen[] = [];
  rt.onCommitted((c) => seen.push({ seq: c.seq, ids: c.events.map((e) => e.id), lastSeq: rt.lastSeq, acked: log.acked.includes(c.seq) }));
  onTestFinished(async () => {
    await log.release();
    await rt.close();
    await inner.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Every commit in the log, read back. */
  const stored = () => log.commits(ref);

  /**
   * The log has no gap and no event twice, the effects saw log commits only
   * (the same events at the same sequence), in order; and the runtime's
   * projections equal a rebuild from the log in a fresh store.
   */
  const expectConsistent = async (options: { effectsOfEveryCommit: boolean }) => {
    const commits = await stored();
    expect(commits.map((c) => c.seq)).toEqual(commits.map((_, i) => i + 1));
    const ids = commits.flatMap((c) => c.events.map((e) => e.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(rt.lastSeq).toBe(commits.length);
    const bySeq = new Map(commits.map((c) => [c.seq, c.events.map((e) => e.id)]));
    for (const s of seen) {
      expect(s.ids, `effect of commit ${s.seq}`).toEqual(bySeq.get(s.seq));
      expect(s.acked && s.lastSeq === s.seq, `commit ${s.seq} was acknowledged when its effect ran`).toBe(true);
    }
    const order = seen.map((s) => s.seq);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    if (options.effectsOfEveryCommit) expect(order).toEqual(commits.map((c) => c.seq));
    const fresh = new EnvRuntime({ log: inner, ref, storePath: join(dir, `fresh-${commits.length}`), onNotice: () => {} });
    await fresh.start();
    try {
      expect(rt.dump()).toEqual(fresh.dump());
    } finally {
      await fresh.close();
    }
  };

  /** Starts a command without waiting for it; its settlement is recorded. */
  const launch = (cmd: Command) => {
    const state: { result?: Executed; error?: unknown; settled: boolean; promise: Promise<Executed> } = { settled: false } as never;
    state.promise = rt.execute(cmd);
    state.promise.then(
      (r) => Object.assign(state, { result: r, settled: true }),
      (e: unknown) => Object.assign(state, { error: e, settled: true }),
    );
    return state;
  };

  return { dir, inner, log, rt, notices, seen, stored, expectConsistent, launch };
};

/** Lets every pending callback run (appends to LMDB answer on their own thread). */
const settle = async (until: () => boolean) => {
  while (!until()) await new Promise((r) => setTimeout(r, 2));
};

const eventIds = (r: Executed) => (r.ok ? r.events.map((e) => e.id) : []);

describe("the runtime pipelines its decisions", () => {
  it("commands in flight at once are decided against each other's effects, before any is acknowledged", async () => {
    const { log, rt, seen, launch } = await setup();
    log.holdAcks();
    const cmds = [connect(), submit("R1"), assign("R1"), start("R1"), call("R1", 1), call("R1", 2), assign("R1", executionIdOf("R1", "2", 1)), submit("R2")];
    const inFlight = cmds.map(launch);
    // Every one was decided against the ones before it: none was refused, and the model has them all.
    expect((rt.model as SpecModel).execution(root("R1"))).toMatchObject({ status: "running", agentId: "a1" });
    expect((rt.model as SpecModel).stepsOfRun("R1").map((s) => s.stepId)).toEqual(["1", "2", "3"]);
    expect((rt.model as SpecModel).execution(executionIdOf("R1", "2", 1))).toMatchObject({ status: "assigned" });
    expect((rt.model as SpecModel).run("R2")).toMatchObject({ status: "running" });
    expect([...rt.activeExecutions()]).toHaveLength(4);
    // Nothing is acknowledged yet: no effect ran, no command returned, lastSeq did not move.
    await settle(() => log.appends.every((a) => a.landed !== undefined));
    expect(log.holding).toBe(cmds.length);
    expect(seen).toEqual([]);
    expect(rt.lastSeq).toBe(0);
    expect(inFlight.filter((c) => c.settled)).toEqual([]);
    // The appends reached the log in the order of the decisions, each fenced on the one before.
    expect(log.appends.map((a) => [a.expectedLastSeq, a.landed])).toEqual(cmds.map((_, i) => [i, i + 1]));
  });

  it("the order of the commits is the order of the decisions; effects run in that order even when acknowledgements come in reverse", async () => {
    const { log, rt, seen, launch, stored, expectConsistent } = await setup();
    await rt.execute(connect());
    log.holdAcks();
    const cmds = [submit("R1"), assign("R1"), start("R1"), call("R1", 1), submit("R2"), assign("R2"), call("R1", 2), succeed("R2", 7)];
    const inFlight = cmds.map(launch);
    await log.release("reverse");
    const results = await Promise.all(inFlight.map((c) => c.promise));
    expect(results.map((r) => r.ok && r.seq)).toEqual(cmds.map((_, i) => i + 2));
    expect(log.acked.slice(1)).toEqual(cmds.map((_, i) => i + 2).reverse());
    expect(seen.map((s) => s.seq)).toEqual([1, ...cmds.map((_, i) => i + 2)]);
    const commits = await stored();
    expect(commits.slice(1).map((c) => c.events.map((e) => e.id))).toEqual(results.map(eventIds));
    expect(commits.slice(1).map((c) => c.events[0]!.type)).toEqual([
      "RunSubmitted",
      "ExecutionAssigned",
      "ExecutionStarted",
      "StepScheduled",
      "RunSubmitted",
      "ExecutionAssigned",
      "StepScheduled",
      "ExecutionSucceeded",
    ]);
    await expectConsistent({ effectsOfEveryCommit: true });
  });

  it("a refused command answers at once, even behind commits not yet acknowledged; a command that decides nothing answers once they are", async () => {
    const { log, rt, launch } = await setup();
    await rt.execute(connect());
    log.holdAcks();
    const first = launch(submit("R1", "key-1"));
    const refused = launch(succeed("R1", 1, "no-such-execution"));
    const nothing = launch(submit("R9", "key-1"));
    await settle(() => refused.settled);
    expect(refused.result).toMatchObject({ ok: false, rejection: { _tag: "UnknownExecution", executionId: "no-such-execution" } });
    expect(first.settled || nothing.settled).toBe(false);
    await log.release();
    expect(await first.promise).toMatchObject({ ok: true, seq: 2 });
    expect(await nothing.promise).toEqual({ ok: true, events: [] });
    expect((rt.model as SpecModel).run("R9")).toBeUndefined();
    expect((rt.model as SpecModel).runForKey("key-1")).toBe("R1");
  });

  it("a hundred commands over ten runs in flight at once: each is in the log once, at the sequence it was told, and the projections equal a rebuild", async () => {
    const { log, rt, launch, stored, expectConsistent } = await setup();
    await rt.execute(connect());
    log.holdAcks();
    const cmds: Command[] = [];
    for (let r = 0; r < 10; r++) cmds.push(submit(`R${r}`), assign(`R${r}`), start(`R${r}`));
    for (let n = 1; n <= 6; n++) for (let r = 0; r < 10; r++) cmds.push(call(`R${r}`, n));
    for (let r = 0; r < 10; r++) cmds.push(succeed(`R${r}`, r));
    const inFlight = cmds.map(launch);
    await log.release();
    const results = await Promise.all(inFlight.map((c) => c.promise));
    expect(results.every((r) => r.ok && r.events.length > 0)).toBe(true);
    const bySeq = new Map((await stored()).map((c) => [c.seq, c.events.map((e) => e.id)]));
    for (const r of results) expect(bySeq.get((r as { seq: number }).seq)).toEqual(eventIds(r));
    expect(bySeq.size).toBe(cmds.length + 1);
    for (let r = 0; r < 10; r++) expect((rt.model as SpecModel).run(`R${r}`)).toMatchObject({ status: "succeeded" });
    await expectConsistent({ effectsOfEveryCommit: true });
  });
});

describe("the runtime after a failed append", () => {
  it.each<[string, AppendFault, typeof LogUnavailable | typeof WrongExpectedSequence]>([
    ["LogUnavailable", "unavailable", LogUnavailable],
    ["WrongExpectedSequence", "wrong-sequence", WrongExpectedSequence],
  ])(
    "an append failing with %s before it reaches the log fails its command and every command decided after it (each fenced on a commit the log has not); those before are acknowledged; the runtime reloads and carries on",
    async (_name, fault, Fault) => {
      const { log, rt, notices, seen, launch, stored, expectConsistent } = await setup();
      await rt.execute(connect());
      await rt.execute(submit("R0"));
      log.holdAcks();
      const before = [launch(submit("R1")), launch(submit("R2"))];
      log.failNextAppends(1, fault);
      const failed = launch(submit("R3"));
      const behind = [launch(submit("R4")), launch(assign("R4")), launch(submit("R5"))];
      // Decided against each other, as usual: the failure is not known yet.
      expect((rt.model as SpecModel).execution(root("R4"))?.status).toBe("assigned");
      await log.release();
      for (const c of before) expect(await c.promise).toMatchObject({ ok: true });
      await expect(failed.promise).rejects.toBeInstanceOf(Fault);
      for (const c of behind) await expect(c.promise).rejects.toBeInstanceOf(WrongExpectedSequence);
      expect(notices.filter((n) => /failed .*; reloading state from the log/.test(n))).toHaveLength(1);
      // The reloaded state is the log's: the failed commands left nothing.
      for (const r of ["R3", "R4", "R5"]) expect((rt.model as SpecModel).run(r)).toBeUndefined();
      expect([...rt.activeExecutions()].map((x) => x.runId).sort()).toEqual(["R0", "R1", "R2"]);
      expect(rt.lastSeq).toBe(4);
      // Later commands succeed, at the sequences the failed ones had been given.
      const again = await rt.execute(submit("R3"));
      expect(again).toMatchObject({ ok: true, seq: 5 });
      expect(await rt.execute(assign("R3"))).toMatchObject({ ok: true, seq: 6 });
      expect(seen.map((s) => s.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      const types = (await stored()).map((c) => `${c.runId ?? "env"}:${c.events[0]!.type}`);
      expect(types).toEqual(["env:AgentConnected", "R0:RunSubmitted", "R1:RunSubmitted", "R2:RunSubmitted", "R3:RunSubmitted", "R3:ExecutionAssigned"]);
      await expectConsistent({ effectsOfEveryCommit: true });
    },
  );

  it("another writer appending first makes the next append fail with WrongExpectedSequence; after the reload the runtime sees that writer's commit and carries on", async () => {
    const { dir, inner, rt, launch, stored, expectConsistent } = await setup();
    await rt.execute(connect("a1"));
    const other = new EnvRuntime({ log: inner, ref, storePath: join(dir, "other-store"), onNotice: () => {} });
    await other.start();
    expect(await other.execute(connect("a2"))).toMatchObject({ ok: true, seq: 2 });
    await other.close();
    const c = launch(submit("R1"));
    await expect(c.promise).rejects.toBeInstanceOf(WrongExpectedSequence);
    // The next command waits for the reload.
    expect(await rt.execute(submit("R1"))).toMatchObject({ ok: true, seq: 3 });
    expect((rt.model as SpecModel).agent("a2")).toMatchObject({ agentId: "a2" });
    expect((await stored()).map((x) => x.events[0]!.type)).toEqual(["AgentConnected", "AgentConnected", "RunSubmitted"]);
    await expectConsistent({ effectsOfEveryCommit: false });
  });

  it("a failure is told once the commits before it are settled; a command that arrives during the reload waits for it and is decided against the reloaded state", async () => {
    const { log, rt, launch, stored, expectConsistent } = await setup();
    await rt.execute(connect());
    log.holdAcks({ failures: false });
    const first = launch(submit("R1"));
    log.failNextAppends(1, "unavailable");
    const failed = launch(submit("R2"));
    // The log has answered the failure: the runtime is reloading, but waits for R1's append, still in flight.
    await settle(() => log.appends[2]?.answer !== undefined && log.appends[1]?.landed !== undefined);
    const during = launch(assign("R1"));
    const later = launch(assign("R2"));
    await settle(() => log.holding === 1);
    expect([first, failed, during, later].filter((c) => c.settled)).toEqual([]);
    // Not decided yet: nothing more was appended (connect, R1, R2).
    expect(log.appends).toHaveLength(3);
    await log.release();
    expect(await first.promise).toMatchObject({ ok: true, seq: 2 });
    await expect(failed.promise).rejects.toBeInstanceOf(LogUnavailable);
    expect(await during.promise).toMatchObject({ ok: true, seq: 3 });
    // Decided after the reload, where run R2 never was: nothing to assign.
    expect(await later.promise).toEqual({ ok: true, events: [] });
    expect((await stored()).map((c) => c.events[0]!.type)).toEqual(["AgentConnected", "RunSubmitted", "ExecutionAssigned"]);
    await expectConsistent({ effectsOfEveryCommit: true });
  });

  it("a reload that cannot read the log is tried again until the log answers", async () => {
    const { log, rt, notices, expectConsistent } = await setup();
    await rt.execute(connect());
    log.failNextAppends(1, "unavailable");
    log.failNextReads(1);
    await expect(rt.execute(submit("R1"))).rejects.toBeInstanceOf(LogUnavailable);
    expect(await rt.execute(submit("R1"))).toMatchObject({ ok: true, seq: 2 });
    expect(notices.some((n) => /reloading pipeline\/production from the log failed \(injected fault: .*\); retrying/.test(n))).toBe(true);
    await expectConsistent({ effectsOfEveryCommit: true });
  });
});

describe("an append that was stored but whose answer was lost", () => {
  it("fails its command and the commands behind it, though all are in the log; the reloaded state has them, waiters are answered, their effects are not carried out", async () => {
    const { log, rt, seen, launch, stored, expectConsistent } = await setup();
    await rt.execute(connect());
    await rt.execute(submit("R1"));
    await rt.execute(assign("R1"));
    const waiter = rt.waitForStep("R1" as RunId, "1" as StepId);
    log.holdAcks();
    log.failNextAppends(1, "after-write");
    const lost = launch(succeed("R1", 42));
    const behind = launch(submit("R2"));
    await log.release();
    await expect(lost.promise).rejects.toBeInstanceOf(LogUnavailable);
    // Its own append succeeded: it fails with the first failure's error.
    const behindError = await behind.promise.catch((e: unknown) => e);
    expect(behindError).toBe(lost.error);
    expect(log.appends.slice(-2).map((a) => a.landed)).toEqual([4, 5]);
    // The log is the truth: once reloaded (the waiter is answered after the reload), the runtime has both.
    expect(await waiter).toEqual({ status: "succeeded", value: 42 });
    expect(rt.lastSeq).toBe(5);
    expect((rt.model as SpecModel).run("R1")).toMatchObject({ status: "succeeded" });
    expect((rt.model as SpecModel).run("R2")).toMatchObject({ status: "running" });
    expect(seen.map((s) => s.seq)).toEqual([1, 2, 3]);
    expect((await stored()).map((c) => c.events[0]!.type)).toEqual(["AgentConnected", "RunSubmitted", "ExecutionAssigned", "ExecutionSucceeded", "RunSubmitted"]);
    await expectConsistent({ effectsOfEveryCommit: false });
  });

  it("a retry of an idempotent command decides nothing and appends nothing: the result, a call, an assignment, a keyed submission", async () => {
    const { log, rt, stored, expectConsistent } = await setup();
    await rt.execute(connect());
    await rt.execute(submit("R1"));
    await rt.execute(assign("R1"));
    await rt.execute(start("R1"));
    const retried: Command[] = [call("R1", 1), assign("R1", executionIdOf("R1", "2", 1)), succeed("R1", 5), submit("R2", "order-17")];
    for (const cmd of retried) {
      log.failNextAppends(1, "after-write");
      await expect(rt.execute(cmd), cmd.type).rejects.toBeInstanceOf(LogUnavailable);
      const before = (await stored()).length;
      expect(await rt.execute(cmd), cmd.type).toEqual({ ok: true, events: [] });
      // Even with a fresh run id, the key finds the run that was stored.
      if (cmd.type === "SubmitRun") expect(await rt.execute(submit("R3", "order-17"))).toEqual({ ok: true, events: [] });
      expect((await stored()).length, cmd.type).toBe(before);
    }
    expect((rt.model as SpecModel).runForKey("order-17")).toBe("R2");
    expect((rt.model as SpecModel).run("R3")).toBeUndefined();
    const types = (await stored()).flatMap((c) => c.events.map((e) => e.type));
    expect(types.filter((t) => t === "ExecutionSucceeded")).toHaveLength(1);
    expect(types.filter((t) => t === "RunSubmitted")).toHaveLength(2);
    expect(types.filter((t) => t === "StepScheduled")).toHaveLength(3);
    await expectConsistent({ effectsOfEveryCommit: false });
  });

  it("a retried submission without an idempotency key is a second run: the key is what makes a submission safe to retry", async () => {
    const { log, rt, stored } = await setup();
    await rt.execute(connect());
    log.failNextAppends(1, "after-write");
    await expect(rt.execute(submit("R1"))).rejects.toBeInstanceOf(LogUnavailable);
    expect(await rt.execute(submit("R2"))).toMatchObject({ ok: true, seq: 3 });
    expect((await stored()).filter((c: Commit) => c.events[0]!.type === "RunSubmitted").map((c) => c.runId)).toEqual(["R1", "R2"]);
  });
});

describe("closing the runtime", () => {
  it("closing it while it reloads after a failed append ends cleanly: every caller hears back, nothing touches the closed store", async () => {
    const { log, rt, launch } = await setup();
    await rt.execute(connect());
    log.holdAcks({ failures: false });
    const first = launch(submit("R1"));
    log.failNextAppends(1, "unavailable");
    const failed = launch(submit("R2"));
    // The runtime knows of the failure and waits for R1's append to reload.
    await settle(() => log.appends[2]?.answer !== undefined && log.appends[1]?.landed !== undefined);
    const errors: unknown[] = [];
    const caught = (e: unknown) => errors.push(e);
    process.on("uncaughtException", caught);
    process.on("unhandledRejection", caught);
    try {
      await log.release();
      await rt.close();
      expect(await first.promise).toMatchObject({ ok: true, seq: 2 });
      // Long enough for the reload's poll (5 ms) and the flush timer (20 ms) to have run.
      await new Promise((r) => setTimeout(r, 100));
      expect({
        failedCommandWasTold: failed.settled ? (failed.error as Error).name : "nothing",
        unhandled: errors.map((e) => (e as Error).message),
      }).toEqual({ failedCommandWasTold: "LogUnavailable", unhandled: [] });
    } finally {
      process.off("uncaughtException", caught);
      process.off("unhandledRejection", caught);
    }
  });
});
