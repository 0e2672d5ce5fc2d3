/**
 * Time travel: state as of a sequence of the log, folded in memory with the
 * same projections as the live store.
 */
import type { EventLog, LogRef, RunId } from "../../events/index.js";
import { MemoryStore } from "../memory-store.js";
import type { AnyProjection } from "../projection.js";
import { getRunView, type RunView } from "../queries.js";
import { PROJECTIONS, RUN_PROJECTIONS } from "../all.js";

/** Every projection of the environment as of sequence `seq` (inclusive). */
export const stateAsOf = async (
  log: EventLog,
  ref: LogRef,
  seq: number,
  projections: readonly AnyProjection[] = PROJECTIONS,
): Promise<MemoryStore> => {
  const store = new MemoryStore(projections);
  const batch = [];
  for await (const c of log.read(ref, { from: 1, to: seq })) {
    batch.push(c);
    if (batch.length >= 1000) store.apply(batch.splice(0));
  }
  store.apply(batch);
  return store;
};

/**
 * One run as it stood at sequence `seq`: only the run's own commits are
 * read (a subject-filtered read), so the cost is the run's size, not the log's.
 * `undefined` if the run did not exist yet.
 */
export const runAsOf = async (log: EventLog, ref: LogRef, runId: RunId, seq: number): Promise<RunView | undefined> => {
  const store = new MemoryStore(RUN_PROJECTIONS);
  const commits = [];
  for await (const c of log.read(ref, { runId, to: seq })) commits.push(c);
  store.apply(commits);
  return getRunView(store, runId);
};
