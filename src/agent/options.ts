/**
 * Target options as users write them, validated when a target is defined and
 * converted to the event catalogue's {@link StepOptions}.
 */
import type { RetryPolicy, StepOptions } from "../events/index.js";
import { InvalidOptionError, type RetryFilter } from "./errors.js";

/** A class of errors, for `retryOn`. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * How a failed execution is retried. Delays in milliseconds: the n-th retry
 * waits `min(delay × factor^(n-1), maxDelay)`.
 */
export interface RetryOptions {
  /** Retries after the first attempt (0 = none). */
  readonly limit: number;
  /** Wait before the first retry, ms. Default 1000. */
  readonly delay?: number;
  /** Each retry waits `factor` times longer than the previous one. Default 2. */
  readonly factor?: number;
  /** Longest wait, ms. Default 60000. */
  readonly maxDelay?: number;
  /**
   * Errors that retry, by name (`"RangeError"`) or class (`RangeError`, which
   * also matches subclasses on this agent). Default: every error except a
   * {@link TerminalError}.
   */
  readonly retryOn?: readonly (string | ErrorClass)[];
}

/** Options of a target, or of one call (`target.with(options)`). All optional. */
export interface TargetOptions {
  /** Retries: a count (with the default backoff) or a {@link RetryOptions}. Default: no retry. */
  readonly retries?: number | RetryOptions;
  /** Longest an execution may run, ms; it is then aborted and fails with a {@link TimeoutError}. */
  readonly timeout?: number;
  /** Tags an agent must have to run it: every key, with one of the values. */
  readonly requires?: Readonly<Record<string, string | readonly string[]>>;
  /** Wait this long before the first execution, ms. */
  readonly delay?: number;
  /** Reuse a result from an earlier run with the same arguments (`maxAge` in ms). */
  readonly cache?:
    | boolean
    | {
        /** Longest age of a reusable result, ms. Default: any age. */
        readonly maxAge?: number;
        /** Folded into the key: change it to invalidate earlier results. */
        readonly namespace?: string;
        /** The cache key from the arguments, instead of the arguments themselves. */
        readonly key?: (...args: never[]) => string;
      };
  /** Reuse the result of an identical step of the same run. */
  readonly memo?: boolean;
  /** Wait for an identical pending step instead of executing again. */
  readonly defer?: boolean;
  /** Hold the step until the handles in its arguments have resolved. */
  readonly wait?: boolean;
  /**
   * At most this many executions of the target assigned or running at once
   * across all agents of the environment; the others wait in the queue. With
   * `key`, the limit holds per value of `key(...args)` (e.g. per customer).
   */
  readonly concurrency?: number | { readonly limit: number; readonly key?: (...args: never[]) => string };
  /**
   * Execute again, `delayMs` after each execution that returns nothing
   * (`undefined` or `null`), until one returns a value. `true`: at once.
   */
  readonly recurrent?: boolean | { readonly delayMs?: number };
}

/** Validated options: the catalogue's form plus what only the agent needs. */
export interface ParsedOptions {
  readonly step: StepOptions;
  readonly wait?: boolean;
  /** `retryOn`, as the agent applies it when the code throws. */
  readonly retryFilter: RetryFilter;
  /** `cache.key`: computed on each call from its arguments. */
  readonly cacheKey?: (...args: unknown[]) => string;
  /** `concurrency`: the limit, and its key function of the arguments if keyed. */
  readonly concurrency?: { readonly limit: number; readonly key?: (...args: unknown[]) => string };
}

export const DEFAULT_RETRY = { delay: 1000, factor: 2, maxDelay: 60_000 } as const;

const KNOWN = ["retries", "timeout", "requires", "delay", "cache", "memo", "defer", "wait", "concurrency", "recurrent"] as const;
const RETRY_KNOWN = ["limit", "delay", "factor", "maxDelay", "retryOn"] as const;

/**
 * Validates `options` and converts them. Throws {@link InvalidOptionError}
 * naming the field, prefixed with `owner` (e.g. `task "charge"`).
 */
