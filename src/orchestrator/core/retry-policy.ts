/**
 * Retry policies as data: the pure delay before a retry, and which failures are retried.
 */
import type { AbandonCause, ErrorInfo, RetryPolicy } from "../../events/index.js";

/**
 * Milliseconds to wait before the retry that follows failed attempt
 * `attempt` (1-based): `delayMs * factor^(attempt-1)`, at most `maxDelayMs`.
 */
export const delayFor = (policy: RetryPolicy, attempt: number): number =>
  Math.min(policy.maxDelayMs, Math.round(policy.delayMs * Math.pow(policy.factor, Math.max(0, attempt - 1))));

/** Does `policy` allow another attempt after failed attempt `attempt` with `error`? */
export const shouldRetry = (policy: RetryPolicy | undefined, attempt: number, error: ErrorInfo): boolean => {
  if (!policy || !error.retryable) return false;
  if (attempt > policy.limit) return false;
  return policy.retryOn === undefined || policy.retryOn.includes(error.type);
};

/** Executions lost with their agent are retried this many times whatever the policy says. */
export const ABANDON_RETRIES = 3;

/**
 * Abandonments that count against no limit: the server's own restart (its
 * agent came back, or never left) and an agent stopping on purpose. They are
 * retried at once, however often they happen.
 */
export const FREE_ABANDON_CAUSES: ReadonlySet<AbandonCause> = new Set<AbandonCause>(["server-restart", "agent-stopping"]);

/**
 * Error types agents report for executions they could not run through no
 * fault of the code (a worker restarted to stop another execution, an agent
 * that is stopping), and the abandonment each is: such a failure is
 * retried like an abandonment, as this cause.
 */
export const NOT_THE_TASKS_FAULT: ReadonlyMap<string, AbandonCause> = new Map<string, AbandonCause>([
  ["WorkerRestarted", "worker-restarted"],
  ["AgentStopping", "agent-stopping"],
]);
