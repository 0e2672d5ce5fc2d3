/**
 * The wire protocol between agents and the server: WebSocket binary frames,
 * each one msgpack-encoded message (the log's codec settings, so arguments
 * and results keep Date, Uint8Array and bigint). The agent and the server
 * both import it; the schemas that check each frame are `./agent.ts`.
 *
 * Version 1. An agent says its version in `hello`; a server that does not
 * speak it answers `refused` and closes.
 */
// The codec alone, not the events barrels: worker threads load this file.
import { packValue, unpackValue } from "../events/codec.js";
import type { BlobRef, ErrorInfo, StepOptions, TargetRef, Value } from "../events/types.js";

// The constants live with the schemas in src/protocol (without the schema library).
// The agent checks every frame it sends against MAX_FRAME_BYTES (a larger one would break the connection).
export { AGENT_PATH, ASSET_TAG, blobPath, HANDLE_TAG, MAX_FRAME_BYTES, PROTOCOL_VERSION } from "./constants.js";
/**
 * A call's arguments larger than this, msgpack-encoded, travel as a blob
 * (uploaded by the agent, `PUT {blobPath(project, env)}/sha256:…`) and the log records the
 * reference; results larger than this are kept as blobs too.
 */
export const INLINE_VALUE_BYTES = 256 * 1024;
/** Largest arguments of one call, msgpack-encoded: past it the call fails at the call site (use an asset). */
export const MAX_ARGUMENT_BYTES = 64 * 1024 * 1024;
/** Largest result, msgpack-encoded: past it the execution fails with a terminal `ResultTooLarge` (return an asset). */
export const MAX_RESULT_BYTES = 64 * 1024 * 1024;

/**
 * A call's arguments as msgpack bytes, with the keys of every plain object
 * sorted: equal arguments give equal bytes, so a blob of arguments is
 * deduplicated and its hash serves memo and cache keys.
 */
export const packArguments = (args: readonly Value[]): Uint8Array => packValue(sortKeys(args));

/** Reads the bytes {@link packArguments} made; throws when they are not an array. */
export const unpackArguments = (bytes: Uint8Array): Value[] => {
  const v = unpackValue(bytes);
  if (!Array.isArray(v)) throw new TypeError("the arguments' blob does not hold an array of values");
  return v as Value[];
};

const sortKeys = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== "object" || v === null || v instanceof Date || v instanceof Uint8Array) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
  return out;
};

/** The encoded size of a frame, in bytes. */
export const frameBytes = (m: AgentMessage | ServerMessage): number => encodeMessage(m).length;

export type { AssetFile, AssetRef, HandleRef, Outcome, RepositoryManifest } from "./values.js";
export { isAssetValue, isHandleValue } from "./values.js";
import type { AssetFile, AssetRef, HandleRef, Outcome, RepositoryManifest } from "./values.js";

// ---------------------------------------------------------------------------
// agent → server

