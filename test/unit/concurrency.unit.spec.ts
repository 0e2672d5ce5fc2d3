/**
 * Concurrency limits and the environment's pause in the scheduler's pure
 * core: `nextActions` counts the permits that assigned and running
 * executions hold per key, and leaves an execution queued at its limit;
 * `waitingReasons` says which limit (or the pause) holds it.
 */
import { describe, expect, it } from "vitest";
import type { ConcurrencyLimit } from "../../src/events/index.js";
import { fullLimit, nextActions, permitsTaken, type ActiveExecution, type AgentSlot } from "../../src/orchestrator/core/next-actions.js";
import { waitingReasons } from "../../src/orchestrator/core/queue.js";

const NOW = 100_000;
const target = { repository: "shop", target: "charge" };
const T = (limit: number, sub = ""): ConcurrencyLimit => ({ key: `target:shop:charge${sub}`, limit });
const G = (name: string, limit: number): ConcurrencyLimit => ({ key: `group:${name}`, limit });
const x = (id: string, concurrency?: ConcurrencyLimit[], extra: Record<string, unknown> = {}): ActiveExecution =>
  ({ executionId: id, runId: "R", stepId: id, status: "queued", target, ...(concurrency ? { concurrency } : {}), ...extra }) as ActiveExecution;
const on = (agentId: string, status: "assigned" | "running" = "running") => ({ status, agentId, assignedAt: NOW - 10, startedAt: NOW - 10 });
const agent = (id: string, concurrency = 10): AgentSlot =>
  ({ agentId: id, targets: new Set(["shop:charge"]), tags: {}, concurrency, reported: new Set(["r1", "r2", "r3"]), reportedAt: NOW - 5 }) as unknown as AgentSlot;
const assigns = (active: ActiveExecution[], agents: AgentSlot[], paused = false) =>
  nextActions(active, agents, NOW, 1000, () => true, { paused })
    .actions.filter((a) => a.type === "assign")
    .map((a) => a.executionId as string);

describe("nextActions with concurrency limits", () => {
  const cases: [string, ActiveExecution[], AgentSlot[], string[]][] = [
    ["a limit of 2 assigns two of four, though the agent has room for ten", [x("q1", [T(2)]), x("q2", [T(2)]), x("q3", [T(2)]), x("q4", [T(2)])], [agent("a")], ["q1", "q2"]],
    ["a running execution holds a permit", [x("r1", [T(2)], on("a")), x("q1", [T(2)]), x("q2", [T(2)])], [agent("a")], ["q1"]],
    ["an assigned (not yet started) execution holds one too", [x("r1", [T(1)], on("a", "assigned")), x("q1", [T(1)])], [agent("a")], []],
    ["the limit holds across agents", [x("q1", [T(3)]), x("q2", [T(3)]), x("q3", [T(3)]), x("q4", [T(3)]), x("q5", [T(3)])], [agent("a", 2), agent("b", 2)], ["q1", "q2", "q3"]],
    ["keys are counted apart (keyed by arguments)", [x("r1", [T(1, ":acme")], on("a")), x("q1", [T(1, ":acme")]), x("q2", [T(1, ":zeta")])], [agent("a")], ["q2"]],
    ["a full group holds though the target's own limit has room", [x("r1", [T(5), G("db", 1)], on("a")), x("q1", [T(5), G("db", 1)]), x("q2", [T(5)])], [agent("a")], ["q2"]],
    ["a held execution does not hold back one without limits behind it", [x("r1", [T(1)], on("a")), x("q1", [T(1)]), x("q2")], [agent("a")], ["q2"]],
    ["queued executions take no permit", [x("q1", [T(1)], { notBefore: NOW + 1000 }), x("q2", [T(1)])], [agent("a")], ["q2"]],
    ["an execution waiting for a full agent takes no permit", [x("q1", [T(1)]), x("q2", [T(1)])], [agent("a", 0)], []],
    ["no limits: the agents' capacity alone", [x("q1"), x("q2"), x("q3")], [agent("a", 2)], ["q1", "q2"]],
  ];
  for (const [name, active, agents, expected] of cases) it(name, () => expect(assigns(active, agents)).toEqual(expected));

  it("each execution's own limit counts (two steps of one key with different limits)", () => {
    expect(assigns([x("r1", [T(1)], on("a")), x("q1", [T(1)]), x("q2", [T(2)])], [agent("a")])).toEqual(["q2"]);
  });

  it("permitsTaken counts assigned and running executions per key, and fullLimit names the full one", () => {
    const active = [x("r1", [T(2), G("db", 1)], on("a")), x("r2", [T(2)], on("a", "assigned")), x("q1", [T(2), G("db", 1)])];
    const taken = permitsTaken(active);
    expect([...taken]).toEqual([
      ["target:shop:charge", 2],
      ["group:db", 1],
    ]);
    expect(fullLimit(active[2]!, taken)).toEqual({ key: "target:shop:charge", limit: 2, taken: 2 });
    expect(fullLimit(x("q2", [G("db", 2)]), taken)).toBeUndefined();
  });
});

describe("nextActions while the environment is paused", () => {
  it("assigns nothing, whatever the room", () => {
    expect(assigns([x("q1"), x("q2", [T(3)])], [agent("a")], true)).toEqual([]);
  });
  it("still times out and abandons what runs", () => {
    const plan = nextActions(
      [x("r1", undefined, { ...on("a"), timeoutMs: 5 }), x("r2", undefined, { ...on("gone") }), x("q1")],
      [agent("a")],
      NOW,
      1,
      () => true,
      { paused: true },
    );
    expect(plan.actions.map((a) => `${a.type} ${a.executionId}`)).toEqual(["timeout r1", "abandon r2"]);
  });
});

describe("waitingReasons for limits and the pause", () => {
  it("names the limit that holds an execution, with its permits taken", () => {
    const got = waitingReasons([x("r1", [T(5), G("db", 1)], on("a")), x("q1", [T(5), G("db", 1)])], [agent("a")], NOW, () => true);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ executionId: "q1", reason: "concurrency-limit", limit: { key: "group:db", limit: 1, taken: 1 } });
    expect(got[0]!.message).toContain("group:db");
    expect(got[0]!.message).toContain("1/1");
  });
  it("the second in line behind an assignable one is held, as the pass would hold it", () => {
    const got = waitingReasons([x("q1", [T(1)]), x("q2", [T(1)])], [agent("a")], NOW, () => true);
    expect(got.map((w) => w.reason)).toEqual(["assignable", "concurrency-limit"]);
  });
  it("says the environment is paused, before any other reason", () => {
    const got = waitingReasons([x("q1", [T(1)], { notBefore: NOW + 10 }), x("q2")], [], NOW, () => true, { paused: true });
    expect(got.map((w) => w.reason)).toEqual(["environment-paused", "environment-paused"]);
    expect(got[0]!.message).toMatch(/paused/);
  });
});
