/**
 * Waiting without holding an agent: `suspend` (a durable sleep), `suspense`
 * (waits that take too long suspend the execution), and `select` (the first
 * of several handles to finish).
 *
 * A suspended execution ends; the server creates its resume, which runs the
 * code again from the top once its time has come or what it waited for has
 * resolved. The resume reuses the calls the suspended execution made, by
 * their position (`CallResumed`), so getting back to where it was is cheap:
 * the code must make the same calls in the same order (as it must for any
 * resumed execution).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Value } from "../events/index.js";
import { checkSchema } from "../protocol/json-schema.js";
import type { HandleRef } from "../protocol/messages.js";
import { requireHost, type ExecutionHost } from "./context.js";
import { SuspendedError } from "./errors.js";
import type { Handle } from "./handle.js";
import { prepareValue } from "./values.js";

const SUSPENSE_KEY = Symbol.for("tributary.suspenseStore");
const suspenseStore: AsyncLocalStorage<{ readonly timeoutMs: number }> = ((globalThis as Record<symbol, unknown>)[SUSPENSE_KEY] ??=
  new AsyncLocalStorage<{ readonly timeoutMs: number }>()) as AsyncLocalStorage<{ readonly timeoutMs: number }>;

/** Longest delay of a `suspend` (about 317 years): a bound, so that the time stays a valid date. */
const MAX_DELAY_MS = 1e13;

/**
 * Suspends the execution for `delayMs` milliseconds, or until `until`: it
 * ends now (holding no agent slot, surviving restarts of the server and of
 * agents) and the step executes again from the top after that time. That
 * re-execution reuses the calls made before, by position; when it reaches
 * this `suspend` again (the same call position), the time has come and it
 * returns at once: a durable sleep.
 *
 * Counts as a call of the execution (it keeps its position), and against no
 * retry limit. A time already past returns at once.
 *
 * @example
 * export const reminder = workflow("reminder", async (user: string) => {
 *   await sendWelcome(user);
 *   await suspend(3 * 24 * 3600_000);   // three days, no agent held
 *   await sendReminder(user);           // sendWelcome is not called again
 * });
 *
 * @throws {SuspendedError} when the execution is suspended: let it through
 *   (the code stops here and runs again on resume).
 * @throws {TypeError} for a delay that is not a number of ms >= 0, or an invalid Date.
 * @throws {OutsideExecutionError} outside the code of an execution.
 */
export const suspend = async (delay: number | Date): Promise<void> => {
  const host = requireHost("suspend()");
  let request: { readonly type: "suspend"; readonly until: number } | { readonly type: "suspend"; readonly delayMs: number };
  if (delay instanceof Date) {
    const t = delay.getTime();
    if (!Number.isFinite(t)) throw new TypeError("suspend(): the Date is invalid");
    request = { type: "suspend", until: Math.max(0, Math.ceil(t)) };
  } else if (typeof delay === "number" && Number.isFinite(delay) && delay >= 0 && delay <= MAX_DELAY_MS) {
    request = { type: "suspend", delayMs: Math.ceil(delay) };
  } else {
    throw new TypeError(`suspend(): expected a delay in ms (0 to ${MAX_DELAY_MS}) or a Date, got ${String(delay)}`);
  }
  const reply = await host.request(request);
  if (reply.type === "suspended") throw new SuspendedError(host.info.executionId);
};

/**
 * Runs `fn` so that its waits — for handles' results (`handle.result()`,
 * calling a target, {@link select}) — that take longer than `timeoutMs`
 * suspend the execution instead of holding its agent slot. The step then
 * executes again from the top once any of the steps it waited for has an
 * outcome, reusing the calls made before (by position). `timeoutMs` 0
 * suspends at once whatever is not finished yet.
 *
 * @example
 * export const nightly = workflow("nightly", () =>
 *   suspense(1000, async () => {
 *     const report = await buildReport();     // a long task: no slot held while it runs
 *     return publish(report);
 *   }),
 * );
 *
 * @throws {SuspendedError} when the execution is suspended (let it through).
 * @throws {TypeError} for a `timeoutMs` that is not a number of ms >= 0, or an `fn` that is not a function.
 */
export const suspense = <T>(timeoutMs: number, fn: () => T | PromiseLike<T>): Promise<Awaited<T>> => {
  requireHost("suspense()");
  if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new TypeError(`suspense(): timeoutMs must be a number of ms >= 0, got ${String(timeoutMs)}`);
  }
  if (typeof fn !== "function") throw new TypeError("suspense(): the second argument must be the function to run");
  return suspenseStore.run({ timeoutMs }, async (): Promise<Awaited<T>> => (await fn()) as Awaited<T>);
};

/**
 * `work` (waiting for the steps `refs` names), as a wait under the current
 * {@link suspense}: when it takes longer than the time-out, the execution
 * asks to be suspended until any of those steps resolves. Outside a
 * `suspense`, `work` itself.
 */
