import { describe, expect, it } from "vitest";
import type { HistoryEntry } from "../../src/protocol/api.js";
import { checkAt, commitSeqs, historyRows } from "../../src/studio/history.js";

const ev = (seq: number, index: number, type: string, data: Record<string, unknown>, by?: unknown): HistoryEntry =>
  ({ seq, index, type, at: 1000 + seq, runId: "R", data, ...(by ? { by } : {}) }) as unknown as HistoryEntry;

describe("the rows of a run's history", () => {
  const events = [
    ev(1, 0, "RunSubmitted", { target: {} }),
    ev(1, 1, "StepScheduled", { stepId: "1" }),
    ev(1, 2, "ExecutionCreated", { stepId: "1", executionId: "x1" }),
    ev(2, 0, "ExecutionAssigned", { executionId: "x1", agentId: "a1" }),
    ev(3, 0, "ExecutionStarted", { executionId: "x1" }, { kind: "agent", agentId: "a1" }),
    ev(5, 0, "ExecutionSucceeded", { executionId: "x1" }),
  ];

  it("names each event's step, execution and agent, from its data or from the events before it", () => {
    const rows = historyRows(events);
    expect(rows.map((r) => [r.seq, r.index, r.type, r.stepId, r.executionId, r.agentId])).toEqual([
      [1, 0, "RunSubmitted", undefined, undefined, undefined],
      [1, 1, "StepScheduled", "1", undefined, undefined],
      [1, 2, "ExecutionCreated", "1", "x1", undefined],
      [2, 0, "ExecutionAssigned", "1", "x1", "a1"],
      [3, 0, "ExecutionStarted", "1", "x1", "a1"],
      [5, 0, "ExecutionSucceeded", "1", "x1", "a1"],
    ]);
    expect(rows[4]!.entry).toBe(events[4]);
  });

  it("the slider's stops are the commits' sequences, in order, each once", () => {
    expect(commitSeqs(events)).toEqual([1, 2, 3, 5]);
    expect(commitSeqs([])).toEqual([]);
  });
});

describe("the address's ?at=", () => {
  const seqs = [4, 7, 9];
  it("is shown as it is when it is a point of the run, and otherwise says what is shown instead", () => {
    expect(checkAt(null, seqs)).toEqual({ at: undefined });
    expect(checkAt("7", seqs)).toEqual({ at: 7 });
    expect(checkAt("8", seqs)).toEqual({ at: 8 });
    for (const raw of ["-1", "abc", "0", "1.5", ""]) expect(checkAt(raw, seqs)).toEqual({ at: undefined, notice: `?at=${raw} is not a sequence; showing the latest` });
    expect(checkAt("99999999", seqs)).toEqual({ at: 9, notice: "?at=99999999 is past the run's last commit; showing seq 9, the latest" });
    expect(checkAt("2", seqs)).toEqual({ at: 4, notice: "?at=2 is before the run's first commit; showing seq 4, its first" });
  });
});
