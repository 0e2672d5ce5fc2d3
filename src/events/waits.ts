/**
 * The facts of waiting without holding an agent: an execution suspended
 * (a durable sleep, or a wait that took longer than its `suspense`), an
 * execution of a recurrent target that returned nothing and recurs, and
 * prompts (an input a person is asked for, and its answer). Part of the
 * catalogue (`types.ts`).
 *
 * Each ends its execution in the same commit as the `ExecutionCreated` of
 * the execution that follows it (`reason: "resume"` or `"recur"`).
 */
import type { Value } from "./data.js";
import type { ExecutionId, StepId } from "./ids.js";
import type { RunEventOf } from "./types.js";

/**
 * The execution suspended itself: it has ended (it holds no agent slot),
 * and the execution created with it (`reason: "resume"`, `resumes` this one)
 * is held until `until` (its `notBefore`) and, with `waitingFor`, until any
 * of those wait keys has resolved (its `resumeWhen`).
 */
export type ExecutionSuspended = RunEventOf<
  "ExecutionSuspended",
  {
    executionId: ExecutionId;
    stepId: StepId;
    /** Not to resume before this time, ms since the epoch (`suspend(ms | Date)`). */
    until?: number;
    /** Wait keys (`runId/stepId` of a step, `input:<inputId>`): resume once any has resolved. */
    waitingFor?: readonly string[];
    /**
     * For `suspend(ms | Date)`, a call of the execution (`<executionId>/<n>`):
     * a re-execution making its n-th call a suspend again takes this `until`,
     * and returns at once once it has passed (a durable sleep).
     */
    callId?: string;
  }
>;

/** An execution of a recurrent target returned nothing: it has ended, and the step executes again (`reason: "recur"`). */
export type ExecutionRecurred = RunEventOf<"ExecutionRecurred", { executionId: ExecutionId; stepId: StepId }>;

/**
 * Task code asked a person for a value (`prompt({ title, schema })`): a
 * pending input, a call of the execution (`callId`), which suspends waiting
 * for `input:<inputId>`. `key` (a hash of the title, the schema and the
 * call's position) memoises the answer in the run: a later prompt of the run
 * with the same key (a re-run, here or in a branch) takes the answer.
 */
export type InputRequested = RunEventOf<
  "InputRequested",
  {
    inputId: string;
    executionId: ExecutionId;
    stepId: StepId;
    callId: string;
    title: string;
    /** A JSON Schema (the subset `src/protocol/json-schema.ts` enforces) the answer must fit. */
    schema: Value;
    key: string;
  }
>;

/** The input was answered with `value` (it fits the schema); who answered: the envelope's `by`. */
export type InputAnswered = RunEventOf<"InputAnswered", { inputId: string; value: Value }>;

export type WaitEvent = ExecutionSuspended | ExecutionRecurred | InputRequested | InputAnswered;

/** The current schema version of each wait event type (spread into `CURRENT_VERSION`). */
export const WAIT_EVENT_VERSIONS = { ExecutionSuspended: 1, ExecutionRecurred: 1, InputRequested: 1, InputAnswered: 1 } as const;
