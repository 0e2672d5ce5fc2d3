/**
 * Asset I/O. `persistAsset` / `restoreAsset`: persist and restore as an
 * agent's worker runs them for an execution: paths checked (asset-paths.ts),
 * files hashed, uploaded and downloaded over the blob API (blob-client.ts),
 * and the asset recorded through the host's requests (`persist` / `restore`
 * messages, re-sent after a reconnection like every request of task code).
 * `restoreFiles`: an asset's files downloaded into any directory, without
 * an execution (`tributary assets download`).
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { AssetFile, AssetRef } from "../protocol/messages.js";
import { MAX_FRAME_BYTES } from "../protocol/messages.js";
import type { HostPersistOptions, HostReply, HostRequest } from "./context.js";
import type { RestoreOptions } from "./asset.js";
import { isAssetRef } from "./asset.js";
import { checkEntryPaths, collectFiles, ensureDirInside, prepareTarget, relativeInside } from "./asset-paths.js";
import { BlobClient, BlobHttpError, BlobMismatchError, BlobMissingError, hashFile } from "./blob-client.js";
import { AssetIntegrityError, AssetTooLargeError } from "./errors.js";

/** What persist and restore need of the execution. */
export interface AssetIo {
  /** The execution's working directory (a real, absolute path). */
  readonly workdir: string;
  readonly blobs: BlobClient;
  /** Most bytes one asset may hold. */
  readonly maxAssetBytes: number;
  readonly signal: AbortSignal;
  request(request: HostRequest): Promise<HostReply>;
}

/** Files uploaded or downloaded at once. */
const PARALLEL = 4;
/** Room kept in a frame for what is not the entries. */
const FRAME_MARGIN = 64 * 1024;

const gib = (n: number): string => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);

/** Uploads the files that `paths` name (blobs not yet stored only), then records the asset. */
export const persistAsset = async (io: AssetIo, paths: readonly string[], options: HostPersistOptions): Promise<AssetRef> => {
  const files = await collectFiles(io.workdir, paths, "persist()");
  const tooLarge = (total: number) =>
    new AssetTooLargeError(`persist(): the files total ${total} bytes (${gib(total)}), over the agent's limit of ${io.maxAssetBytes} bytes per asset (${gib(io.maxAssetBytes)}; agent option maxAssetBytes)`);
  let total = files.reduce((n, f) => n + f.size, 0);
  if (total > io.maxAssetBytes) throw tooLarge(total);
  // Each entry costs its path and about 90 bytes in the `persist` message.
  const frame = files.reduce((n, f) => n + Buffer.byteLength(f.path) + 96, 0);
  if (frame > MAX_FRAME_BYTES - FRAME_MARGIN) {
    throw new AssetTooLargeError(`persist(): ${files.length} files are too many for one asset (their list would not fit in a message): persist fewer files, or an archive of them`);
  }
  const entries: AssetFile[] = new Array<AssetFile>(files.length);
  const uploads = new Map<string, Promise<void>>();
  total = 0;
  await forEach(files, io.signal, async (f, i) => {
    const { sha256, size } = await hashFile(f.source, io.signal);
    total += size;
    if (total > io.maxAssetBytes) throw tooLarge(total);
    entries[i] = { path: f.path, size, sha256 };
    // Equal files of one asset are uploaded once; a blob already stored is not uploaded again.
    let upload = uploads.get(sha256);
    if (upload === undefined) {
      upload = (async () => {
        if (await io.blobs.has(sha256, io.signal)) return;
        try {
          await io.blobs.upload(f.source, size, sha256, io.signal);
        } catch (err) {
          if (err instanceof BlobHttpError && err.status === 413) throw new AssetTooLargeError(`persist(): ${f.path}: the server refuses it: ${err.message}`);
          if (err instanceof BlobHttpError && err.status === 400) throw new Error(`persist(): ${f.path} changed while it was being persisted (${err.message})`);
          throw new Error(`persist(): ${f.path}: upload failed: ${(err as Error).message}`);
        }
      })();
      uploads.set(sha256, upload);
    }
    await upload;
  });
  const reply = await io.request({ type: "persist", entries, ...options });
  if (reply.type !== "persisted" || !isAssetRef(reply.asset)) throw new Error(`unexpected reply ${reply.type} to persist`);
  return reply.asset;
};

/**
 * Records the restore, then downloads each entry into
 * `<workdir>/<to>/<entry path>`. The absolute paths written, in the asset's order.
 */
