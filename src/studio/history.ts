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

/**
 * The address's `?at=` against the run's commits: the sequence to show (none:
 * follow the latest) and, when `raw` is not what is shown, a notice saying
 * so; the address then takes `at` (Studio replaces it). A sequence between
 * two commits is a point in time, shown as the commit before it, and kept.
 */
export const checkAt = (raw: string | null, seqs: readonly number[]): { at: number | undefined; notice?: string } => {
  if (raw === null) return { at: undefined };
  if (!/^[1-9][0-9]{0,14}$/.test(raw)) return { at: undefined, notice: `?at=${raw} is not a sequence; showing the latest` };
  const n = Number(raw);
  const first = seqs[0];
  const last = seqs[seqs.length - 1];
  if (first === undefined || last === undefined) return { at: n };
  if (n > last) return { at: last, notice: `?at=${raw} is past the run's last commit; showing seq ${last}, the latest` };
  if (n < first) return { at: first, notice: `?at=${raw} is before the run's first commit; showing seq ${first}, its first` };
  return { at: n };
};
