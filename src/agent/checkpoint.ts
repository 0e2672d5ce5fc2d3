/**
 * Checkpoints: durable state of a step, which its retries and re-executions
 * read back, so that a long loop resumes where the previous attempt
 * stopped instead of starting over.
 */
import { CHECKPOINT_NAME, CHECKPOINT_NAME_HINT } from "../events/checkpoints.js";
import type { Value } from "../events/types.js";
import { requireHost, type ExecutionHost } from "./context.js";
import { decodeWithHandles } from "./handle.js";
import { finishValue, prepareValue } from "./values.js";

/** A step's named durable state: see {@link checkpoint}. */
export interface Checkpoint<T> {
  readonly name: string;
  /**
   * The newest value saved under this name by any execution of the step
   * (this one included), or the initial value if none was. Asks the server
   * once, then answers from what this execution saved since.
   */
  get(): Promise<T>;
  /**
   * Saves `value`: resolves once the server has recorded it. The value is
   * checked as a result is (JSON values, Date, Uint8Array, bigint, handles,
   * assets; values over 256 KiB encoded travel as blobs, up to 64 MiB).
   * @throws {InvalidValueError} for a value that cannot be saved (at once, before anything is sent).
   * @throws {CheckpointTooLargeError} for a value over 64 MiB encoded (not retried).
   */
  set(value: T): Promise<void>;
}

/**
 * Durable state of the running step, by name: what an execution saves with
 * `set`, the step's later executions — its retries, a retry after its agent
 * was lost, a re-run, and the step scheduled again for the same call (say,
 * when its caller is re-run, here or in a branch) — get back. Saves are
 * recorded in the environment's log; a read falls back through the base
 * environments (and a branch's parent) as the cache does; saves stay local.
 *
 * @example
 * export const ingest = task("ingest", { retries: 3 }, async (files: string[]) => {
 *   const done = checkpoint("done", 0);
 *   for (let i = await done.get(); i < files.length; i++) {
 *     await load(files[i]);
 *     await done.set(i + 1);
 *   }
 *   return files.length;
 * });
 *
 * @param name a letter or `_`, then letters, digits, `_ . -` (at most 128).
 * @param initial what `get()` returns while nothing was saved.
 * @throws {TypeError} for an invalid name.
 * @throws {OutsideExecutionError} outside the code of an execution.
 */
export const checkpoint = <T>(name: string, initial: T): Checkpoint<T> => {
  const host = requireHost("checkpoint()");
  if (typeof name !== "string" || !CHECKPOINT_NAME.test(name)) {
    throw new TypeError(`checkpoint(): the name must be ${CHECKPOINT_NAME_HINT}, got ${JSON.stringify(name)}`);
  }
  // What this execution knows of the value: loaded once, then what its own saves recorded.
  let current: { found: boolean; value: Value } | undefined;
  let loading: Promise<{ found: boolean; value: Value }> | undefined;
  let saves: Promise<unknown> = Promise.resolve();
  return {
    name,
    async get() {
      await saves;
      if (current === undefined) {
        loading ??= load(host, name).finally(() => (loading = undefined));
        const loaded = await loading;
        current ??= loaded;
      }
      return current.found ? (decodeWithHandles(current.value, host) as T) : initial;
    },
    set(value) {
      const prepared = prepareValue(value, `checkpoint ${name}`);
      const saved = (async () => {
        const v = await finishValue(prepared);
        const reply = await host.request({ type: "save-checkpoint", name, value: v });
        if (reply.type !== "ack") throw new Error(`unexpected reply ${reply.type} to a checkpoint save`);
        current = { found: true, value: v };
      })();
      // The execution's result waits for the save; a later get() waits for it too (a failed save leaves the value as it was).
      host.track(saved);
      saves = Promise.allSettled([saves, saved]);
      return saved;
    },
  };
};

const load = async (host: ExecutionHost, name: string): Promise<{ found: boolean; value: Value }> => {
  const reply = await host.request({ type: "load-checkpoint", name });
  if (reply.type !== "checkpoint") throw new Error(`unexpected reply ${reply.type} to a checkpoint load`);
  return { found: reply.found, value: reply.value };
};
