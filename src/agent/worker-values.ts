/**
 * The worker's transfers of values kept as blobs (arguments, results,
 * checkpoints over the inline limit), through the environment's blob API.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { packValue, unpackValue } from "../events/codec.js";
import type { BlobRef, Value } from "../events/types.js";
import { INLINE_VALUE_BYTES, MAX_RESULT_BYTES, unpackArguments } from "../protocol/messages.js";
import type { HostRequest } from "./context.js";
import { BlobHttpError, BlobMismatchError, BlobMissingError, type BlobClient } from "./blob-client.js";
import { CheckpointTooLargeError } from "./errors.js";
import type { FromWorker } from "./worker-protocol.js";

export class ArgumentsUnavailableError extends Error {
  override name = "ArgumentsUnavailable";
}

/** The transfers of a worker whose blob client is `blobs` and whose diagnostics go through `post`. */
export const valueTransfers = (blobs: BlobClient, post: (m: FromWorker) => void) => {
  /** Arguments kept as a blob: downloaded and decoded before the code runs. A failure is retryable (it is not the code's). */
  const loadArguments = async (blob: BlobRef, signal: AbortSignal): Promise<Value[]> => {
    try {
      return unpackArguments(await untilDone(() => blobs.getBytes(blob.sha256, blob.size, signal), signal));
    } catch (err) {
      if (signal.aborted) throw signal.reason as Error;
      throw new ArgumentsUnavailableError(`could not load the arguments' blob ${blob.key}: ${(err as Error).message}`);
    }
  };

  /**
   * Retries a blob transfer while the server cannot be reached or fails
   * (it may be restarting: backoff 250 ms doubling to 5 s, until `signal`);
   * what the server refuses (a 4xx, a missing or corrupt blob) is thrown.
   */
  const untilDone = async <T>(transfer: () => Promise<T>, signal: AbortSignal): Promise<T> => {
    for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
      try {
        return await transfer();
      } catch (err) {
        const refused = err instanceof BlobMissingError || err instanceof BlobMismatchError || (err instanceof BlobHttpError && err.status >= 400 && err.status < 500);
        if (refused || signal.aborted) throw err;
        post({ t: "diagnostic", level: "warn", message: `blob transfer failed (${(err as Error).message}); retrying in ${delay} ms` });
        await sleep(delay, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) throw signal.reason as Error;
      }
    }
  };

  /** A result over the inline limit is uploaded as a blob and reported by reference; over the result limit, the execution fails. */
  const withLargeResult = async (executionId: string, value: Value, signal: AbortSignal): Promise<FromWorker> => {
    const bytes = packValue(value);
    if (bytes.length <= INLINE_VALUE_BYTES) return { t: "succeeded", executionId, value };
    if (bytes.length > MAX_RESULT_BYTES) {
      const message = `the result of ${executionId} is ${bytes.length} bytes encoded, over the limit of ${MAX_RESULT_BYTES} bytes: persist large data as an asset and return the asset`;
      return { t: "failed", executionId, error: { type: "ResultTooLarge", message, retryable: false } };
    }
    const blob = await untilDone(() => blobs.putBytes(bytes, signal), signal);
    return { t: "succeeded", executionId, value: null, valueBlob: blob };
  };

  /** A checkpoint's value over the inline limit is uploaded as a blob and saved by reference; over the result limit, the save fails. */
  const withLargeCheckpoint = async (request: Extract<HostRequest, { type: "save-checkpoint" }>, signal: AbortSignal): Promise<HostRequest> => {
    const bytes = packValue(request.value);
    if (bytes.length <= INLINE_VALUE_BYTES) return request;
    if (bytes.length > MAX_RESULT_BYTES) {
      throw new CheckpointTooLargeError(
        `the value of checkpoint ${request.name} is ${bytes.length} bytes encoded, over the limit of ${MAX_RESULT_BYTES} bytes: persist large data as an asset and checkpoint the asset`,
      );
    }
    const blob = await untilDone(() => blobs.putBytes(bytes, signal), signal);
    return { ...request, value: null, valueBlob: blob };
  };

  /** A result the server keeps as a blob, downloaded for the code that awaits it. */
  const loadResult = async (blob: BlobRef, signal: AbortSignal): Promise<Value> => {
    try {
      return unpackValue(await untilDone(() => blobs.getBytes(blob.sha256, blob.size, signal), signal)) as Value;
    } catch (err) {
      if (signal.aborted) throw signal.reason as Error;
      throw new Error(`could not load the result kept as blob ${blob.key}: ${(err as Error).message}`);
    }
  };

  return { loadArguments, loadResult, untilDone, withLargeCheckpoint, withLargeResult };
};
