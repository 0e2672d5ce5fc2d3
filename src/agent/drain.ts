/**
 * What the agent's stop reports, and the waits of a
 * drain: kept out of the runtime so that it stays small.
 */
import type { ErrorInfo } from "../events/index.js";

/** The default of `stop({ drainMs })`: how long running executions have to finish. */
export const DEFAULT_DRAIN_MS = 5000;

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