export const restoreAsset = async (io: AssetIo, asset: AssetRef, options: RestoreOptions): Promise<string[]> => {
  const to = options.to === undefined ? "" : relativeInside(io.workdir, options.to, "restore() to");
  // The target is checked (and made) before the server records the restore.
  const target = await ensureDirInside(io.workdir, to, "restore() to");
  const reply = await io.request({ type: "restore", assetId: asset.assetId, ...(to !== "" ? { to } : {}) }).catch((err: unknown) => {
    if (io.signal.aborted) throw err;
    throw new Error(`restore of asset ${asset.assetId}: ${(err as Error).message}`);
  });
  if (reply.type !== "restored" || !isAssetRef(reply.asset)) throw new Error(`unexpected reply ${reply.type} to restore of asset ${asset.assetId}`);
  const restored = reply.asset;
  checkEntryPaths(restored.assetId, restored.entries.map((e) => e.path));
  const what = `restore() of asset ${restored.assetId}`;
  await downloadEntries(io.blobs, restored, target, what, io.signal);
  const lexical = to === "" ? io.workdir : path.join(io.workdir, to);
  return restored.entries.map((e) => path.join(lexical, ...e.path.split("/")));
};

/**
 * Downloads the files of an asset into `dir` (made if needed; an absolute
 * path, or relative to the current directory), each at `<dir>/<entry path>`,
 * streamed and checked (size, sha256) as {@link restoreAsset} does, never
 * writing outside `dir`. Records nothing on the server.
 *
 * The blobs are read through an environment that must see the asset (the
 * one it was persisted in, or one inheriting from it): `options.project`
 * (default `"default"`) and `options.env` (default `ref.env`, where it was
 * persisted). A token scoped to another environment gives `env` that one.
 * @param server the server's URL (`http(s)://host:port`); `options.token`: the access token to send.
 * @returns the files' absolute paths, in the asset's order.
 * @throws AssetPathError, AssetIntegrityError, or an error naming the entry.
 */
export const restoreFiles = async (
  server: string,
  ref: AssetRef,
  dir: string,
  options: { readonly signal?: AbortSignal; readonly ca?: string; readonly token?: string; readonly project?: string; readonly env?: string } = {},
): Promise<string[]> => {
  if (!isAssetRef(ref)) throw new TypeError("restoreFiles: not an asset reference");
  checkEntryPaths(ref.assetId, ref.entries.map((e) => e.path));
  const root = path.resolve(dir);
  await mkdir(root, { recursive: true });
  const target = await ensureDirInside(root, "", `download of asset ${ref.assetId}`);
  const scope = { project: options.project ?? "default", env: options.env ?? ref.env };
  const blobs = new BlobClient(server, scope, { ...(options.ca === undefined ? {} : { ca: options.ca }), ...(options.token === undefined ? {} : { token: options.token }) });
  try {
    await downloadEntries(blobs, ref, target, `download of asset ${ref.assetId}`, options.signal ?? new AbortController().signal);
  } finally {
    blobs.close();
  }
  return ref.entries.map((e) => path.join(root, ...e.path.split("/")));
};

/** Downloads the (checked) entries into the real directory `target`. */
const downloadEntries = async (blobs: BlobClient, asset: AssetRef, target: string, what: string, signal: AbortSignal): Promise<void> => {
  await forEach(asset.entries, signal, async (e) => {
    const file = await prepareTarget(target, e.path, what);
    try {
      await blobs.download(e.sha256, file, e.size, signal);
    } catch (err) {
      if (err instanceof BlobMissingError || err instanceof BlobMismatchError) throw new AssetIntegrityError(asset.assetId, e.path, err.message);
      if (signal.aborted) throw err;
      throw new Error(`asset ${asset.assetId}: entry ${e.path}: download failed: ${(err as Error).message}`, { cause: err });
    }
  });
};

/** Runs `fn` on the items, {@link PARALLEL} at a time; stops starting new ones at the first failure, which it rethrows. */
const forEach = async <T>(items: readonly T[], signal: AbortSignal, fn: (item: T, index: number) => Promise<void>): Promise<void> => {
  let next = 0;
  const state: { failure?: { readonly error: unknown } } = {};
  const lane = async (): Promise<void> => {
    while (state.failure === undefined && next < items.length) {
      const i = next++;
      try {
        signal.throwIfAborted();
        await fn(items[i] as T, i);
      } catch (error) {
        state.failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, lane));
  if (state.failure !== undefined) throw state.failure.error;
};
