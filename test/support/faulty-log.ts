/**
 * An `EventLog` that wraps a real one and injects faults on command, for
 * tests of what its writer does when the log misbehaves:
 *
 * - `failNextAppends(n, fault)`: the next `n` appends fail with `LogUnavailable`
 *   or `WrongExpectedSequence` without reaching the log, or (`after-write`)
 *   reach the log, are stored, and then fail with `LogUnavailable` — the
 *   outcome-unknown case of the port's contract;
 * - `holdAcks()`: appends reach the log at once and in call order, but their
 *   answers are kept until `release()` (in call order or reversed), so a test
 *   decides what is in flight without any timing;
 * - `failNextReads(n)`: the next `n` reads (`read`, `lastSeq`) fail with
 *   `LogUnavailable`, as a log that is down while its writer reloads.
 *
 * Everything else is the real log's. Every append is recorded in
 * {@link FaultyLog.appends} with what became of it.
 */
import {
  LogUnavailable,
  WrongExpectedSequence,
  describeLog,
  type AppendOptions,
  type Appended,
  type Commit,
  type Event,
  type EventLog,
  type LogRef,
  type RawCommit,
  type RawReadOptions,
  type ReadOptions,
  type SubscribeOptions,
  type Subscription,
} from "../../src/events/index.js";

export type AppendFault = "unavailable" | "wrong-sequence" | "after-write";

/** One call of `append`, in call order. */
export interface AppendRecord {
  /** 1 for the first append through this wrapper. */
  readonly n: number;
  readonly expectedLastSeq: number | undefined;
  readonly eventIds: readonly string[];
  readonly fault: AppendFault | undefined;
  /** Where the real log stored it, once it did (also for `after-write`). */
  landed?: number;
  /** What the caller was told, once it was told. */
  answer?: { readonly seq: number } | { readonly error: Error };
}

interface Held {
  readonly settled: Promise<void>;
  forward(): void;
}

export class FaultyLog implements EventLog {
  readonly kind: EventLog["kind"];
  readonly appends: AppendRecord[] = [];
  /** Sequences the caller was told were stored (an acknowledgement), in the order it was told. */
  readonly acked: number[] = [];
  private readonly faults: AppendFault[] = [];
  private readFaults = 0;
  private held: Held[] | undefined;
  private holdFailures = true;

  constructor(readonly inner: EventLog) {
    this.kind = inner.kind;
  }

  /** The next `n` appends fail with `fault`. */
  failNextAppends(n: number, fault: AppendFault): void {
    for (let i = 0; i < n; i++) this.faults.push(fault);
  }

  /** The next `n` calls of `read` or `lastSeq` fail with `LogUnavailable`. */
  failNextReads(n: number): void {
    this.readFaults += n;
  }

  /**
   * From now on, answers of appends are kept until {@link release}. With
   * `failures: false` only acknowledgements are kept; failures are told at once.
   */
  holdAcks(options: { failures?: boolean } = {}): void {
    this.held ??= [];
    this.holdFailures = options.failures ?? true;
  }

  /** How many answers are kept now. */
  get holding(): number {
    return this.held?.length ?? 0;
  }

  /**
   * Stops holding: waits until the real log has answered every kept append,
   * then tells the callers, in call order or in reverse.
   */
  async release(order: "in-order" | "reverse" = "in-order"): Promise<void> {
    const held = this.held ?? [];
    this.held = undefined;
    await Promise.all(held.map((h) => h.settled));
    for (const h of order === "reverse" ? [...held].reverse() : held) h.forward();
  }

  append(ref: LogRef, events: readonly Event[], options: AppendOptions = {}): Promise<Appended> {
    const fault = this.faults.shift();
    const record: AppendRecord = {
      n: this.appends.length + 1,
      expectedLastSeq: options.expectedLastSeq,
      eventIds: events.map((e) => e.id),
      fault,
    };
    this.appends.push(record);
    // The real log is called now, synchronously, so that appends keep their call order.
    let outcome: Promise<Appended>;
    if (fault === "unavailable") {
      outcome = Promise.reject(new LogUnavailable(`injected fault: append ${record.n} to ${describeLog(ref)} did not reach the log`));
    } else if (fault === "wrong-sequence") {
      outcome = Promise.reject(new WrongExpectedSequence(describeLog(ref), options.expectedLastSeq ?? 0, undefined));
    } else {
      outcome = this.inner.append(ref, events, options).then((a) => {
        record.landed = a.seq;
        if (fault === "after-write") {
          throw new LogUnavailable(`injected fault: append ${record.n} to ${describeLog(ref)} was stored at ${a.seq}, but its answer was lost`);
        }
        return a;
      });
    }
    const told = (a: Appended) => {
      record.answer = { seq: a.seq };
      this.acked.push(a.seq);
      return a;
    };
    const failed = (e: unknown): never => {
      record.answer = { error: e as Error };
      throw e;
    };
    const held = this.held;
    if (!held) return outcome.then(told, failed);
    return new Promise<Appended>((resolve, reject) => {
      let forward = () => {};
      const settled = outcome.then(
        (a) => {
          forward = () => resolve(told(a));
        },
        (e: unknown) => {
          forward = () => {
            record.answer = { error: e as Error };
            reject(e);
          };
          if (!this.holdFailures) {
            held.splice(held.indexOf(entry), 1);
            forward();
          }
        },
      );
      const entry: Held = { settled, forward: () => forward() };
      held.push(entry);
    });
  }

  private readFault(ref: LogRef): void {
    if (this.readFaults <= 0) return;
    this.readFaults--;
    throw new LogUnavailable(`injected fault: the log of ${describeLog(ref)} cannot be read now`);
  }

  async *read(ref: LogRef, options?: ReadOptions): AsyncIterable<Commit> {
    this.readFault(ref);
    yield* this.inner.read(ref, options);
  }

  async lastSeq(ref: LogRef): Promise<number> {
    this.readFault(ref);
    return this.inner.lastSeq(ref);
  }

  /** The log as stored, read through the real log (no faults). */
  async commits(ref: LogRef): Promise<Commit[]> {
    const out: Commit[] = [];
    for await (const c of this.inner.read(ref)) out.push(c);
    return out;
  }

  readRaw(ref: LogRef, options?: RawReadOptions): AsyncIterable<RawCommit> {
    return this.inner.readRaw(ref, options);
  }
  subscribe(ref: LogRef, options?: SubscribeOptions): Subscription {
    return this.inner.subscribe(ref, options);
  }
  createEnv(ref: LogRef): Promise<void> {
    return this.inner.createEnv(ref);
  }
  deleteEnv(ref: LogRef): Promise<void> {
    return this.inner.deleteEnv(ref);
  }
  hasEnv(ref: LogRef): Promise<boolean> {
    return this.inner.hasEnv(ref);
  }
  listEnvs(project?: string): Promise<LogRef[]> {
    return this.inner.listEnvs(project);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
