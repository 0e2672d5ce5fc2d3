/**
 * Decider specifications: `given(commits…).when(command)` then
 * `.then(events…)`, `.rejected(tag, fields?)` or `.nothing()`;
 * `given(…).by(principal).when(…)` decides on behalf of someone (the ctx's
 * `by`), and {@link attributed} writes the facts such a decision makes.
 *
 * `given` folds its commits (each argument is one commit: an event or a
 * list of them) through the real projections into an in-memory store, and
 * `when` runs the real `decide` on the model of that store, with a fixed
 * time ({@link NOW}) and event ids from a counter ({@link eventIdOf}). So a
 * decision is the same on every run and `then` compares WHOLE events: ids,
 * times and schema versions included. The events given are written as
 * facts, without their envelope: {@link runEvent} and {@link envEvent}
 * stamp each with the next id, the time and its current version, and every
 * event given or decided must pass the log's own check (`checkEvents`).
 */
import { expect } from "vitest";
import {
  CURRENT_VERSION,
  type Brand,
  type Commit,
  type EnvEvent,
  type EnvName,
  type Event,
  type EventId,
  type EventType,
  type Principal,
  type RunEvent,
  type RunId,
  type TargetManifest,
} from "../../src/events/index.js";
import { checkEvents } from "../../src/events/codec.js";
import { MemoryStore, PROJECTIONS, TOKEN_PROJECTIONS } from "../../src/projections/index.js";
import type { Command } from "../../src/orchestrator/core/commands.js";
import { decide, type Decision } from "../../src/orchestrator/core/decide.js";
import { modelOf, type Inherited, type Model } from "../../src/orchestrator/core/model.js";
import type { Rejection } from "../../src/orchestrator/core/rejections.js";

/** The time of every given event and of every decision, unless told otherwise. */
export const NOW = 1_700_000_000_000;

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const base32 = (n: number, width: number): string => {
  let out = "";
  for (let i = 0; i < width; i++, n = Math.floor(n / 32)) out = CROCKFORD[n % 32]! + out;
  return out;
};
/** The `n`th event id of a specification (from 1): a sortable id of {@link NOW} counting `n`. */
export const eventIdOf = (n: number): EventId => (base32(NOW, 10) + base32(n, 16)) as EventId;

// ---------------------------------------------------------------------------
// Facts: events without their envelope

/** Ids in test data are plain strings: the builders brand them. */
export type Loose<T> = T extends Brand<string, string>
  ? string
  : T extends Date | Uint8Array | bigint
    ? T
    : T extends readonly (infer U)[] ? readonly Loose<U>[] : T extends object ? { readonly [K in keyof T]: Loose<T[K]> } : T;
type RunType = RunEvent["type"];
type EnvType = EnvEvent["type"];

/** An event to give or expect: the envelope (id, version, and the time unless `at` is set) is the specification's. */
export interface Fact {
  readonly type: EventType;
  readonly runId?: string;
  readonly data: unknown;
  readonly at?: number;
  /** Who caused it (the envelope's `by`). */
  readonly by?: Principal;
}

/** The facts, as caused by `by`: each gets the envelope's `by`. */
export const attributed = (by: Principal, ...facts: readonly (Fact | readonly Fact[])[]): Fact[] => facts.flat().map((f) => ({ ...f, by }));

/** A run event of type `T` of run `runId` (`at`: when it happened, if not {@link NOW}). */
export const runEvent = <T extends RunType>(type: T, runId: string, data: Loose<Extract<RunEvent, { type: T }>["data"]>, at?: number): Fact => ({
  type,
  runId,
  data,
  ...(at === undefined ? {} : { at }),
});

/** An environment event of type `T`. */
export const envEvent = <T extends EnvType>(type: T, data: Loose<Extract<EnvEvent, { type: T }>["data"]>, at?: number): Fact => ({
  type,
  data,
  ...(at === undefined ? {} : { at }),
});

/**
 * A command as a specification writes it: ids and names as plain strings.
 * The edges parse them into their branded types; a specification stands in
 * for the edge, so `when` brands them as they are.
 */
export type SpecCommand = Loose<Command>;

