/**
 * What the scheduler and the cascades need of an environment's orchestrator
 * (`EnvRuntime` implements it): decide and append a command, read the model,
 * the executions in flight and the steps' outcomes, and hear of acknowledged
 * commits. Neither side reads the other's fields. And how a step ended, as
 * its callers see it.
 */
import type { BlobRef, Commit, Event, Principal, RunId, StepId } from "../events/index.js";
import { cancelledError, type DocSource, type StepDoc } from "../projections/index.js";
import type { Outcome } from "../protocol/messages.js";
import type { Command, Model, ActiveExecution, Rejection } from "./core/index.js";

/** What became of a command: its events (and the commit's sequence, if any), or a rejection. */
export type Executed =
  | { readonly ok: true; readonly events: readonly Event[]; readonly seq?: number }
  | { readonly ok: false; readonly rejection: Rejection };

/** An outcome whose result may still be a blob to load. */
export type RawOutcome = Outcome | { readonly status: "succeeded"; readonly blob: BlobRef };

/** How a command is executed. */
export interface ExecuteOptions {
  /** Who caused it: the `by` of every event it decides (none: the server acts by itself). */
  readonly by?: Principal | undefined;
}

export interface Orchestration {
  /** Decides `cmd` and appends its events (attributed to `opts.by`); resolves once the commit is acknowledged. */
  execute(cmd: Command, opts?: ExecuteOptions): Promise<Executed>;
  /** The model as of every commit decided so far. */
  readonly model: Model;
  /** The projections as of every commit decided so far (for start-up scans). */
  readonly source: DocSource;
  /** The executions not yet finished, as of every commit decided so far. */
  activeExecutions(): IterableIterator<ActiveExecution>;
  newId(): string;
  /** A fresh run id. */
  newRunId(): RunId;
  hasOutcome(runId: RunId, stepId: StepId): boolean;
  rawOutcome(runId: RunId, stepId: StepId): RawOutcome | undefined;
  waitForStepRaw(runId: RunId, stepId: StepId): Promise<RawOutcome>;
  /** Calls `f` after each commit is acknowledged, in sequence order, with the model as of then. */
  onCommitted(f: (commit: Commit, model: Model) => void): void;
}

/**
 * How a step ended, as its callers see it: the latest execution's outcome,
 * or `undefined` while it may still produce one (including a pending retry).
 */
export const stepOutcome = (step: StepDoc, m: Model): RawOutcome | undefined => {
  if (step.status === "succeeded" || step.status === "reused") {
    const r = step.result;
    return r?.kind === "blob" ? { status: "succeeded", blob: r.blob } : { status: "succeeded", value: r?.value ?? null };
  }
  if (step.status === "deferred" || step.status === "pending") {
    // A step of a cancelled run that never got to execute (it waited for another step) ends with its run.
    const r = m.run(step.runId);
    return r?.status === "cancelled" && step.executions.length === 0 ? { status: "cancelled", error: cancelledError(r.cancelReason ?? "run cancelled") } : undefined;
  }
  if (step.status !== "failed" && step.status !== "cancelled") return undefined;
  const latest = step.executions[step.executions.length - 1];
  const x = latest === undefined ? undefined : m.execution(latest);
  const error = step.error ?? x?.error ?? { type: "Error", message: "failed", retryable: false };
  const status =
    x?.status === "timed_out" ? "timed_out" : x?.status === "abandoned" ? "abandoned" : step.status === "cancelled" ? "cancelled" : "failed";
  return { status, error };
};
