/**
 * Replays the log recorded with release 0.1.0 (`test/fixtures/logs/`). The
 * file is never regenerated: if this test fails, a change broke the decoding
 * of logs that exist in the field. Fix the decoder (or add an upcaster);
 * never re-record the fixture.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeCommit, encodeCommit, unpackValue } from "../../src/events/codec.js";
import { CURRENT_VERSION, type Commit, type Event, type EventOf, type EventType } from "../../src/events/types.js";
import { getEnvironment, MemoryStore, PROJECTIONS, type RunDoc } from "../../src/projections/index.js";

const dir = new URL("../fixtures/logs/", import.meta.url);
const bytes = readFileSync(new URL("v0.1.0.bin", dir));
const summary = JSON.parse(readFileSync(new URL("v0.1.0.summary.json", dir), "utf8")) as {
  bytes: number;
  sha256: string;
  commits: number;
  events: number;
  runs: number;
  eventsByType: Record<string, number>;
  storedVersions: Record<string, Record<string, number>>;
};

/** Splits the file into framed commits: u32 big-endian length, then the frame. */
const framesOf = (file: Uint8Array): Uint8Array[] => {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < file.length) {
    if (at + 4 > file.length) throw new Error(`dangling length prefix at byte ${at}`);
    const n = view.getUint32(at);
    if (at + 4 + n > file.length) throw new Error(`commit ${out.length + 1} runs past the end of the file`);
    out.push(file.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
};

const frames = framesOf(bytes);
const commits: Event[][] = frames.map((f, i) => decodeCommit(f, i + 1));
const events = commits.flat();
/** The events of the commit at sequence `seq`, checked to be of `type` at `index`. */
const at = <T extends EventType>(seq: number, index: number, type: T): EventOf<T> => {
  const e = commits[seq - 1]![index]!;
  expect(e.type).toBe(type);
  return e as EventOf<T>;
};

describe("the log recorded with 0.1.0", () => {
  it("is the file its summary describes", () => {
    expect(bytes.length).toBe(summary.bytes);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(summary.sha256);
  });

  it("decodes every commit, in full", () => {
    expect(commits).toHaveLength(211);
    expect(commits).toHaveLength(summary.commits);
    expect(events).toHaveLength(335);
    expect(events).toHaveLength(summary.events);
    expect(new Set(events.flatMap((e) => (e.runId === undefined ? [] : [e.runId]))).size).toBe(summary.runs);
  });

  it("has the event types and stored versions of its summary", () => {
    const byType: Record<string, number> = {};
    for (const e of events) byType[e.type] = (byType[e.type] ?? 0) + 1;
    expect(byType).toEqual(summary.eventsByType);

    const stored: Record<string, Record<string, number>> = {};
    for (const f of frames) {
      for (const e of unpackValue(f.subarray(6)) as { type: string; v: number }[]) {
        const byV = (stored[e.type] ??= {});
        byV[e.v] = (byV[e.v] ?? 0) + 1;
      }
    }
    expect(stored).toEqual(summary.storedVersions);
    expect(stored.ExecutionFailed).toEqual({ 1: 2, 2: 7 });
  });

  it("holds every event type but EnvironmentBranched", () => {
    expect(new Set(events.map((e) => e.type))).toEqual(
      new Set<EventType>([
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
        "AssetPersisted",
        "AssetRestored",
        "EnvironmentRebased",
        "EnvironmentArchived",
      ]),
    );
  });

  it("decodes to current versions only, which re-encode to the same events", () => {
    for (const e of events) expect(e.v).toBe(CURRENT_VERSION[e.type]);
    for (const c of commits) expect(decodeCommit(encodeCommit(c))).toStrictEqual(c);
  });

  it("keeps the log's shape: one run or the environment per commit, increasing ids and times", () => {
    for (const c of commits) expect(new Set(c.map((e) => e.runId)).size).toBe(1);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.id > events[i - 1]!.id).toBe(true);
      expect(events[i]!.at).toBeGreaterThanOrEqual(events[i - 1]!.at);
    }
  });

  it("starts with the environment's creation and ends with its archival", () => {
    expect(commits[0]).toStrictEqual([
      {
        id: "01JN84MHR039ETMK13HEG8D84P",
        type: "EnvironmentCreated",
        v: 1,
        at: Date.UTC(2025, 2, 1, 6, 0, 0),
        data: { project: "acme", env: "staging", base: "production" },
      },
    ]);
    expect(at(211, 0, "EnvironmentArchived").data).toStrictEqual({ reason: "replaced by staging-2" });
    expect(at(210, 0, "EnvironmentRebased").data).toStrictEqual({ base: null });
  });

  it("decodes the first run's submission", () => {
    const e = at(5, 0, "RunSubmitted");
    expect(e.runId).toBe("01JN84MHRFE4RT7MSAG5GQ58MD");
    expect(e.data.target).toStrictEqual({ repository: "github.com/acme/ml-platform", target: "trainPipeline" });
    expect(e.data.idempotencyKey).toBe("trainPipeline-dc60015da82b1dde-1");
    expect(at(5, 1, "StepScheduled").data.stepId).toBe(e.data.rootStepId);
    expect(at(5, 2, "ExecutionCreated").data).toMatchObject({ stepId: e.data.rootStepId, attempt: 1, reason: "first" });
  });

  it("decodes a reused result equal to the one recorded at the sequence it names", () => {
    const reused = at(69, 1, "StepResultReused");
    expect(reused.data.source).toStrictEqual({
      env: "staging",
      runId: "01JN84MHRFE4RT7MSAG5GQ58MD",
      stepId: "01JN84MHS49TT5417H2SRHKBH3",
      executionId: "01JN84MHS49TT5417H2SRHKBH5",
      seq: 53,
    });
    const original = commits[52]!.find((e) => e.type === "ExecutionSucceeded" && e.data.executionId === reused.data.source.executionId);
    expect(original?.type === "ExecutionSucceeded" && original.data.result).toStrictEqual(reused.data.result);
    const value = (reused.data.result as { kind: "inline"; value: { rows: number; schemaHash: Uint8Array } }).value;
    expect(value.rows).toBe(3_363_370);
    expect(value.schemaHash).toBeInstanceOf(Uint8Array);
    expect([...value.schemaHash.subarray(0, 4)]).toEqual([92, 43, 96, 227]);
  });

  it("upcasts the ExecutionFailed v1 events written before 0.1", () => {
    const retryable = at(205, 0, "ExecutionFailed");
    expect(retryable).toStrictEqual({
      id: "01JN84MMVH7BX764NPRPQCH14K",
      type: "ExecutionFailed",
      v: 2,
      at: 1_740_808_803_185,
      runId: "01JN84MMTN2FTJ57QXDT2734JY",
      data: {
        executionId: "01JN84MMTN2FTJ57QXDT2734K0",
        stepId: "01JN84MMTN2FTJ57QXDT2734JZ",
        error: { type: "Error", message: "connect ECONNREFUSED 10.0.3.7:5439", retryable: true },
      },
    });
    expect(at(205, 1, "ExecutionCreated").data).toMatchObject({ attempt: 2, reason: "retry", notBefore: 1_740_808_803_685 });
    expect(at(208, 0, "ExecutionFailed").data.error).toStrictEqual({
      type: "Error",
      message: 'relation "orders_staging" does not exist',
      retryable: false,
    });
  });

  it("is older than attribution: no event has a by, and it folds with nobody named as author", () => {
    expect(events.filter((e) => Object.hasOwn(e, "by"))).toEqual([]);
    const store = new MemoryStore(PROJECTIONS);
    store.apply(commits.map((c, i): Commit => ({ seq: i + 1, id: c[0]!.id, subject: "", ...(c[0]!.runId === undefined ? {} : { runId: c[0]!.runId }), events: c })));
    const env = getEnvironment(store)!;
    expect(env).toMatchObject({ project: "acme", env: "staging", archived: true });
    for (const k of ["createdBy", "rebasedBy", "archivedBy"]) expect(Object.hasOwn(env, k)).toBe(false);
    const runs = [...store.range<RunDoc>("runs")].map(([, r]) => r);
    expect(runs).toHaveLength(summary.runs);
    expect(runs.filter((r) => Object.hasOwn(r, "submittedBy") || Object.hasOwn(r, "cancelledBy"))).toEqual([]);
    expect(runs.some((r) => r.status === "cancelled")).toBe(true);
  });
});
