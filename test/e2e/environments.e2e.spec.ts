import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunView } from "../../src/projections/index.js";
import { LOG_KINDS, startHarness, type Api, type Harness } from "./support.js";

const REUSE = resolve(import.meta.dirname, "fixtures/reuse.ts");
const REUSE_V2 = resolve(import.meta.dirname, "fixtures/reuse-v2.ts");

/** Executions of a target in a run view (reused steps have none). */
const executionsOf = (view: RunView, target: string) =>
  view.steps.filter((s) => s.target.target === target).flatMap((s) => s.executions.map((id) => view.executions[id]!));
const stepOf = (view: RunView, target: string, n = 0) => view.steps.filter((s) => s.target.target === target)[n]!;

describe.each(LOG_KINDS)("caching, memo, defer and environments on the %s log", (kind) => {
  let h: Harness;
  let prod: Api;
  beforeAll(async () => {
    h = await startHarness(kind);
    prod = h.api;
    await h.agent({ modules: [REUSE] });
  });
  afterAll(() => h?.close());

  it("a cached task runs once for equal arguments; the hit is a fact naming its source", async () => {
    const first = await prod.run("reuse:cache_flow", [7]);
    expect(first.outcome).toEqual({ status: "succeeded", value: 49 });
    expect(executionsOf(first.view, "square")).toHaveLength(1);
    const second = await prod.run("reuse:cache_flow", [7]);
    expect(second.outcome).toEqual({ status: "succeeded", value: 49 });
    expect(executionsOf(second.view, "square")).toHaveLength(0);
    const hit = stepOf(second.view, "square");
    expect(hit).toMatchObject({ status: "reused", reusedFrom: { env: "production", runId: first.runId, stepId: stepOf(first.view, "square").stepId } });
    const history = await prod.history(second.runId);
    expect(history.find((e) => e.type === "StepResultReused")?.data).toMatchObject({ source: { env: "production", runId: first.runId } });
    // Other arguments miss.
    expect(executionsOf((await prod.run("reuse:cache_flow", [8])).view, "square")).toHaveLength(1);
  });

  it("a namespace bump invalidates; a key function ignores what it leaves out; max age expires", async () => {
    expect(executionsOf((await prod.run("reuse:cache_flow", [3, "v1"])).view, "square")).toHaveLength(1);
    expect(executionsOf((await prod.run("reuse:cache_flow", [3, "v1"])).view, "square")).toHaveLength(0);
    expect(executionsOf((await prod.run("reuse:cache_flow", [3, "v2"])).view, "square")).toHaveLength(1);

    expect((await prod.run("reuse:keyed_flow", [4, 1])).outcome).toEqual({ status: "succeeded", value: 40 });
    expect(executionsOf((await prod.run("reuse:keyed_flow", [4, 99])).view, "keyed")).toHaveLength(0);

    expect(executionsOf((await prod.run("reuse:brief_flow", [1])).view, "brief")).toHaveLength(1);
    expect(executionsOf((await prod.run("reuse:brief_flow", [1])).view, "brief")).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(executionsOf((await prod.run("reuse:brief_flow", [1])).view, "brief")).toHaveLength(1);
  });

  it("a call with the key of a cached step still executing joins it instead of starting twice", async () => {
    const [a, b] = await Promise.all([prod.submit("reuse:join_flow", [11]), prod.submit("reuse:join_flow", [11])]);
    expect(await prod.result(a)).toEqual({ status: "succeeded", value: 77 });
    expect(await prod.result(b)).toEqual({ status: "succeeded", value: 77 });
    const views = [await prod.view(a), await prod.view(b)];
    expect(views.flatMap((v) => executionsOf(v, "slow_cached"))).toHaveLength(1);
    const history = [...(await prod.history(a)), ...(await prod.history(b))].map((e) => e.type);
    expect(history).toContain("StepDeferred");
    expect(history).toContain("StepResultReused");
  });

  it("memo: an identical call in the same run, and the calls of a retried parent, reuse results", async () => {
    const memo = await prod.run("reuse:memo_flow");
    expect(memo.outcome).toEqual({ status: "succeeded", value: [2, 2, 3] });
    expect(executionsOf(memo.view, "memo_child")).toHaveLength(2);
    const retry = await prod.run("reuse:memo_retry");
    expect(retry.outcome).toEqual({ status: "succeeded", value: 6 });
    expect(executionsOf(retry.view, "memo_retry").map((x) => x.status)).toEqual(["failed", "succeeded"]);
    expect(executionsOf(retry.view, "memo_child")).toHaveLength(1);
    expect(retry.view.steps.filter((s) => s.target.target === "memo_child").map((s) => s.status)).toEqual(["succeeded", "reused"]);
  });

  it("defer: a step whose identical call is pending elsewhere waits for it and gets its result", async () => {
    const [a, b] = await Promise.all([prod.submit("reuse:defer_flow", [5]), prod.submit("reuse:defer_flow", [5])]);
    expect(await prod.result(a)).toEqual({ status: "succeeded", value: 15 });
    expect(await prod.result(b)).toEqual({ status: "succeeded", value: 15 });
    const all = [await prod.view(a), await prod.view(b)];
    expect(all.flatMap((v) => executionsOf(v, "deferred_task"))).toHaveLength(1);
  });

  it("inheritance three levels deep: a cache miss falls through to the base's base", async () => {
    await prod.call("POST", `/api/projects/${prod.project}/envs`, { name: "staging", base: "production" });
    await prod.call("POST", `/api/projects/${prod.project}/envs`, { name: "dev", base: "staging" });
    await h.agent({ modules: [REUSE], env: "dev" });
    const dev = h.envApi("dev");
    const seeded = await prod.run("reuse:cache_flow", [12]);
    const inherited = await dev.run("reuse:cache_flow", [12]);
    expect(inherited.outcome).toEqual({ status: "succeeded", value: 144 });
    expect(executionsOf(inherited.view, "square")).toHaveLength(0);
    expect(stepOf(inherited.view, "square").reusedFrom).toMatchObject({ env: "production", runId: seeded.runId });
    // dev's own result now serves dev first.
    const again = await dev.run("reuse:cache_flow", [13]);
    expect(executionsOf(again.view, "square")).toHaveLength(1);
  });

  it("bases are checked: unknown bases and cycles are refused; archived environments refuse runs", async () => {
    const envs = `/api/projects/${prod.project}/envs`;
    expect((await prod.call("POST", envs, { name: "orphan", base: "nowhere" })).status).toBe(404);
    expect((await prod.call("POST", envs, { name: "waif", from: "nowhere" })).status).toBe(404);
    // Refused before their logs were made: neither environment exists.
    for (const name of ["orphan", "waif"]) expect((await prod.call("GET", `${envs}/${name}/runs`)).status).toBe(404);
    const cycle = await prod.call<{ error: string }>("POST", `${envs}/production/update`, { base: "dev" });
    expect(cycle.status).toBe(409);
    expect(cycle.body.error).toMatch(/cycle: production → dev → staging → production/);
    await prod.call("POST", envs, { name: "old" });
    expect((await prod.call("POST", `${envs}/old/archive`)).status).toBe(200);
    const refused = await prod.call<{ error: string }>("POST", `${envs}/old/runs`, { target: "reuse:cache_flow", arguments: [1] });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatch(/archived/);
  });

  it("a branch re-runs a production step with changed code, executing only what changed, and rebuilds identically", async () => {
    const envs = `/api/projects/${prod.project}/envs`;
    const original = await prod.run("reuse:pipeline", [4]);
    expect(original.outcome).toEqual({ status: "succeeded", value: 20 });
    const branch = await prod.call<{ branchedFrom: { parent: string; at: number } }>("POST", envs, { name: "feature", from: "production" });
    expect(branch.status).toBe(200);
    const point = branch.body.branchedFrom.at;
    // Production moves on after the branch point: none of it leaks into the branch.
    const later = await prod.run("reuse:pipeline", [5]);

    await prod.run("reuse:cache_flow", [21]); // cached in production after the branch point

    await h.agent({ modules: [REUSE_V2], env: "feature" });
    const feature = h.envApi("feature");
    expect((await feature.call("POST", `/api/projects/${prod.project}/envs/feature/runs/${later.runId}/steps/1/rerun`)).status).toBe(404);
    // A result production cached after the branch point is not inherited; one from before is.
    expect(executionsOf((await feature.run("reuse:cache_flow", [21])).view, "square")).toHaveLength(1);
    expect(stepOf((await feature.run("reuse:cache_flow", [7])).view, "square").reusedFrom?.env).toBe("production");

    const transform = stepOf(original.view, "transform").stepId;
    const r = await feature.ok<{ executionId: string }>("POST", `/runs/${original.runId}/steps/${transform}/rerun`, { cascade: true });
    expect(r.executionId).toMatch(new RegExp(`^${original.runId}-${transform}-`));
    expect(await feature.result(original.runId)).toMatchObject({ status: "succeeded" });
    let view = await feature.view(original.runId);
    for (let i = 0; i < 100 && view.run.pending > 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      view = await feature.view(original.runId);
    }
    // The new code's result propagated to the root: (1+2+3+4) × 3.
    expect(stepOf(view, "pipeline").result).toEqual({ kind: "inline", value: 30 });
    expect(view.run.branchedFrom).toEqual({ env: "production", seq: point });
    // Executed in the branch: the changed transform, the root re-run by the cascade, and load (its input changed).
    const executed = Object.values(view.executions).map((x) => view.steps.find((s) => s.stepId === x.stepId)!.target.target).sort();
    expect(executed).toEqual(["load", "pipeline", "transform"]);
    // extract was reused, from production.
    expect(view.steps.filter((s) => s.target.target === "extract").every((s) => s.status === "reused" && s.reusedFrom?.env === "production")).toBe(true);

    // Production is untouched.
    expect((await prod.view(original.runId)).steps.find((s) => s.target.target === "pipeline")!.result).toEqual({ kind: "inline", value: 20 });

    // Rebuilding the branch (its own log and its frozen view of production) changes nothing.
    const before = await feature.ok<{ lines: string[] }>("GET", "/projections/dump");
    await feature.ok("POST", "/projections/rebuild");
    const after = await feature.ok<{ lines: string[] }>("GET", "/projections/dump");
    expect(after.lines).toEqual(before.lines);
  });

  it("without --cascade, the callers of a re-run step are shown as stale", async () => {
    const envs = `/api/projects/${prod.project}/envs`;
    const original = await prod.run("reuse:pipeline", [3]);
    await prod.call("POST", envs, { name: "stale-check", from: "production" });
    await h.agent({ modules: [REUSE_V2], env: "stale-check" });
    const branch = h.envApi("stale-check");
    const transform = stepOf(original.view, "transform").stepId;
    const r = await branch.ok<{ executionId: string }>("POST", `/runs/${original.runId}/steps/${transform}/rerun`);
    let view = await branch.ok<RunView & { stale: string[] }>("GET", `/runs/${original.runId}`);
    for (let i = 0; i < 100 && view.executions[r.executionId]?.status !== "succeeded"; i++) {
      await new Promise((res) => setTimeout(res, 50));
      view = await branch.ok<RunView & { stale: string[] }>("GET", `/runs/${original.runId}`);
    }
    expect(stepOf(view, "transform").result).toEqual({ kind: "inline", value: [3, 6, 9] });
    expect(view.stale).toEqual([stepOf(view, "pipeline").stepId]);
  });
});
