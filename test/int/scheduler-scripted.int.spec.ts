/**
 * The scheduler against a scripted agent: a real `TributaryServer` (embedded
 * log, port 0) and an agent that speaks the protocol frame by frame over the
 * real WebSocket, so every frame the scheduler sends is seen, and the run's
 * history (`GET …/runs/{id}/history`) shows what it recorded.
 *
 * Each test has an environment of its own on one server, so agents and
 * executions of different tests never meet.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerMessage } from "../../src/protocol/messages.js";
import { PROTOCOL_VERSION } from "../../src/protocol/messages.js";
import { RawAgent } from "../support/raw-agent.js";
import { Api, eventually, startHarness, type Harness } from "../e2e/support.js";

/** Heartbeat interval asked of agents: the grace for a lost execution is two of them. */
const HEARTBEAT_MS = 250;
const GRACE_MS = 2 * HEARTBEAT_MS;

type Frame<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;
type HistoryEvent = { seq: number; type: string; at: number; data: Record<string, unknown> };

const target = (name: string, options: Record<string, unknown> = {}, kind: "workflow" | "task" = "workflow") => ({
  name,
  kind,
  parameters: [{ name: "x" }],
  options,
});
const MANIFESTS = [
  {
    repository: "scripted",
    targets: [
      target("wf"),
      target("gpu_wf", { requires: { gpu: ["a100"] } }),
      target("h100_wf", { requires: { gpu: ["h100"] } }),
      target("slow_wf", { timeoutMs: 300 }),
      target("task", {}, "task"),
    ],
  },
];

/**
 * An agent scripted by the test: says hello, heartbeats on its own with the
 * executions it was sent and has not finished (minus those it `forget`s),
 * and sends what the test tells it to.
 */
class ScriptedAgent {
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly done = new Set<string>();
  /** Executions it says it runs from the start (sent to an earlier connection). */
  private adopted: string[] = [];
  agentId = "";

  private constructor(readonly raw: RawAgent) {}

  static async connect(
    h: Harness,
    env: string,
    o: { agentId?: string; tags?: Record<string, string[]>; concurrency?: number; running?: string[]; heartbeats?: boolean } = {},
  ): Promise<ScriptedAgent> {
    const a = new ScriptedAgent(await RawAgent.connect(h.server.url));
    a.raw.send({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      project: h.api.project,
      env,
      ...(o.agentId === undefined ? {} : { agentId: o.agentId }),
      tags: o.tags ?? {},
      concurrency: o.concurrency ?? 4,
      manifests: MANIFESTS,
      running: o.running ?? [],
    });
    const welcome = await a.raw.next("welcome");
    a.agentId = welcome.agentId;
    a.adopted = o.running ?? [];
    if (o.heartbeats !== false) {
      a.heartbeat = setInterval(() => a.raw.send({ type: "heartbeat", running: a.running() }), HEARTBEAT_MS / 2);
    }
    return a;
  }

  /** What it says it runs: what it was sent, not finished, not aborted, not forgotten. */
  running(): string[] {
    const sent = this.raw.received.filter((m): m is Frame<"execute"> => m.type === "execute").map((m) => m.executionId);
    const aborted = this.raw.received.filter((m): m is Frame<"abort"> => m.type === "abort").map((m) => m.executionId);
    return [...new Set([...this.adopted, ...sent])].filter((id) => !this.done.has(id) && !aborted.includes(id));
  }

  /** Drops an execution from its heartbeats, as an agent that lost it would. */
  forget(executionId: string): void {
    this.done.add(executionId);
  }

  executes(): Frame<"execute">[] {
    return this.raw.received.filter((m): m is Frame<"execute"> => m.type === "execute");
  }

  /** The next `execute` frame (of a run, if given) not seen before index `from`. */
  execute(match: (m: Frame<"execute">) => boolean = () => true, from = 0): Promise<Frame<"execute">> {
    return this.raw.next("execute", 10_000, match, from);
  }

