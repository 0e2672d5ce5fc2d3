/**
 * Constants of the wire protocol that both sides share. No schema library
 * here: worker threads load these (through `src/protocol/messages.ts`) and must
 * not pay for the schemas.
 */

/**
 * Version of the agent protocol; an agent says it in `hello`. 2: the blob
 * API moved under the environment ({@link blobPath}); an agent of version 1
 * would ask the old path, so it is refused at `hello`, saying to upgrade.
 */
export const PROTOCOL_VERSION = 2;
/** Path of the agents' WebSocket endpoint on the server. */
export const AGENT_PATH = "/agent";
/** Largest frame either side accepts, in bytes. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;
/**
 * Path of an environment's blob API: `GET | HEAD | PUT {blobPath(project, env)}/sha256:<hex>`,
 * bodies streamed. A blob is read only through an environment that refers to it.
 */
export const blobPath = (project: string, env: string): string =>
  `/api/projects/${encodeURIComponent(project)}/envs/${encodeURIComponent(env)}/blobs`;
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

/** What a metric may be named (`metric(name, value)`): 1-128 letters, digits, `_`, `.`, `-` and `/`. */
export const METRIC_NAME = /^[A-Za-z0-9_./-]{1,128}$/;
/** Longest progress message, in characters. */
export const MAX_PROGRESS_MESSAGE = 1024;
