/**
 * What the agent's stop and its lost workers report, and the waits of a
 * drain: kept out of the runtime so that it stays small.
 */
import type { ErrorInfo } from "../events/index.js";
import { abortErrorInfo } from "./errors.js";
import type { LostExecution } from "./pool.js";

/** The default of `stop({ drainMs })`: how long running executions have to finish. */
export const DEFAULT_DRAIN_MS = 5000;

/** What an execution lost with its worker is reported as. */
export const lostInfo = (l: LostExecution, why: string): ErrorInfo =>
  l.abortReason !== undefined
    ? abortErrorInfo(l.abortReason)
    : { type: "WorkerRestarted", message: `the worker running the execution went away: ${why}`, retryable: true };

/**
 * An execution the agent gave back because it stopped (declined, or aborted
 * at the end of its drain): the server records it abandoned (`agent-stopping`,
 * counted against no retry limit) and runs it again on another agent.
 */
export const stoppingInfo = (drainMs?: number): ErrorInfo => ({
  type: "AgentStopping",
  message: drainMs === undefined ? "the agent is stopping" : `the agent stopped before the execution finished (its drain timeout of ${drainMs} ms had passed)`,
  retryable: true,
});

/** Resolves once `done()` holds, or after `ms` (checked every 20 ms). */
export const until = async (done: () => boolean, ms: number): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(20);
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
