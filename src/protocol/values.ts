/**
 * The values that cross the wire and the API besides plain data: handles,
 * assets and outcomes, with the tags that mark them. Pure: no codec here, so
 * that the pure core (`nextActions`) can recognise a handle argument.
 */
import type { ErrorInfo, TargetManifest, Value } from "../events/types.js";
import { ASSET_TAG, HANDLE_TAG } from "./constants.js";

/** A reference to a step of a run, as task code holds it. */
export interface HandleRef {
  readonly runId: string;
  readonly stepId: string;
  /** The execution that was current when the handle was made. */
  readonly executionId: string;
}

/** How a call ended, as the caller sees it; `V`: the type of its value (a client that knows the workflow's result type says so). */
export type Outcome<V = Value> =
  | { readonly status: "succeeded"; readonly value: V }
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

export const isHandleValue = (v: unknown): v is { readonly [HANDLE_TAG]: HandleRef } =>
  typeof v === "object" && v !== null && !Array.isArray(v) && HANDLE_TAG in v && Object.keys(v).length === 1;
