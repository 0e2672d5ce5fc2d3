/**
 * `HEAD | GET | PUT /api/projects/:project/envs/:env/blobs/sha256:<hex>`:
 * content-addressed blobs, streamed both ways, through an environment.
 *
 * - GET answers the bytes only of a blob the environment refers to (the
 *   `blob-refs` projection, here or in an environment it inherits from:
 *   an asset's file, a large argument or result); any other key, stored or
 *   not, is the same 404, so a hash alone tells nothing of other projects.
 * - HEAD says whether the bytes are stored at all (what an agent asks
 *   before an upload, to skip it); it asks the `agent` permission.
 * - PUT stores bytes whose sha256 is the key.
 */
import { pipeline } from "node:stream/promises";
import { BlobCorrupt, BlobMismatch, BlobTooLarge, isBlobKey, type BlobInfo } from "../../../events/storage/blob-store.js";
import type { Env } from "../../environments.js";
import type { Handlers, Params, ServerContext } from "../context.js";
import { HttpError, send } from "../http-io.js";

export const blobRoutes = {
  putBlob: {
    raw: async (ctx, { params, req, res }) => {
      await envIn(ctx, params);
      const key = checkedKey(params.key);
      const size = req.headers["content-length"] === undefined ? undefined : Number(req.headers["content-length"]);
      try {
        const info = await ctx.blobs.put(req, { sha256: key.slice(7), ...(size === undefined ? {} : { size }) });
        return send(res, 200, info);
      } catch (e) {
        if (e instanceof BlobMismatch) throw new HttpError(400, e.message);
        if (e instanceof BlobTooLarge) throw new HttpError(413, e.message);
        throw e;
      }
    },
  },

  headBlob: {
    raw: async (ctx, { params, res }) => {
      await envIn(ctx, params);
      const info = await stat(ctx, checkedKey(params.key));
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
