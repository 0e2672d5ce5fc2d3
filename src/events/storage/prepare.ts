/**
 * What both log adapters do before they store a commit: check the rules
 * every commit obeys and encode it (see {@link prepareCommit}).
 */
import { encodeCheckedCommit } from "../codec.js";
import { InvalidCommit, InvalidNameError } from "../errors.js";
import { isSortableId, parseRunId, type EventId, type RunId } from "../ids.js";
import { MAX_COMMIT_BYTES } from "../log.js";
import { envSubject, runSubject, type LogRef } from "../subjects.js";
import { RUN_EVENT_TYPES, type Event } from "../types.js";

/** A commit checked and encoded, ready for an adapter to store. */
export interface PreparedCommit {
  readonly id: EventId;
  readonly subject: string;
  readonly runId?: RunId;
  readonly bytes: Uint8Array;
}

/**
 * Checks the rules every commit obeys, whatever the adapter, and encodes it;
 * the encoded bytes are decoded and validated as a read would, so a commit
 * that would not decode is never written.
 * @throws InvalidCommit, InvalidEvent, InvalidNameError
 */
export const prepareCommit = (ref: LogRef, events: readonly Event[], maxBytes = MAX_COMMIT_BYTES): PreparedCommit => {
  const first = events[0];
  if (!first) throw new InvalidCommit("a commit needs at least one event");
  const runId = first.runId;
  for (const e of events) {
    if (!isSortableId(e.id)) throw new InvalidCommit(`event id ${JSON.stringify(e.id)} is not a sortable id`);
    if (e.runId !== runId) {
      throw new InvalidCommit(
        `all events of a commit must belong to the same run (or all to the environment); got ${String(runId)} and ${String(e.runId)}`,
      );
    }
    if (RUN_EVENT_TYPES.has(e.type) !== (e.runId !== undefined)) {
      throw new InvalidCommit(`${e.type} ${e.runId === undefined ? "needs" : "must not carry"} a runId`);
    }
  }
  if (runId !== undefined) {
    const r = parseRunId(runId);
    if (r._tag === "Left") throw new InvalidNameError(r.left);
  }
  const bytes = encodeCheckedCommit(events);
  if (bytes.length > maxBytes) {
    throw new InvalidCommit(
      `commit of ${bytes.length} bytes exceeds the limit of ${maxBytes}: store large values in the blob store and log their reference`,
    );
  }
  return {
    id: first.id,
    subject: runId === undefined ? envSubject(ref) : runSubject(ref, runId),
    ...(runId === undefined ? {} : { runId }),
    bytes,
  };
};

