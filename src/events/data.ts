/**
 * The values events carry: user values, targets and their manifests, step
 * options, errors, blob and asset references. Part of the catalogue
 * (`types.ts` re-exports them); as stable as the events that carry them.
 */
import type { EnvName, ExecutionId, RunId, StepId } from "./ids.js";


/**
 * An argument or result value: JSON values plus `Date`, `Uint8Array` and
 * `bigint`, nested to any depth. (`-0` reads back as `0`, as in JSON.)
 */
export type Value =
  | null
  | boolean
  | number
  | string
  | bigint
  | Date
  | Uint8Array
  | readonly Value[]
  | { readonly [key: string]: Value };

/** A target: a workflow or task `target` defined in `repository`. */
export interface TargetRef {
  readonly repository: string;
  readonly target: string;
}

export type TargetKind = "workflow" | "task";

/** Bytes kept outside the log, addressed by content. */
export interface BlobRef {
  /** Key in the blob store (`sha256:<hex>`). */
  readonly key: string;
  /** Size in bytes. */
  readonly size: number;
  /** Lower-case hex sha256 of the bytes. */
  readonly sha256: string;
}

/** A result small enough to travel in the log, or a reference to its blob. */
export type ResultValue =
  | { readonly kind: "inline"; readonly value: Value }
  | { readonly kind: "blob"; readonly blob: BlobRef };

/** An error thrown by task code, as data. */
export interface ErrorInfo {
  /** The error's class name, e.g. `RangeError`. */
  readonly type: string;
  readonly message: string;
  readonly stack?: string;
  /** Whether the retry policy may retry it (`false` for terminal errors). */
  readonly retryable: boolean;
}

/** Retry policy, as data. Delays in milliseconds. */
export interface RetryPolicy {
  /** Retries after the first attempt (0 = no retry). */
  readonly limit: number;
  readonly delayMs: number;
  /** Each retry waits `factor` times longer than the previous one. */
  readonly factor: number;
  readonly maxDelayMs: number;
  /** Error types that retry; absent means every retryable error. */
  readonly retryOn?: readonly string[];
}

/** Caching of a step's result across runs (see the cache projection). */
export interface CacheOptions {
  /** Maximum age of a reusable result, in milliseconds; absent = forever. */
  readonly maxAgeMs?: number;
  /** Namespace / version folded into the key: bump it to invalidate. */
  readonly namespace?: string;
  /** A key computed by the caller's own function of the arguments, used instead of the arguments. */
  readonly key?: string;
}

/** The options a step was scheduled with. All optional. */
export interface StepOptions {
  readonly retries?: RetryPolicy;
  readonly timeoutMs?: number;
  /** Tags an agent must have: every key, with one of the listed values. */
  readonly requires?: { readonly [tag: string]: readonly string[] };
  readonly delayMs?: number;
  readonly cache?: CacheOptions;
  readonly memo?: boolean;
  readonly defer?: boolean;
  /** Hold the step until every handle among its arguments has an outcome. */
  readonly wait?: boolean;
  /** Execute again, `delayMs` after each execution that returns nothing (`null`), until one returns a value. */
  readonly recurrent?: { readonly delayMs: number };
  /**
   * Concurrency limits the step's executions count against: at most `limit`
   * executions of all steps carrying the same `key` are assigned or running
   * at once in the environment. Keys: `target:<repository>:<target>` (a
   * target's `concurrency`), with `:<subkey>` when keyed by arguments;
   * `group:<name>` (a `group(name, { concurrency })`).
   */
  readonly concurrency?: readonly ConcurrencyLimit[];
  /** The `group(name, fn)` the step was called in, for display. */
  readonly group?: string;
}

/** One concurrency limit of a step: see {@link StepOptions.concurrency}. */
export interface ConcurrencyLimit {
  readonly key: string;
  /** At least 1. */
  readonly limit: number;
}

/** Where a reused result came from. */
export interface ResultSource {
  readonly env: EnvName;
  readonly runId: RunId;
  readonly stepId: StepId;
  readonly executionId: ExecutionId;
  /** Sequence of the commit that recorded the result in `env`'s log. */
  readonly seq: number;
}

/** Points at one execution of one step of one run. */
export interface ExecutionRef {
  readonly runId: RunId;
  readonly stepId: StepId;
  readonly executionId: ExecutionId;
}

/** One file of an asset. */
export interface AssetEntry {
  /** Relative path inside the asset, `/`-separated, never `..`. */
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly blobKey: string;
}

/** A parameter of a target, as the agent reported it. */
export interface ParameterManifest {
  readonly name: string;
  readonly annotation?: string;
  readonly default?: string;
}

/** A target as an agent reported it in its manifest. */
export interface TargetManifest {
  readonly name: string;
  readonly kind: TargetKind;
  readonly parameters: readonly ParameterManifest[];
  readonly options: StepOptions;
  /** Hash of the target's code: memo and cache keys change when the code does. */
  readonly codeHash?: string;
  /**
   * How many arguments it takes: `max` absent for a rest parameter. Absent
   * (manifests of older agents, or a parameter list the agent could not
   * read): any count is accepted.
   */
  readonly arity?: Arity;
}

/** The number of arguments a target accepts. */
export interface Arity {
  readonly min: number;
  readonly max?: number;
}


/** Where a reused result came from. */
export interface ResultSource {
  readonly env: EnvName;
  readonly runId: RunId;
  readonly stepId: StepId;
  readonly executionId: ExecutionId;
  /** Sequence of the commit that recorded the result in `env`'s log. */
  readonly seq: number;
}
