/**
 * Handles: references to steps that task code submitted or received.
 */
import type { HandleRef } from "../protocol/messages.js";
import { currentHost, type ExecutionHost, type HostReply } from "./context.js";
import { errorFromOutcome, OutsideExecutionError } from "./errors.js";
import { decodeValue, HANDLE_BRAND, type HandleLike } from "./values.js";
import { waitWithin } from "./waits.js";

/**
 * A reference to a step: made by `target.submit(...)`, or received as an
 * argument or a result. It can be passed to another call or returned; it
 * crosses as a reference to the same step, never a copy.
 *
 * A handle is deliberately not a promise: `await handle.result()`.
 */
export class Handle<R> implements HandleLike {
  readonly [HANDLE_BRAND] = true as const;
  #ref: HandleRef | undefined;
  readonly #refPromise: Promise<HandleRef>;
  readonly #origin: ExecutionHost | undefined;
  #result: Promise<R> | undefined;

  /** @internal Handles are made by `submit` and by decoding values, not by user code. */
  constructor(ref: HandleRef | Promise<HandleRef>, origin: ExecutionHost | undefined) {
    this.#origin = origin;
    if (ref instanceof Promise) {
      this.#refPromise = ref.then((r) => (this.#ref = r));
      // The error surfaces through result()/poll()/cancel(); an unused handle must not crash the worker.
      this.#refPromise.catch(() => undefined);
    } else {
      this.#ref = ref;
      this.#refPromise = Promise.resolve(ref);
    }
  }

  /** The step's reference, once the server has accepted the submission. */
  ref(): Promise<HandleRef> {
    return this.#refPromise;
  }

  /** The step's reference if already known. */
  knownRef(): HandleRef | undefined {
    return this.#ref;
  }

  /**
   * Waits for the step's result. Rethrows its failure as an error with the
   * original's name, message and stack, or a {@link CancelledError},
   * {@link TimeoutError} or {@link AbandonedError}. Rejects with the
   * submission's error if the server did not accept it.
   */
  result(): Promise<R> {
    const host = currentHost() ?? this.#origin;
    const work = this.outcome();
    return host === undefined ? work : waitWithin(host, async () => [await this.#refPromise], work);
  }

  /** @internal The wait of {@link Handle.result}, outside any `suspense` (see `select`). */
  outcome(): Promise<R> {
    this.#result ??= this.#ask(true).then((r) => {
      if (!r.done) throw new Error("the server answered a waiting result request without an outcome");
      return r.value;
    });
    return this.#result;
  }

  /**
   * The step's result if it has finished, else `fallback`, without waiting.
   * A finished step that failed rethrows as {@link Handle.result} does.
   *
   * @example
   * const total = await handle.poll(null); // null while still running
   */
  async poll<D>(fallback: D): Promise<R | D> {
    const r = await this.#ask(false);
    return r.done ? r.value : fallback;
  }

  /** Asks the server to cancel the step (and everything under it). Resolves once the server has accepted. */
  async cancel(): Promise<void> {
    const handle = await this.#refPromise;
    await this.#host("cancel()").request({ type: "cancel", handle });
  }

  async #ask(wait: boolean): Promise<{ done: true; value: R } | { done: false; value?: undefined }> {
    const host = this.#host(wait ? "result()" : "poll()");
    const handle = await this.#refPromise;
    const reply: HostReply = await host.request({ type: "result", handle, wait });
    if (reply.type !== "resolved") throw new Error(`unexpected reply ${reply.type} to a result request`);
    const outcome = reply.outcome;
    if (outcome === undefined) {
      if (wait) throw new Error("the server answered a waiting result request without an outcome");
      return { done: false };
    }
    if (outcome.status !== "succeeded") throw errorFromOutcome(outcome);
    return { done: true, value: decodeWithHandles(outcome.value, host) as R };
  }

  #host(what: string): ExecutionHost {
    const host = currentHost() ?? this.#origin;
    if (host === undefined) throw new OutsideExecutionError(`handle.${what} was called outside an execution`);
    return host;
  }
}

/** Decodes a received value; its handles belong to `host`'s execution. */
export const decodeWithHandles = (value: unknown, host: ExecutionHost | undefined): unknown =>
  decodeValue(value, (ref) => new Handle<unknown>(ref, host));
