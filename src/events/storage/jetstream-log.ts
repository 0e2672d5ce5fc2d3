/**
 * The JetStream `EventLog`: one NATS JetStream stream per environment.
 *
 * A commit is one message on `trib.<project>.<env>.run.<runId>` (or
 * `….env`), so its stream sequence is the commit's sequence and one run's
 * history is a subject-filtered read. Appends carry the commit id as the
 * message id (a retried publish within the stream's duplicate window returns
 * the original sequence) and, when fencing, the expected last sequence.
 * Reads and subscriptions use ordered consumers, which the client recreates
 * from the last delivered sequence after a gap or a reconnect.
 *
 * Every `@nats-io` error is translated here into the faults of `errors.ts`;
 * no vendor type crosses this file's exported API.
 */
import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  StorageType,
  jetstreamManager,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamPublishOptions,
  type JsMsg,
} from "@nats-io/jetstream";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { describeNatsError, natsAuth, type NatsAuthOptions } from "./nats-auth.js";
import { closeNats, hasNoResponders, messageOf } from "./nats.js";
import { JetStreamSubscription } from "./jetstream-subscription.js";
import { decodeCommit } from "../codec.js";
import {
  CorruptEvent,
  InvalidCommit,
  InvalidNameError,
  LogClosed,
  LogNotFound,
  LogUnavailable,
  WrongExpectedSequence,
} from "../errors.js";
import type { RunId } from "../ids.js";
import { prepareCommit } from "./prepare.js";
import {
  MAX_COMMIT_BYTES,
  commitOf,
  type AppendOptions,
  type Appended,
  type EventLog,
  type RawCommit,
  type RawReadOptions,
  type ReadOptions,
  type SubscribeOptions,
  type Subscription,
} from "../log.js";
import { describeLog, logRef, runSubject, streamName, streamSubjects, type LogRef } from "../subjects.js";
import type { Commit, Event } from "../types.js";

/** Where and how to connect (`servers`, `creds`: see {@link NatsAuthOptions}), and the rest. */
export interface JetStreamEventLogOptions extends NatsAuthOptions {
  /** Connection name shown by the server's monitoring. Default `tributary`. */
  readonly name?: string;
  /**
   * How long a retried append is recognised as a duplicate, in ms, for
   * streams this log creates. Default 2 minutes (the JetStream default).
   */
  readonly duplicateWindowMs?: number;
  /** Timeout of each JetStream request (append ack, stream info), in ms. Default 5 s. */
  readonly timeoutMs?: number;
}

/** Room left under the server's `max_payload` for the message-id and expected-sequence headers. */
const HEADER_ROOM = 1024;
/** Messages requested per pull: large enough for ~100k commits/s, small enough to bound memory. */
const PULL_BATCH = 1000;
const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
/** How long `close()` lets pending work drain before closing outright. */
const DRAIN_TIMEOUT_MS = 2_000;

/**
 * An {@link EventLog} on NATS JetStream (nats-server 2.9 or later).
 *
 * Durability is the server's: an acknowledged append survives a server
 * process crash (not a power loss on a single node; use replicated streams
 * for that). Deduplication of retried appends holds within the stream's
 * duplicate window (default 2 minutes); a retry later than that is stored
 * again, so retry promptly or fence with `expectedLastSeq`.
 *
 * @example
 * const log = await JetStreamEventLog.connect({ servers: "nats://127.0.0.1:4222" });
 * const ref = logRef("shop", "production");
 * await log.createEnv(ref);
 * const { seq } = await log.append(ref, events, { expectedLastSeq: 0 });
 * await log.close();
 */
