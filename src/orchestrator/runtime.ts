/**
 * The orchestrator of one environment: the single writer of its log.
 *
 * A command is decided against the model (projections as of every commit
 * decided so far), its events are folded into an in-memory overlay at once,
 * and appended as one commit fenced on the sequence before it. Decisions are
 * therefore pipelined: the next one need not wait for the previous append's
 * round trip, and the log adapters keep the appends in call order. Effects
 * (dispatching to agents, answering waiters) happen only once the commit is
 * acknowledged. The overlay is flushed into LMDB, confirmed commits only, in
 * batches. If an append fails, the runtime stops deciding, reloads its state
 * from the log (the truth) and carries on.
 */
import { type Value, IdGenerator, MAX_COMMIT_BYTES, parseField, parseRunId, type Commit, type EventId, type EventLog, type LogRef, type RunId, type StepId } from "../events/index.js";
import { checkEvents, encodeCommit, unpackValue } from "../events/codec.js";
import { applyCommit, isFinished, Overlay, PROJECTIONS, type DocSource, type ExecutionDoc, type AnyProjection } from "../projections/index.js";
import { LmdbProjectionStore, Projector } from "../projections/store/index.js";
import type { Outcome } from "../protocol/messages.js";
import type { Command } from "./core/commands.js";
import { decide } from "./core/decide.js";
import { modelOf, type Inherited, type Model } from "./core/model.js";
import { activeOf, trackActive, type ActiveExecution } from "./core/next-actions.js";
import { stepOutcome, type ExecuteOptions, type Executed, type Orchestration, type RawOutcome } from "./orchestration.js";
export type { ExecuteOptions, Executed, RawOutcome };
export interface RuntimeOptions {
  readonly log: EventLog;
  readonly ref: LogRef;
  /** Directory of this environment's projection store. */
  readonly storePath: string;
  readonly clock?: () => number;
  readonly onNotice?: (message: string) => void;
  /** Cache look-ups in the environments this one inherits from (live bases, or a branch's frozen parent). */
  readonly inherited?: Inherited;
  /** Reads a blob whole (results kept as blobs are at most a frame's size). */
  readonly readBlob?: (key: string) => Promise<Uint8Array>;
  /** What the store folds. Default the environments' `PROJECTIONS`; the server log folds `TOKEN_PROJECTIONS`. */
  readonly projections?: readonly AnyProjection[];
}

/** A decided commit waiting for the log's acknowledgement. */
class Pending {
  acked = false;
  failure: unknown;
  readonly settle!: { resolve: () => void; reject: (e: unknown) => void };
  readonly done: Promise<void>;
  constructor(readonly commit: Commit) {
    this.done = new Promise<void>((resolve, reject) => {
      (this as { settle: Pending["settle"] }).settle = { resolve, reject };
    });
    this.done.catch(() => undefined);
  }
}

const FLUSH_EVERY_MS = 20;
const FLUSH_AT_COMMITS = 500;

export class EnvRuntime implements Orchestration {
  readonly ref: LogRef;
  private readonly log: EventLog;
  private readonly clock: () => number;
  private readonly ids: IdGenerator;
  private readonly notice: (m: string) => void;
  private store!: LmdbProjectionStore;
  private projector!: Projector;
  /** Every decided commit folded over the store: what decisions and queries read. */
  private overlay!: Overlay;
  /** Only the acknowledged commits not yet in LMDB, folded over the store: what a flush writes. */
  private confirmedOverlay!: Overlay;
  /** Document (`projection\0key`) → the sequence of the last commit that changed it in `overlay`. */
  private readonly touched = new Map<string, number>();
  /** The commit being folded into `overlay`. */
  private folding = 0;
  /** Decided commits not yet acknowledged, in order. */
  private queue: Pending[] = [];
  /** Id of the log's first commit, once acknowledged and until flushed. */
  private origin: string | undefined;
  /** Highest sequence decided (appended or in flight). */
  private assigned = 0;
  /** Highest sequence the log acknowledged, in order. */
  private confirmed = 0;
  private inflight = 0;
  private broken: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** `runId/stepId` → the step, and who waits for its outcome. */
  private readonly waiters = new Map<string, { readonly runId: RunId; readonly stepId: StepId; readonly ws: ((o: RawOutcome) => void)[] }>();
  private readonly committed = new Set<(commit: Commit, model: Model) => void>();
  /** Executions not yet finished, kept in step with every decided commit. */
  private readonly active = new Map<string, ActiveExecution>();
  private current!: Model;
  private readonly projections: readonly AnyProjection[];

