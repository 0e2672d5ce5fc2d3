/**
 * `log verify`: decodes every commit of an environment's log, reading the
 * stored bytes past any that fail, and lists each failure with its sequence.
 */
import { decodeCommit } from "../codec.js";
import { CorruptEvent } from "../errors.js";
import type { EventLog } from "../log.js";
import type { LogRef } from "../subjects.js";

export interface LogVerification {
  /** Sequence of the last commit when the check began. */
  readonly lastSeq: number;
  /** Commits read. */
  readonly commits: number;
  /** Events in the commits that decoded. */
  readonly events: number;
  /** The commits that do not decode, in sequence order, with the decoder's reason. */
  readonly failures: readonly { readonly seq: number; readonly reason: string }[];
  /** Sequences missing between 1 and `lastSeq` (a log has none; a damaged one may). */
  readonly gaps: readonly number[];
}

/** Decodes every commit of `ref`'s log, up to its last sequence when the check began. @throws LogNotFound */
export const verifyLog = async (log: EventLog, ref: LogRef): Promise<LogVerification> => {
  const lastSeq = await log.lastSeq(ref);
  const failures: { seq: number; reason: string }[] = [];
  const gaps: number[] = [];
  let commits = 0;
  let events = 0;
  let expected = 1;
  for await (const raw of log.readRaw(ref, { to: lastSeq })) {
    for (; expected < raw.seq && gaps.length < 1000; expected++) gaps.push(expected);
    expected = raw.seq + 1;
    commits++;
    try {
      events += decodeCommit(raw.bytes, raw.seq).length;
    } catch (e) {
      failures.push({ seq: raw.seq, reason: e instanceof CorruptEvent ? e.reason : (e as Error).message });
    }
  }
  for (; expected <= lastSeq && gaps.length < 1000; expected++) gaps.push(expected);
  return { lastSeq, commits, events, failures, gaps };
};
