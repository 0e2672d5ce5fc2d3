/**
 * The object store's wire layout (ADR-20, shared by every NATS client), as
 * the NATS blob store reads and fences it: stream `OBJ_<bucket>`, metadata on
 * `$O.<bucket>.M.<base64url(name)>`, chunks on `$O.<bucket>.C.<nuid>`.
 */
import type { Consumer, ConsumerMessages } from "@nats-io/jetstream";
import { Base64UrlPaddedCodec, type ObjectInfo } from "@nats-io/obj";
import { keyOf, type BlobInfo } from "./blob-store.js";
import { nextWithin } from "./nats.js";

const DIGEST_PREFIX = "SHA-256=";
/** A read whose next chunk does not arrive within this time fails rather than waiting forever. */
const CHUNK_WAIT_MS = 30_000;

export const metaSubject = (bucket: string, name: string): string => `$O.${bucket}.M.${Base64UrlPaddedCodec.encode(name)}`;

export const chunkSubject = (bucket: string, nuid: string): string => `$O.${bucket}.C.${nuid}`;

export const blobInfo = (hex: string, size: number): BlobInfo => ({ key: keyOf(hex), size, sha256: hex });

/** The hex SHA-256 of an object store digest (`SHA-256=<base64url>`), or `undefined` when it is not one. */
export const hexOfDigest = (digest: string | undefined): string | undefined => {
  if (!digest?.startsWith(DIGEST_PREFIX)) return undefined;
  const bytes = Buffer.from(digest.slice(DIGEST_PREFIX.length), "base64url");
  return bytes.length === 32 ? bytes.toString("hex") : undefined;
};

/** What is wrong with a live object's metadata for the name `hex`, if anything. */
export const damageOf = (info: ObjectInfo, hex: string): string | undefined => {
  const remedy = "a put of the right bytes replaces it";
  if (info.options?.link) return `the object store holds a link under its name, not the bytes; ${remedy}`;
  if (hexOfDigest(info.digest) !== hex) return `the object store's digest of it is ${info.digest || "missing"}; ${remedy}`;
  return undefined;
};

/** The chunks of one object, in order, asking for more only as the reader consumes them. */
export async function* chunksOf(consumer: Consumer, count: number, batch: number, key: string, translate: (e: unknown) => Error): AsyncGenerator<Uint8Array> {
  let messages: ConsumerMessages | undefined;
  try {
    messages = await consumer.consume({ max_messages: batch });
    const it = messages[Symbol.asyncIterator]();
    for (let n = 0; n < count; n++) {
      const next = await nextWithin(it, CHUNK_WAIT_MS);
      if (next === "timeout") {
        throw new Error(`chunk ${n + 1} of ${count} of blob ${key} did not arrive within ${CHUNK_WAIT_MS / 1000} s`);
      }
      if (next.done) throw new Error(`the read of blob ${key} ended after ${n} of ${count} chunks`);
      yield next.value.data;
    }
  } catch (e) {
    throw translate(e);
  } finally {
    messages?.stop();
    void consumer.delete().catch(() => undefined);
  }
}
