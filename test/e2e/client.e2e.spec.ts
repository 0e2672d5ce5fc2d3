/** `tributary/client` against a real server started with `tributary/server`, and a real agent. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type Agent } from "../../src/agent/runtime.js";
import { ApiError, Client, ConnectionError, InvalidRequestError, RunFailedError, type LogLine } from "../../src/client/index.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { FLOWS, freePort, freshProject } from "./support.js";

describe("tributary/client", () => {
  let dataDir: string;
  let server: RunningServer;
  let agent: Agent;
  let client: Client;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "trib-client-"));
    const project = freshProject();
    server = await startServer({ dataDir, port: 0, defaultProject: project, heartbeatMs: 500, onNotice: () => {} });
    agent = await startAgent({ server: server.url, project, env: "production", tags: {}, modules: [FLOWS] });
    client = server.client();
  });

  afterAll(async () => {
    await agent?.stop({ drainMs: 0 });
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("submits a run and awaits its result; polls it, reads it and its history, finds it listed; a known idempotency key answers the same run", async () => {
    const n = 4;
    const run = await client.submit("flows:fan_out", [n], { idempotencyKey: "client-fan" });
    expect(run.created).toBe(true);
    const expected = Array.from({ length: n }, (_, i) => i + 1).reduce((a, b) => a + b, 0);
    expect(await run.result()).toBe(expected);
    expect(await run.poll()).toEqual({ status: "succeeded", value: expected });
    const view = await run.view();
    expect(view.run).toMatchObject({ runId: run.runId, status: "succeeded", steps: n + 1 });
    expect(await run.steps()).toHaveLength(n + 1);
    const history = await run.history();
    expect(history[0]).toMatchObject({ type: "RunSubmitted", seq: run.seq, index: 0 });
    expect((await client.listRuns({ limit: 5 })).map((r) => r.runId)).toContain(run.runId);
    const again = await client.submit("flows:fan_out", [n], { idempotencyKey: "client-fan" });
    expect({ runId: again.runId, created: again.created }).toEqual({ runId: run.runId, created: false });
    expect(JSON.parse(JSON.stringify(again))).toEqual({ runId: run.runId, created: false });
  });

  it("a run that fails throws a RunFailedError carrying its error; a cancelled one too", async () => {
    const failed = await client.submit("flows:fail_flow");
    const e = await failed.result().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RunFailedError);
    expect(e).toMatchObject({ runId: failed.runId, status: "failed", error: { type: "RangeError", message: expect.stringMatching(/value out of range/) } });

    const long = await client.submit("flows:sleep_flow", [30_000, 1]);
    expect(await long.poll()).toBeUndefined();
    expect(await long.cancel()).toMatchObject({ runId: long.runId, cancelled: true });
    expect(await long.cancel()).toEqual({ runId: long.runId, cancelled: true, already: true });
    await expect(long.result()).rejects.toMatchObject({ name: "RunFailedError", status: "cancelled" });
  });

  it("re-runs a step and awaits what the new execution gives, alone and cascading to the root", async () => {
    const run = await client.submit("flows:stamp_flow");
    await run.result();
    const stepId = (await run.view()).steps.find((s) => s.target.target === "stamp")!.stepId;
    const rerun = await run.rerun(stepId);
    const outcome = await rerun.outcome();
    const view = await run.view();
    expect(outcome).toEqual({ status: "succeeded", value: view.executions[rerun.executionId]!.attempt });
    const cascade = await run.rerun(stepId, { cascade: true });
    expect(cascade.cascade).toBe(true);
    expect(await cascade.outcome()).toMatchObject({ status: "succeeded" });
    const after = await run.view();
    const root = after.steps.find((s) => s.stepId === after.run.rootStepId)!;
    expect(root.executions.map((x) => after.executions[x]!.reason)).toEqual(["first", "rerun"]);
  });

  it("follows a run's log lines until the run ends", async () => {
    const run = await client.submit("flows:logs");
    const lines: LogLine[] = [];
    for await (const line of run.followLogs()) lines.push(line);
    expect(lines).toEqual(await run.logs());
    expect(lines).toContainEqual(expect.objectContaining({ runId: run.runId, level: "info", message: "hello from a task", fields: { answer: 42 } }));
  });

  it("a refusal raises an ApiError with the status and the server's message; a request the server would refuse is not sent", async () => {
    const unknown = await client.submit("flows:missing").catch((x: unknown) => x);
    expect(unknown).toBeInstanceOf(ApiError);
    expect(unknown).toMatchObject({ status: 400, message: expect.stringMatching(/unknown target flows:missing/) });
    await expect(client.run("NOSUCHRUN").view()).rejects.toMatchObject({ name: "ApiError", status: 404, message: expect.stringMatching(/NOSUCHRUN/) });
    const badId = await client.run("a.b").view().catch((x: unknown) => x);
    expect(badId).toBeInstanceOf(InvalidRequestError);
    expect(badId).toMatchObject({ status: 400, message: expect.stringMatching(/^runId: invalid run id "a\.b"/) });
    await expect(client.listRuns({ limit: 0 })).rejects.toMatchObject({ name: "InvalidRequestError", message: expect.stringMatching(/query parameter limit/) });
    expect(() => new Client({ url: "ftp://example.org" })).toThrow(/url takes the server's http:\/\/ or https:\/\/ URL/);
    expect(() => new Client({ env: "../etc" })).toThrow(/env: invalid environment name/);
    expect(await client.request<{ connected: unknown[] }>("GET", `/api/projects/${client.project}/envs/production/agents`)).toMatchObject({ connected: [expect.anything()] });
  });

  it("a server that cannot be reached raises a ConnectionError naming its URL; waiting calls retry it for as long as they are told", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const nowhere = new Client({ url });
    const e = await nowhere.listRuns().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e).toMatchObject({ url, reason: "unreachable", message: expect.stringContaining(`cannot reach the Tributary server at ${url}`) });
    await expect(Client.connect({ url })).rejects.toBeInstanceOf(ConnectionError);
    const retries: number[] = [];
    const waited = nowhere.run("somerun").outcome({ retryForMs: 1000, onRetry: (_, delay) => retries.push(delay) });
    await expect(waited).rejects.toBeInstanceOf(ConnectionError);
    expect(retries.length).toBeGreaterThan(0);
    expect(retries).toEqual([...retries].sort((a, b) => a - b));
  });
});
