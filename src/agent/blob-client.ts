/**
 * The agent's client of an environment's blob API (`HEAD | PUT | GET
 * {server}{blobPath(project, env)}/sha256:<hex>`), streaming both ways with node:http:
 * a file is hashed, uploaded and downloaded in chunks (at most a few hundred
 * KiB in memory per transfer), never read whole. With a token, every request
 * carries `Authorization: Bearer <token>` (kept private, in no error).
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AGENT_PATH, blobPath } from "../protocol/messages.js";

const CHUNK = 256 * 1024;
const MAX_ERROR_BODY = 16 * 1024;

/** Whose blobs: the environment a client reads and writes them through. */
export interface BlobScope {
  readonly project: string;
  readonly env: string;
}

/** The blob API's base URL of an environment, for the agent's `server` option (`http(s)://` or the `ws(s)://` agent endpoint). */
export const blobBaseUrl = (server: string, scope: BlobScope): string => {
  const u = new URL(server);
  if (u.protocol === "ws:") u.protocol = "http:";
  else if (u.protocol === "wss:") u.protocol = "https:";
  else if (u.protocol !== "http:" && u.protocol !== "https:") throw new TypeError(`server: expected an http(s):// or ws(s):// URL, got ${server}`);
  let p = u.pathname.replace(/\/+$/, "");
  if (p.endsWith(AGENT_PATH)) p = p.slice(0, -AGENT_PATH.length);
  u.pathname = p + blobPath(scope.project, scope.env);
  u.search = "";
  u.hash = "";
  return u.href;
};

/** The sha256 (hex) and size of a file, read in chunks. */
export const hashFile = async (file: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> => {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK, signal })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
};

/** The blob is not on the server. */
export class BlobMissingError extends Error {
  override name = "BlobMissingError";
}
/** The bytes received are not the blob's (size or sha256). */
export class BlobMismatchError extends Error {
  override name = "BlobMismatchError";
}
/** The server could not be reached, or the connection broke (it restarts, say): worth trying again. */
export class BlobNetworkError extends Error {
  override name = "BlobNetworkError";
  constructor(
    message: string,
    /**
     * The connection broke (reset, hung up, cut mid-body) rather than could
     * not be made: a server killed under the request, or one that cut it on
     * purpose (a stored blob that is not what it should be), so such breaks
     * are tried again a few times only.
     */
    readonly broke = false,
  ) {
    super(message);
  }
}
/** The server answered with an unexpected status. */
export class BlobHttpError extends Error {
  override name = "BlobHttpError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class BlobClient {
  readonly base: string;
  readonly #agent: http.Agent;
  readonly #https: boolean;
  readonly #authorization: string | undefined;