  constructor(private readonly options: RuntimeOptions) {
    this.ref = options.ref;
    this.log = options.log;
    this.clock = options.clock ?? Date.now;
    this.ids = new IdGenerator(this.clock);
    this.notice = options.onNotice ?? ((m) => console.warn(m));
    this.projections = options.projections ?? PROJECTIONS;
  }

  /** The projections as of every decided commit: what queries read. */
  get source(): DocSource {
    return this.overlay;
  }

  /** The model as of every decided commit: what decisions read. */
  get model(): Model {
    return this.current;
  }

  /** Sequence of the last acknowledged commit. */
  get lastSeq(): number {
    return this.confirmed;
  }

  /** The executions not yet finished, as of every decided commit. */
  activeExecutions(): IterableIterator<ActiveExecution> {
    return this.active.values();
  }

  /** Calls `f` after each commit is acknowledged (its effects: dispatching to agents, cascades, Studio's push); returns the unsubscription. */
  onCommitted(f: (commit: Commit, model: Model) => void): () => void {
    this.committed.add(f);
    return () => void this.committed.delete(f);
  }

  newId(): string {
    return this.ids.next();
  }

  newRunId(): RunId {
    // A sortable id is always a valid run id: this never throws.
    const id = parseField(parseRunId, "runId", this.ids.next());
    if (id._tag === "Left") throw new Error(id.left);
    return id.right;
  }

  /** Opens the projection store, brings it up to date with the log, loads the executions in flight. */
  async start(): Promise<void> {
    await this.log.createEnv(this.ref);
    this.store = await LmdbProjectionStore.open(this.options.storePath, this.projections, this.notice);
    this.projector = new Projector({ log: this.log, ref: this.ref, store: this.store, onNotice: this.notice });
    await this.projector.start();
    this.reset();
  }

  /** State from the store alone: after start, and after a failed append. */
  private reset(): void {
    this.queue = [];
    this.touched.clear();
    this.overlay = new Overlay(this.store, (p, k) => this.touched.set(`${p}\0${k}`, this.folding));
    this.confirmedOverlay = new Overlay(this.store);
    this.current = modelOf(this.overlay, this.options.inherited);
    this.assigned = this.confirmed = this.store.checkpoint;
    this.active.clear();
    for (const [, x] of this.store.range<ExecutionDoc>("executions")) {
      if (isFinished(x.status)) continue;
      const step = this.model.step(x.runId, x.stepId);
      if (step) this.active.set(x.executionId, activeOf(x, step));
    }
  }

