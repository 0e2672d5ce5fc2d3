/** The options of `startAgent`, checked, with their defaults; and the `Agent` it returns. */
import type { EventEmitter } from "node:events";
import path from "node:path";
import type { Value } from "../events/index.js";
import type { LogLevel, RepositoryManifest } from "../protocol/messages.js";
import { defaultWorkdirRoot } from "./workdir.js";

/** Default of `maxAssetBytes`: 8 GiB. */
export const DEFAULT_MAX_ASSET_BYTES = 8 * 1024 ** 3;

export interface AgentOptions {
  /** The server, e.g. `http://127.0.0.1:7777` (`https://…`: the agent uses `wss://`). */
  readonly server: string;
  /**
   * For an `https://` server whose certificate a private CA signed (or a
   * self-signed one): that CA's certificate, PEM (the text, not a path).
   * Only it is trusted then, for the WebSocket and the blob API.
   */
  readonly ca?: string;
  /**
   * An access token of role `agent` (or `admin`) covering the project and
   * environment, for a server started with `--auth`: sent on the WebSocket
   * upgrade and on every blob request, never logged. A server that refuses
   * it (401, 403) is not retried: `startAgent` rejects with an
   * `AgentRefusedError` carrying the server's reason and the status.
   */
  readonly token?: string | undefined;
  /** Default `"default"`. */
  readonly project?: string;
  /** Default `"production"`, as the server's, the CLI's and the client's. */
  readonly env?: string;
  /** Tags the agent offers to `requires`: a value or several per tag. */
  readonly tags?: Readonly<Record<string, string | readonly string[]>>;
  /** The id to connect as (default: one the server makes). A pool's agents are given theirs (`pool_<pool>_…`). */
  readonly agentId?: string;
  /** Executions run at once; more wait in a queue. Default 16. */
  readonly concurrency?: number;
  /** Worker threads. Default 2. */
  readonly workers?: number;
  /** Module paths (TypeScript or JavaScript), each a repository. */
  readonly modules: readonly string[];
  /** Directory the module paths are relative to. Default `process.cwd()`. */
  readonly cwd?: string;
  /** Heartbeat period, ms. Default: the server's (in `welcome`). */
  readonly heartbeatMs?: number;
  /** Time an aborted execution has to stop before its worker is terminated, ms. Default 1000. */
  readonly abortGraceMs?: number;
  /** Task log lines and the agent's own diagnostics. Default: diagnostics of level warn and error to stderr. */
  readonly onLog?: (entry: AgentLogEntry) => void;
  /**
   * Where the executions' working directories go: `<workdirRoot>/<executionId>/`
   * (`context().workdir`). Made with mode 700 if missing. Default
   * `<os.tmpdir()>/tributary-agent-<pid>`.
   */
  readonly workdirRoot?: string;
  /** Leave each execution's working directory in place when it ends (to debug). Default false: removed. */
  readonly keepWorkdirs?: boolean;
  /** Most bytes one `persist()` may hold (the files' total). Default 8 GiB. */
  readonly maxAssetBytes?: number;
}

/** A log line of task code (`source: "task"`) or of the agent itself. */
export interface AgentLogEntry {
  readonly source: "task" | "agent";
  readonly level: LogLevel;
  readonly message: string;
  readonly executionId?: string;
  readonly fields?: { readonly [key: string]: Value };
  readonly at: number;
}

export type ValidAgentOptions = Required<Omit<AgentOptions, "heartbeatMs" | "onLog" | "ca" | "token" | "agentId">> & Pick<AgentOptions, "heartbeatMs" | "onLog" | "ca" | "agentId"> & { readonly token?: string };

/** The agent's credentials for the server, as the connection and the workers take them. */
export const credentialsOf = (o: ValidAgentOptions): { ca?: string; token?: string } => ({
  ...(o.ca === undefined ? {} : { ca: o.ca }),
  ...(o.token === undefined ? {} : { token: o.token }),
});

export const normaliseTags = (tags: AgentOptions["tags"]): { [tag: string]: readonly string[] } =>
  Object.fromEntries(Object.entries(tags ?? {}).map(([k, v]) => [k, typeof v === "string" ? [v] : [...v]]));

