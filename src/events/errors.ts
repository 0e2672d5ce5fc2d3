/**
 * Faults of the event layer: small `Error` subclasses with a `name` and,
 * where there is one, a `cause`. Vendor errors (`@nats-io/*`, `lmdb`) are
 * translated into these inside their adapter and never leak out.
 */
import { describeInvalidName, type InvalidName } from "./ids.js";

abstract class TributaryError extends Error {
  override readonly name: string = this.constructor.name;
}

/** Bytes in the log that do not decode to valid events. */
export class CorruptEvent extends TributaryError {
  constructor(
    readonly reason: string,
    /** The sequence of the commit, when known. */
    readonly seq?: number,
    options?: { cause?: unknown },
  ) {
    super(`corrupt event${seq === undefined ? "" : ` at sequence ${seq}`}: ${reason}`, options);
  }
}

/**
 * An append expected the log to end at `expected` but it ends at `actual`:
 * another writer appended in between. The append was not stored.
 */
export class WrongExpectedSequence extends TributaryError {
  constructor(
    readonly stream: string,
    readonly expected: number,
    readonly actual: number | undefined,
  ) {
    super(
      `append to ${stream} expected last sequence ${expected} but the log is at ${actual ?? "a later sequence"}: ` +
        "another writer appended first; reload the state and decide again",
    );
  }
}

/** A name or id that cannot be used (it would not be a valid NATS token). */
export class InvalidNameError extends TributaryError {
  constructor(readonly detail: InvalidName) {
    super(describeInvalidName(detail));
  }
}

/** A commit that must not be appended: empty, mixing runs, too large. */
export class InvalidCommit extends TributaryError {}

/**
 * An event that would not decode, refused before it is written: `eventType`
 * and `index` say which event of the commit, `reason` which field and what
 * it must be (the decoder's own message).
 */
export class InvalidEvent extends InvalidCommit {
  constructor(
    readonly eventType: string,
    readonly index: number,
    readonly reason: string,
  ) {
    super(`invalid ${eventType} event (event ${index} of the commit), not written: ${reason}`);
  }
}

/** The environment's log does not exist. */
export class LogNotFound extends TributaryError {
  constructor(readonly stream: string) {
    super(`no log for ${stream}: create the environment first`);
  }
}

/** The log store cannot be reached or refused an operation. */
export class LogUnavailable extends TributaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The log was closed; nothing more can be appended or read through it. */
export class LogClosed extends TributaryError {
  constructor() {
    super("the event log is closed");
  }
}
