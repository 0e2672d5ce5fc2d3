/**
 * Defining targets: `task` and `workflow`.
 */
import type { TargetKind, Value } from "../events/index.js";
import { requireHost } from "./context.js";
import { Handle } from "./handle.js";
import { mergeOptions, parseOptions, type ParsedOptions, type TargetOptions } from "./options.js";
import { finishValue, prepareArguments } from "./values.js";
import { currentGroup } from "./group.js";
import type { ConcurrencyLimit } from "../events/index.js";

/**
 * A workflow or a task, made by {@link task} or {@link workflow}. Calling it
 * inside an execution schedules a step and waits for its result; its
 * argument and result types are those of the function it was made from.
 */
export interface Target<A extends readonly unknown[], R> {
  /**
   * Schedules a step of this target and waits for its result: `await charge(5)`.
   * Fails as {@link Handle.result} does. The arguments are checked before
   * anything is sent: an invalid one throws an {@link InvalidValueError}.
   * @throws {OutsideExecutionError} outside the code of an execution.
   */
  (...args: A): Promise<R>;
  /** The target's name, as given to `task()` / `workflow()`. */
  readonly name: string;
  readonly kind: TargetKind;
  /** The options it was defined with (and those of `.with()`). */
  readonly options: TargetOptions;
  /** The repository it was loaded from by an agent; `undefined` until then. */
  readonly repository: string | undefined;
  /** The function itself, to call directly (in unit tests): no step, no retry. */
  readonly fn: (...args: A) => R | PromiseLike<R>;
  /**
   * Schedules a step and returns its {@link Handle} at once, without waiting
   * for the step (or for the server's acknowledgement): many `submit`s and
   * then `Promise.all(handles.map((h) => h.result()))` run in parallel.
   * @throws {InvalidValueError} for an argument that cannot be passed.
   * @throws {OutsideExecutionError} outside the code of an execution.
   */
  submit(...args: A): Handle<R>;
  /**
   * The same target with options for the calls made through it; each given
   * option replaces the target's own.
   * @example await charge.with({ timeout: 500 })(order)
   * @throws {InvalidOptionError} naming the invalid field.
   */
  with(options: TargetOptions): Target<A, R>;
}

/** The code of a target. (Parameters typed `never` let TypeScript infer them from the function itself.) */
export type TargetFunction = (...args: never[]) => unknown;
/** The target made from a function: same parameters, awaited result. */
export type TargetOf<F extends TargetFunction> = Target<Parameters<F>, Awaited<ReturnType<F>>>;

/** What the agent needs to know of a target. */
export interface TargetCore {
  readonly name: string;
  readonly kind: TargetKind;
  readonly fn: TargetFunction;
  readonly given: TargetOptions;
  readonly parsed: ParsedOptions;
  repository?: string;
  /** A stub of a target another repository hosts (`stub()`): not this agent's to host; `kind` is the server's to know. */
  readonly stub?: true;
}

const CORE: unique symbol = Symbol.for("tributary.target") as never;
const NAME = /^[A-Za-z_][\w.-]{0,127}$/;

/** The core of a target, or `undefined` if `v` is not one. */
export const targetCore = (v: unknown): TargetCore | undefined => {
  const core = typeof v === "function" ? (v as { [CORE]?: TargetCore })[CORE] : undefined;
  // A stub exported by a module is a call to another repository, not a target of this one.
  return core?.stub ? undefined : core;
};

/** How messages name a target: `task "charge"`, or a stub's `stub "payments:charge"`. */
const labelOf = (core: TargetCore): string => (core.stub ? `stub "${core.repository}:${core.name}"` : `${core.kind} "${core.name}"`);

/** Says which repository a target belongs to (the first module that exports it wins). */
export const bindRepository = (core: TargetCore, repository: string): void => {
  core.repository ??= repository;
};

/**
 * Defines a task: a unit of work that a workflow (or another task) calls.
 * Each call is a step of the run, executed by an agent that hosts the
 * task's repository and has the tags of `requires`.
 *
 * Delivery: at most once per attempt, and a retried or re-run step runs
 * again; after an agent or server crash an execution may run again, but its
 * result is recorded once. Make side effects idempotent.
 *
 * @param name the target's name in its repository (letters, digits, `_`, `.`, `-`).
 * @param options see {@link TargetOptions}: `retries` (default none, backoff
 *   1000 ms × 2 up to 60000 ms), `timeout` (ms), `requires`, `delay` (ms), ...
 * @param fn the code: takes the call's arguments, returns the result (both
 *   JSON values, Date, Uint8Array, bigint, handles or assets; `undefined` becomes `null`).
 * @example
 * export const charge = task("charge", { retries: 2, timeout: 10_000 }, async (order: number) => {
 *   context().log.info("charging", { order });
 *   return { order, ok: true };
 * });
 * @throws {InvalidOptionError} when an option is invalid, naming it.
 */
export function task<F extends TargetFunction>(name: string, fn: F): TargetOf<F>;
export function task<F extends TargetFunction>(name: string, options: TargetOptions, fn: F): TargetOf<F>;
export function task(name: string, a: unknown, b?: unknown): Target<unknown[], unknown> {
  return define("task", name, a, b);
}

