/**
 * Reading and answering HTTP requests for the server: JSON bodies within the
 * limit (413 past it, answered before the connection closes), bodies left
 * unread drained so that the client hears the answer, JSON answers.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { MAX_BODY_BYTES } from "../../protocol/index.js";
import { fromJson, toJson } from "../../protocol/json.js";

/** How much of an over-limit body is read (and dropped) so that the client hears the 413; past it the socket is closed. */
const MAX_DISCARD_BYTES = 64 * 1024 * 1024;

/** An HTTP error with a status and a message that says what to do. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const send = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => {
  const text = toJson(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
};

/**
 * Reads a JSON body of at most MAX_BODY_BYTES. Past the limit it answers 413
 * at once and reads on, dropping the bytes, so the client gets the answer
 * instead of a reset connection (up to MAX_DISCARD_BYTES; then it closes).
 */
export const readBody = (req: IncomingMessage): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, `request body over the limit of ${MAX_BODY_BYTES} bytes: pass large values as assets (see docs/sdk.md)`);
    const declared = Number(req.headers["content-length"]);
    let over = Number.isFinite(declared) && declared > MAX_BODY_BYTES;
    if (over) reject(tooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (over) {
        if (size > MAX_DISCARD_BYTES) req.destroy();
        return;
      }
      if (size > MAX_BODY_BYTES) {
        over = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (over) return;
      if (size === 0) return resolve(undefined);
      try {
        resolve(fromJson(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new HttpError(400, "the request body is not valid JSON"));
      }
    });
    req.on("error", reject);
  });

/** Reads what is left of a request's body and drops it: up to MAX_DISCARD_BYTES and 5 s, then the socket closes. */
export const discard = (req: IncomingMessage): Promise<void> =>
  new Promise((resolve) => {
    if (req.complete || req.destroyed) return resolve();
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      req.destroy();
      done();
    }, 5000);
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_DISCARD_BYTES) {
        req.destroy();
        done();
      }
    });
    req.once("end", done);
    req.once("close", done);
    req.once("error", done);
    req.resume();
  });

/** A request that takes no body: one is refused (400), and what was sent is dropped. */
export const noBody = async (req: IncomingMessage): Promise<undefined> => {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (req.headers["transfer-encoding"] === undefined && (!Number.isFinite(declared) || declared === 0)) return undefined;
  const body = await readBody(req);
  if (body !== undefined) throw new HttpError(400, `${req.method ?? "GET"} requests take no body`);
  return undefined;
};


/**
 * Answers on a bare socket, where Node's response is not available (a
 * refused upgrade, a request Node's parser refused): the status, the JSON
 * body every refusal has, and the connection closed.
 */
export const answerRaw = (socket: Duplex, status: number, reason: string, body: unknown, headers: Record<string, string> = {}): void => {
  const text = JSON.stringify(body);
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n${extra}connection: close\r\n\r\n${text}`,
  );
};
