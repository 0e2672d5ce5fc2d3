/** What the deciders' refusals say at the edge: the message (what to do) and the HTTP status. */
import { describe, expect, it } from "vitest";
import type { SpecCommand as Command } from "../support/decider-spec.js";
import { rejectionMessage, rejectionStatus } from "../../src/orchestrator/core/rejections.js";
import { SHOP, agentConnected, environmentCreated, executionAssigned, given, runEvent, runSubmitted } from "../support/decider-spec.js";

const submit = (target: string, args: readonly number[], extra: Partial<Extract<Command, { type: "SubmitRun" }>> = {}): Command => ({
  type: "SubmitRun",
  runId: "R1",
  target: { repository: "shop", target },
  arguments: args,
  ...extra,
});

describe("rejections", () => {
  it.each([
    [{ min: 1, max: 1 }, 0, "shop:f takes 1 argument (a), got 0"],
    [{ min: 0, max: 0 }, 2, "shop:f takes 0 arguments (a), got 2"],
    [{ min: 1, max: 3 }, 4, "shop:f takes 1 to 3 arguments (a), got 4"],
    [{ min: 1 }, 0, "shop:f takes at least 1 argument (a), got 0"],
    [{ min: 2 }, 1, "shop:f takes at least 2 arguments (a), got 1"],
  ])("a wrong count with arity %j, given %i, reads: %s", (arity, n, message) => {
    const f = { name: "f", kind: "workflow" as const, parameters: [{ name: "a" }], options: {}, arity };
    const r = given(environmentCreated(), agentConnected("a1", [{ repository: "shop", targets: [f] }]))
      .when(submit("f", Array.from({ length: n }, (_, i) => i)))
      .rejected("WrongArgumentCount");
    expect(rejectionMessage(r)).toBe(message);
    expect(rejectionStatus(r)).toBe(400);
  });

  it("a call into a cancelled run says so, and where to look", () => {
    const x1 = "R1-1-1";
    const r = given(environmentCreated(), agentConnected(), runSubmitted("R1"), executionAssigned(x1), runEvent("RunCancelled", "R1", { reason: "user" }))
      .when({ type: "ScheduleStep", runId: "R1", call: { executionId: x1, callId: `${x1}/1` }, target: { repository: "shop", target: "charge" }, kind: "task", arguments: [], options: {} })
      .rejected("RunFinished");
    expect(rejectionMessage(r)).toBe("run R1 has already been cancelled: see it with 'tributary runs show R1'");
  });

  it("a reused idempotency key is a conflict", () => {
    const r = given(environmentCreated(), agentConnected(), runSubmitted("R1", { idempotencyKey: "k" })).when(submit("checkout", [2], { runId: "R2", idempotencyKey: "k" })).rejected("IdempotencyKeyReused");
    expect(rejectionStatus(r)).toBe(409);
  });

  it("a task submitted as a run says to call it from a workflow, even when its repository has none", () => {
    const tasksOnly = { repository: "shop", targets: SHOP.targets.filter((t) => t.kind === "task") };
    const r = given(environmentCreated(), agentConnected("a1", [tasksOnly])).when(submit("charge", [])).rejected("NotAWorkflow", { repository: "shop", target: "charge", workflows: [] });
    expect(rejectionMessage(r)).toBe("shop:charge is a task: only workflows are submitted as runs; call the task from a workflow (shop has no workflow)");
  });

  it("an archived base (refused at the edge, where the other environments are known) is a conflict", () => {
    expect(rejectionStatus({ _tag: "ArchivedBase", env: "p/old", as: "base" })).toBe(409);
  });
});
