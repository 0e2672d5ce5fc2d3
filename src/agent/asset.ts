/**
 * Assets as task code holds them: {@link Asset}, a reference to files that an
 * execution persisted (`context().persist(...)`), which another execution
 * restores (`context().restore(asset)`). The bytes live in the server's blob
 * store; an asset carries only the list of its files.
 *
 * No I/O here: this module is part of the SDK's value layer (see values.ts).
 * The uploads and downloads are in assets.ts, run by the agent's workers.
 */
import type { Value } from "../events/types.js";
import { ASSET_TAG, type AssetFile, type AssetRef } from "../protocol/messages.js";

/** Brand of assets; a symbol from the global registry, so that two copies of the SDK agree. */
export const ASSET_BRAND: unique symbol = Symbol.for("tributary.asset") as never;

/** Options of `persist()`. */
export interface PersistOptions {
  /** A name for people (`tributary assets ls` shows it). At most 256 characters. */
  readonly name?: string;
  /** Anything worth keeping with the asset: a record of values (as arguments are). */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** Options of `restore()`. */
export interface RestoreOptions {
  /**
   * Directory to restore into, relative to the execution's working
   * directory (or absolute, inside it); created if needed. Default: the
   * working directory itself.
   */
  readonly to?: string;
}

/**
 * A persisted asset: made by `persist()`, or received as an argument or a
 * result. It can be returned, passed to another call or stored in a result;
 * it crosses as a reference (`{ "$tributary.asset": AssetRef }`), never with
 * the bytes. Its files are listed without downloading anything; `restore()`
 * brings them into a working directory.
 *
 * @example
 * const model = await train(data);            // a task that returns persist(...)'s asset
 * console.log(model.entries.map((e) => `${e.path} ${e.size}`));
 * const [file] = await context().restore(model, { to: "model" });
 */
export class Asset {
  readonly [ASSET_BRAND] = true as const;
  /** The server's id of the asset. */
  readonly assetId: string;
  /** The name given to `persist()`, if any. */
  readonly name: string | undefined;
  /** The environment the asset was persisted in. */
  readonly env: string;
  /** Its files: `path` relative (`/`-separated), `size` in bytes, `sha256` of the bytes. */
  readonly entries: readonly AssetFile[];
  /** Total size of the files, in bytes. */
  readonly size: number;
  /** The metadata given to `persist()`, if any. */
  readonly metadata: { readonly [key: string]: Value } | undefined;
  /** The reference, as it crosses calls. */
  readonly ref: AssetRef;

  /** @internal Assets are made by `persist()` and by decoding values, not by user code. */
  constructor(ref: AssetRef) {
    if (!isAssetRef(ref)) throw new TypeError("not an asset reference");
    const entries = Object.freeze(ref.entries.map((e) => Object.freeze({ path: e.path, size: e.size, sha256: e.sha256 })));
    this.ref = Object.freeze({ ...ref, entries });
    this.assetId = ref.assetId;
    this.name = ref.name;
    this.env = ref.env;
    this.entries = entries;
    this.size = entries.reduce((n, e) => n + e.size, 0);
    this.metadata = ref.metadata;
    Object.freeze(this);
  }

  /** What `JSON.stringify` shows: the tagged reference. */
  toJSON(): { readonly [ASSET_TAG]: AssetRef } {
    return { [ASSET_TAG]: this.ref };
  }
}

/** What the value checker needs of an asset (possibly from another copy of the SDK). */
export interface AssetLike {
  readonly [ASSET_BRAND]: true;
  readonly ref: AssetRef;
}

export const isAssetLike = (v: unknown): v is AssetLike =>
  typeof v === "object" && v !== null && (v as { [ASSET_BRAND]?: unknown })[ASSET_BRAND] === true && isAssetRef((v as { ref?: unknown }).ref);

const SHA256 = /^[0-9a-f]{64}$/;

/** Is `v` shaped like an {@link AssetRef}? (Entry paths are checked for safety only when restoring.) */
export const isAssetRef = (v: unknown): v is AssetRef => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  if (typeof r["assetId"] !== "string" || r["assetId"] === "" || typeof r["env"] !== "string") return false;
  if (r["name"] !== undefined && typeof r["name"] !== "string") return false;
  const m = r["metadata"];
  if (m !== undefined && (typeof m !== "object" || m === null || Array.isArray(m))) return false;
  const entries = r["entries"];
  return (
    Array.isArray(entries) &&
    entries.every((e: unknown) => {
      if (typeof e !== "object" || e === null) return false;
      const f = e as Record<string, unknown>;
      return typeof f["path"] === "string" && Number.isSafeInteger(f["size"]) && (f["size"] as number) >= 0 && typeof f["sha256"] === "string" && SHA256.test(f["sha256"]);
    })
  );
};
