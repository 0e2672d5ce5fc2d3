/**
 * Constants of the wire protocol that both sides share. No schema library
 * here: worker threads load these (through `src/protocol/messages.ts`) and must
 * not pay for the schemas.
 */

/** Version of the agent protocol; an agent says it in `hello`. */
export const PROTOCOL_VERSION = 1;
/** Path of the agents' WebSocket endpoint on the server. */
export const AGENT_PATH = "/agent";
/** Largest frame either side accepts, in bytes. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;
/** Path of the blob API: `GET | HEAD | PUT {BLOB_PATH}/sha256:<hex>`, bodies streamed. */
export const BLOB_PATH = "/api/blobs";
/** Tag of an asset reference inside arguments and results: `{ [ASSET_TAG]: AssetRef }`. */
export const ASSET_TAG = "$tributary.asset";
/** Tag of a handle inside arguments and results: `{ [HANDLE_TAG]: HandleRef }`. */
export const HANDLE_TAG = "$tributary.handle";
/** Largest HTTP request body (other than blobs), in bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;
/**
 * Deepest nesting of a value (arguments, results, metadata) accepted from
 * outside: deeper values would overflow the stack of the encoder.
 */
export const MAX_VALUE_DEPTH = 128;
