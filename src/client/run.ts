/**
 * A handle on one run: its outcome (awaited, or polled), its documents, its
 * history and logs; cancel it, re-run one of its steps.
 */
import type { Value } from "../events/types.js";
import type { ExecutionDoc, StepDoc } from "../projections/index.js";
import type {
  CancelAnswer,
  HistoryEntry,
  LogLine,
  Outcome,
  RerunAnswer,
  ResultAnswer,
  RunAnswer,
  StepsAnswer,
  SubmitAnswer,
} from "../protocol/api.js";
import { ConnectionError, RunFailedError, TributaryClientError } from "./errors.js";
import { decodeJson, type Request, type Transport } from "./transport.js";
import { Patience, sleep, type WaitOptions } from "./wait.js";

const ENV = "projects/:project/envs/:env";
const RUN = `${ENV}/runs/:runId`;
const POLL_MS = 250;
const FINAL = new Set(["succeeded", "failed", "cancelled", "reused"]);

/** The environment a handle's requests go to. */
export interface Scope {
  readonly transport: Transport;
  readonly project: string;
  readonly env: string;
}

/**
 * A handle on a run; `R` is the workflow's result type (`client.run<typeof
 * myWorkflow>(id)`, or the type `submit` was given), else any `Value`.
 */
export class RunHandle<R = Value> {
  readonly #scope: Scope;

  constructor(
    scope: Scope,
    readonly runId: string,
  ) {
    this.#scope = scope;
  }

  /** The environment's name. */
  get env(): string {
    return this.#scope.env;
  }

  /**
   * The run with its steps (in scheduling order), executions (by id, every attempt) and assets, and `stale` steps;
   * with `at`, as it stood at that log sequence (past the end: now), with `atTime` (ISO), at that time.
   */
  view(options: { readonly at?: number; readonly atTime?: string } = {}): Promise<RunAnswer> {
    const { at, atTime } = options;
    const query = { ...(at === undefined ? {} : { at: String(at) }), ...(atTime === undefined ? {} : { atTime }) };
    return this.#call({ method: "GET", route: RUN, ...(Object.keys(query).length ? { query } : {}) });
  }

  /** The run's steps. */
  steps(): Promise<StepsAnswer> {
    return this.#call({ method: "GET", route: `${ENV}/steps/:runId` });
  }

  /** Every event of the run, in log order, each with its commit's `seq` and its `index` in the commit. */
  history(): Promise<HistoryEntry[]> {
    return this.#call({ method: "GET", route: `${RUN}/history` });
  }

  /** The run's outcome if it has one now, else `undefined` (no waiting). */
  async poll(): Promise<Outcome<R> | undefined> {
    const r = await this.#call<ResultAnswer>({ method: "GET", route: `${RUN}/result` });
    return "outcome" in r ? (r.outcome as Outcome<R>) : undefined;
  }

  /**
   * The run's outcome, once it has one (a long poll), across restarts of the
   * server (see {@link WaitOptions}).
   */
  async outcome(o: WaitOptions = {}): Promise<Outcome<R>> {
    return new Patience(o).retrying(async () => {
      const r = await this.#call<ResultAnswer>({ method: "GET", route: `${RUN}/result`, query: { wait: "true" }, ...signal(o) });
      if (!("outcome" in r)) throw new TributaryClientError(`the server answered no outcome for run ${this.runId}`);
      return r.outcome as Outcome<R>;
    });
  }

  /**
   * The run's result, once it has one.
   * @throws {RunFailedError} carrying the run's error when it failed, was cancelled, timed out or was abandoned.
   */
  async result(o: WaitOptions = {}): Promise<R> {
    return valueOf(this.runId, await this.outcome(o));
  }

  /**
   * Cancels the run, everything in flight under it and the runs it spawned.
   * A run already cancelled answers `already: true`; a finished run is
   * refused (409), unless steps of it are re-running: those stop.
   */
  cancel(): Promise<CancelAnswer> {
    return this.#call({ method: "POST", route: `${RUN}/cancel` });
  }

