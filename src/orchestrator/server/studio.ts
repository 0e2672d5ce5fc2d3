/**
 * Studio's files (docs/studio.md): the browser app that `npm run build`
 * bundles into dist/studio/, served at `/` on the API's port. `/assets/…`
 * are the bundle's files (their names carry a hash of their content, so
 * browsers may keep them for good); every other path outside `/api` is a
 * place of the app and answers index.html, so that deep links load. No
 * credential is asked for them: the app asks for a token when the API
 * answers 401.
 *
 * The request's path is read as sent, segment by segment: one that decodes
 * to `.`, `..`, or holds `/`, `\` or NUL is refused (400) before any file is
 * looked at, and a file is served only if its real path lies inside the
 * directory. Without a build (a clone before `npm run build`), 503 saying how
 * to make one.
 */
import type { Stats } from "node:fs";
import { readFile, realpath, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { AGENT_PATH } from "../../protocol/index.js";
import { HttpError } from "./http-io.js";

/**
 * Where the build puts Studio: `<package>/dist/studio/`, from the sources
 * (src/orchestrator/server/) and from the built package
 * (dist/src/orchestrator/server/) alike.
 */
export const DEFAULT_STUDIO_DIR = ((): string => {
  const here = fileURLToPath(import.meta.url);
  const up = resolve(dirname(here), "../../..");
  return here.endsWith(".ts") ? join(up, "dist", "studio") : join(up, "studio");
})();

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** What the browser may do with Studio's pages: only this server's scripts, styles and API. */
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

const NOT_BUILT =
  "Tributary Studio is not built: this server has no dist/studio/ to serve.\n\n" +
  "In a clone, build it with `npm run build` (`npm ci` does too), then reload this page.\n" +
  "The API answers all the same under /api (see /api/schema).\n";

export class StudioFiles {
  constructor(
    /** The directory of index.html and assets/. */
    readonly dir: string,
    /** The project `/` opens (the server's default), written into index.html. */
    private readonly defaultProject: string,
  ) {}

  /** Answers a request outside `/api`. @throws HttpError for a refused path or method (the API's edge answers it). */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      throw new HttpError(405, `${method} is not allowed outside /api: Studio's pages are read with GET (the API lives under /api)`);
    }
    req.resume(); // a body on a GET is ignored
    const segments = pathSegments(req.url ?? "/");
    if (segments[0] === "assets") return this.file(res, method, segments.slice(1));
    if (`/${segments.join("/")}` === AGENT_PATH) {
      res.setHeader("upgrade", "websocket");
      throw new HttpError(426, `${AGENT_PATH} is the agents' WebSocket endpoint: connect with a WebSocket upgrade (tributary agent does)`);
    }
    return this.index(res, method);
  }

  private async index(res: ServerResponse, method: string): Promise<void> {
    let html: string;
    try {
      html = await readFile(join(this.dir, "index.html"), "utf8");
    } catch {
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(NOT_BUILT), "cache-control": "no-store", "retry-after": "60" });
      return void res.end(method === "HEAD" ? undefined : NOT_BUILT);
    }
    const body = html.replace('<meta name="tributary-project" content="">', `<meta name="tributary-project" content="${escapeAttr(this.defaultProject)}">`);
    res.writeHead(200, { "content-type": TYPES[".html"]!, "content-length": Buffer.byteLength(body), "cache-control": "no-cache", ...PAGE_HEADERS });
    res.end(method === "HEAD" ? undefined : body);
  }

  private async file(res: ServerResponse, method: string, rest: readonly string[]): Promise<void> {
    const base = join(this.dir, "assets");
    const missing = () => new HttpError(404, `no such file of Studio: /assets/${rest.join("/")}`);
    if (rest.length === 0) throw missing();
    let real: string;
    let info: Stats;
    try {
      const [root, found] = await Promise.all([realpath(base), realpath(join(base, ...rest))]);
      if (!found.startsWith(root + sep)) throw missing();
      real = found;
      info = await stat(real);
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw missing();
    }
    if (!info.isFile()) throw missing();
    const body = await readFile(real);
    res.writeHead(200, {
      "content-type": TYPES[extname(real).toLowerCase()] ?? "application/octet-stream",
      "content-length": body.length,
      "cache-control": "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
    });
    res.end(method === "HEAD" ? undefined : body);
  }
}

/**
 * The segments of a request's path, decoded, as sent (no dot-segment
 * removal). @throws HttpError 400 for one that could step out of a directory
 * or is not valid percent-encoding.
 */
export const pathSegments = (url: string): string[] => {
  const path = url.split(/[?#]/, 1)[0]!;
  if (!path.startsWith("/")) throw new HttpError(400, "the request's path must start with /");
  return path
    .split("/")
    .filter((s) => s !== "")
    .map((raw) => {
      let s: string;
      try {
        s = decodeURIComponent(raw);
      } catch {
        throw new HttpError(400, "the path is not valid percent-encoding");
      }
      if (s === "." || s === ".." || /[/\\\0]/.test(s)) {
        throw new HttpError(400, `path segment ${JSON.stringify(s)} is refused: Studio's paths never hold . or .. segments, slashes, backslashes or NUL`);
      }
      return s;
    });
};

const escapeAttr = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
