/**
 * Error values recorded for outcomes that are not thrown errors (a time-out,
 * an abandonment, a cancellation). Pure.
 */
import type { ErrorInfo } from "../events/index.js";

export const timeoutError = (timeoutMs: number): ErrorInfo => ({
  type: "TimeoutError",
  message: `timed out after ${timeoutMs} ms`,
  retryable: true,
});
export const abandonedError = (reason: string): ErrorInfo => ({
  type: "AbandonedError",
  message: `abandoned: ${reason}`,
  retryable: true,
});
export const cancelledError = (reason: string): ErrorInfo => ({
  type: "CancelledError",
  message: `cancelled: ${reason}`,
  retryable: false,
});