export const waitWithin = async <T>(host: ExecutionHost, refs: () => Promise<readonly HandleRef[]>, work: Promise<T>): Promise<T> => {
  const s = suspenseStore.getStore();
  if (s === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => (timer = setTimeout(() => resolve(LATE), s.timeoutMs)));
  try {
    const first = await Promise.race([work.then((value) => ({ value })), late]);
    if (first !== LATE) return first.value;
    const waitingFor = (await refs()).map((r) => ({ runId: r.runId, stepId: r.stepId, executionId: r.executionId }));
    const reply = await host.request({ type: "suspend", waitingFor });
    if (reply.type === "suspended") throw new SuspendedError(host.info.executionId);
    return await work; // one of them resolved meanwhile
  } finally {
    clearTimeout(timer);
  }
};
const LATE = Symbol("late");

/** What {@link select} resolves with. */
export interface Selected<T> {
  /** The position in `handles` of the first to finish. */
  readonly index: number;
  /** Its result. */
  readonly value: T;
  /** The other handles (in their order), still running unless `cancelRemaining`. */
  readonly remaining: Handle<T>[];
}

/** The result type of a handle. */
export type ResultOf<H> = H extends Handle<infer R> ? R : never;

/**
 * Waits for the first of `handles` to finish, and resolves with its index,
 * its result and the others. If that first one failed, rejects with its
 * error (as `handle.result()` does). With `cancelRemaining`, the others are
 * cancelled (and what they called) before it resolves. Under
 * {@link suspense}, a wait longer than its time-out suspends the execution
 * until any of them has finished.
 *
 * @example
 * const { index, value, remaining } = await select([fast.submit(q), slow.submit(q)], { cancelRemaining: true });
 *
 * @throws {TypeError} for an empty list or something not a handle.
 */
export const select = async <H extends readonly Handle<unknown>[]>(
  handles: H,
  options: { readonly cancelRemaining?: boolean } = {},
): Promise<Selected<ResultOf<H[number]>>> => {
  const host = requireHost("select()");
  if (!Array.isArray(handles) || handles.length === 0) throw new TypeError("select(): expected a non-empty array of handles");
  const bad = handles.findIndex((h) => typeof (h as Partial<Handle<unknown>>)?.outcome !== "function");
  if (bad >= 0) throw new TypeError(`select(): handles[${bad}] is not a handle`);
  if (typeof options !== "object" || options === null) throw new TypeError("select(): options must be an object");
  const unknown = Object.keys(options).filter((k) => k !== "cancelRemaining");
  if (unknown.length > 0) throw new TypeError(`select(): unknown option ${unknown.join(", ")} (known: cancelRemaining)`);
  const race = Promise.race(
    handles.map((h, index) =>
      h.outcome().then(
        (value) => ({ index, ok: true as const, value }),
        (error: unknown) => ({ index, ok: false as const, error }),
      ),
    ),
  );
  const first = await waitWithin(host, () => Promise.all(handles.map((h) => h.ref())), race);
  const remaining = handles.filter((_, i) => i !== first.index) as Handle<ResultOf<H[number]>>[];
  if (options.cancelRemaining === true) await Promise.all(remaining.map((h) => h.cancel()));
  if (!first.ok) throw first.error;
  return { index: first.index, value: first.value as ResultOf<H[number]>, remaining };
};

/** What {@link prompt} asks: a title for the person, and the JSON Schema the answer must fit. */
export interface PromptOptions {
  /** What the person is asked (1 to 1024 characters). */
  readonly title: string;
  /** A JSON Schema (the subset `src/protocol/json-schema.ts` lists: types, properties, required, enum, bounds, patterns, anyOf…). */
  readonly schema: { readonly [key: string]: unknown } | boolean;
}

/**
 * Asks a person for a value: records a pending input (`tributary inputs ls`)
 * and suspends the execution until someone answers it (`tributary inputs
 * answer ID --value JSON`, or the API), with a value that fits `schema`;
 * the step then executes again from the top and this call returns the
 * answer. It is a call of the execution (by position): the answer is
 * memoised in the run, so a re-run of the step — here, or of the run brought
 * into a branch — gets the same answer without asking again.
 *
 * @example
 * const { approved } = await prompt<{ approved: boolean }>({
 *   title: `Refund ${amount} EUR to ${customer}?`,
 *   schema: { type: "object", properties: { approved: { type: "boolean" } }, required: ["approved"] },
 * });
 *
 * @throws {SuspendedError} while it waits (let it through).
 * @throws {TypeError} for a missing title, or a schema outside the supported subset (naming the keyword).
 */
export const prompt = async <T = unknown>(options: PromptOptions): Promise<T> => {
  const host = requireHost("prompt()");
  if (typeof options !== "object" || options === null) throw new TypeError("prompt(): expected { title, schema }");
  const { title, schema } = options;
  if (typeof title !== "string" || title.length === 0 || title.length > 1024) throw new TypeError("prompt(): title must be a string of 1 to 1024 characters");
  const bad = checkSchema(schema);
  if (bad) throw new TypeError(`prompt(): ${bad}`);
  const prepared = prepareValue(schema, "prompt() schema");
  const reply = await host.request({ type: "prompt", title, schema: prepared.value as Value });
  if (reply.type === "suspended") throw new SuspendedError(host.info.executionId);
  if (reply.type !== "answered") throw new Error(`unexpected reply ${reply.type} to a prompt`);
  return reply.value as T;
};