  /**
   * Decides `cmd` and appends its events, each attributed to `opts.by` when
   * it is given. Resolves once the commit is acknowledged (or at once for a
   * rejection or a decision with no events, after the commits before it are
   * acknowledged).
   */
  async execute(cmd: Command, opts: ExecuteOptions = {}): Promise<Executed> {
    if (this.closed) throw new Error(`the orchestrator of ${this.ref.project}/${this.ref.env} is closed`);
    while (this.broken) await this.broken;
    const { by } = opts;
    const decision = decide(cmd, this.model, { now: this.clock(), id: () => this.ids.next() as EventId, ...(by === undefined ? {} : { by }) });
    if (decision._tag === "Left") return { ok: false, rejection: decision.left };
    const events = decision.right;
    // The decoder's validation, before anything is folded: an event that
    // would not decode is a rejection here, not a failed append (which
    // would send the runtime through its reload).
    const invalid = checkEvents(events);
    if (invalid) return { ok: false, rejection: { _tag: "InvalidEvent", eventType: invalid.eventType, reason: invalid.reason } };
    if (events.length === 0) {
      await this.settled();
      return { ok: true, events };
    }
    const bytes = encodeCommit(events).length;
    // Refused before it is folded: the log would refuse it, and the overlay must not hold what the log will not.
    if (bytes > MAX_COMMIT_BYTES) return { ok: false, rejection: { _tag: "CommitTooLarge", command: cmd.type, bytes, limit: MAX_COMMIT_BYTES } };
    const seq = ++this.assigned;
    const commit: Commit = {
      seq,
      id: events[0]!.id,
      subject: "",
      ...(events[0]!.runId === undefined ? {} : { runId: events[0]!.runId }),
      events,
    };
    this.folding = seq;
    applyCommit(this.projections, this.overlay, commit);
    for (const e of events) trackActive(this.active, e, this.model);
    const entry = new Pending(commit);
    this.queue.push(entry);
    this.inflight++;
    this.log.append(this.ref, events, { expectedLastSeq: seq - 1 }).then(
      (appended) => {
        this.inflight--;
        if (appended.seq !== seq) {
          entry.failure = new Error(`the log stored commit ${seq} at sequence ${appended.seq}`);
          void this.recover(entry.failure);
          return;
        }
        entry.acked = true;
        this.drain();
      },
      (e: unknown) => {
        this.inflight--;
        entry.failure = e;
        void this.recover(e);
      },
    );
    await entry.done;
    return { ok: true, events, seq };
  }

  /** Takes acknowledged commits off the queue, in sequence order, and carries out their effects. */
  private drain(): void {
    while (this.queue[0]?.acked) {
      const { commit, settle } = this.queue.shift()!;
      applyCommit(this.projections, this.confirmedOverlay, commit);
      this.confirmed = commit.seq;
      if (commit.seq === 1) this.origin = commit.id;
      for (const f of this.committed) f(commit, this.model);
      this.notifyWaiters(commit);
      settle.resolve();
    }
    this.scheduleFlush();
  }

  /** Resolves once every commit decided so far is acknowledged (or failed). */
  private async settled(): Promise<void> {
    const last = this.queue[this.queue.length - 1];
    if (last) await last.done.catch(() => undefined);
  }