/** The model as a specification reads it: look-ups by plain strings. */
export type SpecModel = {
  readonly [K in keyof Model]: Model[K] extends (...args: infer A) => infer R ? (...args: { [I in keyof A]: Loose<A[I]> }) => R : Model[K];
};

/** One commit: one event, or the events of one decision. */
export type Given = Fact | readonly Fact[];

/** The whole event a fact stands for, given its id and the time of its decision. */
const stamp = (f: Fact, id: EventId, now: number): Event =>
  ({
    id,
    type: f.type,
    v: CURRENT_VERSION[f.type],
    at: f.at ?? now,
    ...(f.runId === undefined ? {} : { runId: f.runId as RunId }),
    ...(f.by === undefined ? {} : { by: f.by }),
    data: f.data,
  }) as Event;

const valid = (events: readonly Event[], what: string): void => {
  const bad = checkEvents(events);
  if (bad) throw new Error(`${what} would not pass the log's check: ${bad.message}`);
};

// ---------------------------------------------------------------------------
// The specification

/** The projections of a list of commits, as one environment's store (with the server log's, for token decisions); `next` numbers the events. */
const fold = (commits: readonly Given[], next: () => EventId): MemoryStore => {
  const store = new MemoryStore([...PROJECTIONS, ...TOKEN_PROJECTIONS]);
  commits.forEach((c, i) => {
    const events = (Array.isArray(c) ? c : [c]).map((f: Fact) => stamp(f, next(), NOW));
    valid(events, `given commit ${i + 1}`);
    const runId = events[0]?.runId;
    store.apply([{ seq: i + 1, id: events[0]!.id, subject: "", ...(runId ? { runId } : {}), events } as Commit]);
  });
  return store;
};

export interface Specification {
  /** Sees environment `env`'s projections of these commits too, as inherited (a base, or a branch's parent), nearest first. */
  inheriting(env: string, ...commits: readonly Given[]): Specification;
  /** Decides on behalf of `principal` (the decision context's `by`). */
  by(principal: Principal): Specification;
  /** The model as of the given commits. */
  model(): SpecModel;
  /** Decides `cmd` (at `now`, if not {@link NOW}). */
  when(cmd: SpecCommand, now?: number): Outcome;
  /**
   * The facts `cmd` decides here, to give to another specification: for a
   * history too long to write out (what `ImportRun` brings into a branch).
   * Throws if it is refused.
   */
  decided(cmd: SpecCommand): Fact[];
}

export interface Outcome {
  /** The decision, as it came. */
  readonly decision: Decision;
  /** Exactly these events (stamped with the ids that come next, and the time of the decision); returns the model after them. */
  then(...expected: readonly Fact[]): SpecModel;
  /** Refused with this rejection: its `_tag`, and when `fields` are given, exactly those fields. Returns the rejection. */
  rejected<T extends Rejection["_tag"]>(tag: T, fields?: Omit<Extract<Rejection, { _tag: T }>, "_tag">): Extract<Rejection, { _tag: T }>;
  /** Accepted with no events: the command's effect is already there. */
  nothing(): void;
}

/** The store these commits fold into (through the real projections), to read views from. */
export const storeOf = (...commits: readonly Given[]): MemoryStore => {
  let n = 0;
  return fold(commits, () => eventIdOf(++n));
};

/** A specification of a decision in the state these commits leave. */
export const given = (...commits: readonly Given[]): Specification => spec(commits, []);

