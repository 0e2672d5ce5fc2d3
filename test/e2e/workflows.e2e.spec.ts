import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { decodeMessage, encodeMessage, PROTOCOL_VERSION } from "../../src/protocol/messages.js";
import { eventually, LOG_KINDS, startHarness, type Harness } from "./support.js";

describe.each(LOG_KINDS)("workflows end to end on the %s log", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
    await h.agent();
  });
  afterAll(() => h?.close());

  it("a workflow fans out to tasks in parallel and gets every result", async () => {
    const { outcome, view } = await h.api.run("flows:fan_out", [20]);
    expect(outcome).toEqual({ status: "succeeded", value: 210 });
    expect(view.run).toMatchObject({ status: "succeeded", steps: 21, pending: 0 });
    expect(view.steps.filter((s) => s.parentExecutionId === view.steps[0]!.executions[0])).toHaveLength(20);
  });

  it("tasks call tasks, nested several levels deep", async () => {
    const { outcome, view } = await h.api.run("flows:nested", [4]);
    expect(outcome).toEqual({ status: "succeeded", value: 4 });
    // Each level is called by the execution of the level above.
    for (let i = 1; i < view.steps.length; i++) {
      expect(view.steps[i]!.parentExecutionId).toBe(view.steps[i - 1]!.executions[0]);
    }
  });

  it("a failing task is retried with growing backoff until it succeeds", async () => {
    const { runId, outcome, view } = await h.api.run("flows:flaky_flow", [2]);
    expect(outcome).toEqual({ status: "succeeded", value: 3 });
    const step = view.steps.find((s) => s.target.target === "flaky")!;
    const attempts = step.executions.map((id) => view.executions[id]!);
    expect(attempts.map((x) => [x.attempt, x.reason, x.status])).toEqual([
      [1, "first", "failed"],
      [2, "retry", "failed"],
      [3, "retry", "succeeded"],
    ]);
    expect(attempts[0]!.error).toMatchObject({ type: "RangeError", message: "attempt 1 fails" });
    // The retries waited 60 ms, then 120 ms, after each failure, as the log records.
    const history = await h.api.history(runId);
    const failedAt = history.filter((e) => e.type === "ExecutionFailed").map((e) => e.at);
    const notBefore = history.filter((e) => e.type === "ExecutionCreated" && e.data.reason === "retry").map((e) => e.data.notBefore as number);
    expect(notBefore.map((t, i) => t - failedAt[i]!)).toEqual([60, 120]);
    expect(attempts[1]!.startedAt! - attempts[0]!.finishedAt!).toBeGreaterThanOrEqual(60);
  });

  it("an error thrown by a task reaches its caller with its name, message, class and stack", async () => {
    const { outcome } = await h.api.run("flows:catch_flow");
    expect(outcome).toEqual({
      status: "succeeded",
      value: { name: "RangeError", message: "value out of range", isRangeError: true, hasStack: true },
    });
    const failed = await h.api.run("flows:fail_flow");
    expect(failed.outcome).toMatchObject({ status: "failed", error: { type: "RangeError", message: "value out of range" } });
    expect(failed.view.run.status).toBe("failed");
  });

  it("a task past its timeout is stopped, cooperative or not, and the caller gets a TimeoutError", async () => {
    const slow = await h.api.run("flows:timeout_flow", ["slow"]);
    expect(slow.outcome).toEqual({ status: "succeeded", value: { caught: "TimeoutError" } });
    const busy = await h.api.run("flows:timeout_flow", ["busy"]);
    expect(busy.outcome).toEqual({ status: "succeeded", value: { caught: "TimeoutError" } });
    const x = Object.values(busy.view.executions).find((e) => e.status === "timed_out");
    expect(x).toBeDefined();
    // The agent is still healthy afterwards.
    expect((await h.api.run("flows:fan_out", [3])).outcome).toEqual({ status: "succeeded", value: 6 });
  });

  it("a step that requires a tag waits in the queue until an agent with it connects", async () => {
    const runId = await h.api.submit("flows:gpu_flow");
    await eventually(async () => (await h.api.view(runId)).steps.length === 2, 5000, "the gpu step");
    await new Promise((r) => setTimeout(r, 300));
    const waiting = await h.api.view(runId);
    expect(waiting.executions[waiting.steps[1]!.executions[0]!]!.status).toBe("queued");
    const gpu = await h.agent({ tags: { gpu: ["yes"] } });
    expect(await h.api.result(runId)).toEqual({ status: "succeeded", value: "ran on a gpu agent" });
    const view = await h.api.view(runId);
    expect(view.executions[view.steps[1]!.executions[0]!]!.agentId).toBe(gpu.agentId);
  });

  it("cancelling a run stops its tasks and records every cancellation", async () => {
    const runId = await h.api.submit("flows:sleep_flow", [60_000, 3]);
    await eventually(async () => Object.values((await h.api.view(runId)).executions).filter((x) => x.status === "running").length === 4, 10_000, "four running executions");
    await h.api.ok("POST", `/runs/${runId}/cancel`);
    expect(await h.api.result(runId)).toMatchObject({ status: "cancelled" });
    const view = await h.api.view(runId);
    expect(view.run.status).toBe("cancelled");
    expect(Object.values(view.executions).map((x) => x.status)).toEqual(["cancelled", "cancelled", "cancelled", "cancelled"]);
    // The agent has no execution of that run left running.
    await eventually(async () => {
      const agents = await h.api.ok<{ connected: { running: number }[] }>("GET", "/agents");
      return agents.connected.every((a) => a.running === 0);
    }, 5000, "idle agents");
  });

  it("re-running a step makes a new execution whose result becomes the step's", async () => {
    const { runId, view } = await h.api.run("flows:stamp_flow");
    const stepId = view.steps[1]!.stepId;
    const r = await h.api.ok<{ executionId: string }>("POST", `/runs/${runId}/steps/${stepId}/rerun`);
    await eventually(async () => (await h.api.view(runId)).executions[r.executionId]?.status === "succeeded", 5000, "the re-run");
    const after = await h.api.view(runId);
    expect(after.steps[1]).toMatchObject({ status: "succeeded", result: { kind: "inline", value: 2 }, resultExecutionId: r.executionId });
    expect(after.executions[r.executionId]).toMatchObject({ attempt: 2, reason: "rerun" });
  });

  it("a workflow called from a task runs as a new run linked to its caller", async () => {
    const { runId, outcome } = await h.api.run("flows:calls_workflow", [20]);
    expect(outcome).toEqual({ status: "succeeded", value: 41 });
    const runs = await h.api.ok<{ runId: string; parent?: { runId: string } }[]>("GET", "/runs");
    const child = runs.find((r) => r.parent?.runId === runId);
    expect(child).toBeDefined();
    expect(await h.api.result(child!.runId)).toEqual({ status: "succeeded", value: 40 });
  });

  it("handles travel as references: passed as arguments, held by `wait`, and returned", async () => {
    expect((await h.api.run("flows:wait_flow")).outcome).toEqual({ status: "succeeded", value: { waited: 300, notWaited: "not yet" } });
    expect((await h.api.run("flows:handle_flow")).outcome).toEqual({ status: "succeeded", value: 51 });
  });

  it("a result too large for the log is kept as a blob and reaches its caller and the API intact", async () => {
    const n = 600_000;
    const { runId, outcome, view } = await h.api.run("flows:big_text_flow", [n]);
    expect(outcome).toEqual({ status: "succeeded", value: n });
    const step = view.steps.find((s) => s.target.target === "big_text")!;
    expect(step.result).toMatchObject({ kind: "blob", blob: { key: expect.stringMatching(/^sha256:/), size: expect.any(Number) } });
    const succeeded = (await h.api.history(runId)).filter((e) => e.type === "ExecutionSucceeded");
    expect(succeeded.some((e) => (e.data.result as { kind: string }).kind === "blob")).toBe(true);
    const direct = await h.api.run("flows:big_text_run", [n]);
    expect(direct.outcome.status).toBe("succeeded");
    expect((direct.outcome as { value: string }).value).toBe("x".repeat(n));
    // Past the result limit (64 MiB) the agent refuses to send it, with what to do instead.
    const huge = await h.api.run("flows:big_text_run", [70_000_000]);
    expect(huge.outcome).toMatchObject({ status: "failed", error: { type: "ResultTooLarge", message: expect.stringMatching(/persist large data as an asset/) } });
    expect((await h.api.run("flows:fan_out", [2])).outcome).toEqual({ status: "succeeded", value: 3 });
  });

  it("an unknown target is refused with the targets that exist", async () => {
    const r = await h.api.call<{ error: string }>("POST", `/api/projects/${h.api.project}/envs/production/runs`, { target: "flows:nope" });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/unknown target flows:nope: .*known: .*flows:fan_out/);
    const bad = await h.api.call<{ error: string }>("POST", `/api/projects/${h.api.project}/envs/production/runs`, { target: "no colon" });
    expect(bad.status).toBe(400);
  });

  it("a repeated idempotency key returns the same run", async () => {
    const a = await h.api.submit("flows:fan_out", [2], { idempotencyKey: `k-${kind}` });
    const b = await h.api.submit("flows:fan_out", [2], { idempotencyKey: `k-${kind}` });
    expect(b).toBe(a);
  });

  it("task log lines are kept per run", async () => {
    const { runId } = await h.api.run("flows:logs");
    const lines = await eventually(async () => {
      const l = await h.api.ok<{ message: string; fields: unknown; level: string }[]>("GET", `/runs/${runId}/logs`);
      return l.length ? l : undefined;
    }, 5000, "the log line");
    expect(lines).toMatchObject([{ level: "info", message: "hello from a task", fields: { answer: 42 } }]);
  });

  it("malformed and unknown frames from an agent get an error reply and break nothing", async () => {
    const ws = new WebSocket(`${h.server.url.replace("http", "ws")}/agent`);
    const replies: { type: string; message?: string; reason?: string }[] = [];
    ws.on("message", (d: Buffer) => replies.push(decodeMessage(d) as never));
    await new Promise((r) => ws.once("open", r));
    ws.send("not binary");
    ws.send(Buffer.from([0xc1, 0xff, 0x00]));
    ws.send(encodeMessage({ type: "heartbeat", running: [] }));
    ws.send(encodeMessage({ type: "hello", protocol: PROTOCOL_VERSION + 1 } as never));
    await eventually(() => replies.length >= 4, 5000, "four replies");
    expect(replies.slice(0, 3).map((r) => r.type)).toEqual(["error", "error", "error"]);
    expect(replies[0]!.message).toMatch(/malformed frame/);
    expect(replies[2]!.message).toMatch(/expected hello first/);
    expect(replies[3]).toMatchObject({ type: "refused", reason: expect.stringContaining(`protocol version ${PROTOCOL_VERSION + 1} is not supported`) });
    ws.close();
    expect((await h.api.run("flows:fan_out", [2])).outcome).toEqual({ status: "succeeded", value: 3 });
  });
});
