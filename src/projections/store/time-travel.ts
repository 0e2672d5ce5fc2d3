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

/** Where {@link runAt} stops: at a log sequence, or at a time (ms since the epoch). */
export type Point = { readonly seq: number } | { readonly time: number };

/** What {@link runAt} answers. */
export type RunAt =
  /** The run as of `seq`: the last of its commits at or before the point. */
  | { readonly found: true; readonly view: RunView; readonly seq: number }
  /** The run had no commit by then; `first` is the sequence of its first (absent: it has none in this log). */
  | { readonly found: false; readonly first?: number };

/**
 * One run as of a point: a sequence (past the end: the latest), or a time
 * (up to the run's first commit whose first event is later, as a branch at a
 * time is cut). Reads only the run's own commits, and stops at the point;
 * with `upTo`, at that sequence too, whatever the point (a branch sees its
 * parent's log up to its branch point only).
 */
export const runAt = async (log: EventLog, ref: LogRef, runId: RunId, point: Point, upTo?: number): Promise<RunAt> => {
  const commits = [];
  let first: number | undefined;
  const to = Math.min("seq" in point ? point.seq : Infinity, upTo ?? Infinity);
  for await (const c of log.read(ref, { runId, ...(to === Infinity ? {} : { to }) })) {
    first ??= c.seq;
    if ("time" in point && (c.events[0]?.at ?? 0) > point.time) break;
    commits.push(c);
  }
  if (commits.length === 0) {
    // Nothing by then: where does the run begin, if in this log at all?
    if (first === undefined) for await (const c of log.read(ref, { runId })) { first = c.seq; break; }
    return { found: false, ...(first === undefined ? {} : { first }) };
  }
  const store = new MemoryStore(RUN_PROJECTIONS);
  store.apply(commits);
  const view = getRunView(store, runId);
  return view ? { found: true, view, seq: commits[commits.length - 1]!.seq } : { found: false, first: commits[0]!.seq };
};
