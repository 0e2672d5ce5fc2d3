import { describe, expect, it } from "vitest";
import { IdGenerator, type Commit, type Event } from "../../src/events/index.js";
import {
  getCacheEntry,
  getEnvironment,
  getRunView,
  listAgents,
  listManifests,
  MemoryStore,
  PROJECTIONS,
  runForIdempotencyKey,
  type RunView,
} from "../../src/projections/index.js";

// A fixed clock and ids, so that documents can be compared with literals.
let now = 1_700_000_000_000;
const ids = new IdGenerator(() => now, (b) => b.fill(7));

type Data<T extends Event["type"]> = Extract<Event, { type: T }>["data"];
const run = <T extends Event["type"]>(type: T, data: Data<T>, runId = "r1"): Event =>
  ({ id: ids.next(), type, v: type === "ExecutionFailed" ? 2 : 1, at: (now += 10), runId, data }) as unknown as Event;
const env = <T extends Event["type"]>(type: T, data: Data<T>): Event =>
  ({ id: ids.next(), type, v: 1, at: (now += 10), data }) as unknown as Event;

/** given(commits).view(runId): folds the commits in order into a fresh store. */
const given = (...commits: Event[][]) => {
  const store = new MemoryStore(PROJECTIONS);
  store.apply(commits.map((events, i): Commit => ({ seq: i + 1, id: events[0]!.id, subject: "s", events })));
  return { store, view: (runId = "r1") => getRunView(store, runId as never) as RunView };
};

const target = { repository: "shop", target: "checkout" };
const submitted = (runId = "r1") => [
  run("RunSubmitted", { target, arguments: [1], rootStepId: "s1" } as never, runId),
  run("StepScheduled", { stepId: "s1", target, kind: "workflow", arguments: [1], options: {} } as never, runId),
  run("ExecutionCreated", { executionId: `${runId}-x1`, stepId: "s1", attempt: 1, reason: "first" } as never, runId),
];
const x = (type: Event["type"], extra: object = {}, executionId = "r1-x1", stepId = "s1") =>
  run(type, { executionId, stepId, ...extra } as never);

