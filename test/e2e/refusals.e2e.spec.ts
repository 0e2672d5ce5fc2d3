/**
 * Wrong requests get a clear refusal, with nothing recorded, instead of a
 * silent surprise: each case was found by trying it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { decodeMessage, encodeMessage, PROTOCOL_VERSION } from "../../src/protocol/messages.js";
import { eventually, LOG_KINDS, startHarness, type Harness } from "./support.js";

describe.each(LOG_KINDS)("wrong requests are refused on the %s log", (kind) => {
  let h: Harness;
  let envs: string;
  const runs = () => `${envs}/production/runs`;
  /** How many runs the environment has: a refused submission adds none. */
  const runCount = async () => (await h.api.ok<unknown[]>("GET", "/runs?limit=10000")).length;
  /** How many events a run has: a refused command adds none. */
  const eventsOf = async (runId: string) => (await h.api.history(runId)).length;

  beforeAll(async () => {
    h = await startHarness(kind);
    envs = `/api/projects/${h.api.project}/envs`;
    await h.agent();
  });
  afterAll(() => h?.close());

  it("cancelling a run that succeeded or failed is refused (409) and the run keeps its outcome and can be re-run", async () => {
    const done = await h.api.run("flows:fan_out", [2]);
    const before = await eventsOf(done.runId);
    const r = await h.api.call<{ error: string }>("POST", `${runs()}/${done.runId}/cancel`);
    expect(r.status).toBe(409);
    expect(r.body.error).toBe(`run ${done.runId} has already succeeded: see it with 'tributary runs show ${done.runId}'`);
    expect(await eventsOf(done.runId)).toBe(before);
    expect((await h.api.view(done.runId)).run.status).toBe("succeeded");
    expect((await h.api.call("POST", `${runs()}/${done.runId}/steps/2/rerun`)).status).toBe(200);

    const failed = await h.api.run("flows:fail_flow");
    const f = await h.api.call<{ error: string }>("POST", `${runs()}/${failed.runId}/cancel`);
    expect(f.status).toBe(409);
    expect(f.body.error).toMatch(new RegExp(`run ${failed.runId} has already failed`));
  });

  it("cancelling a finished run while a step of it re-runs stops the re-run only; the run stays succeeded", async () => {
    const { runId } = await h.api.run("flows:sleep_flow", [800, 1]);
    const rerun = await h.api.ok<{ executionId: string }>("POST", `/runs/${runId}/steps/2/rerun`, {});
    const stopped = await h.api.ok("POST", `/runs/${runId}/cancel`);
    expect(stopped).toMatchObject({ runId, cancelled: false, stopped: 1, status: "succeeded" });
    const view = await h.api.view(runId);
    expect(view.run.status).toBe("succeeded");
    expect(view.executions[rerun.executionId]?.status).toBe("cancelled");
    expect((await h.api.call("POST", `${runs()}/${runId}/cancel`)).status).toBe(409);
  });

  it("cancelling a cancelled run again is idempotent: 200, saying it already was, recording nothing", async () => {
    const runId = await h.api.submit("flows:sleep_flow", [30_000, 1]);
    expect(await h.api.ok("POST", `/runs/${runId}/cancel`)).toMatchObject({ runId, cancelled: true, seq: expect.any(Number) });
    const before = await eventsOf(runId);
    expect(await h.api.ok("POST", `/runs/${runId}/cancel`)).toEqual({ runId, cancelled: true, already: true });
    expect(await eventsOf(runId)).toBe(before);
  });

  it("a reused idempotency key with other arguments or another target is refused (409) naming the key; the same request, keys in any order, gets the first run", async () => {
    const key = `refuse-${kind}`;
    const first = await h.api.submit("flows:double", [{ a: 1, b: { c: 2, d: 3 } }], { idempotencyKey: key });
    const same = await h.api.call<{ runId: string; created: boolean }>("POST", runs(), {
      target: "flows:double",
      arguments: [{ b: { d: 3, c: 2 }, a: 1 }],
      idempotencyKey: key,
    });
    expect(same).toEqual({ status: 200, body: { runId: first, created: false } });
    const before = await runCount();
    const other = await h.api.call<{ error: string }>("POST", runs(), { target: "flows:double", arguments: [{ a: 2 }], idempotencyKey: key });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatch(new RegExp(`idempotency key "${key}" was already used for run ${first} \\(flows:double\\)`));
    const target = await h.api.call<{ error: string }>("POST", runs(), { target: "flows:chain", arguments: [{ a: 1, b: { c: 2, d: 3 } }], idempotencyKey: key });
    expect(target.status).toBe(409);
    expect(await runCount()).toBe(before);
  });

  it("a task submitted as a run is refused (400), saying it is a task and which workflows there are", async () => {
    const before = await runCount();
    const r = await h.api.call<{ error: string }>("POST", runs(), { target: "flows:add", arguments: [1, 2] });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^flows:add is a task: only workflows are submitted as runs; call the task from a workflow \(workflows of flows: .*flows:fan_out/);
    expect(r.body.error).not.toMatch(/flows:add,|flows:flaky,/);
    expect(await runCount()).toBe(before);
    // Task code calling a workflow still makes a child run.
    expect((await h.api.run("flows:calls_workflow", [4])).outcome).toEqual({ status: "succeeded", value: 9 });
  });

  it("arguments that do not fit the target's parameters are refused at submit (400) with the count and the range", async () => {
    const before = await runCount();
    const none = await h.api.call<{ error: string }>("POST", runs(), { target: "flows:fan_out", arguments: [] });
    expect(none).toEqual({ status: 400, body: { error: "flows:fan_out takes 1 argument (n), got 0" } });
    const many = await h.api.call<{ error: string }>("POST", runs(), { target: "flows:sleep_flow", arguments: [1, 2, 3] });
    expect(many).toEqual({ status: 400, body: { error: "flows:sleep_flow takes 2 arguments (ms, n), got 3" } });
    expect(await runCount()).toBe(before);
  });

  it("task code calling a task or a workflow with the wrong number of arguments fails at the call site", async () => {
    const { outcome, view } = await h.api.run("flows:miscount");
    expect(outcome).toEqual({
      status: "succeeded",
      value: ["flows:add takes 2 arguments (a, b), got 1", "flows:double takes 1 argument (x), got 0"],
    });
    expect(view.steps).toHaveLength(1);
  });

  it("re-running a step in an environment where no agent hosts its target is refused (400) as submit is, and brings nothing in", async () => {
    const { runId } = await h.api.run("flows:fan_out", [2]);
    expect((await h.api.call("POST", envs, { name: "dev", base: "production" })).status).toBe(200);
    const dev = h.envApi("dev");
    const r = await dev.call<{ error: string }>("POST", `${envs}/dev/runs/${runId}/steps/2/rerun`);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("unknown target flows:add: no connected agent has registered it; start an agent that hosts it, or check the name");
    expect((await dev.call("GET", `${envs}/dev/runs/${runId}`)).status).toBe(404);
    const submitted = await dev.call<{ error: string }>("POST", `${envs}/dev/runs`, { target: "flows:fan_out", arguments: [2] });
    // A submission may be queued instead: its refusal says how.
    const queueHint = '; or submit it with --queue (API: "queue": true) to accept the run now: it waits until an agent hosting flows connects';
    expect(submitted).toEqual({ status: 400, body: { error: r.body.error.replace("flows:add", "flows:fan_out") + queueHint } });
    // With an agent in dev, the same re-run goes ahead.
    await h.agent({ env: "dev" });
    expect((await dev.call("POST", `${envs}/dev/runs/${runId}/steps/2/rerun`)).status).toBe(200);
  });

  it("work queued for a target no connected agent hosts now is accepted with a warning that it waits, by submit and by rerun alike", async () => {
    expect((await h.api.call("POST", envs, { name: "quiet" })).status).toBe(200);
    const quiet = h.envApi("quiet");
    const agent = await h.agent({ env: "quiet" });
    const { runId } = await quiet.run("flows:fan_out", [1]);
    expect(await quiet.ok("POST", `/runs/${runId}/steps/2/rerun`)).not.toHaveProperty("warning");
    await eventually(async () => (await quiet.view(runId)).executions[`${runId}-2-2`]?.status === "succeeded", 5000, "the re-run");
    await agent.stop({ drainMs: 0 });
    await eventually(async () => (await quiet.ok<{ connected: unknown[] }>("GET", "/agents")).connected.length === 0, 5000, "the agent to leave");
    const warning = (t: string) => `no connected agent hosts ${t} now: it waits until one connects to ${h.api.project}/quiet ('tributary agent --env quiet MODULE')`;
    expect(await quiet.ok("POST", "/runs", { target: "flows:fan_out", arguments: [1] })).toMatchObject({ created: true, warning: warning("flows:fan_out") });
    expect(await quiet.ok("POST", `/runs/${runId}/steps/2/rerun`)).toMatchObject({ executionId: `${runId}-2-3`, warning: warning("flows:add") });
  });

  it("an archived environment is refused as a base (409 naming it), at creation and on update; it can still be branched", async () => {
    expect((await h.api.call("POST", envs, { name: "retired" })).status).toBe(200);
    expect((await h.api.call("POST", `${envs}/retired/archive`)).status).toBe(200);
    const message = `environment ${h.api.project}/retired is archived: it cannot be the base of another environment; choose one that is not archived`;
    expect(await h.api.call("POST", envs, { name: "child", base: "retired" })).toEqual({ status: 409, body: { error: message } });
    expect((await h.api.call("GET", `${envs}/child/runs`)).status).toBe(404);
    expect((await h.api.call("POST", envs, { name: "stage" })).status).toBe(200);
    expect(await h.api.call("POST", `${envs}/stage/update`, { base: "retired" })).toEqual({ status: 409, body: { error: message } });
    expect((await h.api.call<{ base?: string }>("GET", envs)).body).toContainEqual(expect.objectContaining({ name: "stage" }));
    expect((await h.api.call<{ name: string; base?: string }[]>("GET", envs)).body.find((e) => e.name === "stage")?.base).toBeUndefined();
    const branch = await h.api.call<{ branchedFrom: { parent: string } }>("POST", envs, { name: "autopsy", from: "retired" });
    expect(branch.status).toBe(200);
    expect(branch.body.branchedFrom.parent).toBe("retired");
  });

  it("an agent whose manifest has a malformed arity is refused at hello, and nothing is recorded", async () => {
    const before = (await h.api.ok<{ known: unknown[] }>("GET", "/agents")).known.length;
    const ws = new WebSocket(`${h.server.url.replace("http", "ws")}/agent`);
    const replies: { type: string; reason?: string }[] = [];
    ws.on("message", (d: Buffer) => replies.push(decodeMessage(d) as never));
    await new Promise((r) => ws.once("open", r));
    const target = { name: "t", kind: "task", parameters: [], options: {}, arity: { min: 2, max: 1 } };
    ws.send(encodeMessage({ type: "hello", protocol: PROTOCOL_VERSION, project: h.api.project, env: "production", tags: {}, concurrency: 1, manifests: [{ repository: "bad", targets: [target] }], running: [] } as never));
    await eventually(() => replies.length >= 1, 5000, "a reply");
    expect(replies[0]).toEqual({ type: "refused", reason: "manifests[0].targets[0].arity must be { min, max? }: whole numbers >= 0, max >= min, no max for a rest parameter" });
    ws.close();
    expect((await h.api.ok<{ known: unknown[] }>("GET", "/agents")).known.length).toBe(before);
  });
});