  /**
   * `scope`: the environment the blobs are read through (it must refer to a
   * blob for a download to find it) and stored through.
   * `ca`: for an `https://` server, the CA certificate(s) to trust, PEM (only
   * these then); `token`: the access token to send (checked by the agent's options).
   */
  constructor(
    server: string,
    readonly scope: BlobScope,
    options: { readonly ca?: string; readonly token?: string } = {},
  ) {
    this.base = blobBaseUrl(server, scope);
    this.#authorization = options.token === undefined ? undefined : `Bearer ${options.token}`;
    this.#https = this.base.startsWith("https:");
    this.#agent = this.#https
      ? new https.Agent({ keepAlive: true, maxSockets: 16, ...(options.ca === undefined ? {} : { ca: options.ca }) })
      : new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  url(sha256: string): string {
    return `${this.base}/sha256:${sha256}`;
  }

  /** Is the blob stored? */
  has(sha256: string, signal?: AbortSignal): Promise<boolean> {
    return retrying(signal, () => this.#has(sha256, signal));
  }

  async #has(sha256: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.#send("HEAD", sha256, {}, signal, (req) => req.end());
    res.resume();
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw new BlobHttpError(res.statusCode ?? 0, `HEAD ${this.url(sha256)} answered ${res.statusCode}`);
  }

  /**
   * Uploads the first `size` bytes of `file` as the blob `sha256`, streamed.
   * @throws BlobHttpError with the server's message (400: the bytes do not
   *   hash to the key, e.g. the file changed since it was hashed; 413: over
   *   the server's limit).
   */
  upload(file: string, size: number, sha256: string, signal?: AbortSignal): Promise<void> {
    return retrying(signal, () => this.#upload(file, size, sha256, signal));
  }

  async #upload(file: string, size: number, sha256: string, signal?: AbortSignal): Promise<void> {
    const headers = { "content-type": "application/octet-stream", "content-length": String(size) };
    const res = await this.#send("PUT", sha256, headers, signal, (req) => {
      if (size === 0) {
        req.end();
        return;
      }
      const source = createReadStream(file, { start: 0, end: size - 1, highWaterMark: CHUNK });
      source.once("error", (err) => req.destroy(err));
      req.once("close", () => source.destroy());
      source.pipe(req);
    });
    if (res.statusCode === 200) {
      res.resume();
      return;
    }
    const text = await errorText(res);
    throw new BlobHttpError(res.statusCode ?? 0, `PUT ${this.url(sha256)} answered ${res.statusCode}${text ? `: ${text}` : ""}`);
  }

  /**
   * Uploads bytes held in memory as their blob; returns its reference.
   * @throws BlobHttpError with the server's message (413: over its limit).
   */
  putBytes(bytes: Uint8Array, signal?: AbortSignal): Promise<{ key: string; size: number; sha256: string }> {
    return retrying(signal, () => this.#putBytes(bytes, signal));
  }

  async #putBytes(bytes: Uint8Array, signal?: AbortSignal): Promise<{ key: string; size: number; sha256: string }> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const headers = { "content-type": "application/octet-stream", "content-length": String(bytes.length) };
    const res = await this.#send("PUT", sha256, headers, signal, (req) => req.end(bytes));
    if (res.statusCode !== 200) {
      const text = await errorText(res);
      throw new BlobHttpError(res.statusCode ?? 0, `PUT ${this.url(sha256)} answered ${res.statusCode}${text ? `: ${text}` : ""}`);
    }
    res.resume();
    return { key: `sha256:${sha256}`, size: bytes.length, sha256 };
  }

  /** `GET` of a blob: the response when it is 200. @throws BlobMissingError, BlobHttpError */
  async #get(sha256: string, signal: AbortSignal | undefined) {
    const res = await this.#send("GET", sha256, {}, signal, (req) => req.end());
    if (res.statusCode === 404) {
      res.resume();
      throw new BlobMissingError(`blob sha256:${sha256} is missing on the server, or environment ${this.scope.env} of project ${this.scope.project} does not refer to it`);
    }
    if (res.statusCode !== 200) {
      const text = await errorText(res);
      throw new BlobHttpError(res.statusCode ?? 0, `GET ${this.url(sha256)} answered ${res.statusCode}${text ? `: ${text}` : ""}`);
    }
    return res;
  }

  /**
   * Downloads a blob into memory, checking its size and sha256.
   * @throws BlobMissingError, BlobMismatchError, BlobHttpError
   */
  getBytes(sha256: string, expectedSize: number, signal?: AbortSignal): Promise<Uint8Array> {
    return retrying(signal, () => this.#getBytes(sha256, expectedSize, signal));
  }

  async #getBytes(sha256: string, expectedSize: number, signal?: AbortSignal): Promise<Uint8Array> {
    const res = await this.#get(sha256, signal);
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of res) {
      received += (chunk as Buffer).length;
      if (received > expectedSize) {
        res.destroy();
        throw new BlobMismatchError(`the server sent more than the ${expectedSize} bytes of blob sha256:${sha256}: the stored blob is corrupt`);
      }
      chunks.push(chunk as Buffer);
    }
    const bytes = Buffer.concat(chunks, received);
    const got = createHash("sha256").update(bytes).digest("hex");
    if (received !== expectedSize || got !== sha256) {
      throw new BlobMismatchError(`blob sha256:${sha256}: expected ${expectedSize} bytes, got ${received} bytes with sha256 ${got}: the stored blob is corrupt`);
    }
    return bytes;
  }

  /**
   * Downloads the blob into a temporary file next to `dest`, checking size
   * and sha256 as the bytes arrive, then renames it to `dest` (replacing a
   * file or a link there, never following one). Nothing is left behind on
   * failure.
   * @throws BlobMissingError, BlobMismatchError, BlobHttpError
   */
  download(sha256: string, dest: string, expectedSize: number, signal?: AbortSignal): Promise<void> {
    return retrying(signal, () => this.#download(sha256, dest, expectedSize, signal));
  }

  async #download(sha256: string, dest: string, expectedSize: number, signal?: AbortSignal): Promise<void> {
    const res = await this.#get(sha256, signal);
    const temp = path.join(path.dirname(dest), `.${path.basename(dest).slice(0, 100)}.${randomBytes(6).toString("hex")}.tributary-part`);
    const hash = createHash("sha256");
    let received = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        if (received > expectedSize) {
          done(new BlobMismatchError(`the server sent more than the ${expectedSize} bytes of the entry (blob sha256:${sha256}): the stored blob is corrupt`));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(res, meter, createWriteStream(temp, { flags: "wx" }), { signal });
      const got = hash.digest("hex");
      if (received !== expectedSize || got !== sha256) {
        throw new BlobMismatchError(
          `the bytes received do not match the entry: expected ${expectedSize} bytes with sha256 ${sha256}, got ${received} bytes with sha256 ${got}: the stored blob is corrupt`,
        );
      }
      await rename(temp, dest);
    } catch (err) {
      res.destroy();
      await rm(temp, { force: true });
      throw signal?.aborted || !transient(err) ? err : new BlobNetworkError(`GET ${this.url(sha256)}: the connection broke mid-download: ${(err as Error).message}`, true);
    }
  }

  /** Closes idle connections. */
  close(): void {
    this.#agent.destroy();
  }

  #send(
    method: string,
    sha256: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    write: (req: http.ClientRequest) => void,
  ): Promise<http.IncomingMessage> {
    const url = this.url(sha256);
    const request = this.#https ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const all = this.#authorization === undefined ? headers : { ...headers, authorization: this.#authorization };
      const req = request(url, { method, headers: all, agent: this.#agent, ...(signal ? { signal } : {}) });
      req.once("response", resolve);
      req.on("error", (err) => {
        if (signal?.aborted) reject(signal.reason as Error);
        else reject(transient(err) ? new BlobNetworkError(`${method} ${url}: ${err.message}`, broken(err)) : new Error(`${method} ${url}: ${err.message}`));
      });
      write(req);
    });
  }
}

