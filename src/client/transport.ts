/**
 * The client's HTTP: every request is built from a route of the server's own
 * table (`src/protocol/http.ts`) and matched with the server's own matcher
 * before it is sent, so a path the server does not serve, or a parameter it
 * would refuse, never leaves; the answer is the API's JSON (with its tags for
 * bigint, Date and bytes), or an error that says what happened. With a
 * token, every request (streams included) carries `Authorization: Bearer
 * <token>`; the token is kept in a private field and is in no error.
 */
import { fromJson, toJson } from "../protocol/json.js";
import { checkQuery, matchRoute, type Route } from "../protocol/http.js";
import { PERMISSIONS } from "../protocol/permissions.js";
import {
  ApiError,
  ConnectionError,
  FORBIDDEN_LACKS,
  ForbiddenError,
  InvalidRequestError,
  UNAUTHENTICATED_REASONS,
  UnauthenticatedError,
  UnexpectedResponseError,
} from "./errors.js";
import { untrustedCode } from "../protocol/tls.js";

/** A request: a route of the table by method and path template (or a path as is), its parameters, query and JSON body. */
export interface Request {
  readonly method: Route["method"];
  /** The route's path as the table writes it (after `/api/`), e.g. `projects/:project/envs/:env/runs/:runId`. */
  readonly route?: string;
  /** Instead of `route`, `params` and `query`: the path and query, e.g. `/api/projects/p/envs/e/runs?limit=5`. */
  readonly path?: string;
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

export class Transport {
  readonly #fetch: typeof fetch;
  readonly #authorization: string | undefined;

  constructor(
    /** The server's URL, e.g. `http://127.0.0.1:7777`. */
    readonly url: string,
    fetchImpl: typeof fetch = fetch,
    /** An access token (checked by the caller: visible ASCII, no spaces). */
    token?: string,
  ) {
    this.#fetch = fetchImpl;
    this.#authorization = token === undefined ? undefined : `Bearer ${token}`;
  }

  /** Sends the request and reads its JSON answer. @throws {ApiError} {ConnectionError} {UnexpectedResponseError} {InvalidRequestError} */
  async json<T>(req: Request): Promise<T> {
    const { path, route } = this.pathOf(req);
    const res = await this.send(req, path);
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      if (req.signal?.aborted) throw req.signal.reason;
      throw new ConnectionError(`the connection to the Tributary server at ${this.url} was cut (${(e as Error).message})`, this.url, "cut", { cause: e });
    }
    let value: unknown;
    try {
      value = text ? fromJson(text) : undefined;
    } catch {
      throw new UnexpectedResponseError(`the server answered ${res.status} with something that is not JSON`, res.status);
    }
    if (!res.ok) throw apiError(res.status, value, `${req.method} ${path}`, route);
    return value as T;
  }

  /**
   * Sends the request and answers the response with its body unread (a
   * stream); an error status is read and thrown as for {@link json}.
   */
  async stream(req: Request): Promise<Response> {
    const { path, route } = this.pathOf(req);
    const res = await this.send(req, path);
    if (res.ok && res.body) return res;
    let value: unknown;
    try {
      value = fromJson(await res.text());
    } catch {
      value = undefined;
    }
    throw apiError(res.status, value, `${req.method} ${path}`, route);
  }

  private async send(req: Request, path: string): Promise<Response> {
    let body: string | undefined;
    try {
      body = req.body === undefined ? undefined : toJson(req.body);
    } catch (e) {
      // Not the server's fault, and it will not pass: refused, not retried.
      throw new InvalidRequestError(`the body of ${req.method} ${path} cannot be encoded as JSON: ${(e as Error).message.split("\n")[0]}`);
    }
    const headers: Record<string, string> = {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(this.#authorization === undefined ? {} : { authorization: this.#authorization }),
    };
    try {
      return await this.#fetch(new URL(path, this.url), {
        method: req.method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(req.signal ? { signal: req.signal } : {}),
      });
    } catch (e) {
      if (req.signal?.aborted) throw req.signal.reason;
      const cause = (e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message;
      const untrusted = untrustedCode(e);
      if (untrusted) {
        throw new ConnectionError(
          `the certificate of the Tributary server at ${this.url} is not trusted (${untrusted}: ${cause}): give the certificate of the CA that signed it ` +
            `(the server's own for a self-signed one) with --ca FILE or TRIBUTARY_CA (the client's option ca)`,
          this.url,
          "untrusted",
          { cause: e },
        );
      }
      throw new ConnectionError(`cannot reach the Tributary server at ${this.url} (${cause})`, this.url, "unreachable", { cause: e });
    }
  }

  /** `/api/…?…` of the request, checked by the server's route matcher, and the route it matches. */
  private pathOf(req: Request): { path: string; route: Route } {
    if (req.path !== undefined) return this.checkedPath(req.method, req.path);
    const route = req.route ?? "";
    const segments = route.split("/").map((s) => (s.startsWith(":") ? (req.params?.[s.slice(1)] ?? "") : s));
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) query.set(k, v);
    const found = routeOf(req.method, segments, query);
    if (found.path !== route) throw new Error(`the client's ${req.method} /api/${route} is not a route of the table (it matches ${found.path})`);
    const qs = query.toString();
    return { path: `/api/${segments.map(encodeURIComponent).join("/")}${qs ? `?${qs}` : ""}`, route: found };
  }

  /** A path as given (`/api/…?…`), checked as the server checks it. */
  private checkedPath(method: string, path: string): { path: string; route: Route } {
    const url = new URL(path, "http://x");
    const parts = url.pathname.split("/").filter(Boolean);
    if (parts[0] !== "api") throw new InvalidRequestError(`${path} is not a path of the API: it starts with /api/`, 404);
    let segments: string[];
    try {
      segments = parts.slice(1).map(decodeURIComponent);
    } catch {
      throw new InvalidRequestError(`${path}: the path is not valid percent-encoding`);
    }
    return { path: `${url.pathname}${url.search}`, route: routeOf(method, segments, url.searchParams) };
  }
}

/** The route of the table that the server would match, or the refusal it would answer. */
const routeOf = (method: string, segments: readonly string[], query: URLSearchParams): Route => {
  const match = matchRoute(method, segments);
  if (!match.ok) throw new InvalidRequestError(match.message, match.status);
  const bad = checkQuery(match.matched.route, query);
  if (bad) throw new InvalidRequestError(bad);
  return match.matched.route;
};

/** Decodes the API's JSON, tags included (`{"$bigint": "1"}` is `1n`). */
export const decodeJson = (text: string): unknown => fromJson(text);

/** Encodes a value as the API's JSON, with its tags. */
export const encodeJson = (value: unknown, space?: number): string => toJson(value, space);

/** `body[key]` if it is one of `words` (a server that says another, or none, says nothing). */
const wordOf = <W extends string>(body: unknown, key: string, words: readonly W[]): W | undefined => {
  const v = typeof body === "object" && body !== null ? (body as Record<string, unknown>)[key] : undefined;
  return typeof v === "string" && (words as readonly string[]).includes(v) ? (v as W) : undefined;
};

const apiError = (status: number, value: unknown, request: string, route: Route): ApiError => {
  const message = typeof value === "object" && value !== null && typeof (value as { error?: unknown }).error === "string" ? (value as { error: string }).error : `HTTP ${status}`;
  if (status === 401) return new UnauthenticatedError(message, request, wordOf(value, "reason", UNAUTHENTICATED_REASONS));
  if (status === 403) return new ForbiddenError(message, request, PERMISSIONS[route.name], wordOf(value, "lacks", FORBIDDEN_LACKS));
  return new ApiError(message, status, request);
};