export type AgentMessage =
  | {
      readonly type: "hello";
      readonly protocol: number;
      readonly project: string;
      readonly env: string;
      /** Set when reconnecting, so executions in flight stay with this agent. */
      readonly agentId?: string;
      readonly tags: { readonly [tag: string]: readonly string[] };
      readonly concurrency: number;
      readonly manifests: readonly RepositoryManifest[];
      /** Executions still running here (after a reconnect). */
      readonly running: readonly string[];
    }
  | { readonly type: "heartbeat"; readonly running: readonly string[] }
  /** The agent reloaded its modules (`--watch`): what it hosts from now on (its next hello brings the same). */
  | { readonly type: "manifests"; readonly manifests: readonly RepositoryManifest[] }
  | { readonly type: "started"; readonly executionId: string }
  /**
   * A result. With `requestId`, the server answers `ack` with it once the
   * result is recorded (a duplicate is answered `ack` too), or `error` with
   * it if it never will be; until then the agent keeps the result and sends
   * it again after a reconnection.
   */
  | {
      readonly type: "succeeded";
      readonly executionId: string;
      /** `null` when `valueBlob` is given. */
      readonly value: Value;
      /** A value over {@link INLINE_VALUE_BYTES} encoded: the blob of its msgpack bytes, uploaded first. */
      readonly valueBlob?: BlobRef;
      readonly requestId?: number;
    }
  | { readonly type: "failed"; readonly executionId: string; readonly error: ErrorInfo; readonly requestId?: number }
  | {
      /** Task code called a target: schedule a step (or a run, for a workflow). */
      readonly type: "submit";
      readonly requestId: number;
      readonly executionId: string;
      /**
       * The call's position among the execution's calls, from 1, in the order
       * its code made them: with the execution id, it names the call (a re-sent
       * call is recognised; a resumed execution's calls are matched by it).
       */
      readonly call?: number;
      readonly target: TargetRef;
      /** Empty when `argumentsBlob` is given. */
      readonly arguments: readonly Value[];
      /** The arguments' msgpack bytes (an array of values), uploaded as a blob because they are over {@link INLINE_VALUE_BYTES}. */
      readonly argumentsBlob?: BlobRef;
      /** With `argumentsBlob`: how many arguments it holds (the server checks the count against the target's parameters). */
      readonly argumentCount?: number;
      /** Per-call options, over the target's own. */
      readonly options?: StepOptions & { readonly wait?: boolean };
    }
  | {
      /** Wait for a step's outcome (`wait: true`), or ask for it now (`false`). */
      readonly type: "result";
      readonly requestId: number;
      readonly executionId: string;
      readonly handle: HandleRef;
      readonly wait: boolean;
    }
  | { readonly type: "cancel"; readonly requestId: number; readonly executionId: string; readonly handle: HandleRef }
  | {
      /**
       * Suspend the execution (`suspend(ms | Date)`: a call, numbered like
       * `submit`, with `until` or `delayMs`; or a wait under `suspense`:
       * `waitingFor`, resumed once any of those steps has an outcome). The
       * server answers `suspended` (the execution has ended: the agent stops
       * its code) or `ack` (nothing to wait for: the code goes on).
       */
      readonly type: "suspend";
      readonly requestId: number;
      readonly executionId: string;
      readonly call?: number;
      readonly until?: number;
      readonly delayMs?: number;
      readonly waitingFor?: readonly HandleRef[];
    }
  | {
      /**
       * Ask a person for a value (`prompt({ title, schema })`): a call,
       * numbered like `submit`. The server answers `answered` (with the
       * value: answered before, by this prompt or the run's memo) or
       * `suspended` (the execution waits for the answer).
       */
      readonly type: "prompt";
      readonly requestId: number;
      readonly executionId: string;
      readonly call?: number;
      readonly title: string;
      /** A JSON Schema (`src/protocol/json-schema.ts`). */
      readonly schema: Value;
    }
  | {
      /** Records an asset whose files' blobs the agent has uploaded (`PUT {blobPath(project, env)}/<key>`). */
      readonly type: "persist";
      readonly requestId: number;
      readonly executionId: string;
      readonly entries: readonly AssetFile[];
      readonly name?: string;
      readonly metadata?: { readonly [key: string]: Value };
    }
  | {
      /** Records that the execution restores an asset; the answer lists the blobs to download. */
      readonly type: "restore";
      readonly requestId: number;
      readonly executionId: string;
      readonly assetId: string;
      /** Target directory relative to the execution's working directory, for the record. */
      readonly to?: string;
    }
  | {
      /** Saves the execution's step's checkpoint `name`; answered `ack` once recorded. */
      readonly type: "save-checkpoint";
      readonly requestId: number;
      readonly executionId: string;
      readonly name: string;
      /** `null` when `valueBlob` is given. */
      readonly value: Value;
      /** A value over {@link INLINE_VALUE_BYTES} encoded: the blob of its msgpack bytes, uploaded first. */
      readonly valueBlob?: BlobRef;
    }
  | {
      /** Asks for the newest value of the step's checkpoint `name` (here or in an environment this one inherits from); answered `checkpoint`. */
      readonly type: "load-checkpoint";
      readonly requestId: number;
      readonly executionId: string;
      readonly name: string;
    }
  | {
      readonly type: "log";
      readonly executionId: string;
      readonly level: LogLevel;
      readonly message: string;
      readonly fields?: { readonly [key: string]: Value };
      readonly at: number;
    }
  /** Task code reported how far it is (`progress()`), throttled by the agent. */
  | { readonly type: "progress"; readonly executionId: string; readonly fraction?: number; readonly message?: string }
  /** Task code recorded a metric's value (`metric()`), throttled by the agent. */
  | { readonly type: "metric"; readonly executionId: string; readonly name: string; readonly value: number };

