/**
 * Frames that fit: a frame over {@link MAX_FRAME_BYTES} would close the
 * connection (and be re-sent after every reconnect), so the agent cuts a log
 * line and replaces an over-large result before it sends them.
 */
import type { ErrorInfo } from "../events/types.js";
import { encodeMessage, frameBytes, MAX_FRAME_BYTES, type AgentMessage } from "../protocol/messages.js";
import type { ResultMessage } from "./in-flight.js";

/** A result whose frame fits, with its encoded bytes (when they are the message's own): over the limit, a terminal `ResultTooLarge` instead. */
export const fitResult = (m: ResultMessage): { readonly message: ResultMessage; readonly bytes?: Uint8Array } => {
  const bytes = encodeMessage(m);
  if (bytes.length <= MAX_FRAME_BYTES - 1024) return { message: m, bytes };
  const error: ErrorInfo = {
    type: "ResultTooLarge",
    message: `the result of ${m.executionId} is over ${MAX_FRAME_BYTES} bytes encoded: persist large data as an asset and return the asset`,
    retryable: false,
  };
  return { message: { type: "failed", executionId: m.executionId, error, requestId: m.requestId } };
};

/** Log lines longer than this are cut (with a note saying how long they were); fields that do not fit are dropped. */
export const MAX_LOG_CHARS = 1_000_000;

/** A log line that fits in a frame: an over-long message is cut, fields too large are replaced by a note. */
export const fitLog = (m: Extract<AgentMessage, { type: "log" }>): Extract<AgentMessage, { type: "log" }> => {
  let out = m;
  if (m.message.length > MAX_LOG_CHARS) {
    out = { ...out, message: `${m.message.slice(0, MAX_LOG_CHARS)} … [cut: the line was ${m.message.length} characters, over the limit of ${MAX_LOG_CHARS}]` };
  }
  if (out.fields !== undefined && frameBytes(out) > MAX_FRAME_BYTES - 1024) {
    out = { ...out, fields: { note: `fields dropped: over the frame limit of ${MAX_FRAME_BYTES} bytes` } };
  }
  return out;
};

/** Why a task's request of `bytes` encoded is refused at the agent (over the frame limit), or `undefined` when it fits. */
export const oversizeRequest = (kind: string, bytes: number): string | undefined => {
  if (bytes <= MAX_FRAME_BYTES) return undefined;
  const hint = kind === "submit" ? "arguments" : kind === "persist" ? "metadata" : "request";
  return `the ${kind} request is ${bytes} bytes encoded, over the frame limit of ${MAX_FRAME_BYTES} bytes: make its ${hint} smaller, or persist large data as an asset`;
};

/** Refuses manifests whose hello would be over half the frame limit (the server would close the connection at every reconnection). */
export const checkHelloSize = (hello: AgentMessage): void => {
  const bytes = frameBytes(hello);
  if (bytes > MAX_FRAME_BYTES / 2) {
    throw new Error(`the manifests of the agent's modules are ${bytes} bytes encoded, too many for the server's frame limit (${MAX_FRAME_BYTES}): split the modules over several agents`);
  }
};
