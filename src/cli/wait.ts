/**
 * Waiting on the server across its restarts: `submit --wait`, `runs wait`,
 * `runs rerun --wait` and `runs logs --follow` keep asking while the server
 * is down or restarting (a note on stderr, backoff from 250 ms doubling to
 * 5 s), and carry on once it is back. Refusals (4xx) still end them.
 */
import type { Outcome } from "../protocol/messages.js";
import { toJson } from "../orchestrator/json.js";
import type { ExecutionDoc, RunView, StepDoc } from "../projections/index.js";
import { api, CliError, envPath, type Target } from "./client.js";
import { showValue } from "./output.js";

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Is this failure one to wait out (no server, a server error or restart, a cut connection)? */
const transient = (e: unknown): boolean => !(e instanceof CliError) || e.exitCode === 2;

/**
 * Runs `attempt` until it succeeds, waiting out transient failures with a
 * note on stderr; a refusal (exit code 1) is thrown.
 */
export const retrying = async <T>(what: string, attempt: () => Promise<T>): Promise<T> => {
  let delay = FIRST_DELAY_MS;
  let down = false;
  for (;;) {
    try {
      const v = await attempt();
      if (down) process.stderr.write(`tributary: the server is back; ${what}\n`);
      return v;
    } catch (e) {
      if (!transient(e)) throw e;
      process.stderr.write(`tributary: ${(e as Error).message.split(": start it with")[0]}; retrying in ${(delay / 1000).toFixed(2)} s (${what})\n`);
      down = true;
      await sleep(delay);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }
};

/** The outcome of a run, waiting for it as long as it takes (and across server restarts). */
export const waitForRun = async (t: Target, runId: string): Promise<Outcome> => {
  const r = await retrying(`waiting for run ${runId}`, () =>
    api<{ outcome: Outcome }>(t.server, "GET", envPath(t, `/runs/${encodeURIComponent(runId)}/result?wait=true`)),
  );
  return r.outcome;
};

/** Prints an outcome as `submit --wait` does; the exit code: 0 succeeded, 3 otherwise. */
export const printOutcome = (runId: string, outcome: Outcome, json: boolean, what = `run ${runId}`): number => {
  if (json) console.log(toJson({ runId, ...outcome }));
  else if (outcome.status === "succeeded") console.log(showValue(outcome.value, 10_000));
  else console.error(`${what} ${outcome.status}: ${outcome.error.type}: ${outcome.error.message}`);
  return outcome.status === "succeeded" ? 0 : 3;
};

const FINAL = new Set(["succeeded", "failed", "cancelled", "reused"]);

/**
 * The outcome of a step once it has one from `executionId` or a later
 * execution (a re-run and its retries), polling the run.
 */
export const waitForStep = async (t: Target, runId: string, stepId: string, executionId: string): Promise<Outcome> => {
  for (;;) {
    const view = await retrying(`waiting for step ${stepId} of run ${runId}`, () =>
      api<RunView>(t.server, "GET", envPath(t, `/runs/${encodeURIComponent(runId)}`)),
    );
    const step = view.steps.find((s) => s.stepId === stepId);
    if (!step) throw new CliError(`run ${runId} has no step ${stepId}`, 1);
    const latest = step.executions[step.executions.length - 1];
    if ((step.executions as readonly string[]).includes(executionId) && FINAL.has(step.status)) {
      if (step.stepId === view.run.rootStepId) return waitForRun(t, runId);
      return stepOutcome(step, latest === undefined ? undefined : view.executions[latest]);
    }
    await sleep(250);
  }
};

/**
 * With `--cascade`: the run's outcome once its root step has a result from
 * an execution created after the re-run, or the re-run step's failure (a
 * cascade stops there).
 */
export const waitForCascade = async (t: Target, runId: string, stepId: string, executionId: string): Promise<Outcome> => {
  const own = await waitForStep(t, runId, stepId, executionId);
  if (own.status !== "succeeded") return own;
  for (;;) {
    const view = await retrying(`waiting for run ${runId}`, () => api<RunView>(t.server, "GET", envPath(t, `/runs/${encodeURIComponent(runId)}`)));
    const since = view.executions[executionId]?.createdAt ?? 0;
    const root = view.steps.find((s) => s.stepId === view.run.rootStepId);
    const latest = root?.executions[root.executions.length - 1];
    const x = latest === undefined ? undefined : view.executions[latest];
    if (root && x && x.createdAt >= since && FINAL.has(root.status)) return waitForRun(t, runId);
    await sleep(250);
  }
};

const stepOutcome = (step: StepDoc, x: ExecutionDoc | undefined): Outcome => {
  if (step.status === "succeeded" || step.status === "reused") {
    const r = step.result;
    if (r?.kind === "blob") return { status: "succeeded", value: `(a result of ${r.blob.size} bytes, kept as blob ${r.blob.key})` };
    return { status: "succeeded", value: r?.value ?? null };
  }
  const error = x?.error ?? { type: "Error", message: `step ${step.stepId} ${step.status}`, retryable: false };
  return { status: step.status === "cancelled" ? "cancelled" : "failed", error };
};
