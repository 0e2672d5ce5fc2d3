/**
 * Builders of valid, realistic events for tests. Every builder makes a fresh
 * sortable id; pass `at` to pin the time. Ids and names are parsed, so a
 * typo in a test fails at once instead of producing an invalid event.
 */
import {
  IdGenerator,
  parseAgentId,
  parseEnvName,
  parseExecutionId,
  parseProjectName,
  parseRunId,
  parseStepId,
  type AgentConnected,
  type AgentId,
  type EnvironmentCreated,
  type EventId,
  type ExecutionCreated,
  type ExecutionId,
  type ExecutionSucceeded,
  type RunId,
  type RunSubmitted,
  type StepId,
  type StepScheduled,
  type Value,
} from "../../src/events/index.js";

const ids = new IdGenerator();

/** A fresh sortable event id. */
export const eventId = (): EventId => ids.next() as EventId;

const must =
  <T>(parse: (v: unknown) => { _tag: "Left"; left: { hint: string } } | { _tag: "Right"; right: T }) =>
  (value: string): T => {
    const r = parse(value);
    if (r._tag === "Left") throw new Error(`test helper: ${JSON.stringify(value)} is invalid: ${r.left.hint}`);
    return r.right;
  };

export const runId = must(parseRunId);
export const stepId = must(parseStepId);
export const executionId = must(parseExecutionId);
export const agentId = must(parseAgentId);

let counter = 0;
/** A fresh, unique run id such as `run-7-01JD…`. */
export const newRunId = (): RunId => runId(`run-${++counter}-${ids.next()}`);
/** A fresh, unique step id. */
export const newStepId = (): StepId => stepId(`step-${++counter}`);
/** A fresh, unique execution id. */
export const newExecutionId = (): ExecutionId => executionId(`exec-${++counter}`);

const target = { repository: "shop.orders", target: "process_order" } as const;

/** A workflow run was submitted, with `arguments` (default: one order). */
export const runSubmitted = (
  run: RunId | string,
  options: { rootStepId?: StepId; arguments?: readonly Value[]; at?: number } = {},
): RunSubmitted => ({
  id: eventId(),
  type: "RunSubmitted",
  v: 1,
  at: options.at ?? Date.now(),
  runId: typeof run === "string" ? runId(run) : run,
  data: {
    target,
    arguments: options.arguments ?? [{ orderId: 1042, lines: 3, total: 129.5 }],
    rootStepId: options.rootStepId ?? stepId("root"),
  },
});

/** A task step was scheduled in `run`, with `arguments` (default: one value). */
export const stepScheduled = (
  run: RunId | string,
  step: StepId | string,
  options: { arguments?: readonly Value[]; at?: number } = {},
): StepScheduled => ({
  id: eventId(),
  type: "StepScheduled",
  v: 1,
  at: options.at ?? Date.now(),
  runId: typeof run === "string" ? runId(run) : run,
  data: {
    stepId: typeof step === "string" ? stepId(step) : step,
    target: { repository: "shop.orders", target: "reserve_stock" },
    kind: "task",
    arguments: options.arguments ?? ["sku-881", 2],
    options: { retries: { limit: 3, delayMs: 1_000, factor: 2, maxDelayMs: 60_000 }, timeoutMs: 30_000 },
  },
});

/** A step got its first (or `attempt`-th) execution. */
export const executionCreated = (
  run: RunId | string,
  step: StepId | string,
  execution: ExecutionId | string,
  attempt = 1,
): ExecutionCreated => ({
  id: eventId(),
  type: "ExecutionCreated",
  v: 1,
  at: Date.now(),
  runId: typeof run === "string" ? runId(run) : run,
  data: {
    executionId: typeof execution === "string" ? executionId(execution) : execution,
    stepId: typeof step === "string" ? stepId(step) : step,
    attempt,
    reason: attempt === 1 ? "first" : "retry",
  },
});

/** An execution returned `value` inline. */
export const executionSucceeded = (
  run: RunId | string,
  step: StepId | string,
  execution: ExecutionId | string,
  value: Value = { reserved: true },
): ExecutionSucceeded => ({
  id: eventId(),
  type: "ExecutionSucceeded",
  v: 1,
  at: Date.now(),
  runId: typeof run === "string" ? runId(run) : run,
  data: {
    executionId: typeof execution === "string" ? executionId(execution) : execution,
    stepId: typeof step === "string" ? stepId(step) : step,
    result: { kind: "inline", value },
  },
});

/** An agent connected (an environment event: no run). */
export const agentConnected = (agent: AgentId | string, at?: number): AgentConnected => ({
  id: eventId(),
  type: "AgentConnected",
  v: 1,
  at: at ?? Date.now(),
  data: {
    agentId: typeof agent === "string" ? agentId(agent) : agent,
    tags: { gpu: ["a100"], region: ["eu-west-1"] },
    repositories: ["shop.orders"],
    concurrency: 4,
  },
});

/** The environment was created (the first event of its log). */
export const environmentCreated = (project: string, env: string): EnvironmentCreated => ({
  id: eventId(),
  type: "EnvironmentCreated",
  v: 1,
  at: Date.now(),
  data: { project: must(parseProjectName)(project), env: must(parseEnvName)(env) },
});

/**
 * The commit a run submission makes: the run, its root step and the step's
 * first execution, as one decision.
 */
export const submission = (run: RunId | string = newRunId()): [RunSubmitted, StepScheduled, ExecutionCreated] => {
  const root = stepId("root");
  return [runSubmitted(run, { rootStepId: root }), stepScheduled(run, root), executionCreated(run, root, newExecutionId())];
};
