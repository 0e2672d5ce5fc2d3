/**
 * The agent runtime: loads repositories into a pool of worker threads,
 * registers them with the server, runs the executions the server sends, and
 * relays what task code asks of the server.
 *
 * Results are kept until the server acknowledges them (`ack` of the result's
 * `requestId`) and re-sent after a reconnection; requests of task code still
 * unanswered are re-sent too, with the same request ids.
 */
import { EventEmitter } from "node:events";
import type { Worker } from "node:worker_threads";
import type { BlobRef, ErrorInfo, Value } from "../events/index.js";
import { encodeMessage, frameBytes, MAX_FRAME_BYTES, PROTOCOL_VERSION, type AgentMessage, type LogLevel, type RepositoryManifest, type ServerMessage } from "../protocol/messages.js";
import { AgentRefusedError, abortErrorInfo as abortInfo } from "./errors.js";
import { Connection } from "./connection.js";
import { WorkerPool, type LostExecution, type WorkerSlot } from "./pool.js";
import type { AbortReason, ExecuteOrder, FromWorker } from "./worker-protocol.js";
import type { HostReply } from "./context.js";
import { normaliseTags, validateAgentOptions, type AgentLogEntry, type AgentOptions, type ValidAgentOptions } from "./runtime-options.js";
import { prepareWorkdirRoot, removeWorkdir, removeWorkdirRoot, workdirOf } from "./workdir.js";

export type { AgentLogEntry, AgentOptions } from "./runtime-options.js";

/** A running agent. Events: `connected` (agentId), `disconnected` (code, reason), `settled` (executionId, message). */
export interface Agent extends EventEmitter {
  /** The id the server gave (after each welcome). */
  readonly agentId: string;
  readonly connected: boolean;
  readonly manifests: readonly RepositoryManifest[];
  /** Executions accepted and not finished (running or queued). */
  running(): string[];
  /** Resolves when the agent is connected (at once if it is). */
  waitConnected(): Promise<void>;
  /**
   * Stops gracefully: new executions are declined (failed, retryable), the
   * running ones have `drainMs` (default 5000) to finish, the server has up
   * to a second more to acknowledge the results, then the socket closes and
   * the workers stop (what still runs then is abandoned, for the server to
   * retry).
   */
  stop(options?: { readonly drainMs?: number }): Promise<void>;
}

const MAX_BUFFERED_LOGS = 1000;
/** How long before a request or result the server could not act on is sent again. */
const RESEND_AFTER_MS = 1000;
const lostInfo = (l: LostExecution, why: string): ErrorInfo =>
  l.abortReason !== undefined
    ? abortInfo(l.abortReason)
    : { type: "WorkerRestarted", message: `the worker running the execution went away: ${why}`, retryable: true };

/**
 * Starts an agent: loads the modules in `workers` worker threads, connects
 * to the server and registers the repositories' manifests.
 *
 * @example
 * const agent = await startAgent({ server: "http://127.0.0.1:7777", modules: ["examples/orders.ts"] });
 * process.on("SIGTERM", () => void agent.stop());
 *
 * @returns once the server has welcomed the agent; while the server cannot
 *   be reached it keeps trying (backoff up to 2 s).
 * @throws {AgentRefusedError} when the server refuses it (protocol version, ...).
 * @throws an error naming the module when a module fails to load.
 */
export const startAgent = async (options: AgentOptions): Promise<Agent> => {
  const agent = new AgentRuntime(options);
  await agent.start();
  return agent;
};

class AgentRuntime extends EventEmitter implements Agent {
  agentId = "";
  manifests: readonly RepositoryManifest[] = [];
  readonly #o: ValidAgentOptions;
  readonly #pool: WorkerPool;
  readonly #conn: Connection;
  readonly #accepted = new Map<string, ExecuteOrder>();
  readonly #queue: ExecuteOrder[] = [];
  readonly #results = new Map<string, Extract<AgentMessage, { type: "succeeded" | "failed" }>>();
  readonly #resultRequests = new Map<number, string>();
  readonly #requests = new Map<number, { slot: WorkerSlot; worker: Worker; id: number; message: AgentMessage }>();
  /** The ids of the requests in `#requests` of each execution (a fan-out holds thousands: no scan per finished execution). */
  readonly #requestsOf = new Map<string, Set<number>>();
  readonly #logs: AgentMessage[] = [];
  /** Calls made so far by each execution running here. */
  readonly #calls = new Map<string, number>();
  #nextRequestId = 1;
  #heartbeat: NodeJS.Timeout | undefined;
  #stopping = false;
  #started: { resolve(): void; reject(e: Error): void } | undefined;