describe("run projections", () => {
  it("a submitted run is running with its root step pending and its first execution queued", () => {
    const v = given(submitted()).view();
    expect(v.run.status).toBe("running");
    expect(v.run.steps).toBe(1);
    expect(v.run.pending).toBe(1);
    expect(v.steps.map((s) => [s.stepId, s.status, s.executions])).toEqual([["s1", "pending", ["r1-x1"]]]);
    expect(v.executions["r1-x1" as never]).toMatchObject({ status: "queued", attempt: 1, reason: "first" });
  });

  it("a root step that succeeds finishes the run with its result", () => {
    const v = given(
      submitted(),
      [x("ExecutionAssigned", { agentId: "a1" })],
      [x("ExecutionStarted")],
      [x("ExecutionSucceeded", { result: { kind: "inline", value: { ok: true } } })],
    ).view();
    expect(v.run).toMatchObject({ status: "succeeded", pending: 0 });
    expect(v.run.finishedAt).toBeGreaterThan(v.run.submittedAt);
    expect(v.steps[0]).toMatchObject({ status: "succeeded", result: { kind: "inline", value: { ok: true } }, resultExecutionId: "r1-x1" });
    expect(v.executions["r1-x1" as never]).toMatchObject({ status: "succeeded", agentId: "a1" });
  });

  it("a failure retried in the same commit leaves the run running with a second attempt", () => {
    const v = given(submitted(), [
      x("ExecutionFailed", { error: { type: "RangeError", message: "boom", retryable: true } }),
      run("ExecutionCreated", { executionId: "r1-x2", stepId: "s1", attempt: 2, reason: "retry", notBefore: now + 500 } as never),
    ]).view();
    expect(v.run.status).toBe("running");
    expect(v.run.error).toBeUndefined();
    expect(v.steps[0]).toMatchObject({ status: "pending", executions: ["r1-x1", "r1-x2"] });
    expect(v.executions["r1-x1" as never]).toMatchObject({ status: "failed", error: { type: "RangeError" } });
    expect(v.executions["r1-x2" as never]).toMatchObject({ status: "queued", attempt: 2, reason: "retry" });
  });

  it("a terminal failure of the root fails the run with the error", () => {
    const v = given(submitted(), [x("ExecutionFailed", { error: { type: "TypeError", message: "bad", retryable: false } })]).view();
    expect(v.run).toMatchObject({ status: "failed", error: { type: "TypeError", message: "bad" } });
  });

  it("timeouts and abandonment are failures with typed errors", () => {
    const v = given(submitted(), [x("ExecutionTimedOut", { timeoutMs: 250 })]).view();
    expect(v.executions["r1-x1" as never]).toMatchObject({ status: "timed_out", error: { type: "TimeoutError" } });
    const w = given(submitted(), [x("ExecutionAbandoned", { agentId: "a1", reason: "missed heartbeats" })]).view();
    expect(w.run).toMatchObject({ status: "failed", error: { type: "AbandonedError" } });
  });

  it("a cancelled run stays cancelled whatever its root does afterwards", () => {
    const v = given(
      submitted(),
      [run("RunCancelled", { reason: "user" } as never), x("ExecutionCancelled", { reason: "run cancelled" })],
      [x("ExecutionSucceeded", { result: { kind: "inline", value: 1 } })],
    ).view();
    expect(v.run).toMatchObject({ status: "cancelled", cancelReason: "user" });
  });

  it("a late result of a superseded execution does not change the step", () => {
    const v = given(
      submitted(),
      [
        x("ExecutionAbandoned", { agentId: "a1", reason: "lost" }),
        run("ExecutionCreated", { executionId: "r1-x2", stepId: "s1", attempt: 2, reason: "retry" } as never),
      ],
      [x("ExecutionSucceeded", { result: { kind: "inline", value: "late" } })],
    ).view();
    expect(v.steps[0]).toMatchObject({ status: "pending", executions: ["r1-x1", "r1-x2"] });
    expect(v.steps[0]!.result).toBeUndefined();
  });

  it("child steps are listed in scheduling order with their parent execution", () => {
    const child = (id: string) =>
      run("StepScheduled", { stepId: id, target, kind: "task", arguments: [], options: {}, parentExecutionId: "r1-x1" } as never);
    const v = given(submitted(), [child("b")], [child("a")]).view();
    expect(v.steps.map((s) => s.stepId)).toEqual(["s1", "b", "a"]);
    expect(v.steps[1]!.parentExecutionId).toBe("r1-x1");
  });

  it("a reused result finishes the step as reused, naming its source", () => {
    const source = { env: "production", runId: "r0", stepId: "s9", executionId: "x9", seq: 41 };
    const v = given(submitted(), [run("StepResultReused", { stepId: "s1", cacheKey: "k", source, result: { kind: "inline", value: 5 } } as never)]).view();
    expect(v.steps[0]).toMatchObject({ status: "reused", reusedFrom: source, resultReused: true, result: { kind: "inline", value: 5 } });
    expect(v.run.status).toBe("succeeded");
  });

  it("a reused step re-run here: the reused result shows until its own lands, then the step's result is its execution's, its origin kept", () => {
    const source = { env: "production", runId: "r1", stepId: "s1", executionId: "r1-x0", seq: 41 };
    const reused = [
      run("RunSubmitted", { target, arguments: [1], rootStepId: "s1", branchedFrom: { env: "production", seq: 41 } } as never),
      run("StepScheduled", { stepId: "s1", target, kind: "workflow", arguments: [1], options: {} } as never),
      run("StepResultReused", { stepId: "s1", cacheKey: "k", source, result: { kind: "inline", value: 5 } } as never),
    ];
    const rerun = [run("ExecutionCreated", { executionId: "r1-x1", stepId: "s1", attempt: 1, reason: "rerun" } as never)];
    const pending = given(reused, rerun).view().steps[0]!;
    expect(pending).toMatchObject({ status: "pending", resultReused: true, reusedFrom: source, result: { kind: "inline", value: 5 } });
    expect(pending.resultExecutionId).toBeUndefined();

    const done = given(reused, rerun, [x("ExecutionSucceeded", { result: { kind: "inline", value: 6 } })]).view().steps[0]!;
    expect(done).toMatchObject({ status: "succeeded", resultExecutionId: "r1-x1", reusedFrom: source, result: { kind: "inline", value: 6 } });
    expect(done.resultReused).toBeUndefined();

    const failed = given(reused, rerun, [x("ExecutionFailed", { error: { type: "Error", message: "no", retryable: false } })]).view().steps[0]!;
    expect(failed).toMatchObject({ status: "failed", reusedFrom: source });
    expect(failed.result).toBeUndefined();
    expect(failed.resultReused).toBeUndefined();
  });
});