  /**
   * Runs a finished step again (a new execution); with `cascade`, its
   * callers are re-run in turn up to the root. {@link Rerun.outcome} waits
   * for it: with `cascade: true` the run's outcome, of type `R`; else the
   * step's, of the type `S` given (`rerun<number>(stepId)`), else any `Value`.
   */
  rerun(stepId: string, options: { readonly cascade: true }): Promise<Rerun<R>>;
  rerun<S = Value>(stepId: string, options?: { readonly cascade?: boolean }): Promise<Rerun<S>>;
  async rerun(stepId: string, options: { readonly cascade?: boolean } = {}): Promise<Rerun<unknown>> {
    const answer = await this.#call<RerunAnswer>({
      method: "POST",
      route: `${RUN}/steps/:stepId/rerun`,
      params: { stepId },
      body: { cascade: options.cascade === true },
    });
    return new Rerun(this.#scope, this, answer);
  }

  /** The lines the run's tasks have logged so far. */
  logs(): Promise<LogLine[]> {
    return this.#call({ method: "GET", route: `${RUN}/logs` });
  }

  /**
   * The run's log lines as they are written, until the run ends; across
   * restarts of the server (each line once).
   */
  async *followLogs(o: WaitOptions = {}): AsyncGenerator<LogLine, void, undefined> {
    const patience = new Patience(o);
    const seen = new Set<string>();
    for (;;) {
      const res = await patience.retrying(() => this.#scope.transport.stream(this.#request({ method: "GET", route: `${RUN}/logs`, query: { follow: "true" }, ...signal(o) })));
      let rest = "";
      const utf8 = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          rest += utf8.decode(chunk, { stream: true });
          const lines = rest.split("\n");
          rest = lines.pop() ?? "";
          for (const text of lines) {
            if (!text) continue;
            const line = decodeJson(text) as LogLine;
            // A stream after a restart starts again from the run's first line.
            const key = `${line.executionId}\0${line.at}\0${line.level}\0${line.message}`;
            if (seen.has(key)) continue;
            seen.add(key);
            yield line;
          }
        }
      } catch (e) {
        if (o.signal?.aborted) throw o.signal.reason;
        const url = this.#scope.transport.url;
        await patience.failed(new ConnectionError(`the log stream of ${this.runId} was cut (${(e as Error).message})`, url, "cut", { cause: e }));
        continue;
      }
      // The stream ends when the run has finished, or when the server stops: then follow again.
      const view = await patience.retrying(() => this.view());
      if (view.run.status !== "running") return;
    }
  }

  #call<T>(req: Request): Promise<T> {
    return this.#scope.transport.json<T>(this.#request(req));
  }

  #request(req: Request): Request {
    return { ...req, params: { project: this.#scope.project, env: this.#scope.env, runId: this.runId, ...req.params } };
  }
}

/** A run just submitted: its handle, and what the server said of the submission. */
export class SubmittedRun<R = Value> extends RunHandle<R> {
  /** `false`: a run of the same idempotency key existed (same target and arguments); this is that run. */
  readonly created: boolean;
  /** Sequence of the commit that recorded it; `undefined` when nothing was (`created: false`). */
  readonly seq: number | undefined;
  /** Set when no connected agent hosts the target now: the run waits for one. */
  readonly warning: string | undefined;
  readonly #answer: SubmitAnswer;

  constructor(scope: Scope, answer: SubmitAnswer) {
    super(scope, answer.runId);
    this.created = answer.created;
    this.seq = answer.seq;
    this.warning = answer.warning;
    this.#answer = answer;
  }

  /** The server's answer, as JSON. */
  toJSON(): SubmitAnswer {
    return this.#answer;
  }
}

/** A step re-run: its new execution, and a wait for what it gives (of type `S`). */
export class Rerun<S = Value> {
  readonly runId: string;
  readonly stepId: string;
  /** The step's new execution. */
  readonly executionId: string;
  readonly cascade: boolean;
  /** Set when no connected agent hosts the step's target now. */
  readonly warning: string | undefined;
  readonly seq: number;
  readonly #scope: Scope;
  readonly #run: RunHandle<S>;
  readonly #answer: RerunAnswer;

