import { describe, expect, it } from "vitest";
import { nextActions, satisfies, type ActiveExecution, type AgentSlot } from "../../src/orchestrator/core/next-actions.js";

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

  describe("after a restart of the server", () => {
    const STARTED = NOW - 500;
    const assigned = (id: string, agentId: string, at: number): ActiveExecution => ({ ...queued(id), status: "assigned", agentId, assignedAt: at });
    const liveness = (lost: Record<string, number> = {}) => ({
      graceMs: 1000,
      startedAt: STARTED,
      restartGraceMs: 3000,
      lostAt: (a: string) => lost[a],
    });

    it("an agent not yet back has the restart's grace from the start, then its executions are lost with it", () => {
      const old = assigned("old", "away", STARTED - 60_000);
      expect(nextActions([old], [], NOW, liveness())).toEqual({ actions: [], wakeAt: STARTED + 3001 });
      expect(nextActions([old], [], STARTED + 3001, liveness()).actions).toEqual([
        { type: "abandon", runId: "R", executionId: "old", agentId: "away", reason: "its agent is not connected", cause: "agent-lost" },
      ]);
    });

    it("an agent back keeps what it reports running; what it does not run was lost with the restart", () => {
      const p = nextActions(
        [assigned("kept", "a", STARTED - 60_000), assigned("lost", "a", STARTED - 60_000)],
        [agent("a", { reported: new Set(["kept"]), reportedAt: NOW })],
        NOW,
        liveness(),
      );
      expect(p.actions).toEqual([{ type: "abandon", runId: "R", executionId: "lost", agentId: "a", reason: "not running on its agent", cause: "server-restart" }]);
    });

    it("an agent that left after the start has the usual grace from when it left", () => {
      const x = assigned("x", "gone", NOW - 60_000);
      expect(nextActions([x], [], NOW, liveness({ gone: NOW - 200 }))).toEqual({ actions: [], wakeAt: NOW - 200 + 1001 });
      expect(nextActions([x], [], NOW + 900, liveness({ gone: NOW - 200 })).actions).toMatchObject([{ type: "abandon", cause: "agent-lost" }]);
    });

    it("what this process assigned and its agent does not run is not the restart's doing", () => {
      const p = nextActions([assigned("x", "a", STARTED + 10)], [agent("a", { reportedAt: STARTED + 2000 })], NOW, liveness());
      expect(p.actions).toMatchObject([{ type: "abandon", executionId: "x", cause: "not-running" }]);
    });
  });
});
