/**
 * The fact of a blob uploaded through an environment: whoever PUT it had
 * its bytes, so the environment may refer to it (an asset's file, a large
 * argument or result) and read it back. Part of the catalogue (`types.ts`).
 */
import type { EnvEventOf } from "./types.js";

/**
 * Bytes whose SHA-256 is `key` were uploaded through this environment
 * (stored then, or found stored already), the first time it saw that key.
 * Who uploaded: the envelope's `by`.
 */
export type BlobStored = EnvEventOf<"BlobStored", { key: string; size: number }>;