describe("cache, assets and environment projections", () => {
  const cached = (runId: string) => [
    run("RunSubmitted", { target, arguments: [], rootStepId: "s1" } as never, runId),
    run("StepScheduled", { stepId: "s1", target, kind: "task", arguments: [], options: {}, cacheKey: "k1" } as never, runId),
    run("ExecutionCreated", { executionId: `${runId}-x1`, stepId: "s1", attempt: 1, reason: "first" } as never, runId),
  ];

  it("the cache index records the pending execution, then the newest result", () => {
    const pending = given(cached("r1"));
    expect(getCacheEntry(pending.store, "k1")).toEqual({
      cacheKey: "k1",
      pending: { runId: "r1", stepId: "s1", executionId: "r1-x1" },
    });
    const done = given(cached("r1"), [x("ExecutionSucceeded", { result: { kind: "inline", value: 42 } })]);
    expect(getCacheEntry(done.store, "k1")).toMatchObject({
      hit: { runId: "r1", stepId: "s1", executionId: "r1-x1", seq: 2, result: { kind: "inline", value: 42 } },
    });
    expect(getCacheEntry(done.store, "k1")!.pending).toBeUndefined();
  });

  it("a failed execution clears the pending cache entry without recording a hit", () => {
    const s = given(cached("r1"), [x("ExecutionFailed", { error: { type: "Error", message: "x", retryable: false } })]);
    expect(getCacheEntry(s.store, "k1")).toEqual({ cacheKey: "k1" });
  });

  it("assets record their entries, total size and every restore", () => {
    const entries = [
      { path: "a.txt", size: 3, sha256: "ab", blobKey: "sha256:ab" },
      { path: "d/b.bin", size: 5, sha256: "cd", blobKey: "sha256:cd" },
    ];
    const v = given(
      submitted(),
      [x("AssetPersisted", { assetId: "as1", entries, name: "report" })],
      [x("AssetRestored", { assetId: "as1", to: "in" })],
    ).view();
    expect(v.executions["r1-x1" as never]).toMatchObject({ assetsPersisted: ["as1"], assetsRestored: ["as1"] });
    expect(v.assets["as1" as never]).toMatchObject({
      persisted: { name: "report", totalSize: 8, entries },
      restores: [{ runId: "r1", stepId: "s1", executionId: "r1-x1", to: "in", seq: 3 }],
    });
  });

  it("agents, manifests, the environment and idempotency keys are indexed", () => {
    const s = given(
      [env("EnvironmentCreated", { project: "p", env: "dev", base: "production" } as never)],
      [env("AgentConnected", { agentId: "a1", tags: { gpu: ["yes"] }, repositories: ["shop"], concurrency: 4 } as never)],
      [env("ManifestRegistered", { repository: "shop", agentId: "a1", targets: [] } as never)],
      [env("AgentDisconnected", { agentId: "a1", reason: "closed" } as never)],
      [run("RunSubmitted", { target, arguments: [], rootStepId: "s1", idempotencyKey: "order-1" } as never, "r7")],
      [run("RunSubmitted", { target, arguments: [], rootStepId: "s1", idempotencyKey: "order-1" } as never, "r8")],
      [env("EnvironmentRebased", { base: null } as never)],
      [env("EnvironmentArchived", {} as never)],
    );
    expect(listAgents(s.store)).toMatchObject([{ agentId: "a1", status: "disconnected", reason: "closed", concurrency: 4 }]);
    expect(listManifests(s.store)).toMatchObject([{ repository: "shop", agentId: "a1" }]);
    expect(getEnvironment(s.store)).toMatchObject({ project: "p", env: "dev", archived: true });
    expect(getEnvironment(s.store)!.base).toBeUndefined();
    expect(runForIdempotencyKey(s.store, "order-1")).toBe("r7");
  });
});
