/**
 * The Tributary server: an HTTP API for the CLI (and scripts), and a
 * WebSocket endpoint for agents, in front of one orchestrator per
 * environment. This module puts it together: it takes the data directory's
 * lock, opens the log and the blob store (embedded, or NATS with `nats`),
 * starts every environment, listens, and stops. The API's edge is `api.ts`
 * with one handler file per resource under `routes/`; agents' sockets are
 * `agent-socket.ts`. See docs/api.md.
 */
import { isIP } from "node:net";
import { createServer, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { CorruptEvent, isReservedProject, SERVER_LOG, type EventLog } from "../../events/index.js";
import { EmbeddedEventLog, JetStreamEventLog } from "../../events/storage/index.js";
import type { BlobStore } from "../../events/storage/blob-store.js";
import { FsBlobStore } from "../../events/storage/blob-store-fs.js";
import { NatsBlobStore } from "../../events/storage/blob-store-nats.js";
import { Access } from "../auth/access.js";
import { ADMIN_TOKEN_FILE, adminCredential, type AdminCredential } from "../auth/admin.js";
import { DataDirLock } from "../data-lock.js";
import { Environments, type Env } from "../environments.js";
import { AgentSockets } from "./agent-socket.js";
import { answerClientError, handleRequest } from "./api.js";
import { DEFAULT_STUDIO_DIR, StudioFiles } from "./studio.js";

export interface ServerOptions {
  /** Data directory: embedded log, projections, task logs. Default `./.tributary`. */
  readonly dataDir?: string;
  /** NATS server URL(s): use JetStream for the event log instead of the embedded one. */
  readonly nats?: string;
  /** HTTP port; 0 picks a free one. Default 7777. */
  readonly port?: number;
  /**
   * Default 127.0.0.1. Without `auth`, an address other than a loopback one
   * is refused unless `insecure` is set.
   */
  readonly host?: string;
  /** Listen on a non-loopback `host` without `auth`, although anyone who reaches it may do anything (warned on every start). */
  readonly insecure?: boolean;
  /**
   * Check a credential on every request but `/api/health` and on every
   * agent connection (docs/security.md). The admin credential is
   * `adminToken`, else `TRIBUTARY_ADMIN_TOKEN`, else the text of
   * `<dataDir>/admin-token`, made (mode 0600) and said once on the first start.
   */
  readonly auth?: boolean;
  /** The bootstrap admin credential's text (at least 24 printable characters), with `auth`. */
  readonly adminToken?: string;
  /** Largest blob (one file of an asset), bytes. Default 8 GiB. */
  readonly maxBlobBytes?: number;
  /** Largest asset (all its files), bytes. Default 8 GiB. */
  readonly maxAssetBytes?: number;
  /** The project whose `production` environment exists from the start. Default `default`. */
  readonly defaultProject?: string;
  /** Heartbeat interval asked of agents, ms. Default 2,000. */
  readonly heartbeatMs?: number;
  /** A pool's agent stops after this long with nothing to run, ms. Default 30,000. */
  readonly poolIdleExitMs?: number;
  /**
   * How long agents have, after the server starts, to connect again before
   * the executions they ran are abandoned, ms. Default: the agents' reconnect
   * backoff cap (2 s) plus two heartbeats.
   */
  readonly restartGraceMs?: number;
  readonly onNotice?: (message: string) => void;
  /**
   * Serve HTTPS and WSS (same port) with this certificate chain and private
   * key, PEM (the contents, not paths). Absent: plain HTTP and WS.
   */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Where Studio's built files are (index.html, assets/), served at `/`. Default: the package's dist/studio/. */
  readonly studioDir?: string;
  /** NATS credentials for `nats`: the text of a `.creds` file (user JWT and NKey seed). User and password go in the URL. */
  readonly natsCreds?: string | Uint8Array;
}

export const DEFAULT_PROJECT = "default";
export const DEFAULT_ENV = "production";
const DEFAULT_MAX_BYTES = 8 * 1024 ** 3;

export class TributaryServer {
  private readonly envs: Environments;
  private readonly http: HttpServer | HttpsServer;
  private readonly agents: AgentSockets;
  private readonly notice: (m: string) => void;
  readonly dataDir: string;
  /** Serving HTTPS and WSS. */
  readonly tls: boolean;
  private closed: Promise<void> | undefined;
  /** Aborted when the server starts closing. */
  private readonly stopping = new AbortController();

  private constructor(
    readonly log: EventLog,
    readonly blobs: BlobStore,
    /** Tokens, and with `auth` the check of every caller. */
    readonly access: Access,
    options: ServerOptions,
    /** The data directory's lock, released by `close` (or, on a hard exit, by `lock.release()`). */
    readonly lock: DataDirLock,
  ) {
    this.dataDir = options.dataDir ?? ".tributary";
    this.notice = options.onNotice ?? ((m) => console.error(m));
    this.envs = new Environments({
      log,
      dataDir: this.dataDir,
      heartbeatMs: options.heartbeatMs ?? 2000,
      ...(options.restartGraceMs === undefined ? {} : { restartGraceMs: options.restartGraceMs }),
      onNotice: this.notice,
      blobs,
      maxAssetBytes: options.maxAssetBytes ?? DEFAULT_MAX_BYTES,
      pools: {
        url: () => (this.http.listening ? this.url : undefined),
        ...poolToken(options, this.dataDir),
        logRoot: join(this.dataDir, "pool-logs"),
        ...(options.poolIdleExitMs === undefined ? {} : { idleExitMs: options.poolIdleExitMs }),
      },
    });
    const studio = new StudioFiles(options.studioDir ?? DEFAULT_STUDIO_DIR, options.defaultProject ?? DEFAULT_PROJECT);
    const ctx = { log, blobs, envs: this.envs, access, stopping: this.stopping.signal, notice: this.notice, studio };
    const handler = (req: Parameters<typeof handleRequest>[1], res: Parameters<typeof handleRequest>[2]) => void handleRequest(ctx, req, res);
    this.http = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createServer(handler);
    this.tls = options.tls !== undefined;
    this.http.on("clientError", answerClientError);
    this.agents = new AgentSockets(this.http, {
      hostOf: async (project, env) => (await this.env(project, env)).scheduler,
      stopping: this.stopping.signal,
      notice: this.notice,
      access,
    });
  }

  /** Opens the log, starts every environment's orchestrator (resuming pending work), and listens. */
  static async start(options: ServerOptions = {}): Promise<TributaryServer> {
    const dataDir = options.dataDir ?? ".tributary";
    const host = options.host ?? "127.0.0.1";
    const say = options.onNotice ?? ((m: string) => console.error(m));
    if (!isLoopback(host)) {
      if (!options.auth && !options.insecure) throw new InsecureBind(host);
      if (!options.auth) {
        say(`warning: listening on ${host} with no authentication (--insecure): anyone who can reach it can register agents, submit and cancel runs, and read every blob`);
      } else if (!options.tls) {
        say(`warning: listening on ${host} without TLS: tokens travel in clear text; serve HTTPS with --tls-cert and --tls-key, or put a TLS proxy in front`);
      }
    }
    if (options.tls) checkTls(options.tls);
    // Before anything under the data directory is opened (with --nats too: projections and task logs live there).
    const lock = DataDirLock.acquire(dataDir);
    let log: EventLog | undefined;
    let blobs: BlobStore;
    let admin: AdminCredential | undefined;
    try {
      const given = options.adminToken ?? process.env["TRIBUTARY_ADMIN_TOKEN"];
      if (options.auth) {
        admin = adminCredential(dataDir, given, say);
        if ((statSync(dataDir).mode & 0o077) !== 0) say(`warning: ${dataDir} is readable by other users (the log, the blobs, the admin token): chmod 700 it`);
      } else if (given !== undefined) {
        say("warning: an admin token is given (TRIBUTARY_ADMIN_TOKEN) but not --auth: this server checks no credentials");
      }
    } catch (e) {
      lock.release();
      throw e;
    }
    try {
      const creds = options.natsCreds === undefined ? {} : { creds: options.natsCreds };
      log = options.nats ? await JetStreamEventLog.connect({ servers: options.nats, ...creds }) : new EmbeddedEventLog({ dir: join(dataDir, "log") });
      const maxBlobBytes = options.maxBlobBytes ?? DEFAULT_MAX_BYTES;
      blobs = options.nats
        ? await NatsBlobStore.connect({ servers: options.nats, maxBlobBytes, ...creds })
        : new FsBlobStore({ dir: join(dataDir, "blobs"), maxBlobBytes });
    } catch (e) {
      await log?.close().catch(() => undefined);
      lock.release();
      throw e;
    }
    let access: Access;
    try {
      access = await Access.open({ log, storePath: join(dataDir, "projections", SERVER_LOG.project, SERVER_LOG.env), onNotice: say, ...(admin ? { adminHash: admin.hash } : {}) });
    } catch (e) {
      await blobs.close().catch(() => undefined);
      await log.close().catch(() => undefined);
      lock.release();
      throw e;
    }
    const server = new TributaryServer(log, blobs, access, options, lock);
    try {
      for (const ref of await log.listEnvs()) {
        if (isReservedProject(ref.project)) continue; // the server log: `access`
        try {
          await server.env(ref.project, ref.env);
        } catch (e) {
          if (!(e instanceof CorruptEvent)) throw e;
          const where = options.nats ? `--nats ${options.nats}` : `--data ${dataDir}`;
          throw new CorruptEvent(
            `${e.reason}. The log of ${ref.project}/${ref.env} does not decode, so the server cannot start: list every commit that fails with ` +
              `'tributary log verify --project ${ref.project} --env ${ref.env} ${where}', and restore the log from a backup`,
            e.seq,
            { cause: e },
          );
        }
      }
      await server.env(options.defaultProject ?? DEFAULT_PROJECT, DEFAULT_ENV, {});
      await new Promise<void>((resolve, reject) => {
        server.http.once("error", reject);
        server.http.listen(options.port ?? 7777, options.host ?? "127.0.0.1", () => resolve());
      });
    } catch (e) {
      await server.close();
      throw e;
    }
    return server;
  }

  /** `http://host:port`, or `https://host:port` with `tls` */
  get url(): string {
    const a = this.http.address();
    if (!a || typeof a === "string") throw new Error("the server is not listening");
    const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
    return `${this.tls ? "https" : "http"}://${host}:${a.port}`;
  }

  /** The orchestrator of an environment, started on first use. */
  env(project: string, env: string, create?: { base?: string }): Promise<Env> {
    return this.envs.get(project, env, create);
  }

  /**
   * Stops, in well under a second when nothing hangs: stops listening;
   * answers long polls (`result?wait=true`) with 503 and Retry-After and ends
   * log streams, so that clients retry; tells agents the server is going
   * away (close code 1001: they reconnect with backoff); lets the appends in
   * flight finish and flushes the projections; closes the log; releases the
   * data directory's lock.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    const stopped = new Promise<void>((r) => (this.http.listening ? this.http.close(() => r()) : r()));
    this.stopping.abort();
    this.agents.goingAway();
    try {
      await this.envs.close();
      this.http.closeIdleConnections();
      // Whatever is still open (an agent that does not answer the close, a slow request) is cut.
      const cut = setTimeout(() => {
        this.http.closeAllConnections();
        this.agents.terminate();
      }, 200);
      await stopped;
      clearTimeout(cut);
      this.agents.terminate();
      await this.access.close();
      await this.blobs.close();
      await this.log.close();
    } finally {
      this.lock.release();
    }
  }
}

/** Is `host` an address only this machine reaches (127.0.0.0/8, ::1, localhost)? */
export const isLoopback = (host: string): boolean => {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  return h.startsWith("::ffff:127.");
};

/** Listening beyond this machine with nobody checked is refused unless asked for. */
export class InsecureBind extends Error {
  override readonly name = "InsecureBind";
  constructor(readonly host: string) {
    super(
      `refusing to listen on ${host} with no authentication: anyone who can reach it could register agents, submit and cancel runs, ` +
        `and read every blob. Give --auth to check a token on every request, or listen on 127.0.0.1 (the default), or give --insecure to do it anyway`,
    );
  }
}

/** `tls` has a certificate and key that Node's TLS accepts together. @throws TypeError saying what is wrong. */
const checkTls = (tls: NonNullable<ServerOptions["tls"]>): void => {
  if (!tls.cert || !tls.key) throw new TypeError(`tls: give both cert and key (PEM text); ${tls.cert ? "key" : "cert"} is missing`);
  try {
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (e) {
    throw new TypeError(`tls: the certificate and key cannot be used: ${(e as Error).message}`, { cause: e });
  }
};

/**
 * The token a server with `auth` gives its pools' agents: its admin token
 * (given, or the data directory's file). A dedicated agent token per pool
 * would be narrower; the agents run on this machine, as this user, already.
 */
const poolToken = (options: ServerOptions, dataDir: string): { token?: string } => {
  if (!options.auth) return {};
  const given = options.adminToken ?? process.env["TRIBUTARY_ADMIN_TOKEN"];
  if (given !== undefined) return { token: given.trim() };
  try {
    return { token: readFileSync(join(dataDir, ADMIN_TOKEN_FILE), "utf8").trim() };
  } catch {
    return {};
  }
};
