/**
 * What becomes of a command whose decision would not fit in one commit
 * (`MAX_COMMIT_BYTES`): an inline result too large to log is recorded as a
 * terminal `ResultTooLarge` failure; a failure is recorded whatever its size,
 * its message and stack cut; anything else is refused.
 */
import { MAX_COMMIT_BYTES } from "../events/index.js";
import type { Command, Rejection } from "./core/index.js";

/** An error's message and stack are cut to this many characters when they would not fit in a commit. */
const MAX_ERROR_CHARS = 50_000;

/** The command to decide instead of `cmd`, whose events encode to `bytes`, or why it is refused. */
export const fitToCommit = (cmd: Command, bytes: number): { readonly command: Command } | { readonly rejection: Rejection } => {
  if (cmd.type === "RecordResult" && cmd.outcome.ok && "value" in cmd.outcome) {
    // Too large to log inline (blob results come with assets): record a terminal failure instead.
    const error = { type: "ResultTooLarge", message: "the result is too large to record; return a smaller value or persist it as an asset", retryable: false };
    return { command: { ...cmd, outcome: { ok: false, error } } };
  }
  if (cmd.type === "RecordResult" && !cmd.outcome.ok && (cmd.outcome.error.message.length > MAX_ERROR_CHARS || (cmd.outcome.error.stack?.length ?? 0) > MAX_ERROR_CHARS)) {
    // A failure is recorded whatever its size: its message and stack are cut.
    const { error } = cmd.outcome;
    const cut = (t: string) => (t.length > MAX_ERROR_CHARS ? `${t.slice(0, MAX_ERROR_CHARS - 100)} … [cut from ${t.length} characters]` : t);
    return { command: { ...cmd, outcome: { ok: false, error: { ...error, message: cut(error.message), ...(error.stack === undefined ? {} : { stack: cut(error.stack) }) } } } };
  }
  return { rejection: { _tag: "CommitTooLarge", command: cmd.type, bytes, limit: MAX_COMMIT_BYTES } };
};