const spec = (commits: readonly Given[], inherited: readonly { env: string; commits: readonly Given[] }[], by?: Principal): Specification => {
  const who = by === undefined ? {} : { by };
  const build = () => {
    let n = 0;
    const next = () => eventIdOf(++n);
    const others = inherited.map((i) => ({ env: i.env as EnvName, src: fold(i.commits, next) }));
    const store = fold(commits, next);
    const inherits: Inherited = () => others;
    return { store, inherits, next, count: () => n };
  };
  return {
    inheriting: (env, ...more) => spec(commits, [...inherited, { env, commits: more }], by),
    by: (principal) => spec(commits, inherited, principal),
    decided(cmd) {
      const { store, inherits, next } = build();
      const d = decide(cmd as Command, modelOf(store, inherits), { now: NOW, id: next, ...who });
      if (d._tag === "Left") throw new Error(`given ${cmd.type} was rejected: ${JSON.stringify(d.left)}`);
      return d.right.map((e) => ({ type: e.type, ...(e.runId === undefined ? {} : { runId: e.runId }), ...(e.by === undefined ? {} : { by: e.by }), data: e.data }));
    },
    model: () => {
      const { store, inherits } = build();
      return modelOf(store, inherits) as SpecModel;
    },
    when(cmd, now = NOW) {
      const { store, inherits, next, count } = build();
      const start = count();
      const decision = decide(cmd as Command, modelOf(store, inherits), { now, id: next, ...who });
      const decided = (): readonly Event[] => {
        if (decision._tag === "Left") throw new Error(`${cmd.type} was rejected: ${JSON.stringify(decision.left)}`);
        return decision.right;
      };
      return {
        decision,
        then(...expected) {
          const events = decided();
          valid(events, `the decision of ${cmd.type}`);
          expect(events).toStrictEqual(expected.map((f, i) => stamp(f, eventIdOf(start + i + 1), now)));
          store.apply([{ seq: commits.length + 1, id: events[0]?.id, subject: "", events } as Commit]);
          return modelOf(store, inherits) as SpecModel;
        },
        rejected(tag, fields) {
          if (decision._tag === "Right") throw new Error(`${cmd.type} was accepted, with ${decision.right.map((e) => e.type).join(", ") || "no events"}; expected ${tag}`);
          if (fields === undefined) expect(decision.left._tag).toBe(tag);
          else expect(decision.left).toStrictEqual({ _tag: tag, ...fields });
          return decision.left as Extract<Rejection, { _tag: typeof tag }>;
        },
        nothing() {
          expect(decided()).toEqual([]);
        },
      };
    },
  };
};

// ---------------------------------------------------------------------------
// Histories: the commits of common decisions, as the deciders make them.
// Execution ids follow `executionIdOf` (`<run>-<step>-<attempt>`); the run
// ids of specifications have no `-`.

/** The run, step and attempt of an execution id. */
export const partsOf = (executionId: string): { runId: string; stepId: string; attempt: number } => {
  const [runId, stepId, attempt] = executionId.split("-");
  return { runId: runId!, stepId: stepId!, attempt: Number(attempt) };
};

const CHARGE_RETRIES = { limit: 2, delayMs: 100, factor: 2, maxDelayMs: 1000 };
/** Repository `shop`: workflow `checkout`, task `charge` (2 retries with backoff, a timeout), task `email`. */
export const SHOP = {
  repository: "shop",
  targets: [
    { name: "checkout", kind: "workflow" as const, parameters: [], options: {} },
    { name: "charge", kind: "task" as const, parameters: [], options: { retries: CHARGE_RETRIES, timeoutMs: 500 } },
    { name: "email", kind: "task" as const, parameters: [], options: {} },
  ],
};
/** The options a step of a `SHOP` target is scheduled with, when its call adds none. */
export const optionsOf = (target: string) => SHOP.targets.find((t) => t.name === target)?.options ?? {};

/** The targets an agent hosts from one repository. */
export interface Manifest {
  readonly repository: string;
  readonly targets: readonly TargetManifest[];
}

/** Environment `env` of project `p` was created. */
export const environmentCreated = (env = "production", base?: string): Fact =>
  envEvent("EnvironmentCreated", { project: "p", env, ...(base === undefined ? {} : { base }) });

/** Agent `agentId` connected, hosting these repositories (default: {@link SHOP}). */
export const agentConnected = (agentId = "a1", manifests: readonly Manifest[] = [SHOP]): Fact[] => [
  envEvent("AgentConnected", { agentId, tags: {}, repositories: manifests.map((m) => m.repository), concurrency: 4 }),
  ...manifests.map((m) => envEvent("ManifestRegistered", { repository: m.repository, agentId, targets: m.targets })),
];