/** Checks the options of `startAgent` and fills in the defaults. */
export const validateAgentOptions = (o: AgentOptions): ValidAgentOptions => {
  const count = (name: string, v: number | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || v < 1) throw new TypeError(`startAgent: ${name} must be a positive integer, got ${String(v)}`);
    return v;
  };
  if (!Array.isArray(o.modules) || o.modules.length === 0) throw new TypeError("startAgent: modules must list at least one module path");
  for (const [k, v] of Object.entries(o.tags ?? {})) {
    const values: unknown = typeof v === "string" ? [v] : v;
    if (!Array.isArray(values) || !values.every((x) => typeof x === "string")) throw new TypeError(`startAgent: tag ${k} must be a string or an array of strings`);
  }
  if (o.heartbeatMs !== undefined && !(o.heartbeatMs > 0)) throw new TypeError("startAgent: heartbeatMs must be positive");
  if (o.maxAssetBytes !== undefined && !(Number.isSafeInteger(o.maxAssetBytes) && o.maxAssetBytes > 0)) {
    throw new TypeError(`startAgent: maxAssetBytes must be a positive integer (bytes), got ${String(o.maxAssetBytes)}`);
  }
  if (o.keepWorkdirs !== undefined && typeof o.keepWorkdirs !== "boolean") throw new TypeError("startAgent: keepWorkdirs must be a boolean");
  if (o.ca !== undefined && (typeof o.ca !== "string" || !o.ca.includes("-----BEGIN CERTIFICATE-----"))) {
    throw new TypeError("startAgent: ca must be the text of a PEM certificate (-----BEGIN CERTIFICATE-----), not a path");
  }
  if (o.token !== undefined && (typeof o.token !== "string" || !/^[\x21-\x7e]{1,4096}$/.test(o.token))) {
    // Not echoed: it may be a secret with a stray character.
    throw new TypeError("startAgent: token must be the text of an access token (1 to 4096 visible ASCII characters, no spaces), as 'tributary tokens create' prints it");
  }
  if (o.workdirRoot !== undefined && (typeof o.workdirRoot !== "string" || o.workdirRoot === "")) throw new TypeError("startAgent: workdirRoot must be a non-empty path");
  if (o.agentId !== undefined && (typeof o.agentId !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(o.agentId))) {
    throw new TypeError(`startAgent: agentId must be 1-64 letters, digits, '-' and '_', starting with a letter or digit, got ${JSON.stringify(o.agentId)}`);
  }
  return {
    server: o.server,
    ...(o.ca === undefined ? {} : { ca: o.ca }),
    ...(o.token === undefined ? {} : { token: o.token }),
    ...(o.agentId === undefined ? {} : { agentId: o.agentId }),
    project: o.project ?? "default",
    env: o.env ?? "production",
    tags: o.tags ?? {},
    concurrency: count("concurrency", o.concurrency, 16),
    workers: count("workers", o.workers, 2),
    modules: o.modules,
    cwd: o.cwd ?? process.cwd(),
    heartbeatMs: o.heartbeatMs,
    abortGraceMs: o.abortGraceMs ?? 1000,
    onLog: o.onLog,
    workdirRoot: path.resolve(o.cwd ?? process.cwd(), o.workdirRoot ?? defaultWorkdirRoot()),
    keepWorkdirs: o.keepWorkdirs ?? false,
    maxAssetBytes: o.maxAssetBytes ?? DEFAULT_MAX_ASSET_BYTES,
  };
};

/**
 * A running agent. Events: `connected` (agentId), `disconnected` (code,
 * reason), `settled` (executionId, message), `refused` (an
 * `AgentRefusedError` with `status` 401 / 403: the server refused its token
 * on a reconnection; emitted once the agent has stopped).
 */
export interface Agent extends EventEmitter {
  /** The id the server gave (after each welcome). */
  readonly agentId: string;
  readonly connected: boolean;
  readonly manifests: readonly RepositoryManifest[];
  /**
   * Loads the modules afresh (a new set of worker threads) and registers
   * their manifests with the server: new executions run the new code, those
   * running finish on the old. Resolves with the new manifests.
   * @throws an error saying why, when the modules do not load now: the old code stays.
   */
  reload(): Promise<readonly RepositoryManifest[]>;
  /** Executions accepted and not finished (running or queued). */
  running(): string[];
  /** Resolves when the agent is connected (at once if it is). */
  waitConnected(): Promise<void>;
  /**
   * Stops gracefully (a drain): new executions are declined (`AgentStopping`:
   * the server gives this agent nothing more), the running ones have
   * `drainMs` (default 5000) to finish. With `abortLeft` (the default when
   * `drainMs > 0`) what still runs then is aborted and reported as
   * `AgentStopping`: the server records it abandoned (cause
   * `agent-stopping`, counted against no retry limit) and runs it again on
   * another agent, resuming its calls. The server has up to a second more to
   * acknowledge the results, then the socket closes and the workers stop.
   * `drainMs: 0` without `abortLeft` stops at once: what runs is lost with
   * the agent (the server abandons it as `agent-lost` after its grace).
   */
  stop(options?: { readonly drainMs?: number; readonly abortLeft?: boolean }): Promise<void>;
}
