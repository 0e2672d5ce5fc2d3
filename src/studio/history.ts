/**
 * The rows of a run's history view (pure; test/unit/studio-history.unit.spec.ts):
 * each event with its step, execution and agent, taken from its data, or,
 * for an event that names only its execution, from the events before it
 * (the execution's `ExecutionCreated` names its step; its `ExecutionAssigned`
 * its agent; an agent's own report is `by` it).
 */
import type { HistoryEntry } from "../protocol/api.js";

export interface HistoryRow {
  readonly seq: number;
  readonly index: number;
  readonly at: number;
  readonly type: string;
  readonly stepId?: string;
  readonly executionId?: string;
  readonly agentId?: string;
  readonly entry: HistoryEntry;
}

const text = (o: Record<string, unknown> | undefined, k: string): string | undefined => {
  const v = o?.[k];
  return typeof v === "string" ? v : undefined;
};

export const historyRows = (events: readonly HistoryEntry[]): HistoryRow[] => {
  const stepOf = new Map<string, string>();
  const agentOf = new Map<string, string>();
  return events.map((e) => {
    const data = (e as unknown as { data?: Record<string, unknown> }).data;
    const executionId = text(data, "executionId");
    let stepId = text(data, "stepId");
    if (executionId !== undefined && stepId !== undefined) stepOf.set(executionId, stepId);
    stepId ??= executionId === undefined ? undefined : stepOf.get(executionId);
    const by = e.by?.kind === "agent" ? e.by.agentId : undefined;
    let agentId = text(data, "agentId") ?? by;
    if (executionId !== undefined && agentId !== undefined && e.type === "ExecutionAssigned") agentOf.set(executionId, agentId);
    agentId ??= executionId === undefined ? undefined : agentOf.get(executionId);
    return {
      seq: e.seq,
      index: e.index,
      at: e.at,
      type: e.type,
      ...(stepId === undefined ? {} : { stepId }),
      ...(executionId === undefined ? {} : { executionId }),
      ...(agentId === undefined ? {} : { agentId }),
      entry: e,
    };
  });
};

/** The sequences of the run's commits, in order, each once. */
export const commitSeqs = (events: readonly HistoryEntry[]): number[] => [...new Set(events.map((e) => e.seq))];