/**
 * Defines a workflow: a target that can be submitted as a run (from the
 * CLI, the API, or a task, which spawns a new run linked to the caller).
 * Its code calls tasks; otherwise it behaves as a {@link task}, with the
 * same options and delivery semantics.
 *
 * @example
 * export const processOrders = workflow("process_orders", async (orders: number[]) => {
 *   const handles = orders.map((o) => charge.submit(o));
 *   return Promise.all(handles.map((h) => h.result()));
 * });
 * @throws {InvalidOptionError} when an option is invalid, naming it.
 */
export function workflow<F extends TargetFunction>(name: string, fn: F): TargetOf<F>;
export function workflow<F extends TargetFunction>(name: string, options: TargetOptions, fn: F): TargetOf<F>;
export function workflow(name: string, a: unknown, b?: unknown): Target<unknown[], unknown> {
  return define("workflow", name, a, b);
}

function define(kind: TargetKind, name: unknown, a: unknown, b: unknown): Target<unknown[], unknown> {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new TypeError(`${kind}(): the name must start with a letter or _ and hold only letters, digits, _ . - (at most 128), got ${JSON.stringify(name)}`);
  }
  const [options, fn] = b === undefined ? [undefined, a] : [a, b];
  if (typeof fn !== "function") throw new TypeError(`${kind} "${name}": the last argument must be the function to run`);
  const given = (options ?? {}) as TargetOptions;
  const core: TargetCore = {
    name,
    kind,
    fn: fn as TargetCore["fn"],
    given: Object.freeze({ ...given }),
    parsed: parseOptions(options, `${kind} "${name}"`),
  };
  return makeTarget(core, core.parsed, core.given);
}

/** The key of a target's own concurrency limit (`target:repo:name`); the manifest carries it unkeyed. */
export const targetLimitKey = (repository: string, name: string): string => `target:${repository}:${name}`;

/** A call's group and concurrency limits: the target's (keyed by its arguments if so defined), then its groups'. */
const callLimits = (parsed: ParsedOptions, repository: string, core: TargetCore, args: unknown[]): { concurrency?: ConcurrencyLimit[]; group?: string } => {
  const g = currentGroup();
  const limits: ConcurrencyLimit[] = [];
  if (parsed.concurrency) {
    let key = targetLimitKey(repository, core.name);
    if (parsed.concurrency.key) {
      const sub = parsed.concurrency.key(...args);
      if (typeof sub !== "string" || sub === "" || sub.length > 512) {
        throw new TypeError(`the concurrency key function of ${core.kind} "${core.name}" must return a string of 1 to 512 characters, got ${JSON.stringify(sub)}`);
      }
      key = `${key}:${sub}`;
    }
    limits.push({ key, limit: parsed.concurrency.limit });
  }
  limits.push(...(g?.limits ?? []));
  // Only when a call has limits of its own do they travel: otherwise the target's (from its manifest) hold.
  return { ...(limits.length > 0 ? { concurrency: limits } : {}), ...(g ? { group: g.name } : {}) };
};

/** @internal The callable target of a core (`stub()` makes one too). */
export function makeTarget(core: TargetCore, parsed: ParsedOptions, given: TargetOptions): Target<unknown[], unknown> {
  const submit = (args: unknown[], what: string): Handle<unknown> => {
    const host = requireHost(what);
    const prepared = prepareArguments(args, labelOf(core));
    const repository = core.repository;
    if (repository === undefined) {
      throw new Error(`${core.kind} "${core.name}" belongs to no repository: export it from a module that the agent loads`);
    }
    let step = parsed.step;
    if (parsed.cacheKey && step.cache) {
      const key = parsed.cacheKey(...args);
      if (typeof key !== "string") throw new TypeError(`the cache key function of ${labelOf(core)} must return a string`);
      step = { ...step, cache: { ...step.cache, key } };
    }
    const options = { ...step, ...(parsed.wait !== undefined ? { wait: parsed.wait } : {}), ...callLimits(parsed, repository, core, args) };
    const ref = (async () => {
      const values = await finishValue(prepared);
      const reply = await host.request({ type: "submit", target: { repository, target: core.name }, arguments: values as readonly Value[], options });
      if (reply.type !== "submitted") throw new Error(`unexpected reply ${reply.type} to a submission`);
      return reply.handle;
    })();
    host.track(ref);
    return new Handle(ref, host);
  };
  const target = (...args: unknown[]): Promise<unknown> => submit(args, `${core.name}()`).result();
  Object.defineProperty(target, "name", { value: core.name });
  Object.defineProperties(target, {
    [CORE]: { value: core },
    kind: { value: core.stub ? undefined : core.kind, enumerable: true },
    options: { value: given, enumerable: true },
    repository: { get: () => core.repository, enumerable: true },
    fn: { value: core.fn, enumerable: true },
    submit: { value: (...args: unknown[]) => submit(args, `${core.name}.submit()`) },
    with: {
      value: (options: TargetOptions) => {
        const over = parseOptions(options, `${labelOf(core)} .with()`);
        return makeTarget(core, mergeOptions(parsed, over), Object.freeze({ ...given, ...options }));
      },
    },
  });
  return target as unknown as Target<unknown[], unknown>;
}
