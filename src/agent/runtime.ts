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
import type { BlobRef, ErrorInfo, Value } from "../events/index.js";
import { encodeMessage, PROTOCOL_VERSION, type AgentMessage, type LogLevel, type RepositoryManifest, type ServerMessage } from "../protocol/messages.js";
import { AgentRefusedError, abortErrorInfo as abortInfo } from "./errors.js";
import { DEFAULT_DRAIN_MS, stoppingInfo, until } from "./drain.js";
import { Connection } from "./connection.js";
import { checkHelloSize, fitLog, fitResult, oversizeRequest } from "./frame-limits.js";
import { InFlight, numberedCall } from "./in-flight.js";
import { lostInfo, WorkerPool, type LostExecution, type WorkerSlot } from "./pool.js";
import type { AbortReason, ExecuteOrder, FromWorker } from "./worker-protocol.js";
import type { HostReply } from "./context.js";
import { credentialsOf, normaliseTags, validateAgentOptions, type Agent, type AgentLogEntry, type AgentOptions, type ValidAgentOptions } from "./runtime-options.js";
import { prepareWorkdirRoot, removeWorkdirOf, removeWorkdirRoot } from "./workdir.js";

export type { Agent, AgentLogEntry, AgentOptions } from "./runtime-options.js";

const MAX_BUFFERED_LOGS = 1000;
/** How long before a request or result the server could not act on is sent again. */
const RESEND_AFTER_MS = 1000;

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
 * @throws {AgentRefusedError} when the server refuses it (protocol version, ...; `status` 401 / 403: its token, not retried).
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
  readonly #inFlight = new InFlight();
  readonly #logs: AgentMessage[] = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #stopping = false;
  /** Set when the drain ended with executions left: they are aborted and reported as the agent's stopping. */
  #gaveBack: number | undefined;
  #started: { resolve(): void; reject(e: Error): void } | undefined;

  constructor(options: AgentOptions) {
    super();
    this.#o = validateAgentOptions(options);
    this.agentId = this.#o.agentId ?? "";
    this.#pool = new WorkerPool({
      size: this.#o.workers,
      data: {
        modules: [...this.#o.modules],
        cwd: this.#o.cwd,
        server: this.#o.server,
        project: this.#o.project,
        env: this.#o.env,
        ...credentialsOf(this.#o),
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
      ...credentialsOf(this.#o),
      hello: () => this.#hello(this.manifests, this.#alive()),
      onWelcome: (m) => this.#welcome(m.agentId, m.heartbeatMs),
      onRefused: (reason, status) => this.#refused(reason, status),
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
      checkHelloSize(this.#hello(this.manifests, []));
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

  async reload(): Promise<readonly RepositoryManifest[]> {
    if (this.#stopping) return this.manifests;
    this.manifests = await this.#pool.reload((m) => checkHelloSize(this.#hello(m, [])));
    this.#conn.send({ type: "manifests", manifests: this.manifests });
    return this.manifests;
  }

  /** The agent's hello (its size is checked at start and on a reload: the server would close the connection on one too large). */
  #hello(manifests: readonly RepositoryManifest[], running: string[]): Extract<AgentMessage, { type: "hello" }> {
    const id = this.agentId !== "" ? { agentId: this.agentId } : {};
    return { type: "hello", protocol: PROTOCOL_VERSION, project: this.#o.project, env: this.#o.env, ...id, tags: normaliseTags(this.#o.tags), concurrency: this.#o.concurrency, manifests, running };
  }

  running(): string[] {
    return [...this.#accepted.keys()];
  }

  waitConnected(): Promise<void> {
    return this.connected ? Promise.resolve() : new Promise((resolve) => this.once("connected", () => resolve()));
  }

  async stop(options: { readonly drainMs?: number; readonly abortLeft?: boolean } = {}): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const drainMs = options.drainMs ?? DEFAULT_DRAIN_MS;
    await until(() => this.#accepted.size === 0 || !this.connected, drainMs);
    if ((options.abortLeft ?? drainMs > 0) && this.#accepted.size > 0 && this.connected) {
      // Given back: aborted, and reported as the agent's stopping (see #report), for another agent to run.
      this.#gaveBack = drainMs;
      for (const id of [...this.#accepted.keys()]) this.#abort(id, "abandoned");
      await until(() => this.#accepted.size === 0 || !this.connected, this.#o.abortGraceMs + 500);
    }
    await until(() => this.#inFlight.unacknowledged === 0 || !this.connected, this.#gaveBack !== undefined ? 1000 : Math.min(drainMs, 1000));
    clearInterval(this.#heartbeat);
    await this.#conn.close();
    await this.#pool.stop();
    // What still ran was abandoned with its worker: its working directories go too.
    if (!this.#o.keepWorkdirs) await Promise.all(this.running().map((id) => removeWorkdirOf(this.#o.workdirRoot, id, (m) => this.#diag("warn", m))));
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
    for (const m of this.#inFlight.results()) this.#conn.send(m);
    for (const r of this.#inFlight.requests()) this.#conn.send(r.message);
    for (const m of this.#logs.splice(0)) this.#conn.send(m);
    if (this.#started !== undefined) {
      this.#started.resolve();
      this.#started = undefined;
    }
    this.emit("connected", agentId);
  }

  /** Refused at start: `startAgent` rejects. Later, credentials refused (401, 403) stop the agent, then "refused"; a `refused` frame is retried. */
  #refused(reason: string, status?: 401 | 403): void {
    const refusal = new AgentRefusedError(reason, status);
    if (this.#started !== undefined) {
      this.#started.reject(refusal);
      this.#started = undefined;
    } else if (status !== undefined) {
      this.#diag("error", `${refusal.message}: stopping`);
      void this.stop({ drainMs: 0 }).then(() => this.emit("refused", refusal));
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
      case "checkpoint":
        return this.#reply(m.requestId, { type: "checkpoint", found: m.found, value: m.value, ...(m.valueBlob === undefined ? {} : { valueBlob: m.valueBlob }) });
      case "suspended":
        return this.#reply(m.requestId, { type: "suspended" });
      case "answered":
        return this.#reply(m.requestId, { type: "answered", value: m.value });
      case "ack": {
        if (this.#inFlight.resultOf(m.requestId) !== undefined) return this.#inFlight.dropResult(m.requestId);
        return this.#reply(m.requestId, { type: "ack" });
      }
      case "error": {
        if (m.retry === true && m.requestId !== undefined) return this.#sendAgain(m.requestId, m.message);
        if (m.requestId !== undefined && this.#inFlight.request(m.requestId)) return this.#reply(m.requestId, undefined, m.message);
        const refusedResult = m.requestId === undefined ? undefined : this.#inFlight.resultOf(m.requestId);
        if (m.requestId !== undefined && refusedResult !== undefined) {
          // The server has seen the result and will not record it: sending it again would not help.
          this.#inFlight.dropResult(m.requestId);
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
    const done = this.#inFlight.result(executionId);
    if (done !== undefined) {
      this.#conn.send(done);
      return;
    }
    if (this.#stopping) {
      this.#report({ type: "failed", executionId, error: stoppingInfo() });
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
    const r = this.#inFlight.request(requestId);
    if (r === undefined) return;
    this.#inFlight.forget(requestId);
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
        this.#inFlight.endCalls(m.executionId);
        this.#pool.finished(m.executionId);
        // Its code is done: what it still waits for is dropped; its calls still go, so that their steps are made.
        this.#inFlight.forgetOf(m.executionId, (r) => r.message.type !== "submit");
        this.#report(
          m.t === "succeeded"
            ? { type: "succeeded", executionId: m.executionId, value: m.value, ...(m.valueBlob === undefined ? {} : { valueBlob: m.valueBlob }) }
            : { type: "failed", executionId: m.executionId, error: m.error },
        );
        this.#pump();
        return;
      case "request": {
        const requestId = this.#inFlight.newRequestId();
        // Calls are numbered per execution, in the order the code made them (one worker runs it, in order).
        const call = numberedCall(m.request) ? { call: this.#inFlight.nextCall(m.executionId) } : {};
        const message = { ...m.request, ...call, requestId, executionId: m.executionId } as AgentMessage;
        // A frame over the limit would break the connection (and be re-sent after each reconnect): refused here.
        const bytes = encodeMessage(message);
        const oversize = oversizeRequest(m.request.type, bytes.length);
        if (oversize !== undefined) return this.#pool.send(slot, slot.worker, { t: "replyError", id: m.id, message: oversize });
        this.#inFlight.addRequest(requestId, { slot, worker: slot.worker, id: m.id, message });
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
      case "report": // progress and metrics, throttled by the worker; kept (as log lines are) while disconnected
        if (this.#accepted.has(m.message.executionId) && !this.#conn.send(m.message)) this.#logs.push(m.message);
        return;
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
      const message = this.#inFlight.message(requestId);
      if (message) this.#conn.send(message);
    }, RESEND_AFTER_MS).unref();
  }

  /**
   * Executions the server must not give up on: those running or queued here,
   * and those whose result waits for the server's acknowledgement.
   */
  #alive(): string[] {
    return [...new Set([...this.#accepted.keys(), ...this.#inFlight.resultExecutions()])];
  }

  #lost(lost: readonly LostExecution[], why: string): void {
    this.#diag("warn", why);
    for (const l of lost) {
      this.#inFlight.endCalls(l.executionId);
      if (!this.#o.keepWorkdirs) void removeWorkdirOf(this.#o.workdirRoot, l.executionId, (m) => this.#diag("warn", m));
      if (!this.#accepted.delete(l.executionId)) continue;
      this.#report({ type: "failed", executionId: l.executionId, error: lostInfo(l, why) });
    }
    this.#inFlight.forgetWhere((r) => r.slot.worker !== r.worker);
    this.#pump();
  }

  /** Keeps a result until the server acknowledges it, and sends it if connected. */
  #report(m: { type: "succeeded"; executionId: string; value: Value; valueBlob?: BlobRef } | { type: "failed"; executionId: string; error: ErrorInfo }): void {
    const requestId = this.#inFlight.newRequestId();
    if (this.#gaveBack !== undefined && m.type === "failed") m = { ...m, error: stoppingInfo(this.#gaveBack) };
    const { message, bytes } = fitResult({ ...m, requestId });
    this.#inFlight.keepResult(message);
    this.#conn.send(message, bytes);
    this.emit("settled", m.executionId, message);
  }

  #diag(level: LogLevel, message: string): void {
    const entry: AgentLogEntry = { source: "agent", level, message, at: Date.now() };
    if (this.#o.onLog !== undefined) this.#o.onLog(entry);
    else if (level === "warn" || level === "error") process.stderr.write(`tributary agent: ${level}: ${message}\n`);
  }
}