export class JetStreamEventLog implements EventLog {
  readonly kind = "jetstream" as const;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #maxCommitBytes: number;
  readonly #duplicateWindowMs: number;
  #closing: Promise<void> | undefined;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, duplicateWindowMs: number) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jsm.jetstream();
    this.#duplicateWindowMs = duplicateWindowMs;
    // A commit must fit one message; a server may allow less than the port's limit.
    this.#maxCommitBytes = Math.min(MAX_COMMIT_BYTES, (nc.info?.max_payload ?? MAX_COMMIT_BYTES) - HEADER_ROOM);
  }

  /**
   * Connects to NATS and checks that JetStream is enabled.
   * @throws LogUnavailable when no server can be reached or JetStream is off.
   */
  static async connect(options: JetStreamEventLogOptions): Promise<JetStreamEventLog> {
    const auth = natsAuth(options);
    const servers = auth.display;
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...auth.options,
        name: options.name ?? "tributary",
        // A server process outlives NATS restarts: keep reconnecting, and let
        // each request time out meanwhile.
        maxReconnectAttempts: -1,
      });
    } catch (cause) {
      throw new LogUnavailable(describeNatsError(servers, cause, messageOf), { cause });
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: options.timeoutMs ?? 5_000 });
      return new JetStreamEventLog(nc, jsm, options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS);
    } catch (cause) {
      await nc.close().catch(() => undefined);
      throw new LogUnavailable(`JetStream is not available at ${String(servers)}: ${messageOf(cause)}`, { cause });
    }
  }

  async createEnv(ref: LogRef): Promise<void> {
    this.#checkOpen();
    const name = streamName(ref);
    try {
      if (await this.#streamExists(name)) return;
      await this.#jsm.streams.add({
        name,
        subjects: [streamSubjects(ref)],
        storage: StorageType.File,
        allow_direct: true,
        duplicate_window: nanos(this.#duplicateWindowMs),
        num_replicas: 1,
      });
    } catch (cause) {
      // Another process created it between our check and our add.
      if (cause instanceof JetStreamApiError && cause.code === STREAM_NAME_IN_USE) return;
      throw this.#translate(cause, ref, "create the log of");
    }
  }

  async deleteEnv(ref: LogRef): Promise<void> {
    this.#checkOpen();
    try {
      await this.#jsm.streams.delete(streamName(ref));
    } catch (cause) {
      if (isStreamNotFound(cause)) return;
      throw this.#translate(cause, ref, "delete the log of");
    }
  }

  async listEnvs(project?: string): Promise<LogRef[]> {
    this.#checkOpen();
    const out: LogRef[] = [];
    try {
      for await (const name of this.#jsm.streams.names()) {
        const m = /^TRIB_([^_]+)_([^_]+)$/.exec(name);
        if (!m || (project !== undefined && m[1] !== project)) continue;
        try {
          out.push(logRef(m[1]!, m[2]!));
        } catch {
          // a stream of someone else's that happens to match
        }
      }
    } catch (cause) {
      throw new LogUnavailable(`cannot list the streams: ${messageOf(cause)}`, { cause });
    }
    return out.sort((a, b) => describeLog(a).localeCompare(describeLog(b)));
  }

  async hasEnv(ref: LogRef): Promise<boolean> {
    this.#checkOpen();
    try {
      return await this.#streamExists(streamName(ref));
    } catch (cause) {
      throw this.#translate(cause, ref, "look up the log of");
    }
  }

  /**
   * Appends one commit. The message is handed to the connection before the
   * first `await`, so appends started one after the other without awaiting
   * are stored in call order.
   */
  async append(ref: LogRef, events: readonly Event[], options: AppendOptions = {}): Promise<Appended> {
    this.#checkOpen();
    const prepared = prepareCommit(ref, events, this.#maxCommitBytes);
    const expected = options.expectedLastSeq;
    const publish: Partial<JetStreamPublishOptions> =
      expected === undefined ? { msgID: prepared.id } : { msgID: prepared.id, expect: { lastSequence: expected } };
    try {
      const pa = await this.#js.publish(prepared.subject, prepared.bytes, publish);
      return { seq: pa.seq, duplicate: pa.duplicate };
    } catch (cause) {
      throw this.#translate(cause, ref, "append to", expected);
    }
  }

  async *read(ref: LogRef, options: ReadOptions = {}): AsyncIterable<Commit> {
    for await (const m of this.#messages(ref, options)) yield this.#commitOf(m);
  }

  async *readRaw(ref: LogRef, options: RawReadOptions = {}): AsyncIterable<RawCommit> {
    for await (const m of this.#messages(ref, options)) yield { seq: m.seq, bytes: new Uint8Array(m.data) };
  }

  /** The stored messages from `from` to `to`, undecoded. */
  async *#messages(ref: LogRef, options: ReadOptions): AsyncIterable<JsMsg> {
    this.#checkOpen();
    if (options.runId !== undefined) runSubject(ref, options.runId); // refuses an invalid id, even on an empty range
    const from = Math.max(1, options.from ?? 1);
    // Never past the end: a read stops at the last commit that existed when it started.
    const last = await this.lastSeq(ref);
    const to = Math.min(options.to ?? last, last);
    if (to < from) return;
    const consumer = await this.#orderedConsumer(ref, from, options.runId);
    let messages: ConsumerMessages | undefined;
    try {
      const pending = (await consumer.info(true)).num_pending;
      if (pending === 0) return;
      messages = await this.#consume(ref, consumer, Math.min(pending, PULL_BATCH));
      for await (const m of messages) {
        if (m.seq > to) return;
        yield m;
        if (m.seq >= to) return;
        // `pending` counts the matching messages stored after this one; on a
        // run's subject the last match can come before `to`. (On the whole
        // stream every sequence up to `to` exists, so only `to` ends the read:
        // a pending count seen across a consumer reset must not cut it short.)
        if (options.runId !== undefined && m.info.pending === 0) return;
      }
      // The feed only ends by itself when the connection closed under us: a
      // read that stops short must not look complete.
      if (this.#closing) throw new LogClosed();
      throw new LogUnavailable(`the read of ${describeLog(ref)} ended before sequence ${to}: the connection closed`);
    } catch (cause) {
      throw this.#translate(cause, ref, "read the log of");
    } finally {
      messages?.stop();
      void consumer.delete().catch(() => undefined);
    }
  }

  subscribe(ref: LogRef, options: SubscribeOptions = {}): Subscription {
    if (options.runId !== undefined) runSubject(ref, options.runId); // refuses an invalid id at once
    return new JetStreamSubscription(
      () => this.#orderedConsumer(ref, Math.max(1, options.from ?? 1), options.runId),
      (consumer) => this.#consume(ref, consumer, PULL_BATCH),
      (m) => this.#commitOf(m),
      (cause) => this.#translate(cause, ref, "subscribe to the log of"),
    );
  }

  async lastSeq(ref: LogRef): Promise<number> {
    this.#checkOpen();
    try {
      return (await this.#jsm.streams.info(streamName(ref))).state.last_seq;
    } catch (cause) {
      throw this.#translate(cause, ref, "read the last sequence of");
    }
  }

  /** Drains the connection (pending appends are flushed) and closes it. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= closeNats(this.#nc, DRAIN_TIMEOUT_MS);
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing || this.#nc.isClosed()) throw new LogClosed();
  }

  async #streamExists(name: string): Promise<boolean> {
    try {
      await this.#jsm.streams.info(name);
      return true;
    } catch (cause) {
      if (isStreamNotFound(cause)) return false;
      throw cause;
    }
  }

  /** An ordered consumer from `from`, on one run's subject or the whole stream. */
  async #orderedConsumer(ref: LogRef, from: number, runId: RunId | undefined): Promise<Consumer> {
    this.#checkOpen();
    const filter = runId === undefined ? streamSubjects(ref) : runSubject(ref, runId);
    try {
      return await this.#js.consumers.get(streamName(ref), {
        filter_subjects: filter,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: from,
      });
    } catch (cause) {
      throw this.#translate(cause, ref, "read the log of");
    }
  }

  /**
   * Starts pulling. The iterator asks for more only as it is consumed, so a
   * slow reader holds at most about `batch` messages in memory.
   */
  async #consume(ref: LogRef, consumer: Consumer, batch: number): Promise<ConsumerMessages> {
    const messages = await consumer.consume({ max_messages: batch });
    // The ordered consumer retries forever when its consumer disappears,
    // which outlives a server restart but would also wait silently on a
    // deleted log: end the feed with LogNotFound when the stream is gone.
    void (async () => {
      for await (const s of messages.status()) {
        if (s.type !== "stream_not_found" && s.type !== "consumer_deleted") continue;
        if (s.type === "consumer_deleted" && (await this.#streamExists(streamName(ref)).catch(() => true))) continue;
        messages.stop(new LogNotFound(describeLog(ref)));
        return;
      }
    })().catch(() => undefined);
    return messages;
  }

  #commitOf(m: JsMsg): Commit {
    return commitOf(m.seq, m.subject, decodeCommit(m.data, m.seq));
  }

  /** Turns whatever a NATS call threw into one of the log's faults. */
  #translate(cause: unknown, ref: LogRef, doing: string, expected?: number): Error {
    if (isOwnFault(cause)) return cause;
    const log = describeLog(ref);
    if (cause instanceof JetStreamApiError) {
      if (cause.code === JetStreamApiCodes.StreamWrongLastSequence) {
        const actual = /(\d+)\s*$/.exec(cause.message)?.[1];
        return new WrongExpectedSequence(log, expected ?? -1, actual === undefined ? undefined : Number(actual));
      }
      if (cause.code === JetStreamApiCodes.StreamNotFound) return new LogNotFound(log);
    }
    // A publish that no stream captures has no responder: the stream is missing.
    if (doing === "append to" && hasNoResponders(cause)) return new LogNotFound(log);
    if (this.#closing || this.#nc.isClosed()) return new LogClosed();
    return new LogUnavailable(`cannot ${doing} ${log}: ${messageOf(cause)}`, { cause });
  }
}

/** JetStream API error: a stream with this name exists with another configuration. */
const STREAM_NAME_IN_USE = 10058;

const isStreamNotFound = (e: unknown): boolean =>
  e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound;

const isOwnFault = (e: unknown): e is Error =>
  e instanceof CorruptEvent ||
  e instanceof WrongExpectedSequence ||
  e instanceof InvalidNameError ||
  e instanceof InvalidCommit ||
  e instanceof LogNotFound ||
  e instanceof LogUnavailable ||
  e instanceof LogClosed;

