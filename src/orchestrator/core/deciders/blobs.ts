/**
 * The decider of blobs uploaded through an environment: the first upload of
 * a key the environment does not see yet records `BlobStored`, which makes
 * the key visible here (the `blob-refs` projection); a key it sees already
 * (its own log, or one it inherits) decides nothing.
 */
import { accept, none, reject, type Handler, type Handlers } from "../decision.js";
import { envEvent } from "../event.js";

const BLOB_KEY = /^sha256:[0-9a-f]{64}$/;

export const recordBlob: Handler<"RecordBlob"> = (cmd, m, ctx) => {
  if (!BLOB_KEY.test(cmd.key)) return reject({ _tag: "InvalidArgument", message: `key: ${JSON.stringify(cmd.key)} is not a blob key (sha256:<64 hex digits>)` });
  if (!Number.isSafeInteger(cmd.size) || cmd.size < 0) return reject({ _tag: "InvalidArgument", message: `size: ${cmd.size} is not a whole number of bytes` });
  if (m.blobRef(cmd.key)) return none;
  return accept([envEvent(ctx, "BlobStored", { key: cmd.key, size: cmd.size })]);
};

export const blobs: Handlers<"RecordBlob"> = { RecordBlob: recordBlob };
