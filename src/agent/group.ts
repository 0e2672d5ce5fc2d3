/**
 * Groups of calls: `group(name, fn)` marks the steps that `fn` calls (for
 * display: `runs show`, `runs watch`, Studio), and with `{ concurrency }`
 * makes them share a limit. The current group follows the code across
 * `await`s, as the execution context does.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { ConcurrencyLimit } from "../events/index.js";
import { requireHost } from "./context.js";
import { InvalidOptionError } from "./errors.js";
import { MAX_CONCURRENCY } from "./options.js";

/** The group calls are made in: its name, and the limits of it and of the groups around it. */
export interface CurrentGroup {
  readonly name: string;
  readonly limits: readonly ConcurrencyLimit[];
}

/** Options of a {@link group}. */
export interface GroupOptions {
  /**
   * At most this many executions of the steps called in groups of this name
   * assigned or running at once, across all runs and agents of the
   * environment (a named limit: `group("db", { concurrency: 4 }, ...)` in
   * several workflows shares the 4).
   */
  readonly concurrency?: number;
}

const STORE_KEY = Symbol.for("tributary.groupStore");
const store: AsyncLocalStorage<CurrentGroup> = ((globalThis as Record<symbol, unknown>)[STORE_KEY] ??=
  new AsyncLocalStorage<CurrentGroup>()) as AsyncLocalStorage<CurrentGroup>;

/** The group whose code is running, if any. */
export const currentGroup = (): CurrentGroup | undefined => store.getStore();

const MAX_NAME = 200;

/**
 * Runs `fn` with the steps it calls (directly, or through `submit`) in the
 * group `name`: they carry the group in the log and are shown together.
 * With `concurrency`, at most that many of them (and of the steps of every
 * other group of that name in the environment) run at once; the others wait
 * in the queue, which says so. Groups nest: the innermost names the steps,
 * and every enclosing group's limit applies too. Returns what `fn` returns.
 *
 * @example
 * const pages = await group("download", { concurrency: 3 }, () =>
 *   Promise.all(urls.map((u) => download(u))),
 * );
 * @throws {InvalidOptionError} for an invalid name or concurrency.
 * @throws {OutsideExecutionError} outside the code of an execution.
 */
export function group<T>(name: string, fn: () => T): T;
export function group<T>(name: string, options: GroupOptions, fn: () => T): T;
export function group<T>(name: string, a: GroupOptions | (() => T), b?: () => T): T {
  requireHost("group()");
  const [options, fn] = typeof a === "function" ? [{} as GroupOptions, a] : [a, b];
  if (typeof name !== "string" || name === "" || name.length > MAX_NAME) {
    throw new InvalidOptionError(`group(): the name must be a string of 1 to ${MAX_NAME} characters, got ${JSON.stringify(name)}`, "name");
  }
  if (typeof fn !== "function") throw new TypeError(`group("${name}"): the last argument must be the function to run`);
  if (typeof options !== "object" || options === null) throw new InvalidOptionError(`group("${name}"): options must be an object`, "options");
  const unknown = Object.keys(options).find((k) => k !== "concurrency");
  if (unknown !== undefined) throw new InvalidOptionError(`group("${name}"): unknown option ${unknown} (known: concurrency)`, unknown);
  const c = options.concurrency;
  if (c !== undefined && !(typeof c === "number" && Number.isInteger(c) && c >= 1 && c <= MAX_CONCURRENCY)) {
    throw new InvalidOptionError(`group("${name}"): option concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}, got ${JSON.stringify(c)}`, "concurrency");
  }
  const outer = store.getStore()?.limits ?? [];
  const limits = c === undefined ? outer : [...outer.filter((l) => l.key !== `group:${name}`), { key: `group:${name}`, limit: c }];
  return store.run({ name, limits }, fn);
}
