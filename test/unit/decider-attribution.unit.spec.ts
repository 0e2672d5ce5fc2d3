/**
 * Attribution: a command decided on behalf of someone (the context's `by`)
 * puts that principal on the envelope of every event it decides; decided on
 * nobody's behalf, no event has a `by` key at all.
 */
import { describe, expect, it } from "vitest";
import { executionIdOf } from "../../src/orchestrator/core/decide.js";
import {
  agentConnected,
  attributed,
  envEvent,
  environmentCreated,
  executionAssigned,
  executionSucceeded,
  given,
  runEvent,
  runSubmitted,
  stepCalled,
  type SpecCommand as Command,
} from "../support/decider-spec.js";

const TOKEN = { kind: "token", tokenId: "k1", name: "ci" } as const;
const ADMIN = { kind: "admin" } as const;
const AGENT = { kind: "agent", agentId: "a1", tokenId: "k2" } as const;

const checkout = { repository: "shop", target: "checkout" };
const x1 = executionIdOf("R1", "1", 1);
const hosted = [environmentCreated(), agentConnected()];
const running = [...hosted, runSubmitted("R1"), executionAssigned(x1)];
const submit: Command = { type: "SubmitRun", runId: "R1", target: checkout, arguments: [1] };
const ref = (executionId: string) => ({ executionId, stepId: executionId.split("-")[1]! });

describe("attribution: runs", () => {
  it("a submission's every event carries who submitted it, and the run says so", () => {
    const m = given(...hosted)
      .by(TOKEN)
      .when(submit)
      .then(
        ...attributed(
          TOKEN,
          runEvent("RunSubmitted", "R1", { target: checkout, arguments: [1], rootStepId: "1" }),
          runEvent("StepScheduled", "R1", { stepId: "1", target: checkout, kind: "workflow", arguments: [1], options: {} }),
          runEvent("ExecutionCreated", "R1", { executionId: x1, stepId: "1", attempt: 1, reason: "first" }),
        ),
      );
    expect(m.run("R1")?.submittedBy).toStrictEqual(TOKEN);
  });

  it("the same submission on nobody's behalf has no by key on any event, nor on the run", () => {
    const d = given(...hosted).when(submit).decision;
    expect(d._tag === "Right" && d.right.every((e) => !Object.hasOwn(e, "by"))).toBe(true);
    const m = given(...hosted, given(...hosted).decided(submit)).model();
    expect(Object.hasOwn(m.run("R1")!, "submittedBy")).toBe(false);
  });

  it("a cancellation carries who cancelled, on the run's end and on each execution it stops", () => {
    const m = given(...running)
      .by(ADMIN)
      .when({ type: "CancelRun", runId: "R1", reason: "user" })
      .then(...attributed(ADMIN, runEvent("RunCancelled", "R1", { reason: "user" }), runEvent("ExecutionCancelled", "R1", { ...ref(x1), reason: "user" })));
    expect(m.run("R1")).toMatchObject({ status: "cancelled", cancelledBy: ADMIN });
    // Submitted on nobody's behalf (the given history): the run names only who cancelled it.
    expect(Object.hasOwn(m.run("R1")!, "submittedBy")).toBe(false);
  });

  it("a re-run carries who asked for it", () => {
    const done = [...running, stepCalled(x1, 1, "2"), executionAssigned("R1-2-1"), executionSucceeded("R1-2-1", 1)];
    given(...done)
      .by(TOKEN)
      .when({ type: "RerunStep", runId: "R1", stepId: "2" })
      .then(...attributed(TOKEN, runEvent("ExecutionCreated", "R1", { executionId: "R1-2-2", stepId: "2", attempt: 2, reason: "rerun" })));
  });

  it("what an agent reports carries the agent, with the token it connected with", () => {
    given(...running)
      .by(AGENT)
      .when({ type: "RecordStarted", executionId: x1, agentId: "a1" })
      .then(...attributed(AGENT, runEvent("ExecutionStarted", "R1", ref(x1))));
  });
});

describe("attribution: environments", () => {
  it("creating and branching an environment carry who did it, and its document says so", () => {
    const created = given()
      .by(TOKEN)
      .when({ type: "CreateEnvironment", project: "p", env: "production" })
      .then(...attributed(TOKEN, envEvent("EnvironmentCreated", { project: "p", env: "production" })));
    expect(created.environment()?.createdBy).toStrictEqual(TOKEN);
    const branched = given()
      .by(ADMIN)
      .when({ type: "BranchEnvironment", project: "p", env: "dev", parent: { env: "production", lastSeq: 4 }, at: 4 })
      .then(...attributed(ADMIN, envEvent("EnvironmentBranched", { project: "p", env: "dev", parent: "production", at: 4 })));
    expect(branched.environment()).toMatchObject({ createdBy: ADMIN, branchedFrom: { parent: "production", at: 4 } });
  });

  it("a rebase and an archival carry who did them; a later rebase by nobody forgets the earlier one's author", () => {
    const rebased = given(environmentCreated("dev", "production"))
      .by(TOKEN)
      .when({ type: "RebaseEnvironment", base: null })
      .then(...attributed(TOKEN, envEvent("EnvironmentRebased", { base: null })));
    expect(rebased.environment()).toMatchObject({ rebasedBy: TOKEN });
    expect(rebased.environment()?.base).toBeUndefined();
    const again = given(environmentCreated("dev", "production"), attributed(TOKEN, envEvent("EnvironmentRebased", { base: null })), envEvent("EnvironmentRebased", { base: "production" })).model();
    expect(again.environment()).toMatchObject({ base: "production" });
    expect(Object.hasOwn(again.environment()!, "rebasedBy")).toBe(false);
    const archived = given(environmentCreated("dev"))
      .by(ADMIN)
      .when({ type: "ArchiveEnvironment", reason: "done" })
      .then(...attributed(ADMIN, envEvent("EnvironmentArchived", { reason: "done" })));
    expect(archived.environment()).toMatchObject({ archived: true, archivedBy: ADMIN });
  });
});