  send(m: Record<string, unknown>): void {
    this.raw.send(m);
  }

  started(executionId: string): void {
    this.send({ type: "started", executionId });
  }

  /** Sends a result and waits for its `ack` (or an `error` for the request). */
  async succeed(executionId: string, value: unknown, requestId: number): Promise<Frame<"ack"> | Frame<"error">> {
    const from = this.raw.received.length;
    this.send({ type: "succeeded", executionId, value, requestId });
    this.done.add(executionId);
    return this.raw.next(["ack", "error"], 10_000, (m) => m.requestId === requestId, from);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.raw.close();
  }
}

describe("the scheduler and a scripted agent over the server's WebSocket", () => {
  let h: Harness;
  let n = 0;
  const agents: ScriptedAgent[] = [];

  beforeAll(async () => {
    h = await startHarness("embedded", { heartbeatMs: HEARTBEAT_MS });
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await h?.close();
  });

  /** A fresh environment of the test project, and its API. */
  const freshEnv = async (): Promise<{ env: string; api: Api }> => {
    const env = `sched-${++n}`;
    const r = await h.api.call("POST", `/api/projects/${h.api.project}/envs`, { name: env });
    expect(r.status).toBe(200);
    return { env, api: h.envApi(env) };
  };
  const agent = async (env: string, o: Parameters<typeof ScriptedAgent.connect>[2] = {}) => {
    const a = await ScriptedAgent.connect(h, env, o);
    agents.push(a);
    return a;
  };
  const types = (history: HistoryEvent[]) => history.map((e) => e.type);
  const last = (history: HistoryEvent[], type: string) => history.filter((e) => e.type === type).at(-1);

  it("hello → welcome; a submitted run → execute; started → succeeded → ack; the history records each step in order", async () => {
    const { env, api } = await freshEnv();
    const a = await agent(env, { agentId: "scripted-1" });
    expect(a.raw.received[0]).toEqual({ type: "welcome", agentId: "scripted-1", heartbeatMs: HEARTBEAT_MS });
    const runId = await api.submit("scripted:wf", [{ n: 1 }]);
    const x = await a.execute((m) => m.runId === runId);
    expect(x).toMatchObject({ type: "execute", runId, stepId: "1", attempt: 1, target: { repository: "scripted", target: "wf" }, arguments: [{ n: 1 }] });
    a.started(x.executionId);
    await eventually(async () => (await api.view(runId)).executions[x.executionId]?.status === "running", 5000, "started recorded");
    expect(await a.succeed(x.executionId, { total: 3 }, 1)).toEqual({ type: "ack", requestId: 1 });
    expect(await api.result(runId)).toEqual({ status: "succeeded", value: { total: 3 } });
    const history = await api.history(runId);
    expect(types(history)).toEqual(["RunSubmitted", "StepScheduled", "ExecutionCreated", "ExecutionAssigned", "ExecutionStarted", "ExecutionSucceeded"]);
    expect(last(history, "ExecutionAssigned")!.data).toMatchObject({ executionId: x.executionId, agentId: "scripted-1" });
    // What the agent reported is its doing (no token: a server without --auth); the rest is nobody's.
    const by = (type: string) => (last(history, type) as { by?: unknown } | undefined)?.by;
    expect([by("ExecutionStarted"), by("ExecutionSucceeded")]).toEqual([{ kind: "agent", agentId: "scripted-1" }, { kind: "agent", agentId: "scripted-1" }]);
    expect([by("RunSubmitted"), by("ExecutionAssigned")]).toEqual([undefined, undefined]);
    const agentsNow = await api.ok<{ connected: { agentId: string; running: number }[]; known: { agentId: string }[] }>("GET", "/agents");
    expect(agentsNow.connected).toMatchObject([{ agentId: "scripted-1", running: 0 }]);
  });

  it("an agent of concurrency 1 gets one execution at a time, in the order the runs were submitted", async () => {
    const { env, api } = await freshEnv();
    const a = await agent(env, { concurrency: 1 });
    const runs = [await api.submit("scripted:wf", [1]), await api.submit("scripted:wf", [2]), await api.submit("scripted:wf", [3])];
    for (const [i, runId] of runs.entries()) {
      const x = await a.execute((m) => m.runId === runId);
      // A heartbeat (and the scheduling pass it asks for) later, it still has only this one: the others wait, queued.
      await new Promise((r) => setTimeout(r, HEARTBEAT_MS));
      expect(a.executes().map((m) => m.runId)).toEqual(runs.slice(0, i + 1));
      for (const other of runs.slice(i + 1)) {
        expect(Object.values((await api.view(other)).executions).map((e) => e.status)).toEqual(["queued"]);
      }
      expect(await a.succeed(x.executionId, i, 10 + i)).toMatchObject({ type: "ack" });
    }
    for (const runId of runs) expect((await api.result(runId)).status).toBe("succeeded");
    // Each run was assigned only after the one before it had succeeded.
    const histories = await Promise.all(runs.map((r) => api.history(r)));
    for (let i = 1; i < runs.length; i++) {
      expect(last(histories[i]!, "ExecutionAssigned")!.seq).toBeGreaterThan(last(histories[i - 1]!, "ExecutionSucceeded")!.seq);
    }
  });

  it("requires: an execution goes to an agent whose tags satisfy it, waits while none does, and goes to one that connects later", async () => {
    const { env, api } = await freshEnv();
    const plain = await agent(env, { agentId: "plain" });
    const gpu = await agent(env, { agentId: "gpu", tags: { gpu: ["a100", "t4"] } });
    const onGpu = await api.submit("scripted:gpu_wf", [1]);
    const waiting = await api.submit("scripted:h100_wf", [2]);
    const x = await gpu.execute((m) => m.runId === onGpu);
    expect(last(await api.history(onGpu), "ExecutionAssigned")!.data["agentId"]).toBe("gpu");
    await new Promise((r) => setTimeout(r, HEARTBEAT_MS));
    expect([...plain.executes(), ...gpu.executes()].map((m) => m.runId)).toEqual([onGpu]);
    expect(types(await api.history(waiting))).toEqual(["RunSubmitted", "StepScheduled", "ExecutionCreated"]);
    // A task call of the running execution, with a requirement of its own: it goes to the agent that meets it.
    const from = gpu.raw.received.length;
    gpu.send({ type: "submit", requestId: 5, executionId: x.executionId, call: 1, target: { repository: "scripted", target: "task" }, arguments: [9], options: { requires: { gpu: ["t4"] } } });
    const submitted = await gpu.raw.next("submitted", 5000, (m) => m.requestId === 5, from);
    expect(submitted.handle).toMatchObject({ runId: onGpu, stepId: "2" });
    expect(await gpu.execute((m) => m.runId === onGpu && m.stepId === "2")).toMatchObject({ target: { repository: "scripted", target: "task" }, arguments: [9] });
    const h100 = await agent(env, { agentId: "h100", tags: { gpu: ["h100"] } });
    await h100.execute((m) => m.runId === waiting);
    expect(last(await api.history(waiting), "ExecutionAssigned")!.data["agentId"]).toBe("h100");
    expect(plain.executes()).toEqual([]);
  });

  it("an agent whose heartbeats no longer list an execution has it abandoned (not-running) after the grace, is told to abort it, and it is retried", async () => {
    const { env, api } = await freshEnv();
    const a = await agent(env);
    const runId = await api.submit("scripted:wf", [1]);
    const first = await a.execute((m) => m.runId === runId);
    a.started(first.executionId);
    a.forget(first.executionId);
    const abort = await a.raw.next("abort", 10_000, (m) => m.executionId === first.executionId);
    expect(abort.reason).toBe("abandoned");
    const retry = await a.execute((m) => m.runId === runId && m.attempt === 2);
    expect(retry.executionId).not.toBe(first.executionId);
    expect(await a.succeed(retry.executionId, "second time", 1)).toMatchObject({ type: "ack" });
    expect(await api.result(runId)).toEqual({ status: "succeeded", value: "second time" });
    const history = await api.history(runId);
    expect(types(history)).toEqual([
      "RunSubmitted",
      "StepScheduled",
      "ExecutionCreated",
      "ExecutionAssigned",
      "ExecutionStarted",
      "ExecutionAbandoned",
      "ExecutionCreated",
      "ExecutionAssigned",
      "ExecutionSucceeded",
    ]);
    const abandoned = last(history, "ExecutionAbandoned")!;
    expect(abandoned.data).toMatchObject({ executionId: first.executionId, cause: "not-running", reason: "not running on its agent" });
    // Abandoned only once a heartbeat came more than the grace after the assignment.
    expect(abandoned.at - history[3]!.at).toBeGreaterThan(GRACE_MS);
  });

  it("a failure the agent reports as not the task's (AgentStopping) is an acknowledged abandonment, retried at once by an execution resuming it; another agent's report is refused", async () => {
    const { env, api } = await freshEnv();
    const a = await agent(env, { agentId: "stopper" });
    const other = await agent(env, { agentId: "bystander" });
    const runId = await api.submit("scripted:wf", [1]);
    const first = await a.execute((m) => m.runId === runId);
    a.started(first.executionId);
    await eventually(async () => (await api.view(runId)).executions[first.executionId]?.status === "running", 5000, "started recorded");
    const stopping = { type: "AgentStopping", message: "the agent is stopping", retryable: true };
    const from = other.raw.received.length;
    other.send({ type: "failed", executionId: first.executionId, error: stopping, requestId: 41 });
    expect(await other.raw.next("error", 5000, (m) => m.requestId === 41, from)).toMatchObject({ message: `execution ${first.executionId} is not assigned to agent bystander` });
    const at = a.raw.received.length;
    a.send({ type: "failed", executionId: first.executionId, error: stopping, requestId: 42 });
    expect(await a.raw.next(["ack", "error"], 5000, (m) => m.requestId === 42, at)).toEqual({ type: "ack", requestId: 42 });
    const history = await api.history(runId);
    // (The retry may be assigned already.)
    expect(types(history).slice(4, 7)).toEqual(["ExecutionStarted", "ExecutionAbandoned", "ExecutionCreated"]);
    expect(types(history)).not.toContain("ExecutionFailed");
    expect(last(history, "ExecutionAbandoned")!.data).toEqual({ executionId: first.executionId, stepId: "1", agentId: "stopper", reason: "the agent is stopping", cause: "agent-stopping" });
    expect(last(history, "ExecutionCreated")!.data).toEqual({ executionId: `${runId}-1-2`, stepId: "1", attempt: 2, reason: "retry", resumes: first.executionId });
  });

  it("an agent that disconnects loses its executions once the grace has passed (agent-lost); an agent that connects gets the retry", async () => {
    const { env, api } = await freshEnv();
    const a = await agent(env, { agentId: "leaver" });
    const runId = await api.submit("scripted:wf", [1]);
    const first = await a.execute((m) => m.runId === runId);
    a.started(first.executionId);
    await eventually(async () => (await api.view(runId)).executions[first.executionId]?.status === "running", 5000, "started recorded");
    await a.close();
    const abandoned = await eventually(async () => last(await api.history(runId), "ExecutionAbandoned"), 10_000, "the abandonment");
    expect(abandoned.data).toMatchObject({ executionId: first.executionId, agentId: "leaver", cause: "agent-lost", reason: "its agent is not connected" });
    // Not before the grace had passed since the assignment (and since the agent left).
    expect(abandoned.at - last(await api.history(runId), "ExecutionAssigned")!.at).toBeGreaterThan(GRACE_MS);
    const known = await api.ok<{ known: { agentId: string; status: string }[] }>("GET", "/agents");
    expect(known.known.find((k) => k.agentId === "leaver")).toMatchObject({ status: "disconnected" });
    const b = await agent(env, { agentId: "newcomer" });
    const retry = await b.execute((m) => m.runId === runId);
    expect(retry.attempt).toBe(2);
    expect(await b.succeed(retry.executionId, 2, 1)).toMatchObject({ type: "ack" });
    expect((await api.result(runId)).status).toBe("succeeded");
  });

  it("an agent that disconnects and comes back within the grace, still running its execution, keeps it", async () => {
    const { env, api } = await freshEnv();
    const a = await agent(env, { agentId: "blinker" });
    const runId = await api.submit("scripted:wf", [1]);
    const x = await a.execute((m) => m.runId === runId);
    a.started(x.executionId);
    await eventually(async () => (await api.view(runId)).executions[x.executionId]?.status === "running", 5000, "started recorded");
    await a.close();
    const back = await agent(env, { agentId: "blinker", running: [x.executionId] });
    // It says, in its hello and its heartbeats, that it runs the execution it was sent on the first connection.
    await new Promise((r) => setTimeout(r, 2 * GRACE_MS));
    expect(back.raw.received.filter((m) => m.type === "abort" || m.type === "execute")).toEqual([]);
    expect(await back.succeed(x.executionId, "kept", 1)).toMatchObject({ type: "ack" });
    expect(await api.result(runId)).toEqual({ status: "succeeded", value: "kept" });
    const history = await api.history(runId);
    expect(types(history).filter((t) => t === "ExecutionAbandoned" || t === "ExecutionCreated")).toEqual(["ExecutionCreated"]);
  });

  it("an agent that stops sending heartbeats is disconnected by the server after three intervals", async () => {
    const { env, api } = await freshEnv();
    const a = await agent(env, { agentId: "silent", heartbeats: false });
    await eventually(() => a.raw.closed, 10_000, "the server to close the connection");
    expect(a.raw.closed).toMatchObject({ code: 1000, reason: "missed heartbeats" });
    const known = await eventually(
      async () => (await api.ok<{ known: { agentId: string; status: string }[] }>("GET", "/agents")).known.find((k) => k.status === "disconnected"),
      5000,
      "the disconnection recorded",
    );
    expect(known.agentId).toBe("silent");
  });

  it("a result sent again (after a reconnect, or twice) is acknowledged again and recorded once", async () => {
    const { env, api } = await freshEnv();
    const a = await agent(env, { agentId: "repeater" });
    const runId = await api.submit("scripted:wf", [1]);
    const x = await a.execute((m) => m.runId === runId);
    expect(await a.succeed(x.executionId, "once", 1)).toEqual({ type: "ack", requestId: 1 });
    expect(await a.succeed(x.executionId, "once", 2)).toEqual({ type: "ack", requestId: 2 });
    await a.close();
    const again = await agent(env, { agentId: "repeater" });
    expect(await again.succeed(x.executionId, "once", 1)).toEqual({ type: "ack", requestId: 1 });
    // Another value for a recorded result changes nothing either: the first one stands.
    expect(await again.succeed(x.executionId, "other", 3)).toEqual({ type: "ack", requestId: 3 });
    expect(await api.result(runId)).toEqual({ status: "succeeded", value: "once" });
    expect(types(await api.history(runId)).filter((t) => t === "ExecutionSucceeded")).toHaveLength(1);
  });

  it("an execution past its deadline is timed out and its agent told to abort it", async () => {
    const { env, api } = await freshEnv();
    const a = await agent(env);
    const runId = await api.submit("scripted:slow_wf", [1]);
    const x = await a.execute((m) => m.runId === runId);
    expect(x.timeoutMs).toBe(300);
    a.started(x.executionId);
    expect(await a.raw.next("abort", 10_000, (m) => m.executionId === x.executionId)).toEqual({ type: "abort", executionId: x.executionId, reason: "timed_out" });
    expect(await api.result(runId)).toMatchObject({ status: "timed_out" });
    expect(types(await api.history(runId))).toContain("ExecutionTimedOut");
    // A result arriving after the time-out is acknowledged (the agent may drop it) and changes nothing.
    expect(await a.succeed(x.executionId, "late", 4)).toMatchObject({ type: "ack", requestId: 4 });
    expect(await api.result(runId)).toMatchObject({ status: "timed_out" });
  });

  it("a run cancelled through the API has its running execution aborted on its agent", async () => {
    const { env, api } = await freshEnv();
    const a = await agent(env);
    const runId = await api.submit("scripted:wf", [1]);
    const x = await a.execute((m) => m.runId === runId);
    a.started(x.executionId);
    expect(await api.ok("POST", `/runs/${runId}/cancel`)).toMatchObject({ runId, cancelled: true });
    expect(await a.raw.next("abort", 10_000, (m) => m.executionId === x.executionId)).toEqual({ type: "abort", executionId: x.executionId, reason: "cancelled" });
    const history = types(await api.history(runId));
    expect(history).toContain("ExecutionCancelled");
    expect(history).toContain("RunCancelled");
    expect((await api.view(runId)).run.status).toBe("cancelled");
  });

  it("frames that cannot be acted on get an error frame, with the request's id when it has one, and record nothing", async () => {
    const { env, api } = await freshEnv();
    const seq = async () => (await api.ok<{ lastSeq: number }>("GET", "/log/verify")).lastSeq;
    // Before hello: only hello is accepted; bytes that are not a message are refused.
    const early = await RawAgent.connect(h.server.url);
    early.send({ type: "heartbeat", running: [] });
    expect((await early.next("error")).message).toBe('expected hello first, got "heartbeat"');
    let from = early.received.length;
    early.send(new Uint8Array([0xc1]));
    expect((await early.next("error", 5000, () => true, from)).message).toMatch(/malformed frame/);
    from = early.received.length;
    early.send({ type: "hello" }, true);
    expect((await early.next("error", 5000, () => true, from)).message).toMatch(/malformed frame: expected a binary msgpack message/);
    await early.close();

    const a = await agent(env, { agentId: "owner" });
    const other = await agent(env, { agentId: "intruder" });
    const runId = await api.submit("scripted:wf", [1]);
    const x = await a.execute((m) => m.runId === runId);
    const before = await seq();
    const refusals: [Record<string, unknown>, RegExp, number | undefined][] = [
      [{ type: "hello", protocol: PROTOCOL_VERSION, project: h.api.project, env, tags: {}, concurrency: 1, manifests: [], running: [] }, /already connected: hello is sent once per connection/, undefined],
      [{ type: "succeeded", executionId: "no-such-execution", value: 1, requestId: 21 }, /no-such-execution/, 21],
      [{ type: "failed", executionId: "no-such-execution", error: { type: "E", message: "m", retryable: false }, requestId: 22 }, /no-such-execution/, 22],
      [{ type: "started", executionId: "no-such-execution" }, /no-such-execution/, undefined],
      [{ type: "submit", requestId: 23, executionId: "no-such-execution", target: { repository: "scripted", target: "task" }, arguments: [] }, /execution no-such-execution is not one this agent is running: a submit is asked on behalf of one/, 23],
      [{ type: "submit", requestId: 24, executionId: x.executionId, call: 1, target: { repository: "scripted", target: "nope" }, arguments: [] }, /nope/, 24],
      [{ type: "restore", requestId: 25, executionId: x.executionId, assetId: "no-such-asset" }, /no-such-asset/, 25],
      // Ids that could be nobody's are refused before anything is looked up, naming the field.
      [{ type: "started", executionId: "no such" }, /^executionId: invalid execution id "no such": use 1-64 characters/, undefined],
      [{ type: "succeeded", executionId: "a.b", value: 1, requestId: 28 }, /^executionId: invalid execution id "a\.b"/, 28],
      [{ type: "log", executionId: "a>b", level: "info", message: "m", at: 1 }, /^executionId: invalid execution id "a>b"/, undefined],
      [{ type: "result", requestId: 29, executionId: x.executionId, handle: { runId: "a b", stepId: "1", executionId: "" }, wait: true }, /^handle\.runId: invalid run id "a b"/, 29],
      [{ type: "cancel", requestId: 30, executionId: x.executionId, handle: { runId, stepId: "../1", executionId: "" } }, /^handle\.stepId: invalid step id "\.\.\/1"/, 30],
      [{ type: "restore", requestId: 31, executionId: x.executionId, assetId: "no/such" }, /^assetId: invalid asset id "no\/such"/, 31],
      [{ type: "frobnicate" }, /unknown message type "frobnicate"/, undefined],
      // A handle names any step, but an execution cancels only within its run and the runs under it.
      [
        { type: "cancel", requestId: 32, executionId: x.executionId, handle: { runId: "01ABCDEFGHJKMNPQRSTVWXYZ01", stepId: "1", executionId: "" } },
        new RegExp(`execution ${x.executionId} may cancel only steps of its run and of the runs it started, not of run 01ABCDEFGHJKMNPQRSTVWXYZ01`),
        32,
      ],
    ];
    for (const [frame, message, requestId] of refusals) {
      const at = a.raw.received.length;
      a.send(frame);
      const error = await a.raw.next("error", 5000, () => true, at);
      expect(error.message, JSON.stringify(frame)).toMatch(message);
      expect(error.requestId, JSON.stringify(frame)).toBe(requestId);
      expect(a.raw.received.slice(at).filter((m) => m.type === "ack")).toEqual([]);
    }
    // Another agent's execution: none of its asks may come from the intruder.
    const intruding = (["submit", "result", "cancel", "persist", "restore", "log"] as const).map(
        (type, i): [Record<string, unknown>, RegExp, number | undefined] => [
          {
            type,
            ...(type === "log" ? { level: "info", message: "m", at: 1 } : { requestId: 40 + i }),
            executionId: x.executionId,
            ...(type === "submit" ? { call: 9, target: { repository: "scripted", target: "task" }, arguments: [] } : {}),
            ...(type === "result" ? { handle: { runId, stepId: x.stepId, executionId: "" }, wait: false } : {}),
            ...(type === "cancel" ? { handle: { runId, stepId: x.stepId, executionId: "" } } : {}),
            ...(type === "persist" ? { entries: [] } : {}),
            ...(type === "restore" ? { assetId: "some-asset" } : {}),
          },
          new RegExp(`execution ${x.executionId} is not one this agent is running: a ${type} is asked on behalf of one`),
          type === "log" ? undefined : 40 + i,
        ],
      );
    for (const [frame, message, requestId] of intruding) {
      const at = other.raw.received.length;
      other.send(frame);
      const error = await other.raw.next("error", 5000, () => true, at);
      expect(error.message, JSON.stringify(frame)).toMatch(message);
      expect(error.requestId, JSON.stringify(frame)).toBe(requestId);
    }
    // A result from an agent the execution is not assigned to is refused, not acknowledged.
    expect(await other.succeed(x.executionId, "stolen", 26)).toMatchObject({ type: "error", requestId: 26, message: expect.stringMatching(/intruder/) });
    expect(await seq()).toBe(before);
    // The connection still works.
    expect(await a.succeed(x.executionId, "fine", 27)).toEqual({ type: "ack", requestId: 27 });
    expect(await api.result(runId)).toEqual({ status: "succeeded", value: "fine" });
  });
});