/** Codes of a connection refused, broken or timed out: the server is away for now. */
const TRANSIENT_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ECONNABORTED"]);
const transient = (err: unknown): boolean => {
  if (err instanceof BlobNetworkError) return true;
  const e = err as { code?: unknown; message?: unknown };
  return (typeof e.code === "string" && TRANSIENT_CODES.has(e.code)) || e.message === "socket hang up" || e.message === "aborted";
};

/** A connection that was made, then broke (as opposed to one refused or unreachable: a server away). */
const broken = (err: unknown): boolean => {
  const e = err as { code?: unknown; message?: unknown };
  return e.code === "ECONNRESET" || e.code === "EPIPE" || e.code === "ECONNABORTED" || e.message === "socket hang up" || e.message === "aborted";
};

/** How long a transfer keeps trying while the server is away (a restart, an outage), and the backoff between tries. */
export const BLOB_RETRY = { forMs: 15 * 60_000, firstMs: 100, maxMs: 5_000, breaks: 3 } as const;

/**
 * Runs `op` again while it fails because the server is away (a refused or
 * broken connection, a 502/503/504 of a proxy before it), with a backoff,
 * for up to {@link BLOB_RETRY}.forMs, or until `signal` aborts: a server
 * restarted under an upload or a download costs a wait, not the execution.
 * A connection that broke (reset, hung up, cut mid-body) is tried again
 * only `breaks` times: a server that cuts every time has a reason (a
 * refused connection, the server down, is waited for).
 * Any other failure is thrown at once.
 */
const retrying = async <T>(signal: AbortSignal | undefined, op: () => Promise<T>): Promise<T> => {
  const until = Date.now() + BLOB_RETRY.forMs;
  let breaks = 0;
  for (let wait: number = BLOB_RETRY.firstMs; ; wait = Math.min(wait * 2, BLOB_RETRY.maxMs)) {
    try {
      return await op();
    } catch (err) {
      const away = err instanceof BlobNetworkError || (err instanceof BlobHttpError && (err.status === 502 || err.status === 503 || err.status === 504));
      if (err instanceof BlobNetworkError && err.broke) breaks++;
      if (!away || signal?.aborted || Date.now() + wait > until || breaks > BLOB_RETRY.breaks) throw err;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });
    if (signal?.aborted) throw signal.reason as Error;
  }
};

/** The server's error message: `{ error }` of a JSON body, or the text, shortened. */
const errorText = async (res: http.IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res) {
      if (n < MAX_ERROR_BODY) chunks.push(chunk as Buffer);
      n += (chunk as Buffer).length;
    }
  } catch {
    // the server closed mid-body: use what came
  }
  const text = Buffer.concat(chunks).toString("utf8").slice(0, MAX_ERROR_BODY).trim();
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
  } catch {
    // not JSON
  }
  return text;
};