export type LogLevel = "debug" | "info" | "warn" | "error";

// ---------------------------------------------------------------------------
// server → agent

export type ServerMessage =
  | { readonly type: "welcome"; readonly agentId: string; readonly heartbeatMs: number }
  /** `status`: the agent's credential was refused (401: not valid, or no longer; 403: not for this environment or role). */
  | { readonly type: "refused"; readonly reason: string; readonly status?: 401 | 403 }
  | {
      readonly type: "execute";
      readonly executionId: string;
      readonly runId: string;
      readonly stepId: string;
      readonly attempt: number;
      readonly target: TargetRef;
      /** Empty when `argumentsBlob` is given: the agent downloads the arguments before it runs the code. */
      readonly arguments: readonly Value[];
      readonly argumentsBlob?: BlobRef;
      readonly timeoutMs?: number;
    }
  | { readonly type: "abort"; readonly executionId: string; readonly reason: "cancelled" | "timed_out" | "abandoned" }
  | { readonly type: "submitted"; readonly requestId: number; readonly handle: HandleRef }
  | {
      readonly type: "resolved";
      readonly requestId: number;
      /** Absent when asked without waiting and the step has not finished. */
      readonly outcome?: Outcome;
      /** The step succeeded with a result kept as this blob (its msgpack bytes; `outcome.value` is `null`): the agent downloads it. */
      readonly resultBlob?: BlobRef;
    }
  | { readonly type: "ack"; readonly requestId: number }
  /** The answer to a `prompt`. */
  | { readonly type: "answered"; readonly requestId: number; readonly value: Value }
  /** The execution that asked `suspend` (or `prompt`) is suspended: it has ended, its resume is created. */
  | { readonly type: "suspended"; readonly requestId: number }
  | { readonly type: "persisted"; readonly requestId: number; readonly asset: AssetRef }
  | { readonly type: "restored"; readonly requestId: number; readonly asset: AssetRef }
  | {
      /** The answer to `load-checkpoint`: `found: false` when nothing was saved yet (`value` is then `null`). */
      readonly type: "checkpoint";
      readonly requestId: number;
      readonly found: boolean;
      /** `null` when `valueBlob` is given. */
      readonly value: Value;
      /** The value is kept as this blob (its msgpack bytes): the agent downloads it. */
      readonly valueBlob?: BlobRef;
    }
  | {
      readonly type: "error";
      readonly requestId?: number;
      readonly message: string;
      /**
       * The server could not act on the request now (its log or blob store
       * failed): the agent keeps it and sends it again later. Without it, the
       * request is refused for good.
       */
      readonly retry?: boolean;
    };

// ---------------------------------------------------------------------------

export const encodeMessage = (m: AgentMessage | ServerMessage): Uint8Array => packValue(m);

/** Decodes a frame; `undefined` when it is not a msgpack object with a string `type`. */
export const decodeMessage = (bytes: Uint8Array): { type: string; [k: string]: unknown } | undefined => {
  try {
    const m = unpackValue(bytes) as unknown;
    if (typeof m !== "object" || m === null || Array.isArray(m)) return undefined;
    const t = (m as { type?: unknown }).type;
    return typeof t === "string" ? (m as { type: string }) : undefined;
  } catch {
    return undefined;
  }
};
