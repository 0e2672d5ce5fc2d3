/** `waitingReasons`: why each queued execution waits, as a table of cases (the same tests `nextActions` makes). */
import { describe, expect, it } from "vitest";
import type { ActiveExecution, AgentSlot } from "../../src/orchestrator/core/next-actions.js";
import { waitingReasons } from "../../src/orchestrator/core/queue.js";

const NOW = 100_000;
const target = { repository: "shop", target: "charge" };
const x = (id: string, extra: Partial<ActiveExecution> = {}): ActiveExecution => ({ executionId: id, runId: "R", stepId: "1", status: "queued", target, ...extra }) as ActiveExecution;
const agent = (id: string, extra: Partial<AgentSlot> = {}): AgentSlot =>
  ({ agentId: id, targets: new Set(["shop:charge"]), tags: {}, concurrency: 1, reported: new Set(), reportedAt: NOW, ...extra }) as AgentSlot;

describe("waitingReasons", () => {
  const cases: [string, ActiveExecution[], AgentSlot[], string[]][] = [
    ["no agent at all: none hosts the target", [x("x1")], [], ["no-agent-hosts-target"]],
    ["an agent hosting other targets only", [x("x1")], [agent("a", { targets: new Set(["shop:other"]) })], ["no-agent-hosts-target"]],
    ["a draining agent does not count", [x("x1")], [agent("a", { draining: true })], ["no-agent-hosts-target"]],
    ["required tags no host has", [x("x1", { requires: { gpu: ["yes"] } })], [agent("a", { tags: { gpu: ["no"] } })], ["no-agent-with-tags"]],
    ["the only fitting agent is full", [x("x0", { status: "running", agentId: "a" } as Partial<ActiveExecution>), x("x1")], [agent("a")], ["no-capacity"]],
    ["a retry's backoff comes first", [x("x1", { notBefore: NOW + 5 })], [], ["backoff"]],
    ["waiting for a handle's step", [x("x1", { waitFor: ["R/2"] })], [agent("a")], ["waiting-for-handles"]],
    ["a resume waiting for any of its wait keys", [x("x1", { resumeWhen: ["R/2", "R/3"] })], [agent("a")], ["suspended"]],
    ["an agent with room: about to be assigned", [x("x1", { requires: { gpu: ["yes"] } })], [agent("a", { tags: { gpu: ["yes", "no"] } })], ["assignable"]],
  ];
  for (const [name, active, agents, reasons] of cases) {
    it(name, () => {
      const got = waitingReasons(active, agents, NOW, () => false);
      expect(got.map((w) => w.reason)).toEqual(reasons);
      for (const w of got) expect(w.message.length).toBeGreaterThan(0);
    });
  }
  it("names the missing tags and the busy agents in words", () => {
    expect(waitingReasons([x("x1", { requires: { gpu: ["yes"] } })], [agent("a")], NOW, () => true)[0]!.message).toContain("gpu=yes");
    const busy = waitingReasons([x("x0", { status: "running", agentId: "a" } as Partial<ActiveExecution>), x("x1")], [agent("a")], NOW, () => true);
    expect(busy).toHaveLength(1);
    expect(busy[0]!.message).toContain("a 1/1");
  });
});
