/**
 * Waiting out a server that is down or restarting: the calls that wait (a
 * run's outcome, a re-run's, a log stream) try again after a transient
 * failure, with a backoff from 250 ms doubling to 5 s. Refusals end them.
 */
import { isTransient } from "./errors.js";

/** Options of the calls that wait. */
export interface WaitOptions {
  /** Stops waiting: the call rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * How long to wait out a server that cannot be reached or answers 5xx
   * (it restarts, say), ms: after that the failure is thrown. Default: as
   * long as it takes.
   */
  readonly retryForMs?: number;
  /** Told of each transient failure waited out, and of the delay before the next try. */
  readonly onRetry?: (error: Error, delayMs: number) => void;
  /** Told when the server answers again after {@link onRetry}. */
  readonly onRecovered?: () => void;
}

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const done = () => {
      signal?.removeEventListener("abort", abort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
  });

/**
 * The state of one wait across failures: {@link failed} notes a transient
 * failure and sleeps the backoff (or throws what cannot be waited out);
 * {@link succeeded} tells of a recovery. One per waiting call, so that a
 * stream that breaks and a request that then fails share the backoff.
 */
export class Patience {
  #delay = FIRST_DELAY_MS;
  #downSince: number | undefined;

  constructor(private readonly o: WaitOptions = {}) {}

  /** Throws `e` unless it is transient and there is time left; else notes it and sleeps. */
  async failed(e: unknown): Promise<void> {
    if (!isTransient(e) || this.o.signal?.aborted) throw e;
    this.#downSince ??= Date.now();
    if (this.o.retryForMs !== undefined && Date.now() - this.#downSince + this.#delay > this.o.retryForMs) throw e;
    this.o.onRetry?.(e as Error, this.#delay);
    await sleep(this.#delay, this.o.signal);
    this.#delay = Math.min(this.#delay * 2, MAX_DELAY_MS);
  }

  succeeded(): void {
    if (this.#downSince === undefined) return;
    this.#downSince = undefined;
    this.#delay = FIRST_DELAY_MS;
    this.o.onRecovered?.();
  }

  /** Runs `attempt` until it succeeds, waiting out transient failures; anything else is thrown. */
  async retrying<T>(attempt: () => Promise<T>): Promise<T> {
    for (;;) {
      this.o.signal?.throwIfAborted();
      try {
        const v = await attempt();
        this.succeeded();
        return v;
      } catch (e) {
        await this.failed(e);
      }
    }
  }
}

/** Runs `attempt` until it succeeds, waiting out transient failures (see {@link WaitOptions}); anything else is thrown. */
export const retrying = <T>(attempt: () => Promise<T>, o: WaitOptions = {}): Promise<T> => new Patience(o).retrying(attempt);