  constructor(options: AgentOptions) {
    super();
    this.#o = validateAgentOptions(options);
    this.#pool = new WorkerPool({
      size: this.#o.workers,
      data: {
        modules: [...this.#o.modules],
        cwd: this.#o.cwd,
        server: this.#o.server,
        workdirRoot: this.#o.workdirRoot,
        keepWorkdirs: this.#o.keepWorkdirs,
        maxAssetBytes: this.#o.maxAssetBytes,
      },
      abortGraceMs: this.#o.abortGraceMs,
      onMessage: (slot, m) => this.#fromWorker(slot, m),
      onLost: (lost, why) => this.#lost(lost, why),
      onReady: () => this.#pump(),
      diagnostic: (level, message) => this.#diag(level, message),
    });
    this.#conn = new Connection({
      server: this.#o.server,
      hello: () => ({
        type: "hello",
        protocol: PROTOCOL_VERSION,
        project: this.#o.project,
        env: this.#o.env,
        ...(this.agentId !== "" ? { agentId: this.agentId } : {}),
        tags: normaliseTags(this.#o.tags),
        concurrency: this.#o.concurrency,
        manifests: this.manifests,
        running: this.#alive(),
      }),
      onWelcome: (m) => this.#welcome(m.agentId, m.heartbeatMs),
      onRefused: (reason) => this.#refused(reason),
      onMessage: (m) => this.#fromServer(m),
      onClose: (code, reason) => {
        clearInterval(this.#heartbeat);
        this.emit("disconnected", code, reason);
      },
      diagnostic: (level, message) => this.#diag(level, message),
    });
  }

  get connected(): boolean {
    return this.#conn.open;
  }

  async start(): Promise<void> {
    try {
      await prepareWorkdirRoot(this.#o.workdirRoot);
      this.manifests = await this.#pool.start();
      // The server would close the connection on a hello over the frame limit, at every reconnection.
      const hello = frameBytes({ type: "hello", protocol: PROTOCOL_VERSION, project: this.#o.project, env: this.#o.env, tags: normaliseTags(this.#o.tags), concurrency: this.#o.concurrency, manifests: this.manifests, running: [] });
      if (hello > MAX_FRAME_BYTES / 2) {
        throw new Error(`the manifests of the agent's modules are ${hello} bytes encoded, too many for the server's frame limit (${MAX_FRAME_BYTES}): split the modules over several agents`);
      }
      await new Promise<void>((resolve, reject) => {
        this.#started = { resolve, reject };
        this.#conn.connect();
      });
    } catch (err) {
      this.#stopping = true;
      await Promise.all([this.#conn.close(), this.#pool.stop()]);
      throw err;
    }
  }

  running(): string[] {
    return [...this.#accepted.keys()];
  }

  waitConnected(): Promise<void> {
    return this.connected ? Promise.resolve() : new Promise((resolve) => this.once("connected", () => resolve()));
  }

  async stop(options: { readonly drainMs?: number } = {}): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const drainMs = options.drainMs ?? 5000;
    const deadline = Date.now() + drainMs;
    while (this.#accepted.size > 0 && Date.now() < deadline && this.connected) await sleep(20);
    const ackDeadline = Date.now() + Math.min(drainMs, 1000);
    while (this.#results.size > 0 && Date.now() < ackDeadline && this.connected) await sleep(20);
    clearInterval(this.#heartbeat);
    await this.#conn.close();
    await this.#pool.stop();
    // What still ran was abandoned with its worker: its working directories go too.
    if (!this.#o.keepWorkdirs) await Promise.all(this.running().map((id) => this.#removeWorkdir(id)));
    await removeWorkdirRoot(this.#o.workdirRoot);
  }

  // -------------------------------------------------------------------------
  // server → agent

  #welcome(agentId: string, heartbeatMs: number): void {
    this.agentId = agentId;
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => this.#conn.send({ type: "heartbeat", running: this.#alive() }), this.#o.heartbeatMs ?? heartbeatMs);
    this.#heartbeat.unref();
    // Whatever the previous connection may have lost: results, requests, then logs.
    for (const m of this.#results.values()) this.#conn.send(m);
    for (const r of this.#requests.values()) this.#conn.send(r.message);
    for (const m of this.#logs.splice(0)) this.#conn.send(m);
    if (this.#started !== undefined) {
      this.#started.resolve();
      this.#started = undefined;
    }
    this.emit("connected", agentId);
  }

  #refused(reason: string): void {
    if (this.#started !== undefined) {
      this.#started.reject(new AgentRefusedError(reason));
      this.#started = undefined;
    } else this.#diag("error", `the server refused the agent: ${reason}; retrying`);
  }

  #fromServer(m: Exclude<ServerMessage, { type: "welcome" | "refused" }>): void {
    switch (m.type) {
      case "execute":
        return this.#execute({
          executionId: m.executionId,
          runId: m.runId,
          stepId: m.stepId,
          attempt: m.attempt,
          target: { repository: m.target.repository, target: m.target.target },
          arguments: m.arguments,
          ...(m.argumentsBlob === undefined ? {} : { argumentsBlob: m.argumentsBlob }),
        });
      case "abort":
        return this.#abort(m.executionId, m.reason);
      case "submitted":
        return this.#reply(m.requestId, { type: "submitted", handle: m.handle });
      case "resolved":
        return this.#reply(
          m.requestId,
          m.outcome === undefined ? { type: "resolved" } : { type: "resolved", outcome: m.outcome, ...(m.resultBlob === undefined ? {} : { resultBlob: m.resultBlob }) },
        );
      case "persisted":
      case "restored":
        return this.#reply(m.requestId, { type: m.type, asset: m.asset });
      case "ack": {
        const executionId = this.#resultRequests.get(m.requestId);
        if (executionId !== undefined) {
          this.#resultRequests.delete(m.requestId);
          this.#results.delete(executionId);
          return;
        }
        return this.#reply(m.requestId, { type: "ack" });
      }
      case "error": {
        if (m.retry === true && m.requestId !== undefined) return this.#sendAgain(m.requestId, m.message);
        if (m.requestId !== undefined && this.#requests.has(m.requestId)) return this.#reply(m.requestId, undefined, m.message);
        const refusedResult = m.requestId === undefined ? undefined : this.#resultRequests.get(m.requestId);
        if (m.requestId !== undefined && refusedResult !== undefined) {
          // The server has seen the result and will not record it: sending it again would not help.
          this.#resultRequests.delete(m.requestId);
          this.#results.delete(refusedResult);
          return this.#diag("warn", `the server refused the result of ${refusedResult}: ${m.message}`);
        }
        return this.#diag("warn", `the server reported an error${m.requestId !== undefined ? ` (request ${m.requestId})` : ""}: ${m.message}`);
      }
      default: {
        const never: never = m;
        return this.#diag("warn", `ignored a server message: ${JSON.stringify(never)}`);
      }
    }
  }

  #execute(order: ExecuteOrder): void {
    const { executionId } = order;
    if (this.#accepted.has(executionId)) return;
    const done = this.#results.get(executionId);
    if (done !== undefined) {
      this.#conn.send(done);
      return;
    }
    if (this.#stopping) {
      this.#report({ type: "failed", executionId, error: { type: "AgentStopping", message: "the agent is stopping", retryable: true } });
      return;
    }
    this.#accepted.set(executionId, order);
    this.#queue.push(order);
    this.#pump();
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#pool.busy < this.#o.concurrency) {
      const next = this.#queue[0];
      if (next === undefined || !this.#pool.dispatch(next)) return;
      this.#queue.shift();
    }
  }

  #abort(executionId: string, reason: AbortReason): void {
    const queued = this.#queue.findIndex((o) => o.executionId === executionId);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      this.#accepted.delete(executionId);
      this.#report({ type: "failed", executionId, error: abortInfo(reason) });
    } else this.#pool.abort(executionId, reason);
  }

  #reply(requestId: number, reply: HostReply | undefined, error?: string): void {
    const r = this.#requests.get(requestId);
    if (r === undefined) return;
    this.#forget(requestId, r.message);
    this.#pool.send(r.slot, r.worker, reply !== undefined ? { t: "reply", id: r.id, reply } : { t: "replyError", id: r.id, message: error ?? "error" });
  }

  // -------------------------------------------------------------------------
  // worker → agent

  #fromWorker(slot: WorkerSlot, m: FromWorker): void {
    switch (m.t) {
      case "started":
        if (this.#accepted.has(m.executionId)) this.#conn.send({ type: "started", executionId: m.executionId });
        return;
      case "succeeded":
      case "failed":
        if (!this.#accepted.has(m.executionId)) return;
        this.#accepted.delete(m.executionId);
        this.#calls.delete(m.executionId);
        this.#pool.finished(m.executionId);
        // Its code is done: what it still waits for is dropped; its calls still go, so that their steps are made.
        for (const id of [...(this.#requestsOf.get(m.executionId) ?? [])]) {
          const r = this.#requests.get(id);
          if (r && r.message.type !== "submit") this.#forget(id, r.message);
        }
        this.#report(
          m.t === "succeeded"
            ? { type: "succeeded", executionId: m.executionId, value: m.value, ...(m.valueBlob === undefined ? {} : { valueBlob: m.valueBlob }) }
            : { type: "failed", executionId: m.executionId, error: m.error },
        );
        this.#pump();
        return;
      case "request": {
        const requestId = this.#nextRequestId++;
        // Calls are numbered per execution, in the order the code made them (one worker runs it, in order).
        const call = m.request.type === "submit" ? { call: this.#callCount(m.executionId) } : {};
        const message = { ...m.request, ...call, requestId, executionId: m.executionId } as AgentMessage;
        // A frame over the limit would break the connection (and be re-sent after each reconnect): refused here.
        const bytes = encodeMessage(message);
        const size = bytes.length;
        if (size > MAX_FRAME_BYTES) {
          const hint = m.request.type === "submit" ? "arguments" : m.request.type === "persist" ? "metadata" : "request";
          this.#pool.send(slot, slot.worker, {
            t: "replyError",
            id: m.id,
            message: `the ${m.request.type} request is ${size} bytes encoded, over the frame limit of ${MAX_FRAME_BYTES} bytes: make its ${hint} smaller, or persist large data as an asset`,
          });
          return;
        }
        this.#requests.set(requestId, { slot, worker: slot.worker, id: m.id, message });
        const mine = this.#requestsOf.get(m.executionId);
        if (mine) mine.add(requestId);
        else this.#requestsOf.set(m.executionId, new Set([requestId]));
        this.#conn.send(message, bytes);
        return;
      }
      case "log": {
        const message = fitLog({ type: "log", executionId: m.executionId, level: m.level, message: m.message, at: m.at, ...(m.fields ? { fields: m.fields } : {}) });
        this.#o.onLog?.({ source: "task", level: m.level, message: m.message, executionId: m.executionId, at: m.at, ...(m.fields ? { fields: m.fields } : {}) });
        if (!this.#conn.send(message)) {
          this.#logs.push(message);
          if (this.#logs.length > MAX_BUFFERED_LOGS) this.#logs.shift();
        }
        return;
      }
      case "diagnostic":
        return this.#diag(m.level, m.message);
      case "ready":
      case "loadFailed":
        return;
      default: {
        const never: never = m;
        return this.#diag("warn", `unknown worker message ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * The server could not act on a request or a result now: it is kept, and
   * sent again in a moment (and after any reconnect, as always).
   */
  #sendAgain(requestId: number, why: string): void {
    this.#diag("warn", `the server could not act on request ${requestId} now (${why}); sending it again`);
    setTimeout(() => {
      if (this.#stopping) return;
      const request = this.#requests.get(requestId)?.message;
      const executionId = this.#resultRequests.get(requestId);
      const result = executionId === undefined ? undefined : this.#results.get(executionId);
      const message = request ?? (result?.requestId === requestId ? result : undefined);
      if (message) this.#conn.send(message);
    }, RESEND_AFTER_MS).unref();
  }

  /** The number of the execution's next call. */
  #callCount(executionId: string): number {
    const n = (this.#calls.get(executionId) ?? 0) + 1;
    this.#calls.set(executionId, n);
    return n;
  }

  /**
   * Executions the server must not give up on: those running or queued here,
   * and those whose result waits for the server's acknowledgement.
   */
  #alive(): string[] {
    return [...new Set([...this.#accepted.keys(), ...this.#results.keys()])];
  }

  #lost(lost: readonly LostExecution[], why: string): void {
    this.#diag("warn", why);
    for (const l of lost) {
      this.#calls.delete(l.executionId);
      if (!this.#o.keepWorkdirs) void this.#removeWorkdir(l.executionId);
      if (!this.#accepted.delete(l.executionId)) continue;
      this.#report({ type: "failed", executionId: l.executionId, error: lostInfo(l, why) });
    }
    this.#dropRequests((r) => r.slot.worker !== r.worker);
    this.#pump();
  }

  /** Keeps a result until the server acknowledges it, and sends it if connected. */
  #report(m: { type: "succeeded"; executionId: string; value: Value; valueBlob?: BlobRef } | { type: "failed"; executionId: string; error: ErrorInfo }): void {
    const requestId = this.#nextRequestId++;
    let message: Extract<AgentMessage, { type: "succeeded" | "failed" }> = { ...m, requestId };
    let bytes: Uint8Array | undefined = encodeMessage(message);
    // A frame over the limit would close the connection, and be re-sent after every reconnect.
    if (bytes.length > MAX_FRAME_BYTES - 1024) {
      bytes = undefined;
      const error: ErrorInfo = {
        type: "ResultTooLarge",
        message: `the result of ${m.executionId} is over ${MAX_FRAME_BYTES} bytes encoded: persist large data as an asset and return the asset`,
        retryable: false,
      };
      message = { type: "failed", executionId: m.executionId, error, requestId };
    }
    this.#results.set(m.executionId, message);
    this.#resultRequests.set(requestId, m.executionId);
    this.#conn.send(message, bytes);
    this.emit("settled", m.executionId, message);
  }

  #dropRequests(which: (r: { slot: WorkerSlot; worker: Worker; message: AgentMessage }) => boolean): void {
    for (const [id, r] of this.#requests) if (which(r)) this.#forget(id, r.message);
  }

  /** Drops a request (answered, or no longer wanted). */
  #forget(requestId: number, message: AgentMessage): void {
    this.#requests.delete(requestId);
    const executionId = "executionId" in message ? message.executionId : undefined;
    const mine = executionId === undefined ? undefined : this.#requestsOf.get(executionId);
    if (!mine) return;
    mine.delete(requestId);
    if (mine.size === 0) this.#requestsOf.delete(executionId!);
  }

  /** Removes the working directory of an execution whose worker went away. */
  async #removeWorkdir(executionId: string): Promise<void> {
    const dir = workdirOf(this.#o.workdirRoot, executionId);
    await removeWorkdir(dir).catch((err: unknown) => this.#diag("warn", `could not remove the working directory ${dir}: ${(err as Error).message}`));
  }

  #diag(level: LogLevel, message: string): void {
    const entry: AgentLogEntry = { source: "agent", level, message, at: Date.now() };
    if (this.#o.onLog !== undefined) this.#o.onLog(entry);
    else if (level === "warn" || level === "error") process.stderr.write(`tributary agent: ${level}: ${message}\n`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Log lines longer than this are cut (with a note saying how long they were); fields that do not fit are dropped. */
const MAX_LOG_CHARS = 1_000_000;

/** A log line that fits in a frame: an over-long message is cut, fields too large are replaced by a note. */
const fitLog = (m: Extract<AgentMessage, { type: "log" }>): Extract<AgentMessage, { type: "log" }> => {
  let out = m;
  if (m.message.length > MAX_LOG_CHARS) {
    out = { ...out, message: `${m.message.slice(0, MAX_LOG_CHARS)} … [cut: the line was ${m.message.length} characters, over the limit of ${MAX_LOG_CHARS}]` };
  }
  if (out.fields !== undefined && frameBytes(out) > MAX_FRAME_BYTES - 1024) {
    out = { ...out, fields: { note: `fields dropped: over the frame limit of ${MAX_FRAME_BYTES} bytes` } };
  }
  return out;
};