export const parseOptions = (options: unknown, owner: string): ParsedOptions => {
  const bad = (field: string, expected: string, got: unknown): never => {
    throw new InvalidOptionError(`${owner}: option ${field} must be ${expected}, got ${show(got)}`, field);
  };
  if (options === undefined) return { step: {}, retryFilter: {} };
  if (!isRecord(options)) return bad("options", "an object", options);
  for (const key of Object.keys(options)) {
    if (!(KNOWN as readonly string[]).includes(key)) {
      throw new InvalidOptionError(`${owner}: unknown option ${key} (known: ${KNOWN.join(", ")})`, key);
    }
  }
  const o = options as TargetOptions;
  const step: { -readonly [K in keyof StepOptions]: StepOptions[K] } = {};
  let retryFilter: RetryFilter = {};

  if (o.retries !== undefined) {
    const parsed = parseRetries(o.retries, bad, owner);
    step.retries = parsed.policy;
    retryFilter = parsed.filter;
  }
  if (o.timeout !== undefined) {
    if (!isFiniteNumber(o.timeout) || o.timeout <= 0) bad("timeout", "a positive number of milliseconds", o.timeout);
    step.timeoutMs = o.timeout;
  }
  if (o.delay !== undefined) {
    if (!isFiniteNumber(o.delay) || o.delay < 0) bad("delay", "a non-negative number of milliseconds", o.delay);
    step.delayMs = o.delay;
  }
  if (o.requires !== undefined) {
    if (!isRecord(o.requires)) bad("requires", "an object of tag → value(s)", o.requires);
    const requires: Record<string, readonly string[]> = {};
    for (const [tag, v] of Object.entries(o.requires)) {
      const values: unknown = typeof v === "string" ? [v] : v;
      if (!Array.isArray(values) || values.length === 0 || !values.every((x) => typeof x === "string" && x !== "")) {
        bad(`requires.${tag}`, "a non-empty string or a non-empty array of them", v);
      }
      requires[tag] = [...(values as string[])];
    }
    step.requires = requires;
  }
  if (o.cache !== undefined && o.cache !== false) {
    if (o.cache === true) step.cache = {};
    else if (!isRecord(o.cache)) bad("cache", "a boolean or { maxAge?, namespace? }", o.cache);
    else {
      const c = o.cache;
      for (const key of Object.keys(c)) if (key !== "maxAge" && key !== "namespace" && key !== "key") bad(`cache.${key}`, "absent (unknown field)", (c as Record<string, unknown>)[key]);
      if (c.key !== undefined && typeof c.key !== "function") bad("cache.key", "a function of the arguments returning a string", c.key);
      if (c.maxAge !== undefined && (!isFiniteNumber(c.maxAge) || c.maxAge < 0)) bad("cache.maxAge", "a non-negative number of milliseconds", c.maxAge);
      if (c.namespace !== undefined && typeof c.namespace !== "string") bad("cache.namespace", "a string", c.namespace);
      step.cache = {
        ...(c.maxAge !== undefined ? { maxAgeMs: c.maxAge } : {}),
        ...(c.namespace !== undefined ? { namespace: c.namespace } : {}),
      };
    }
  }
  for (const flag of ["memo", "defer", "wait"] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== "boolean") bad(flag, "a boolean", o[flag]);
  }
  if (o.recurrent !== undefined && o.recurrent !== false) {
    const r: unknown = o.recurrent;
    if (r !== true && !isRecord(r)) bad("recurrent", "a boolean or { delayMs? }", r);
    if (isRecord(r)) for (const key of Object.keys(r)) if (key !== "delayMs") bad(`recurrent.${key}`, "absent (unknown field)", r[key]);
    const delayMs = r === true ? 0 : (r as { delayMs?: unknown }).delayMs ?? 0;
    if (!isFiniteNumber(delayMs) || delayMs < 0) bad("recurrent.delayMs", "a non-negative number of milliseconds", delayMs);
    step.recurrent = { delayMs: Math.ceil(delayMs as number) };
  }
  if (o.memo !== undefined) step.memo = o.memo;
  if (o.defer !== undefined) step.defer = o.defer;
  const cacheKey = isRecord(o.cache) && typeof o.cache.key === "function" ? (o.cache.key as (...a: unknown[]) => string) : undefined;
  const concurrency = o.concurrency === undefined ? undefined : parseConcurrency(o.concurrency, bad);
  return { step, retryFilter, ...(o.wait !== undefined ? { wait: o.wait } : {}), ...(cacheKey ? { cacheKey } : {}), ...(concurrency ? { concurrency } : {}) };
};

