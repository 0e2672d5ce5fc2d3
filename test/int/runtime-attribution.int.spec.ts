/**
 * Attribution through the real runtime: `execute(cmd, { by })` puts the
 * principal on the envelope of every event the command decides, the log
 * keeps it, a rebuild of the projections from the log finds it again, and a
 * cascade the scheduler carries out (a cancelled parent's child runs) is on
 * behalf of whoever caused it. Embedded log and LMDB in a temp directory.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { logRef, type AgentId, type Event, type Principal, type RunId, type StepId } from "../../src/events/index.js";
import { EmbeddedEventLog } from "../../src/events/storage/index.js";
import { callIdOf, executionIdOf } from "../../src/orchestrator/core/decide.js";
import type { Command } from "../../src/orchestrator/core/commands.js";
import { EnvRuntime } from "../../src/orchestrator/runtime.js";
import { EnvScheduler } from "../../src/orchestrator/scheduler/index.js";
import { TaskLogs } from "../../src/orchestrator/task-logs.js";
import { eventually } from "../e2e/support.js";

const TOKEN: Principal = { kind: "token", tokenId: "k1", name: "ci" };
const ADMIN: Principal = { kind: "admin" };
const AGENT: Principal = { kind: "agent", agentId: "a1", tokenId: "k2" };
const ref = logRef("p", "production");
const wf = { repository: "r", target: "wf" };
const connect: Command = {
  type: "ConnectAgent",
  agentId: "a1" as AgentId,
  tags: {},
  concurrency: 4,
  manifests: [{ repository: "r", targets: [{ name: "wf", kind: "workflow", parameters: [], options: {} }] }],
};

describe("EnvRuntime.execute with a principal", () => {
  let dir: string;
  let log: EmbeddedEventLog;
  let rt: EnvRuntime;
  const open = async (store: string) => {
    const r = new EnvRuntime({ log, ref, storePath: join(dir, store), onNotice: () => undefined });
    await r.start();
    return r;
  };
  const history = async (): Promise<Event[]> => {
    const out: Event[] = [];
    for await (const c of log.read(ref)) out.push(...c.events);
    return out;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trib-by-"));
    log = new EmbeddedEventLog({ dir: join(dir, "log") });
    rt = await open("store");
  });
  afterEach(async () => {
    await rt.close();
    await log.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("records the principal on every event of the command, none when not given, and a rebuild finds it again", async () => {
    expect(await rt.execute({ type: "CreateEnvironment", project: ref.project, env: ref.env }, { by: ADMIN })).toMatchObject({ ok: true });
    expect(await rt.execute(connect, { by: AGENT })).toMatchObject({ ok: true });
    const runId = rt.newRunId();
    const submitted = await rt.execute({ type: "SubmitRun", runId, target: wf, arguments: [1] }, { by: TOKEN });
    expect(submitted.ok && submitted.events.map((e) => e.by)).toEqual([TOKEN, TOKEN, TOKEN]);
    await rt.execute({ type: "CancelRun", runId, reason: "user" }, { by: ADMIN });
    await rt.execute({ type: "DisconnectAgent", agentId: "a1" as AgentId, reason: "lost" });

    const events = await history();
    expect(events.map((e) => [e.type, e.by])).toEqual([
      ["EnvironmentCreated", ADMIN],
      ["AgentConnected", AGENT],
      ["ManifestRegistered", AGENT],
      ["RunSubmitted", TOKEN],
      ["StepScheduled", TOKEN],
      ["ExecutionCreated", TOKEN],
      ["RunCancelled", ADMIN],
      ["ExecutionCancelled", ADMIN],
      ["AgentDisconnected", undefined],
    ]);
    // Not `by: undefined`: no key at all.
    expect(Object.hasOwn(events[events.length - 1]!, "by")).toBe(false);
    expect(rt.model.run(runId)).toMatchObject({ submittedBy: TOKEN, cancelledBy: ADMIN });
    expect(rt.model.environment()).toMatchObject({ createdBy: ADMIN });

    // A new store folds the log from the start: the same documents.
    const again = await open("store-2");
    try {
      expect(again.model.run(runId)).toStrictEqual(rt.model.run(runId));
      expect(again.model.environment()).toStrictEqual(rt.model.environment());
    } finally {
      await again.close();
    }
  });

  it("refuses a principal that would not decode as an invalid event, appending nothing", async () => {
    await rt.execute({ type: "CreateEnvironment", project: ref.project, env: ref.env });
    await rt.execute(connect);
    const before = await log.lastSeq(ref);
    const bad = { kind: "token", tokenId: "NOT A TOKEN ID" } as Principal;
    const r = await rt.execute({ type: "SubmitRun", runId: rt.newRunId(), target: wf, arguments: [] }, { by: bad });
    expect(r).toMatchObject({ ok: false, rejection: { _tag: "InvalidEvent" } });
    expect(!r.ok && r.rejection._tag === "InvalidEvent" && r.rejection.reason).toMatch(/by\.tokenId must be a token id/);
    expect(await log.lastSeq(ref)).toBe(before);
  });

  it("the child runs of a cancelled run are cancelled on behalf of whoever cancelled it", async () => {
    const scheduler = new EnvScheduler(rt, { heartbeatMs: 60_000, restartGraceMs: 60_000, logs: new TaskLogs(join(dir, "task-logs.ndjson")), maxAssetBytes: 1 << 20 });
    try {
      await rt.execute({ type: "CreateEnvironment", project: ref.project, env: ref.env });
      await rt.execute(connect, { by: AGENT });
      const parent = rt.newRunId();
      await rt.execute({ type: "SubmitRun", runId: parent, target: wf, arguments: [] }, { by: TOKEN });
      const x = executionIdOf(parent, "1" as StepId, 1);
      expect(await rt.execute({ type: "AssignExecution", executionId: x, agentId: "a1" as AgentId })).toMatchObject({ ok: true });
      await rt.execute({ type: "RecordStarted", executionId: x, agentId: "a1" as AgentId }, { by: AGENT });
      const child: RunId = rt.newRunId();
      const call = { executionId: x, callId: callIdOf(x, "1"), runId: parent, stepId: "1" as StepId };
      expect(await rt.execute({ type: "SubmitRun", runId: child, target: wf, arguments: [], call }, { by: AGENT })).toMatchObject({ ok: true });
      expect(rt.model.run(child)).toMatchObject({ submittedBy: AGENT, parent: { runId: parent } });

      await rt.execute({ type: "CancelRun", runId: parent, reason: "user" }, { by: ADMIN });
      await eventually(() => rt.model.run(child)?.status === "cancelled", 5_000, "the child run cancelled");
      expect(rt.model.run(child)?.cancelledBy).toStrictEqual(ADMIN);
      // The model folds a decision at once; the log has it once the append is acknowledged.
      const cancelled = await eventually(async () => {
        const found = (await history()).filter((e) => e.type === "RunCancelled");
        return found.length === 2 ? found : undefined;
      }, 5_000, "both cancellations in the log");
      expect(cancelled.map((e) => [e.runId, e.by])).toEqual([
        [parent, ADMIN],
        [child, ADMIN],
      ]);
      // The assignment was the server's own doing: nobody on it.
      expect((await history()).find((e) => e.type === "ExecutionAssigned")?.by).toBeUndefined();
    } finally {
      scheduler.close();
    }
  });
});
