/**
 * What a reported outcome becomes before it is recorded: an inline result
 * too large for the log is a terminal `ResultTooLarge` failure; a failure is
 * recorded whatever its size, its message and stack cut when it would not
 * fit. Sizes are the outcome's msgpack bytes, as the edge that
 * received it measured them (`encodedBytes`): encoding is not the core's.
 */
import { MAX_COMMIT_BYTES, type ErrorInfo } from "../../../events/index.js";

/** Room a commit keeps for what it holds besides the outcome: the event around it, a retry, the cancellations a run's failure brings. */
const COMMIT_ROOM = 128 * 1024;

/** An outcome (a result, or an error) encoded to more bytes than this does not fit in one commit with the events around it. */
export const MAX_OUTCOME_BYTES = MAX_COMMIT_BYTES - COMMIT_ROOM;

/** An error's message and stack are cut to this many characters when the error would not fit in a commit. */
export const MAX_ERROR_CHARS = 50_000;

/** The failure an inline result too large to record becomes: terminal (the same code would return it again). */
export const RESULT_TOO_LARGE: ErrorInfo = {
  type: "ResultTooLarge",
  message: "the result is too large to record; return a smaller value or persist it as an asset",
  retryable: false,
};

/** Is an outcome of `encodedBytes` (unmeasured: `undefined`) too large for a commit? */
export const overCommit = (encodedBytes: number | undefined): boolean => encodedBytes !== undefined && encodedBytes > MAX_OUTCOME_BYTES;

/** The error as it is recorded: when it would not fit in a commit, its message and stack cut to {@link MAX_ERROR_CHARS}, saying so. */
export const fitError = (error: ErrorInfo, encodedBytes: number | undefined): ErrorInfo => {
  const long = (t: string | undefined) => t !== undefined && t.length > MAX_ERROR_CHARS;
  if (!overCommit(encodedBytes) || !(long(error.message) || long(error.stack))) return error;
  const cut = (t: string) => (t.length > MAX_ERROR_CHARS ? `${t.slice(0, MAX_ERROR_CHARS - 100)} … [cut from ${t.length} characters]` : t);
  return { ...error, message: cut(error.message), ...(error.stack === undefined ? {} : { stack: cut(error.stack) }) };
};
