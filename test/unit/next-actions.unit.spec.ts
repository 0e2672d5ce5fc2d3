import { describe, expect, it } from "vitest";
import { nextActions, satisfies, type ActiveExecution, type AgentSlot } from "../../src/orchestrator/next-actions.js";

const NOW = 10_000;
const target = { repository: "shop", target: "charge" };
const queued = (id: string, extra: Partial<ActiveExecution> = {}): ActiveExecution => ({
  executionId: id,
  runId: "R",
  stepId: id,
  status: "queued",
  target,
  ...extra,
});
const agent = (id: string, extra: Partial<AgentSlot> = {}): AgentSlot => ({
  agentId: id,
  targets: new Set(["shop:charge"]),
  tags: {},
  concurrency: 2,
  reported: new Set(),
  reportedAt: NOW,
  ...extra,
});
const plan = (active: ActiveExecution[], agents: AgentSlot[], now = NOW) => nextActions(active, agents, now, 1000);

describe("nextActions", () => {
  it("assigns queued executions to agents with room, the least loaded first", () => {
    const p = plan([queued("x1"), queued("x2"), queued("x3")], [agent("a"), agent("b", { concurrency: 1 })]);
    expect(p.actions.map((a) => a.type === "assign" && `${a.executionId}→${a.agentId}`)).toEqual(["x1→a", "x2→a", "x3→b"]);
  });

  it("keeps executions queued when no agent hosts the target, satisfies requires, or has room", () => {
    expect(plan([queued("x1")], [agent("a", { targets: new Set(["shop:other"]) })]).actions).toEqual([]);
    expect(plan([queued("x1", { requires: { gpu: ["yes"] } })], [agent("a")]).actions).toEqual([]);
    const busy = { ...queued("y"), status: "running" as const, agentId: "a", startedAt: NOW, assignedAt: NOW };
    expect(plan([busy, { ...busy, executionId: "z" }, queued("x1")], [agent("a", { reported: new Set(["y", "z"]) })]).actions).toEqual([]);
  });

  it("matches requires against agent tags: every key, any of its values", () => {
    expect(satisfies({ gpu: ["a100"], region: ["eu"] }, { gpu: ["a100", "h100"] })).toBe(true);
    expect(satisfies({ gpu: ["t4"] }, { gpu: ["a100"] })).toBe(false);
    expect(satisfies({}, undefined)).toBe(true);
    expect(satisfies({ region: ["eu"] }, { region: ["eu"], gpu: ["a100"] })).toBe(false);
  });

  it("waits for notBefore and says when to wake", () => {
    const p = plan([queued("x1", { notBefore: NOW + 250 })], [agent("a")]);
    expect(p).toEqual({ actions: [], wakeAt: NOW + 250 });
  });

  it("times out executions past their deadline and wakes for the next deadline", () => {
    const running = (id: string, startedAt: number): ActiveExecution => ({
      ...queued(id),
      status: "running",
      agentId: "a",
      assignedAt: startedAt,
      startedAt,
      timeoutMs: 100,
    });
    const p = plan([running("late", NOW - 150), running("fine", NOW - 50)], [agent("a", { reported: new Set(["late", "fine"]) })]);
    expect(p.actions).toEqual([{ type: "timeout", runId: "R", executionId: "late" }]);
    expect(p.wakeAt).toBe(NOW + 50);
  });

  it("abandons executions whose agent is gone, or no longer reports them, after the grace period", () => {
    const assigned = (id: string, agentId: string, at: number): ActiveExecution => ({
      ...queued(id),
      status: "assigned",
      agentId,
      assignedAt: at,
    });
    const p = plan(
      [assigned("gone-old", "lost", NOW - 2000), assigned("gone-new", "lost", NOW - 10), assigned("forgotten", "a", NOW - 2000), assigned("known", "a", NOW - 2000)],
      [agent("a", { reported: new Set(["known"]), reportedAt: NOW })],
    );
    expect(p.actions.map((a) => a.type === "abandon" && a.executionId)).toEqual(["gone-old", "forgotten"]);
    expect(p.wakeAt).toBe(NOW - 10 + 1001);
  });
});