/** A new execution of a step: its first unless `attempt` > 1 (then a retry). */
export const executionCreated = (executionId: string, fields: { reason?: "first" | "retry" | "rerun"; notBefore?: number; resumes?: string; memoKey?: string } = {}): Fact => {
  const { runId, stepId, attempt } = partsOf(executionId);
  return runEvent("ExecutionCreated", runId, { executionId, stepId, attempt, reason: fields.reason ?? (attempt === 1 ? "first" : "retry"), ...fields });
};

/** `checkout` (or `target`) was submitted as run `runId`: the run, its root step `1` and its first execution. */
export const runSubmitted = (
  runId: string,
  o: { target?: string; arguments?: readonly unknown[]; options?: object; idempotencyKey?: string; memoKey?: string } = {},
): Fact[] => {
  const target = { repository: "shop", target: o.target ?? "checkout" };
  const args = (o.arguments ?? [1]) as never;
  return [
    runEvent("RunSubmitted", runId, { target, arguments: args, rootStepId: "1", ...(o.idempotencyKey === undefined ? {} : { idempotencyKey: o.idempotencyKey }) }),
    runEvent("StepScheduled", runId, { stepId: "1", target, kind: "workflow", arguments: args, options: o.options ?? {}, ...(o.memoKey === undefined ? {} : { memoKey: o.memoKey }) }),
    executionCreated(`${runId}-1-1`),
  ];
};

/** The step scheduled for call `n` of execution `by`, as step `stepId` of its run (default: its options from {@link SHOP}). */
export const stepScheduled = (
  by: string,
  n: number,
  stepId: string,
  o: { target?: string; arguments?: readonly unknown[]; options?: object; memoKey?: string; cacheKey?: string } = {},
): Fact => {
  const target = o.target ?? "charge";
  return runEvent("StepScheduled", partsOf(by).runId, {
    stepId,
    target: { repository: "shop", target },
    kind: "task",
    arguments: (o.arguments ?? [n]) as never,
    options: o.options ?? optionsOf(target),
    parentExecutionId: by,
    callId: `${by}/${n}`,
    ...(o.memoKey === undefined ? {} : { memoKey: o.memoKey }),
    ...(o.cacheKey === undefined ? {} : { cacheKey: o.cacheKey }),
  });
};

/** Call `n` of execution `by` made step `stepId`, which got its first execution. */
export const stepCalled = (by: string, n: number, stepId: string, o: Parameters<typeof stepScheduled>[3] = {}): Fact[] => [
  stepScheduled(by, n, stepId, o),
  executionCreated(`${partsOf(by).runId}-${stepId}-1`),
];

const execution = (executionId: string) => {
  const { runId, stepId } = partsOf(executionId);
  return { runId, ref: { executionId, stepId } };
};
/** The execution went to agent `agentId`. */
export const executionAssigned = (executionId: string, agentId = "a1"): Fact => {
  const { runId, ref } = execution(executionId);
  return runEvent("ExecutionAssigned", runId, { ...ref, agentId });
};
/** The execution returned `value`. */
export const executionSucceeded = (executionId: string, value: unknown = "ok", at?: number): Fact => {
  const { runId, ref } = execution(executionId);
  return runEvent("ExecutionSucceeded", runId, { ...ref, result: { kind: "inline", value: value as never } }, at);
};
/** The execution threw (an `Error`, retryable or not). */
export const executionFailed = (executionId: string, retryable: boolean, type = "Error"): Fact => {
  const { runId, ref } = execution(executionId);
  return runEvent("ExecutionFailed", runId, { ...ref, error: { type, message: "boom", retryable } });
};
/** The infrastructure lost the execution, for this cause. */
export const executionAbandoned = (executionId: string, cause: "server-restart" | "agent-lost" | "not-running" | "worker-restarted" | "agent-stopping", agentId = "a1"): Fact => {
  const { runId, ref } = execution(executionId);
  return runEvent("ExecutionAbandoned", runId, { ...ref, agentId, reason: "lost", cause });
};
/** The execution was cancelled. */
export const executionCancelled = (executionId: string, reason: string): Fact => {
  const { runId, ref } = execution(executionId);
  return runEvent("ExecutionCancelled", runId, { ...ref, reason });
};