  constructor(scope: Scope, run: RunHandle<unknown>, answer: RerunAnswer) {
    this.#scope = scope;
    // The root step's outcome is the run's: with `cascade` (or a re-run of the root), `S` is the run's `R`.
    this.#run = run as RunHandle<S>;
    this.#answer = answer;
    this.runId = answer.runId;
    this.stepId = answer.stepId;
    this.executionId = answer.executionId;
    this.cascade = answer.cascade;
    this.warning = answer.warning;
    this.seq = answer.seq;
  }

  /** The server's answer, as JSON. */
  toJSON(): RerunAnswer {
    return this.#answer;
  }

  /**
   * What the re-run gives: the step's outcome from this execution (or a
   * later one, its retries). With `cascade`, the run's outcome once its root
   * has re-run after this one, or the step's failure (a cascade stops there).
   * The root step's outcome is the run's. Polls; across restarts of the server.
   */
  async outcome(o: WaitOptions = {}): Promise<Outcome<S>> {
    const own = await this.#stepOutcome(this.stepId, this.executionId, o);
    if (!this.cascade || own.status !== "succeeded") return own;
    const patience = new Patience(o);
    for (;;) {
      const view = await patience.retrying(() => this.#run.view());
      const since = view.executions[this.executionId]?.createdAt ?? 0;
      const root = view.steps.find((s) => s.stepId === view.run.rootStepId);
      const latest = root?.executions[root.executions.length - 1];
      const x = latest === undefined ? undefined : view.executions[latest];
      if (root && x && x.createdAt >= since && FINAL.has(root.status)) return this.#run.outcome(o);
      await sleep(POLL_MS, o.signal);
    }
  }

  /** As {@link outcome}, the value when it succeeded. @throws {RunFailedError} otherwise. */
  async result(o: WaitOptions = {}): Promise<S> {
    return valueOf(this.runId, await this.outcome(o));
  }

  async #stepOutcome(stepId: string, executionId: string, o: WaitOptions): Promise<Outcome<S>> {
    const patience = new Patience(o);
    for (;;) {
      const view = await patience.retrying(() => this.#run.view());
      const step = view.steps.find((s) => s.stepId === stepId);
      if (!step) throw new TributaryClientError(`run ${this.runId} has no step ${stepId}`);
      if ((step.executions as readonly string[]).includes(executionId) && FINAL.has(step.status)) {
        if (step.stepId === view.run.rootStepId) return this.#run.outcome(o);
        const latest = step.executions[step.executions.length - 1];
        return this.#outcomeOf(step, latest === undefined ? undefined : view.executions[latest]);
      }
      await sleep(POLL_MS, o.signal);
    }
  }

  async #outcomeOf(step: StepDoc, x: ExecutionDoc | undefined): Promise<Outcome<S>> {
    if (step.status === "succeeded" || step.status === "reused") {
      const r = step.result;
      const value = r?.kind === "blob" ? await this.#readValue(r.blob.key) : (r?.value ?? null);
      return { status: "succeeded", value: value as S };
    }
    const error = x?.error ?? { type: "Error", message: `step ${step.stepId} ${step.status}`, retryable: false };
    return { status: step.status === "cancelled" ? "cancelled" : "failed", error };
  }

  /** A result kept as a blob (read through the run's environment, which refers to it): its bytes are the value, msgpack-encoded as the log encodes values. */
  async #readValue(key: string): Promise<Value> {
    const { transport, project, env } = this.#scope;
    const res = await transport.stream({ method: "GET", route: `${ENV}/blobs/:key`, params: { project, env, key } });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const { unpackValue } = await import("../events/codec.js");
    return unpackValue(bytes) as Value;
  }
}

const valueOf = <V>(runId: string, outcome: Outcome<V>): V => {
  if (outcome.status === "succeeded") return outcome.value;
  throw new RunFailedError(runId, outcome.status, outcome.error);
};

const signal = (o: WaitOptions): { signal?: AbortSignal } => (o.signal ? { signal: o.signal } : {});