  /** After a failed append: wait for the appends in flight, then reload from the log. */
  private recover(cause: unknown): Promise<void> {
    this.broken ??= (async () => {
      this.notice(`append to ${this.ref.project}/${this.ref.env} failed (${(cause as Error).message}); reloading state from the log`);
      while (this.inflight > 0) await new Promise((r) => setTimeout(r, 5));
      this.drain();
      this.flushConfirmed();
      for (const p of this.queue) p.settle.reject(p.failure ?? cause);
      this.queue = [];
      // Closed meanwhile: the next start reloads from the log anyway.
      if (this.closed) return;
      for (;;) {
        try {
          await this.projector.catchUp();
          break;
        } catch (e) {
          if (this.closed) return;
          this.notice(`reloading ${this.ref.project}/${this.ref.env} from the log failed (${(e as Error).message}); retrying`);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      this.reset();
      this.recheckWaiters();
    })().finally(() => (this.broken = undefined));
    return this.broken;
  }

  private scheduleFlush(): void {
    if (this.confirmed - this.store.checkpoint >= FLUSH_AT_COMMITS) this.flushConfirmed();
    else this.flushTimer ??= setTimeout(() => this.flushConfirmed(), FLUSH_EVERY_MS);
  }

  /**
   * Writes the acknowledged commits' documents to LMDB with their checkpoint,
   * and drops from the overlay what LMDB now holds.
   */
  private flushConfirmed(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.confirmed <= this.store.checkpoint) return;
    const changes = this.confirmedOverlay.changes;
    this.store.write(changes, this.confirmed, this.origin);
    this.origin = undefined;
    for (const [p, docs] of changes) {
      for (const k of docs.keys()) {
        const id = `${p}\0${k}`;
        if ((this.touched.get(id) ?? 0) <= this.confirmed) {
          this.overlay.forget(p, k);
          this.touched.delete(id);
        }
      }
    }
    this.confirmedOverlay = new Overlay(this.store);
  }

  // -------------------------------------------------------------------------
  // Waiting for steps

  /** Has the step an outcome (without loading a result kept as a blob)? */
  hasOutcome(runId: RunId, stepId: StepId): boolean {
    return this.rawOutcome(runId, stepId) !== undefined;
  }

  /** The outcome of a step, if it has one, a result kept as a blob left as its reference. */
  rawOutcome(runId: RunId, stepId: StepId): RawOutcome | undefined {
    const step = this.model.step(runId, stepId);
    return step ? stepOutcome(step, this.model) : undefined;
  }

  /** The outcome of a step, if it has one; a result kept as a blob is loaded. */
  outcomeOf(runId: RunId, stepId: StepId): Promise<Outcome | undefined> {
    const raw = this.rawOutcome(runId, stepId);
    return raw ? this.load(raw) : Promise.resolve(undefined);
  }

  /** Resolves with the step's outcome once it has one. */
  async waitForStep(runId: RunId, stepId: StepId): Promise<Outcome> {
    return this.load(await this.waitForStepRaw(runId, stepId));
  }

  /** As {@link waitForStep}, a result kept as a blob left as its reference. */
  waitForStepRaw(runId: RunId, stepId: StepId): Promise<RawOutcome> {
    const now = this.rawOutcome(runId, stepId);
    if (now) return Promise.resolve(now);
    return new Promise<RawOutcome>((resolve) => {
      const key = `${runId}/${stepId}`;
      const w = this.waiters.get(key);
      if (w) w.ws.push(resolve);
      else this.waiters.set(key, { runId, stepId, ws: [resolve] });
    });
  }

  private async load(raw: RawOutcome): Promise<Outcome> {
    if (!("blob" in raw)) return raw;
    if (!this.options.readBlob) throw new Error(`result ${raw.blob.key} is kept as a blob and this server has no blob store`);
    return { status: "succeeded", value: unpackValue(await this.options.readBlob(raw.blob.key)) as Value };
  }

  private notifyWaiters(commit: Commit): void {
    if (this.waiters.size === 0 || commit.runId === undefined) return;
    for (const e of commit.events) {
      if ("stepId" in e.data) this.answer(`${commit.runId}/${e.data.stepId}`);
      // A cancelled run ends the steps that were only waiting (see stepOutcome): their waiters too.
      else if (e.type === "RunCancelled") for (const key of this.waiters.keys()) if (key.startsWith(`${commit.runId}/`)) this.answer(key);
    }
  }

  /** Answers every waiter whose step has an outcome (after state was reloaded). */
  private recheckWaiters(): void {
    for (const key of [...this.waiters.keys()]) this.answer(key);
  }

  /** Answers the waiters of step `key` (`runId/stepId`), if it has an outcome now. */
  private answer(key: string): void {
    const w = this.waiters.get(key);
    const outcome = w && this.rawOutcome(w.runId, w.stepId);
    if (!outcome) return;
    this.waiters.delete(key);
    for (const f of w.ws) f(outcome);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.flushTimer);
    while (this.inflight > 0) await new Promise((r) => setTimeout(r, 5));
    // A reload under way ends first (it stops at its next step): it writes to the store.
    if (this.broken) await this.broken.catch(() => undefined);
    else this.flushConfirmed();
    await this.store?.close();
  }

  /** Every document of every projection as of the last flush, for `projections dump`. */
  dump(): string[] {
    this.flushConfirmed();
    return this.store.dump();
  }

  /** Takes in what another writer appended (the server log is shared by servers on one NATS); true when there was some. */
  async follow(): Promise<boolean> {
    if (this.closed || this.broken || this.inflight > 0 || (await this.log.lastSeq(this.ref)) <= this.assigned) return false;
    this.flushConfirmed();
    await this.projector.catchUp();
    this.reset();
    return true;
  }

  /** Drops the projections and replays the log. */
  async rebuild(): Promise<number> {
    while (this.inflight > 0) await new Promise((r) => setTimeout(r, 5));
    this.flushConfirmed();
    const r = await this.projector.rebuild("requested");
    this.reset();
    return r.commits;
  }
}
