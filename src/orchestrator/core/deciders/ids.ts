/**
 * The ids the deciders make. The only casts to an id type in the core are
 * here: each builds an id of valid parts by a fixed pattern, so that the same
 * command decides the same ids wherever and whenever it is decided.
 */
import type { AssetId, ExecutionId, StepId } from "../../../events/index.js";

/** The id of attempt `attempt` of step `stepId` of run `runId`. */
export const executionIdOf = (runId: string, stepId: string, attempt: number): ExecutionId =>
  `${runId}-${stepId}-${attempt}` as ExecutionId;

/** The id of a run's `n`th step (its root is step 1). */
export const stepIdOf = (n: number): StepId => String(n) as StepId;

/** The id of the asset an execution persists with its request `requestId`: a persist re-sent after a reconnect is recognised. */
export const assetIdOf = (executionId: string, requestId: number): AssetId => `${executionId}-a${requestId}` as AssetId;

/**
 * The id of call `n` of an execution: `<executionId>/<n>`, `n` its position
 * among the execution's calls (agents number them from 1; older agents send
 * `r<requestId>`). A call re-sent is recognised by it, and an execution
 * that resumes an abandoned one finds that one's `n`th call.
 */
export const callIdOf = (executionId: string, n: number | string): string => `${executionId}/${n}`;

/**
 * The key of checkpoint `name` of a step: `<runId>/<memo key>/<name>`, or
 * `<runId>/<stepId>/<name>` for a step without a memo key. Through the memo
 * key, a step scheduled again for the same call in the run (a caller re-run,
 * a branch's re-run) finds what an earlier step of that call saved.
 */
export const checkpointKeyOf = (step: { readonly runId: string; readonly stepId: string; readonly memoKey?: string }, name: string): string =>
  `${step.runId}/${step.memoKey ?? step.stepId}/${name}`;

/** What a reference to the latest execution of a step names when the step has none yet (it waits itself). */
export const NO_EXECUTION = "" as ExecutionId;
