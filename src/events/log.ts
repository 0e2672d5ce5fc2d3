/**
 * The `EventLog` port: an append-only log per environment, of commits.
 *
 * Two adapters implement it and pass the same contract suite
 * (`test/contract/event-log.contract.ts`): `EmbeddedEventLog` (single
 * process, on disk, the default) and `JetStreamEventLog` (NATS JetStream).
 */
import type { EventId, RunId } from "./ids.js";
import type { LogRef } from "./subjects.js";
import type { Event } from "./types.js";

/**
 * A commit: the events one decision produced, stored as one message at one
 * sequence number of the environment's log. All events of a commit belong to
 * the same run, or all to the environment. An event is addressed by
 * (`seq`, index in `events`).
 */
export interface Commit {
  /** Position in the environment's log, from 1, strictly increasing. */
  readonly seq: number;
  /** The commit's id: the id of its first event (the message id). */
  readonly id: EventId;
  /** The subject the commit was stored under. */
  readonly subject: string;
  /** The run the events belong to; absent for environment events. */
  readonly runId?: RunId;
  readonly events: readonly Event[];
}

export interface AppendOptions {
  /**
   * Fencing: the sequence the log must end at for the append to be stored
   * (0 for an empty log). When another writer appended first, the append
   * fails with `WrongExpectedSequence` and nothing is stored. Absent: no check.
   */
  readonly expectedLastSeq?: number;
}

export interface Appended {
  /** The sequence the commit is stored at. */
  readonly seq: number;
  /**
   * True when a commit with the same id was already stored (a retried
   * append): nothing new was written and `seq` is the original's.
   */
  readonly duplicate: boolean;
}

export interface ReadOptions {
  /** First sequence to read, inclusive. Default 1. */
  readonly from?: number;
  /** Last sequence to read, inclusive. Default: the last one when the read starts. */
  readonly to?: number;
  /** Only the commits of this run. */
  readonly runId?: RunId;
}

/** Options of {@link EventLog.readRaw}: a range of sequences. */
export interface RawReadOptions {
  /** First sequence to read, inclusive. Default 1. */
  readonly from?: number;
  /** Last sequence to read, inclusive. Default: the last one when the read starts. */
  readonly to?: number;
}

/** A commit as stored: its sequence and its bytes, not decoded. */
export interface RawCommit {
  readonly seq: number;
  readonly bytes: Uint8Array;
}

export interface SubscribeOptions {
  /** First sequence to deliver, inclusive. Default 1. */
  readonly from?: number;
  /** Only the commits of this run. */
  readonly runId?: RunId;
}

/** A live, ordered feed of commits. Iterate it; `close()` ends the iteration. */
export interface Subscription extends AsyncIterable<Commit> {
  close(): Promise<void>;
}

/**
 * An append-only log of commits per environment.
 *
 * Sequences start at 1 and increase by one per commit, with no gaps. A
 * commit holds the events of one decision and is stored atomically: a read
 * returns all of its events or none.
 */
export interface EventLog {
  readonly kind: "embedded" | "jetstream";
  /** Creates the environment's log; does nothing if it exists. */
  createEnv(ref: LogRef): Promise<void>;
  /** Deletes the environment's log and everything in it. Idempotent. */
  deleteEnv(ref: LogRef): Promise<void>;
  hasEnv(ref: LogRef): Promise<boolean>;
  /** The environments that have a log, of one project or of all. */
  listEnvs(project?: string): Promise<LogRef[]>;
  /**
   * Appends the events of one decision as one commit.
   * @throws WrongExpectedSequence when fencing fails (nothing stored),
   *   InvalidCommit for an empty, mixed-run or oversized commit,
   *   InvalidEvent (an InvalidCommit) for an event that would not decode:
   *   every commit is checked with the decoder's validation before it is written,
   *   so nothing that would fail to read back is ever stored,
   *   LogNotFound when the environment has no log,
   *   LogUnavailable when the outcome is unknown (a timeout, a lost
   *   connection): the commit may have been stored; retry with the same
   *   events, and the retry is deduplicated.
   */
  append(ref: LogRef, events: readonly Event[], options?: AppendOptions): Promise<Appended>;
  /** Reads commits in sequence order. @throws LogNotFound, CorruptEvent */
  read(ref: LogRef, options?: ReadOptions): AsyncIterable<Commit>;
  /**
   * Reads the stored bytes of every commit in sequence order without decoding
   * them, so a corrupt commit does not stop the read (`tributary log verify`).
   * @throws LogNotFound
   */
  readRaw(ref: LogRef, options?: RawReadOptions): AsyncIterable<RawCommit>;
  /**
   * Delivers the commits from `from` on, in order, then each new one as it is
   * appended. The iteration ends when the subscription or the log is closed,
   * and fails with `LogNotFound` when the environment is deleted.
   * @throws InvalidNameError at once for an invalid `runId`.
   */
  subscribe(ref: LogRef, options?: SubscribeOptions): Subscription;
  /** The sequence of the last commit, 0 when empty. @throws LogNotFound */
  lastSeq(ref: LogRef): Promise<number>;
  close(): Promise<void>;
}

/**
 * The largest encoded commit accepted, in bytes: under NATS's default
 * `max_payload` of 1 MiB, with room for headers. Both adapters enforce it,
 * so a commit that fits one fits the other. Large values go to the blob store.
 */
export const MAX_COMMIT_BYTES = 1_000_000;

/** Builds a {@link Commit} from what an adapter read back. */
export const commitOf = (seq: number, subject: string, events: readonly Event[]): Commit => {
  const first = events[0]!;
  return first.runId === undefined
    ? { seq, id: first.id, subject, events }
    : { seq, id: first.id, subject, runId: first.runId, events };
};
