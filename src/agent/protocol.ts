/**
 * The wire protocol between agents and the server: WebSocket binary frames,
 * each one msgpack-encoded message (the log's codec settings, so arguments
 * and results keep Date, Uint8Array and bigint). This file is the only part
 * of the agent that the orchestrator imports.
 *
 * Version 1. An agent says its version in `hello`; a server that does not
 * speak it answers `refused` and closes.
 */
// The codec alone, not the events index: workers load this file, and the
// index would bring LMDB and the NATS client into every worker.
import { packValue, unpackValue } from "../events/codec.js";
import type { ErrorInfo, StepOptions, TargetManifest, TargetRef, Value } from "../events/types.js";
import { ASSET_TAG, HANDLE_TAG } from "../protocol/constants.js";

// The constants live with the schemas in src/protocol (without the schema library).
export { AGENT_PATH, ASSET_TAG, BLOB_PATH, HANDLE_TAG, MAX_FRAME_BYTES, PROTOCOL_VERSION } from "../protocol/constants.js";

/** A reference to a step of a run, as task code holds it. */
export interface HandleRef {
  readonly runId: string;
  readonly stepId: string;
  /** The execution that was current when the handle was made. */
  readonly executionId: string;
}

/** How a call ended, as the caller sees it. */
export type Outcome =
  | { readonly status: "succeeded"; readonly value: Value }
  | { readonly status: "failed" | "cancelled" | "timed_out" | "abandoned"; readonly error: ErrorInfo };

/** One file of an asset, as agents see it. The bytes are the blob `sha256:<sha256>`. */
export interface AssetFile {
  /** Relative, `/`-separated, never `..`. */
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/**
 * A reference to a persisted asset: what task code holds, returns and passes
 * on. It lists the files without their bytes.
 */
export interface AssetRef {
  readonly assetId: string;
  readonly name?: string;
  /** The environment the asset was persisted in. */
  readonly env: string;
  readonly entries: readonly AssetFile[];
  readonly metadata?: { readonly [key: string]: Value };
}

export const isAssetValue = (v: unknown): v is { readonly [ASSET_TAG]: AssetRef } =>
  typeof v === "object" && v !== null && !Array.isArray(v) && ASSET_TAG in v && Object.keys(v).length === 1;

export interface RepositoryManifest {
  readonly repository: string;
  readonly targets: readonly TargetManifest[];
}

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
  | { readonly type: "started"; readonly executionId: string }
  /**
   * A result. With `requestId`, the server answers `ack` with it once the
   * result is recorded (a duplicate is answered `ack` too), or `error` with
   * it if it never will be; until then the agent keeps the result and sends
   * it again after a reconnection.
   */
  | { readonly type: "succeeded"; readonly executionId: string; readonly value: Value; readonly requestId?: number }
  | { readonly type: "failed"; readonly executionId: string; readonly error: ErrorInfo; readonly requestId?: number }
  | {
      /** Task code called a target: schedule a step (or a run, for a workflow). */
      readonly type: "submit";
      readonly requestId: number;
      readonly executionId: string;
      readonly target: TargetRef;
      readonly arguments: readonly Value[];
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
      /** Records an asset whose files' blobs the agent has uploaded (`PUT {BLOB_PATH}/<key>`). */
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
      readonly type: "log";
      readonly executionId: string;
      readonly level: LogLevel;
      readonly message: string;
      readonly fields?: { readonly [key: string]: Value };
      readonly at: number;
    };

export type LogLevel = "debug" | "info" | "warn" | "error";

// ---------------------------------------------------------------------------
// server → agent

export type ServerMessage =
  | { readonly type: "welcome"; readonly agentId: string; readonly heartbeatMs: number }
  | { readonly type: "refused"; readonly reason: string }
  | {
      readonly type: "execute";
      readonly executionId: string;
      readonly runId: string;
      readonly stepId: string;
      readonly attempt: number;
      readonly target: TargetRef;
      readonly arguments: readonly Value[];
      readonly timeoutMs?: number;
    }
  | { readonly type: "abort"; readonly executionId: string; readonly reason: "cancelled" | "timed_out" | "abandoned" }
  | { readonly type: "submitted"; readonly requestId: number; readonly handle: HandleRef }
  | {
      readonly type: "resolved";
      readonly requestId: number;
      /** Absent when asked without waiting and the step has not finished. */
      readonly outcome?: Outcome;
    }
  | { readonly type: "ack"; readonly requestId: number }
  | { readonly type: "persisted"; readonly requestId: number; readonly asset: AssetRef }
  | { readonly type: "restored"; readonly requestId: number; readonly asset: AssetRef }
  | { readonly type: "error"; readonly requestId?: number; readonly message: string };

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

export const isHandleValue = (v: unknown): v is { readonly [HANDLE_TAG]: HandleRef } =>
  typeof v === "object" && v !== null && !Array.isArray(v) && HANDLE_TAG in v && Object.keys(v).length === 1;
