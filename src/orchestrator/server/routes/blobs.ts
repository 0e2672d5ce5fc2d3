/**
 * `HEAD | GET | PUT /api/projects/:project/envs/:env/blobs/sha256:<hex>`:
 * content-addressed blobs, streamed both ways, through an environment.
 *
 * A key is *visible* in an environment when the `blob-refs` projection
 * knows it, here or in an environment it inherits from: its bytes were
 * uploaded through it (`BlobStored`), or an asset's file, a large argument
 * or result refers to it. Knowing a hash never makes it visible.
 *
 * - GET answers the bytes of a visible key; any other key, stored or not,
 *   is the same 404, so a hash alone tells nothing of other projects.
 * - HEAD answers 200 and the size of a visible key, else that same 404 (an
 *   agent asks it to skip an upload; it asks the `agent` permission).
 * - PUT stores bytes whose sha256 is the key (storage dedups: bytes stored
 *   already are only hashed) and, the first time this environment sees the
 *   key, records `BlobStored` in its log, attributed to the uploader.
 */
import { pipeline } from "node:stream/promises";
import { BlobCorrupt, BlobMismatch, BlobTooLarge, isBlobKey, type BlobInfo } from "../../../events/storage/blob-store.js";
import type { Env } from "../../environments.js";
import { rejected, type Handlers, type Params, type ServerContext } from "../context.js";
import { HttpError, send } from "../http-io.js";

export const blobRoutes = {
  putBlob: {
    raw: async (ctx, { params, req, res, principal }) => {
      const { rt } = await envIn(ctx, params);
      const key = checkedKey(params.key);
      const size = req.headers["content-length"] === undefined ? undefined : Number(req.headers["content-length"]);
      let info: BlobInfo;
      try {
        info = await ctx.blobs.put(req, { sha256: key.slice(7), ...(size === undefined ? {} : { size }) });
      } catch (e) {
        if (e instanceof BlobMismatch) throw new HttpError(400, e.message);
        if (e instanceof BlobTooLarge) throw new HttpError(413, e.message);
        throw e;
      }
      // The uploader had the bytes: the environment may refer to them now (nothing new if it sees them already).
      const r = await rt.execute({ type: "RecordBlob", key: info.key, size: info.size }, { by: principal });
      if (!r.ok) throw rejected(r.rejection);
      return send(res, 200, info);
    },
  },

  headBlob: {
    raw: async (ctx, { params, res }) => {
      const { rt } = await envIn(ctx, params);
      const key = checkedKey(params.key);
      if (!rt.model.blobRef(key)) throw unknown(key);
      const info = await stat(ctx, key);
      res.writeHead(200, { "content-length": info.size });
      res.end();
    },
  },

  getBlob: {
    raw: async (ctx, { params, res }) => {
      const { rt } = await envIn(ctx, params);
      const key = checkedKey(params.key);
      if (!rt.model.blobRef(key)) throw unknown(key);
      const info = await stat(ctx, key);
      const stream = await ctx.blobs.get(key);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": info.size });
      await pipeline(stream, res).catch(() => res.destroy());
    },
  },
} satisfies Partial<Handlers>;

/** The environment of the path (404 if there is none), as `envOf` finds it for the JSON routes. */
const envIn = (ctx: ServerContext, params: Params): Promise<Env> => ctx.envs.get(params.project, params.env);

/** One answer for a blob not stored and a blob stored but not visible here. */
const unknown = (key: string) => new HttpError(404, `no blob ${key}`);

const checkedKey = (key: string): string => {
  if (!isBlobKey(key)) throw new HttpError(400, `invalid blob key ${JSON.stringify(key)}: expected sha256:<64 hex digits>`);
  return key;
};

/** A stored blob's size and digest (404 if there is none; 500 if its bytes no longer match its key). */
const stat = async (ctx: ServerContext, key: string): Promise<BlobInfo> => {
  let info;
  try {
    info = await ctx.blobs.stat(key);
  } catch (e) {
    if (e instanceof BlobCorrupt) throw new HttpError(500, e.message);
    throw e;
  }
  if (!info) throw unknown(key);
  return info;
};
