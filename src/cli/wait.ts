/**
 * Waiting on the server across its restarts: `submit --wait`, `runs wait`,
 * `runs rerun --wait` and `runs logs --follow` keep asking while the server
 * is down or restarting (the client's backoff, from 250 ms doubling to 5 s,
 * with a note on stderr), and carry on once it is back. Refusals (4xx)
 * still end them.
 */
import type { WaitOptions } from "../client/wait.js";
import type { Outcome } from "../protocol/messages.js";
import { toJson } from "../protocol/json.js";
import { clientOf, type Target } from "./client.js";
import { showValue } from "./output.js";

/** The client's waiting calls, telling stderr of each retry and of the server's return. */
export const noting = (what: string): WaitOptions => ({
  onRetry: (e, delayMs) => process.stderr.write(`tributary: ${e.message}; retrying in ${(delayMs / 1000).toFixed(2)} s (${what})\n`),
  onRecovered: () => process.stderr.write(`tributary: the server is back; ${what}\n`),
});

/** The outcome of a run, waiting for it as long as it takes (and across server restarts). */
export const waitForRun = (t: Target, runId: string): Promise<Outcome> => clientOf(t).run(runId).outcome(noting(`waiting for run ${runId}`));

/** Prints an outcome as `submit --wait` does; the exit code: 0 succeeded, 3 otherwise. */
export const printOutcome = (runId: string, outcome: Outcome, json: boolean, what = `run ${runId}`): number => {
  if (json) console.log(toJson({ runId, ...outcome }));
  else if (outcome.status === "succeeded") console.log(showValue(outcome.value, 10_000));
  else console.error(`${what} ${outcome.status}: ${outcome.error.type}: ${outcome.error.message}`);
  return outcome.status === "succeeded" ? 0 : 3;
};
