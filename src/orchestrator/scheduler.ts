/**
 * The scheduler of one environment: the agents connected to it, and the thin
 * runner around `nextActions`. It turns agents' messages into commands,
 * carries out the actions the pure core asks for, and sends agents their
 * work once the commits that record it are acknowledged.
 */
import { Readable } from "node:stream";
import { type AbandonCause, type BlobRef, type Commit, type Value } from "../events/index.js";
import { packValue } from "../events/codec.js";
import type { AgentMessage, AssetRef, HandleRef, ServerMessage } from "../protocol/messages.js";
import type { AssetDoc } from "../projections/index.js";
import type { Command } from "./core/commands.js";
import type { Model } from "./core/model.js";
import { nextActions, type AgentSlot } from "./core/next-actions.js";
import { keyOf, type BlobStore } from "../events/storage/blob-store.js";
import { isSafeAssetPath } from "./core/decide.js";
import { stepKeys } from "./keys.js";
import { rejectionMessage } from "./core/rejections.js";
import type { EnvRuntime } from "./runtime.js";
import type { TaskLogs } from "./task-logs.js";

/** One side of an agent's connection, as the scheduler uses it. */
export interface AgentConnection {
  send(message: ServerMessage): void;
  close(reason: string): void;
}

interface ConnectedAgent extends AgentSlot {
  readonly conn: AgentConnection;
  lastSeen: number;
  reported: Set<string>;
  reportedAt: number;
}

export interface SchedulerOptions {
  /** Heartbeat interval asked of agents, ms. An agent silent for 3 intervals is lost. */
  readonly heartbeatMs: number;
  readonly clock?: () => number;
  readonly logs: TaskLogs;
  readonly onNotice?: (message: string) => void;
  /** Where assets' blobs are; `persist` checks that they are there. */
  readonly blobs?: BlobStore;
  /** Largest asset, in bytes (all its files). */
  readonly maxAssetBytes: number;
  /** How long agents have after a server start to connect again before their executions are abandoned. */
  readonly restartGraceMs?: number;
}

/** Results larger than this, encoded, are kept as blobs rather than in the log. */
const INLINE_RESULT_BYTES = 256 * 1024;

/** Error types agents report for executions they could not run through no fault of the code, and the abandonment they are. */
const NOT_THE_TASKS_FAULT: ReadonlyMap<string, AbandonCause> = new Map<string, AbandonCause>([
  ["WorkerRestarted", "worker-restarted"],
  ["AgentStopping", "agent-stopping"],
]);

/** Longest wait of an agent between two attempts to connect (its backoff's cap, see src/agent/connection.ts). */
const AGENT_MAX_BACKOFF_MS = 2000;

