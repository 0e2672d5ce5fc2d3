/**
 * An agent told to stop (Ctrl-C) finishes what it runs and declines new
 * work with `AgentStopping`. The server then gives it nothing more: the work
 * goes to another agent, instead of bouncing off the stopping one (each
 * bounce a free, immediate retry) until it is gone.
 */
import { afterEach, describe, expect, it } from "vitest";
import { eventually, startHarness, type Harness } from "./support.js";

describe("an agent that is stopping", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("gets no new work once it has declined some; the rest runs on another agent", async () => {
    h = await startHarness("embedded");
    const stopping = await h.agent({ concurrency: 2 });
    // The workflow takes one slot, one of its four 1.5 s tasks the other: three wait on the server.
    const runId = await h.api.submit("flows:sleep_flow", [1500, 4]);
    await eventually(async () => (await h!.api.view(runId)).steps.some((s) => s.target.target === "sleep_task" && s.status === "running"));
    const stopped = stopping.stop({ drainMs: 4000 });
    // Alone for a while: its running task ends, and the waiting ones are there to be handed out.
    await new Promise((r) => setTimeout(r, 2000));
    const other = await h.agent({ concurrency: 4 });

    const outcome = await h.api.result(runId);
    await stopped;
    expect(outcome).toEqual({ status: "succeeded", value: 4 });

    const history = await h.api.history(runId);
    const declined = history.filter((e) => e.type === "ExecutionAbandoned" && e.data.cause === "agent-stopping");
    // Before: hundreds of bounces within the drain. Now at most one per execution the stopping agent was handed.
    expect(declined.length).toBeLessThanOrEqual(3);
    const byAgent = history.filter((e) => e.type === "ExecutionAssigned").map((e) => e.data.agentId);
    expect(byAgent.filter((a) => a === stopping.agentId).length).toBeLessThanOrEqual(2 + declined.length);
    expect(byAgent).toContain(other.agentId);
  });
});