const parseRetries = (
  retries: unknown,
  bad: (field: string, expected: string, got: unknown) => never,
  owner: string,
): { policy: RetryPolicy; filter: RetryFilter } => {
  const base = { delayMs: DEFAULT_RETRY.delay, factor: DEFAULT_RETRY.factor, maxDelayMs: DEFAULT_RETRY.maxDelay };
  if (typeof retries === "number") {
    if (!isCount(retries)) bad("retries", "a non-negative integer or { limit, delay?, factor?, maxDelay?, retryOn? }", retries);
    return { policy: { limit: retries, ...base }, filter: {} };
  }
  if (!isRecord(retries)) return bad("retries", "a non-negative integer or { limit, delay?, factor?, maxDelay?, retryOn? }", retries);
  for (const key of Object.keys(retries)) {
    if (!(RETRY_KNOWN as readonly string[]).includes(key)) {
      throw new InvalidOptionError(`${owner}: unknown option retries.${key} (known: ${RETRY_KNOWN.join(", ")})`, `retries.${key}`);
    }
  }
  const r = retries as Partial<RetryOptions>;
  if (!isCount(r.limit)) bad("retries.limit", "a non-negative integer", r.limit);
  const delayMs = r.delay ?? base.delayMs;
  const factor = r.factor ?? base.factor;
  const maxDelayMs = r.maxDelay ?? Math.max(base.maxDelayMs, delayMs);
  if (!isFiniteNumber(delayMs) || delayMs < 0) bad("retries.delay", "a non-negative number of milliseconds", r.delay);
  if (!isFiniteNumber(factor) || factor < 1) bad("retries.factor", "a number ≥ 1", r.factor);
  if (!isFiniteNumber(maxDelayMs) || maxDelayMs < delayMs) bad("retries.maxDelay", `a number of milliseconds ≥ delay (${delayMs})`, r.maxDelay);
  const policy: RetryPolicy = { limit: r.limit as number, delayMs, factor, maxDelayMs };
  if (r.retryOn === undefined) return { policy, filter: {} };
  if (!Array.isArray(r.retryOn)) return bad("retries.retryOn", "an array of error names or classes", r.retryOn);
  const names: string[] = [];
  const classes: ErrorClass[] = [];
  r.retryOn.forEach((entry: unknown, i) => {
    if (typeof entry === "string" && entry !== "") names.push(entry);
    else if (typeof entry === "function" && (entry === Error || entry.prototype instanceof Error)) {
      classes.push(entry as ErrorClass);
      names.push(entry.name);
    } else bad(`retries.retryOn[${i}]`, "an error name or an Error class", entry);
  });
  return { policy: { ...policy, retryOn: names }, filter: { names, classes } };
};

/** Per-call options over a target's own: each field replaces the target's. */
export const mergeOptions = (base: ParsedOptions, over: ParsedOptions): ParsedOptions => {
  const wait = over.wait ?? base.wait;
  const cacheKey = over.step.cache !== undefined ? over.cacheKey : base.cacheKey;
  const concurrency = over.concurrency ?? base.concurrency;
  return {
    step: { ...base.step, ...over.step },
    retryFilter: over.step.retries !== undefined ? over.retryFilter : base.retryFilter,
    ...(wait !== undefined ? { wait } : {}),
    ...(cacheKey ? { cacheKey } : {}),
    ...(concurrency ? { concurrency } : {}),
  };
};

/** Most executions one concurrency limit may allow (the protocol's bound). */
export const MAX_CONCURRENCY = 1_000_000;

/** `concurrency: N | { limit, key? }`, checked. */
export const parseConcurrency = (
  c: unknown,
  bad: (field: string, expected: string, got: unknown) => never,
): { limit: number; key?: (...args: unknown[]) => string } => {
  const isLimit = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= MAX_CONCURRENCY;
  if (typeof c === "number") return isLimit(c) ? { limit: c } : bad("concurrency", `a whole number from 1 to ${MAX_CONCURRENCY}, or { limit, key? }`, c);
  if (!isRecord(c)) return bad("concurrency", `a whole number from 1 to ${MAX_CONCURRENCY}, or { limit, key? }`, c);
  for (const k of Object.keys(c)) if (k !== "limit" && k !== "key") bad(`concurrency.${k}`, "absent (unknown field)", c[k]);
  if (!isLimit(c["limit"])) bad("concurrency.limit", `a whole number from 1 to ${MAX_CONCURRENCY}`, c["limit"]);
  if (c["key"] !== undefined && typeof c["key"] !== "function") bad("concurrency.key", "a function of the arguments returning a string", c["key"]);
  return { limit: c["limit"] as number, ...(typeof c["key"] === "function" ? { key: c["key"] as (...args: unknown[]) => string } : {}) };
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

const show = (v: unknown): string => {
  if (typeof v === "function") return `function ${v.name || "(anonymous)"}`;
  if (typeof v === "bigint") return `${v}n`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
};