export class EnvScheduler {
  private readonly agents = new Map<string, ConnectedAgent>();
  /** When each agent that is not connected now left (agents seen since this process started). */
  private readonly lostAt = new Map<string, number>();
  /** When this scheduler started: executions assigned before were assigned by an earlier server process. */
  private readonly startedAt: number;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private wakeAt: number | undefined;
  private ticking = false;
  private again = false;
  private closed = false;
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    private readonly rt: EnvRuntime,
    private readonly options: SchedulerOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.startedAt = this.clock();
    rt.addEffects({ onCommitted: (c, m) => this.onCommitted(c, m) });
    this.watchdog = setInterval(() => this.checkHeartbeats(), options.heartbeatMs);
    this.watchdog.unref();
  }

  private get graceMs(): number {
    return this.options.heartbeatMs * 2;
  }

  /**
   * After a restart, agents need time to notice and connect again: their
   * backoff's cap, plus the usual grace.
   */
  private get restartGraceMs(): number {
    return this.options.restartGraceMs ?? AGENT_MAX_BACKOFF_MS + this.graceMs;
  }

  /** Registers an agent that said `hello`; returns its id. */
  async connect(conn: AgentConnection, hello: Extract<AgentMessage, { type: "hello" }>): Promise<string> {
    const agentId = hello.agentId ?? `agent-${this.rt.newId().slice(-10).toLowerCase()}`;
    const old = this.agents.get(agentId);
    if (old) {
      this.agents.delete(agentId);
      old.conn.close("replaced by a new connection of the same agent");
    }
    // Until it is registered again it is away, with the usual grace from now (not from its assignments).
    if (!this.agents.has(agentId)) this.lostAt.set(agentId, this.clock());
    const r = await this.rt.execute({
      type: "ConnectAgent",
      agentId,
      tags: hello.tags,
      concurrency: hello.concurrency,
      manifests: hello.manifests,
    });
    if (!r.ok) throw new Error(rejectionMessage(r.rejection));
    const now = this.clock();
    this.agents.set(agentId, {
      agentId,
      conn,
      tags: hello.tags,
      concurrency: hello.concurrency,
      targets: new Set(hello.manifests.flatMap((m) => m.targets.map((t) => `${m.repository}:${t.name}`))),
      reported: new Set(hello.running),
      reportedAt: now,
      lastSeen: now,
    });
    this.lostAt.delete(agentId);
    conn.send({ type: "welcome", agentId, heartbeatMs: this.options.heartbeatMs });
    this.kick();
    return agentId;
  }

  /** The agent's connection closed (or was lost). Its executions are abandoned by the next ticks. */
  async disconnect(agentId: string, conn: AgentConnection, reason: string): Promise<void> {
    const a = this.agents.get(agentId);
    if (!a || a.conn !== conn) return;
    this.agents.delete(agentId);
    this.lostAt.set(agentId, this.clock());
    await this.rt.execute({ type: "DisconnectAgent", agentId, reason }).catch(() => undefined);
    this.kick();
  }

  /** Handles one message from a connected agent. Never throws: problems are answered as `error`. */
  async onMessage(agentId: string, m: AgentMessage): Promise<void> {
    const a = this.agents.get(agentId);
    if (!a) return;
    a.lastSeen = this.clock();
    const reply = (msg: ServerMessage) => a.conn.send(msg);
    const run = async (cmd: Command, requestId?: number): Promise<boolean> => {
      const r = await this.rt.execute(cmd);
      if (!r.ok) reply({ type: "error", ...(requestId === undefined ? {} : { requestId }), message: rejectionMessage(r.rejection) });
      return r.ok;
    };
    try {
      switch (m.type) {
        case "heartbeat":
          a.reported = new Set(m.running);
          a.reportedAt = a.lastSeen;
          this.kick();
          return;
        case "started":
          await run({ type: "RecordStarted", runId: this.runOf(m.executionId), executionId: m.executionId, agentId });
          return;
        case "succeeded":
        case "failed": {
          // A worker restarted to stop another execution, or an agent that is
          // stopping, is not the task's failure: retried like an abandonment.
          const restarted = m.type === "failed" ? NOT_THE_TASKS_FAULT.get(m.error.type) : undefined;
          const runId = this.runOf(m.executionId);
          const large = m.type === "succeeded" ? (m.valueBlob !== undefined ? await this.uploaded(m.valueBlob) : await this.storeIfLarge(m.value)) : undefined;
          const recorded = await run(
            restarted && m.type === "failed"
              ? { type: "AbandonExecution", runId, executionId: m.executionId, agentId, reason: m.error.message, cause: restarted }
              : {
                  type: "RecordResult",
                  runId,
                  executionId: m.executionId,
                  agentId,
                  outcome:
                    m.type === "failed"
                      ? { ok: false, error: m.error }
                      : large
                        ? { ok: true, blob: large }
                        : { ok: true, value: m.value },
                },
            m.requestId,
          );
          // The agent keeps a result until it is acknowledged (or refused: then it drops it).
          if (recorded && m.requestId !== undefined) reply({ type: "ack", requestId: m.requestId });
          a.reported.delete(m.executionId);
          this.kick();
          return;
        }
        case "submit":
          await this.submit(a, m);
          return;
        case "result": {
          const outcome = m.wait ? await this.rt.waitForStepRaw(m.handle.runId, m.handle.stepId) : this.rt.rawOutcome(m.handle.runId, m.handle.stepId);
          // A result kept as a blob is the agent's to download: it may be larger than a frame.
          if (outcome && "blob" in outcome) reply({ type: "resolved", requestId: m.requestId, outcome: { status: "succeeded", value: null }, resultBlob: outcome.blob });
          else reply({ type: "resolved", requestId: m.requestId, ...(outcome ? { outcome } : {}) });
          return;
        }
        case "cancel":
          if (await run({ type: "CancelStep", runId: m.handle.runId, stepId: m.handle.stepId, reason: `cancelled by ${m.executionId}` }, m.requestId)) {
            reply({ type: "ack", requestId: m.requestId });
          }
          return;
        case "persist":
          await this.persist(a, m);
          return;
        case "restore": {
          const r = await this.rt.execute({
            type: "RestoreAsset",
            executionId: m.executionId,
            agentId,
            assetId: m.assetId,
            ...(m.to === undefined ? {} : { to: m.to }),
          });
          if (!r.ok) return reply({ type: "error", requestId: m.requestId, message: rejectionMessage(r.rejection) });
          const found = this.rt.model.asset(m.assetId)!;
          reply({ type: "restored", requestId: m.requestId, asset: assetRefOf(found.env, found.doc) });
          return;
        }
        case "log": {
          const x = this.rt.model.execution(m.executionId);
          if (x) this.options.logs.append({ ...m, runId: x.runId, stepId: x.stepId });
          return;
        }
        case "hello":
          reply({ type: "error", message: "already connected: hello is sent once per connection" });
          return;
      }
    } catch (e) {
      // Not a refusal: the log or the blob store failed. The agent keeps what it sent and sends it again.
      reply({
        type: "error",
        ...("requestId" in m ? { requestId: m.requestId } : {}),
        message: `the server could not act on it now (${(e as Error).message}); it will be sent again`,
        retry: true,
      });
    }
  }

  /**
   * A result too large to travel inline in the log is stored as a blob (its
   * msgpack bytes), and the log records the reference.
   */
  private async storeIfLarge(value: Value): Promise<BlobRef | undefined> {
    if (!this.options.blobs) return undefined;
    const bytes = packValue(value);
    if (bytes.length <= INLINE_RESULT_BYTES) return undefined;
    const info = await this.options.blobs.put(Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]));
    return { key: info.key, size: info.size, sha256: info.sha256 };
  }

  /** A blob an agent says it uploaded (a large result): its reference, once it is there with its size. */
  private async uploaded(b: BlobRef): Promise<BlobRef> {
    if (b.key !== keyOf(b.sha256)) throw new Error(`valueBlob.key must be "sha256:" + valueBlob.sha256`);
    const stored = await this.options.blobs?.stat(b.key);
    if (!stored || stored.size !== b.size) throw new Error(`the result's blob ${b.key} is not stored with ${b.size} bytes: upload it first`);
    return { key: b.key, size: b.size, sha256: b.sha256 };
  }

  /** Records an asset whose blobs the agent uploaded, once every blob is there with its size. */
  private async persist(a: ConnectedAgent, m: Extract<AgentMessage, { type: "persist" }>): Promise<void> {
    const fail = (message: string) => a.conn.send({ type: "error", requestId: m.requestId, message });
    // The frame's shape (entries with a path, a size and a sha256) was checked against its schema on arrival.
    let total = 0;
    for (const e of m.entries) {
      if (!isSafeAssetPath(e.path)) return fail(`asset path ${JSON.stringify(e.path)} is not a relative path inside the working directory`);
      total += e.size;
      const stored = await this.options.blobs?.stat(keyOf(e.sha256));
      if (!stored || stored.size !== e.size) return fail(`the blob of ${e.path} (${keyOf(e.sha256)}) is not stored: upload it first`);
    }
    if (total > this.options.maxAssetBytes) return fail(`asset of ${total} bytes is over the limit of ${this.options.maxAssetBytes} (server option --max-asset-bytes)`);
    // The asset id comes from the request: a persist re-sent after a reconnect records nothing new.
    const assetId = `${m.executionId}-a${m.requestId}`;
    const r = await this.rt.execute({
      type: "PersistAsset",
      executionId: m.executionId,
      agentId: a.agentId,
      assetId,
      entries: m.entries,
      ...(m.name === undefined ? {} : { name: m.name }),
      ...(m.metadata === undefined ? {} : { metadata: m.metadata }),
    });
    if (!r.ok) return fail(rejectionMessage(r.rejection));
    const found = this.rt.model.asset(assetId)!;
    a.conn.send({ type: "persisted", requestId: m.requestId, asset: assetRefOf(found.env, found.doc) });
  }

  private runOf(executionId: string): string {
    return this.rt.model.execution(executionId)?.runId ?? "";
  }

  /** Task code called a target: a step in the caller's run, or a new run for a workflow. */
  private async submit(a: ConnectedAgent, m: Extract<AgentMessage, { type: "submit" }>): Promise<void> {
    const caller = this.rt.model.execution(m.executionId);
    if (!caller) {
      a.conn.send({ type: "error", requestId: m.requestId, message: `unknown calling execution ${m.executionId}` });
      return;
    }
    // The call's position in its execution (agents number them); older agents: the request id.
    const callId = `${m.executionId}/${m.call ?? `r${m.requestId}`}`;
    const kind = this.rt.model.manifest(m.target.repository)?.targets.find((t) => t.name === m.target.target)?.kind ?? "task";
    const b = m.argumentsBlob;
    const blobArgs =
      b === undefined
        ? {}
        : { argumentsBlob: { key: b.key, size: b.size, sha256: b.sha256 }, ...(m.argumentCount === undefined ? {} : { argumentCount: m.argumentCount }) };
    if (b !== undefined) {
      if (b.key !== keyOf(b.sha256) || m.arguments.length > 0) {
        a.conn.send({ type: "error", requestId: m.requestId, message: `argumentsBlob.key must be "sha256:" + argumentsBlob.sha256, and arguments empty` });
        return;
      }
      const stored = await this.options.blobs?.stat(b.key);
      if (!stored || stored.size !== b.size) {
        a.conn.send({ type: "error", requestId: m.requestId, message: `the arguments' blob ${b.key} is not stored: upload it first` });
        return;
      }
    }
    const keys = stepKeys(this.rt.model, m.target, m.arguments, m.options, b);
    const r =
      kind === "workflow"
        ? await this.rt.execute({
            type: "SubmitRun",
            runId: this.rt.newId(),
            target: m.target,
            arguments: m.arguments,
            ...blobArgs,
            ...(m.options ? { options: m.options } : {}),
            keys,
            call: { executionId: m.executionId, callId, runId: caller.runId, stepId: caller.stepId },
          })
        : await this.rt.execute({
            type: "ScheduleStep",
            runId: caller.runId,
            call: { executionId: m.executionId, callId },
            target: m.target,
            kind,
            arguments: m.arguments,
            ...blobArgs,
            options: m.options ?? {},
            keys,
          });
    if (!r.ok) {
      a.conn.send({ type: "error", requestId: m.requestId, message: rejectionMessage(r.rejection) });
      return;
    }
    const made = this.rt.model.call(callId);
    if (!made) {
      a.conn.send({ type: "error", requestId: m.requestId, message: "the call was not recorded" });
      return;
    }
    const step = this.rt.model.step(made.runId, made.stepId);
    const handle: HandleRef = {
      runId: made.runId,
      stepId: made.stepId,
      executionId: step?.executions[step.executions.length - 1] ?? "",
    };
    a.conn.send({ type: "submitted", requestId: m.requestId, handle });
  }

  /** Effects of an acknowledged commit: work to send, work to stop. */
  private onCommitted(commit: Commit, model: Model): void {
    for (const e of commit.events) {
      switch (e.type) {
        case "ExecutionAssigned": {
          const a = this.agents.get(e.data.agentId);
          const step = model.step(e.runId, e.data.stepId);
          const x = model.execution(e.data.executionId);
          if (!a || !step || !x) break; // the agent left: the next ticks abandon the execution
          a.conn.send({
            type: "execute",
            executionId: x.executionId,
            runId: x.runId,
            stepId: x.stepId,
            attempt: x.attempt,
            target: step.target,
            arguments: step.arguments as readonly Value[],
            ...(step.argumentsBlob === undefined ? {} : { argumentsBlob: step.argumentsBlob }),
            ...(step.options.timeoutMs ? { timeoutMs: step.options.timeoutMs } : {}),
          });
          break;
        }
        case "ExecutionCancelled":
        case "ExecutionTimedOut": {
          this.resolveDeferrals(e.runId, e.data.stepId);
          if (e.type === "ExecutionTimedOut") this.cancelChildRunsIfFailed(model, e.runId, e.data.stepId);
          const agentId = model.execution(e.data.executionId)?.agentId;
          const a = agentId === undefined ? undefined : this.agents.get(agentId);
          a?.conn.send({ type: "abort", executionId: e.data.executionId, reason: e.type === "ExecutionCancelled" ? "cancelled" : "timed_out" });
          break;
        }
        case "ExecutionSucceeded":
        case "StepResultReused":
          this.resolveDeferrals(e.runId, e.data.stepId);
          break;
        case "ExecutionFailed":
          this.resolveDeferrals(e.runId, e.data.stepId);
          this.cancelChildRunsIfFailed(model, e.runId, e.data.stepId);
          break;
        case "ExecutionAbandoned": {
          this.resolveDeferrals(e.runId, e.data.stepId);
          const a = this.agents.get(e.data.agentId);
          a?.conn.send({ type: "abort", executionId: e.data.executionId, reason: "abandoned" });
          this.cancelChildRunsIfFailed(model, e.runId, e.data.stepId);
          break;
        }
        case "RunCancelled":
          this.cancelChildRuns(e.runId, e.data.reason);
          this.sweep(e.runId);
          break;
        case "StepDeferred":
          // It may have deferred to a step that has just finished.
          this.resolveDeferrals(e.data.to.runId, e.data.to.stepId);
          break;
        case "ExecutionCreated":
          this.kick();
          break;
        default:
          break;
      }
    }
  }

  /** Steps deferred to a step that has an outcome take its result (or execute, if it failed). */
  resolveDeferrals(runId: string, stepId: string): void {
    if (!this.rt.hasOutcome(runId, stepId)) return;
    for (const d of this.rt.model.deferrals(runId, stepId)) {
      void this.rt.execute({ type: "ResolveDeferred", runId: d.runId, stepId: d.stepId }).catch((e: unknown) =>
        this.options.onNotice?.(`resolving deferred step ${d.runId}/${d.stepId}: ${(e as Error).message}`),
      );
    }
  }

  /** At start: deferrals whose step finished while the server was down. */
  resolveAllDeferrals(): void {
    for (const [key] of this.rt.source.range("deferrals")) {
      const [runId, stepId] = key.split("/") as [string, string];
      this.resolveDeferrals(runId, stepId);
    }
  }

  /**
   * When the root step's end failed its run, what the run still has in
   * flight is cancelled: the rest of its executions, and the runs it spawned.
   */
  private cancelChildRunsIfFailed(model: Model, runId: string, stepId: string): void {
    const r = model.run(runId);
    if (r?.status !== "failed" || r.rootStepId !== stepId) return;
    this.cancelChildRuns(runId, `run ${runId} failed`);
    this.sweep(runId);
  }

  private readonly sweeping = new Set<string>();

  /**
   * Cancels, a commit's worth at a time, what a run that has ended left in
   * flight past what its last commit could hold (see `SweepRun`).
   */
  sweep(runId: string): void {
    if (this.sweeping.has(runId) || this.closed) return;
    this.sweeping.add(runId);
    void (async () => {
      try {
        for (;;) {
          const r = await this.rt.execute({ type: "SweepRun", runId });
          if (!r.ok || r.events.length === 0 || this.closed) return;
        }
      } catch (e) {
        this.options.onNotice?.(`sweeping run ${runId}: ${(e as Error).message}`);
      } finally {
        this.sweeping.delete(runId);
      }
    })();
  }

  /** At start: runs that ended while what they left in flight was not yet all cancelled. */
  sweepEndedRuns(): void {
    const runs = new Set([...this.rt.active.values()].map((x) => x.runId));
    for (const runId of runs) {
      const status = this.rt.model.run(runId)?.status;
      if (status === "failed" || status === "cancelled") this.sweep(runId);
    }
  }

  /** Runs spawned by executions of `runId` are cancelled with it. */
  private cancelChildRuns(runId: string, reason: string): void {
    const children = new Set<string>();
    for (const x of this.rt.active.values()) {
      if (this.rt.model.run(x.runId)?.parent?.runId === runId) children.add(x.runId);
    }
    for (const child of children) {
      void this.rt.execute({ type: "CancelRun", runId: child, reason: `parent run ${runId} cancelled: ${reason}` }).catch(() => undefined);
    }
  }

  /** Asks for a scheduling pass soon (coalesced). */
  kick(): void {
    if (this.closed) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    if (this.timer && this.wakeAt === 0) return;
    clearTimeout(this.timer);
    this.wakeAt = 0;
    this.timer = setTimeout(() => void this.tick(), 0);
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.wakeAt = undefined;
    if (this.closed) return;
    this.ticking = true;
    try {
      const now = this.clock();
      const liveness = {
        graceMs: this.graceMs,
        startedAt: this.startedAt,
        restartGraceMs: this.restartGraceMs,
        lostAt: (agentId: string) => this.lostAt.get(agentId),
      };
      const plan = nextActions(this.rt.active.values(), [...this.agents.values()], now, liveness, (step) => {
        const [runId, stepId] = step.split("/") as [string, string];
        return this.rt.hasOutcome(runId, stepId);
      });
      const done = plan.actions.map((a) => {
        const cmd: Command =
          a.type === "assign"
            ? { type: "AssignExecution", runId: a.runId, executionId: a.executionId, agentId: a.agentId }
            : a.type === "timeout"
              ? { type: "TimeOutExecution", runId: a.runId, executionId: a.executionId }
              : { type: "AbandonExecution", runId: a.runId, executionId: a.executionId, agentId: a.agentId, reason: a.reason, cause: a.cause };
        return this.rt.execute(cmd).catch((e: unknown) => this.options.onNotice?.(`scheduler: ${(e as Error).message}`));
      });
      await Promise.all(done);
      if (plan.wakeAt !== undefined && !this.closed) {
        this.wakeAt = plan.wakeAt;
        this.timer = setTimeout(() => void this.tick(), Math.max(1, plan.wakeAt - this.clock()));
      }
    } finally {
      this.ticking = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    }
  }

  /** Agents silent for three heartbeats are lost. */
  private checkHeartbeats(): void {
    const now = this.clock();
    for (const a of this.agents.values()) {
      if (now - a.lastSeen > this.options.heartbeatMs * 3) {
        a.conn.close("missed heartbeats");
        void this.disconnect(a.agentId, a.conn, "missed heartbeats");
      }
    }
    this.kick();
  }

  /** Connected agents, for the API. */
  /** Does a connected agent host `repository:target`? */
  hosts(target: string): boolean {
    for (const a of this.agents.values()) if (a.targets.has(target)) return true;
    return false;
  }

  connected(): { agentId: string; tags: AgentSlot["tags"]; concurrency: number; targets: string[]; running: number }[] {
    return [...this.agents.values()].map((a) => ({
      agentId: a.agentId,
      tags: a.tags,
      concurrency: a.concurrency,
      targets: [...a.targets].sort(),
      running: [...this.rt.active.values()].filter((x) => x.agentId === a.agentId).length,
    }));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    for (const a of this.agents.values()) a.conn.close("server shutting down");
    this.agents.clear();
  }
}

/** What agents and the API are told of an asset. */
export const assetRefOf = (env: string, doc: AssetDoc): AssetRef => ({
  assetId: doc.assetId,
  env,
  entries: (doc.persisted?.entries ?? []).map((e) => ({ path: e.path, size: e.size, sha256: e.sha256 })),
  ...(doc.persisted?.name === undefined ? {} : { name: doc.persisted.name }),
  ...(doc.persisted?.metadata === undefined ? {} : { metadata: doc.persisted.metadata }),
});
