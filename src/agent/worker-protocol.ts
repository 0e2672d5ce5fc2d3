/**
 * Messages between the agent's main thread and its worker threads. Internal:
 * they never leave the process.
 */
import type { BlobRef, ErrorInfo, Value } from "../events/index.js";
import type { HostReply, HostRequest } from "./context.js";
import type { AgentMessage, LogLevel, RepositoryManifest, ServerMessage } from "../protocol/messages.js";

/** Given to each worker at spawn. */
export interface WorkerData {
  /** Module paths, resolved against `cwd`. */
  readonly modules: readonly string[];
  readonly cwd: string;
  /** The server's URL (the agent's `server` option): the blob API is under it. */
  readonly server: string;
  /** The agent's project and environment: blobs are read and stored through it. */
  readonly project: string;
  readonly env: string;
  /** The CA to trust for an `https://` server (the agent's `ca` option). */
  readonly ca?: string;
  /** The access token to send on blob requests (the agent's `token` option). Never logged. */
  readonly token?: string;
  /** Directory of the executions' working directories, made by the agent (mode 700). */
  readonly workdirRoot: string;
  /** Leave each execution's working directory in place when it ends. */
  readonly keepWorkdirs: boolean;
  readonly maxAssetBytes: number;
}

/** An execution to run, as the server sent it (its time-out stays with the agent). */
export type ExecuteOrder = Omit<Extract<ServerMessage, { readonly type: "execute" }>, "type" | "timeoutMs">;

export type AbortReason = "cancelled" | "timed_out" | "abandoned";

export type ToWorker =
  | ({ readonly t: "execute" } & ExecuteOrder)
  | { readonly t: "abort"; readonly executionId: string; readonly reason: AbortReason }
  | { readonly t: "reply"; readonly id: number; readonly reply: HostReply }
  | { readonly t: "replyError"; readonly id: number; readonly message: string };

export type FromWorker =
  | { readonly t: "ready"; readonly manifests: readonly RepositoryManifest[] }
  | { readonly t: "loadFailed"; readonly message: string }
  | { readonly t: "started"; readonly executionId: string }
  | { readonly t: "succeeded"; readonly executionId: string; readonly value: Value; readonly valueBlob?: BlobRef }
  | { readonly t: "failed"; readonly executionId: string; readonly error: ErrorInfo }
  | { readonly t: "request"; readonly id: number; readonly executionId: string; readonly request: HostRequest }
  | {
      readonly t: "log";
      readonly executionId: string;
      readonly level: LogLevel;
      readonly message: string;
      readonly fields?: { readonly [key: string]: Value };
      readonly at: number;
    }
  | { readonly t: "diagnostic"; readonly level: LogLevel; readonly message: string }
  /** Progress or a metric of an execution, throttled (see `throttle.ts`). */
  | { readonly t: "report"; readonly message: Extract<AgentMessage, { readonly type: "progress" | "metric" }> };
