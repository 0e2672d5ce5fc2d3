import { describe, expect, it } from "vitest";
import type { SpecCommand as Command } from "../support/decider-spec.js";
import {
  agentConnected,
  environmentCreated,
  executionAssigned,
  executionCreated,
  executionFailed,
  executionSucceeded,
  given,
  runEvent,
  runSubmitted,
} from "../support/decider-spec.js";

const X1 = "R1-1-1";
const X2 = "R1-1-2";
const MEMO = "7f".repeat(16);
const SHA = "b".repeat(64);
const KEY = `R1/${MEMO}/progress`;
const running = [environmentCreated("dev"), agentConnected(), runSubmitted("R1", { memoKey: MEMO }), executionAssigned(X1)];
const save = (value: unknown, extra: Partial<Extract<Command, { type: "SaveCheckpoint" }>> = {}): Command => ({
  type: "SaveCheckpoint",
  executionId: X1,
  agentId: "a1",
  name: "progress",
  value: { value: value as never, encodedBytes: 10 },
  ...extra,
});
const saved = (value: unknown, executionId = X1, key = KEY) =>
  runEvent("CheckpointSaved", "R1", { executionId, stepId: "1", name: "progress", key, value: { kind: "inline", value: value as never } });

describe("checkpoints: SaveCheckpoint", () => {
  it("a running execution's save is recorded under the step's memo key and the name", () => {
    given(...running).when(save({ next: 3 })).then(saved({ next: 3 }));
  });

  it("a step without a memo key keys its checkpoints by its step id", () => {
    given(environmentCreated("dev"), agentConnected(), runSubmitted("R1"), executionAssigned(X1))
      .when(save(1))
      .then(saved(1, X1, "R1/1/progress"));
  });

  it("a large value saved as a blob is recorded by reference", () => {
    const blob = { key: `sha256:${SHA}`, size: 300_000, sha256: SHA };
    given(...running)
      .when(save(null, { value: { blob } }))
      .then(runEvent("CheckpointSaved", "R1", { executionId: X1, stepId: "1", name: "progress", key: KEY, value: { kind: "blob", blob } }));
  });

  it("the same value saved again by the same execution (a re-sent save) decides nothing; another value is recorded", () => {
    given(...running, saved({ next: 3 })).when(save({ next: 3 })).nothing();
    given(...running, saved({ next: 3 })).when(save({ next: 4 })).then(saved({ next: 4 }));
  });

  it("the step's next execution reads what the previous one saved, and saves over it", () => {
    const retried = [...running, saved(5), executionFailed(X1, true), executionCreated(X2), executionAssigned(X2)];
    const m = given(...retried).model();
    expect(m.checkpoint(KEY)?.doc).toMatchObject({ executionId: X1, value: { kind: "inline", value: 5 }, saves: 1 });
    given(...retried).when(save(5, { executionId: X2 })).then(saved(5, X2));
  });

  it("a read falls back through the inherited environments; the own value wins", () => {
    const base = [environmentCreated("production"), agentConnected(), runSubmitted("R1", { memoKey: MEMO }), executionAssigned(X1), saved(7)];
    expect(given(...running).inheriting("production", ...base).model().checkpoint(KEY)).toMatchObject({ env: "production", doc: { value: { kind: "inline", value: 7 } } });
    expect(given(...running, saved(8)).inheriting("production", ...base).model().checkpoint(KEY)).toMatchObject({ env: "dev", doc: { value: { kind: "inline", value: 8 } } });
    // A save in the branch is recorded there even when the inherited value is the same: saves stay local.
    given(...running).inheriting("production", ...base).when(save(7)).then(saved(7));
  });

  it("only the agent running the execution may save for it, while it runs", () => {
    given(...running).when(save(1, { agentId: "a2" })).rejected("NotAssigned", { executionId: X1, agentId: "a2" });
    given(...running, executionSucceeded(X1)).when(save(1)).rejected("NotAssigned", { executionId: X1, agentId: "a1" });
    given(...running).when(save(1, { executionId: "R1-1-9" })).rejected("UnknownExecution", { executionId: "R1-1-9" });
  });

  it.each(["", "1abc", "a/b", "x".repeat(129)])("a name that is not a name (%j) is refused", (name) => {
    given(...running).when(save(1, { name })).rejected("InvalidArgument");
  });

  it("an inline value too large for a commit is refused, saying what to do", () => {
    const r = given(...running).when(save("x", { value: { value: "x", encodedBytes: 2_000_000 } })).rejected("InvalidArgument");
    expect(r.message).toMatch(/too large to record.*asset/);
  });
});
