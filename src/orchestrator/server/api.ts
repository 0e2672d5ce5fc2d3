/**
 * The HTTP API's edge: a request is matched against the route table (404
 * for an unknown path, 405 for a wrong method), its path parameters, query
 * and body are checked against the route's schemas (400 naming the field),
 * and only then handed to its route's handler, by name. Errors are answered
 * as JSON `{ "error": "..." }`; while the server stops, 503 with Retry-After.
 * Paths outside `/api` are Studio's (`studio.ts`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import * as E from "fp-ts/lib/Either.js";
import {
  InvalidNameError,
  isReservedProject,
  parseAssetId,
  parseEnvName,
  parseField,
  parseProjectName,
  parseRunId,
  parseStepId,
  type InvalidName,
  type ProjectName,
} from "../../events/index.js";
import { checkBody, checkQuery, matchRoute, PERMISSIONS, type ParamName, type Route, type RouteName } from "../../protocol/index.js";
import { AccessDenied, TokensNeedAuth, type Caller } from "../auth/access.js";
import { Refused } from "../environments.js";
import { goingAway, STREAMED, type Params, type ServerContext } from "./context.js";
import { answerRaw, discard, HttpError, noBody, readBody, send } from "./http-io.js";
import { HANDLERS } from "./routes/index.js";

/** Answers one request. Never throws. */
export const handleRequest = async (ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  try {
    if (ctx.stopping.aborted) throw goingAway();
    const url = new URL(req.url ?? "/", "http://x");
    let parts: string[];
    try {
      parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new HttpError(400, "the path is not valid percent-encoding");
    }
    if (parts[0] !== "api") return await ctx.studio.serve(req, res); // Studio: its files and pages
    const method = req.method ?? "GET";
    const match = matchRoute(method, parts.slice(1));
    if (!match.ok) {
      if (match.allow) res.setHeader("allow", match.allow.join(", "));
      throw new HttpError(match.status, match.message);
    }
    const { route } = match.matched;
    const caller = authenticate(ctx, req, res, route.name);
    const params = parseParams(match.matched.params);
    if (caller) authorizeRoute(ctx, caller, route, params);
    const who = caller ? { caller, principal: caller.principal } : {};
    if (caller?.token) endWithCredential(ctx, caller.token, res);
    const badQuery = checkQuery(route, url.searchParams);
    if (badQuery) throw new HttpError(400, badQuery);
    const handler = HANDLERS[route.name];
    if ("raw" in handler) {
      // A raw handler streams its own body (a blob upload); on any other method there is none to take.
      if (method !== "PUT" && method !== "POST") await noBody(req);
      return await handler.raw(ctx, { params, query: url.searchParams, req, res, ...who });
    }
    const body = method === "POST" || method === "PUT" ? await readBody(req) : await noBody(req);
    const badBody = checkBody(route, body);
    if (badBody) throw new HttpError(400, badBody);
    const out = await handler(ctx, { params, query: url.searchParams, body, req, res, ...who });
    if (out === STREAMED || res.headersSent) return;
    send(res, 200, out);
  } catch (e) {
    const status = e instanceof HttpError || e instanceof Refused || e instanceof AccessDenied || e instanceof TokensNeedAuth ? e.status : e instanceof InvalidNameError ? 400 : 500;
    // What fails because the server is stopping (its orchestrators closed) is for the client to retry.
    if (status === 500 && ctx.stopping.aborted) return answerGoingAway(res);
    if (status === 503) return answerGoingAway(res, (e as Error).message);
    if (status === 500) ctx.notice(`API error: ${(e as Error).stack ?? String(e)}`);
    if (!res.headersSent) {
      // A body left unread (over the limit, or refused before it was read) is read and dropped first, so the
      // client, still sending, hears the answer instead of a reset.
      if (!req.complete) await discard(req);
      if (!req.complete) res.setHeader("connection", "close");
      // A refused credential says why (401) or what it lacks (403), for clients to say what to do.
      const why = e instanceof AccessDenied ? { ...(e.reason ? { reason: e.reason } : {}), ...(e.lacks ? { lacks: e.lacks } : {}) } : {};
      send(res, status, { error: (e as Error).message, ...why });
    } else res.end();
  }
};

/**
 * With --auth, the caller of a route that is not public: 401 (with a
 * `WWW-Authenticate` challenge) when the credential is missing, malformed,
 * unknown, expired or revoked. Checked before anything of the request is
 * read. Without --auth, or on a public route, `undefined`.
 */
const authenticate = (ctx: ServerContext, req: IncomingMessage, res: ServerResponse, route: RouteName): Caller | undefined => {
  if (!ctx.access.enabled || PERMISSIONS[route] === "public") return undefined;
  const caller = ctx.access.identify(req.headers.authorization);
  if ("status" in caller) {
    res.setHeader("www-authenticate", 'Bearer realm="tributary"');
    throw new AccessDenied(caller);
  }
  return caller;
};

/**
 * A request that lasts (a long poll, a followed log) ends when its token
 * stops being a credential (revoked here or by another server, or expired):
 * with a 401 when nothing is answered yet, else by cutting the stream.
 */
const endWithCredential = (ctx: ServerContext, token: { tokenId: string; expiresAt?: number }, res: ServerResponse): void => {
  const check = () => {
    const refusal = ctx.access.refusal(token.tokenId);
    if (!refusal || res.writableEnded) return;
    if (!res.headersSent) send(res, 401, { error: refusal.message, ...(refusal.reason ? { reason: refusal.reason } : {}) }, { connection: "close" });
    else res.destroy();
  };
  const stop = ctx.access.onChange(check);
  // Past ~24.8 days a timer fires at once: such a request is checked at the next change instead.
  const left = token.expiresAt === undefined ? undefined : token.expiresAt - Date.now();
  const expiry = left !== undefined && left < 2 ** 31 ? setTimeout(check, Math.max(0, left + 1)) : undefined;
  res.once("close", () => {
    stop();
    clearTimeout(expiry);
  });
};

/**
 * The routes whose environment is not in their path, or not the only one
 * they touch: the middleware checks the project and the role, the handler
 * the environments (`allowed` in context.ts): which of the project's
 * environments a token lists, the one it creates and the one it branches
 * from, the tokens within its reach.
 */
const ANY_ENV: ReadonlySet<RouteName> = new Set(["listEnvs", "projectChanges", "listProjects", "createEnv", "listTokens", "createToken", "revokeToken"]);

/** 403 unless `caller` may use `route` on the project and environment of its path. */
const authorizeRoute = (ctx: ServerContext, caller: Caller, route: Route, params: Params): void => {
  const permission = PERMISSIONS[route.name];
  if (permission === "public" || permission === "any" || !caller.token) return;
  // Of no one project: a token's role is checked on its own project (the handler lists only that one).
  if (route.name === "listProjects") params = { ...params, project: caller.token.project };
  else if (!route.path.startsWith("projects/:project")) {
    throw new AccessDenied({ status: 403, message: `${route.name} is for the admin only, not token ${caller.token.tokenId}` });
  }
  const hasEnv = route.path.includes("/:env");
  const need = { permission, project: params.project, ...(ANY_ENV.has(route.name) ? { anyEnv: true as const } : hasEnv ? { env: params.env } : {}) };
  const denied = ctx.access.permit(caller, need);
  if (denied) throw new AccessDenied(denied);
};

/** How each path parameter is parsed into the id or name it is. */
const PARSERS: { readonly [K in ParamName]: (value: unknown) => E.Either<InvalidName, Params[K]> } = {
  project: (value) =>
    E.chain((p: ProjectName) => (isReservedProject(p) ? E.left<InvalidName>({ _tag: "InvalidName", kind: "project name", value: p, hint: "that name is reserved for the server's own log" }) : E.right(p)))(parseProjectName(value)),
  env: parseEnvName,
  runId: parseRunId,
  stepId: parseStepId,
  assetId: parseAssetId,
  key: (value) => E.right(String(value)),
  tokenId: (value) => E.right(String(value)),
  pool: (value) => E.right(String(value)),
  inputId: (value) => E.right(String(value)),
};

/**
 * The route's path parameters, parsed (matchRoute checked them against the
 * same patterns already: a refusal here is a 400 naming the parameter all
 * the same). A handler reads only its own route's parameters.
 */
const parseParams = (raw: Readonly<Record<string, string>>): Params => {
  const out: Partial<Record<ParamName, string>> = {};
  for (const [name, value] of Object.entries(raw)) {
    const parsed = parseField(PARSERS[name as ParamName], name, value);
    if (E.isLeft(parsed)) throw new HttpError(400, parsed.left);
    out[name as ParamName] = parsed.right;
  }
  return out as Params;
};

const answerGoingAway = (res: ServerResponse, message = goingAway().message): void => {
  if (res.headersSent) return void res.end();
  send(res, 503, { error: message }, { "retry-after": "1", connection: "close" });
};

/** Requests Node's parser refuses (an unknown method, a malformed header) get a JSON 400 too, not a bare one. */
export const answerClientError = (err: NodeJS.ErrnoException, socket: Duplex): void => {
  if (!socket.writable || err.code === "ECONNRESET") return void socket.destroy();
  const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
  const what = err.code === "HPE_INVALID_METHOD" ? "an unknown HTTP method" : `a malformed HTTP request (${err.code ?? err.message})`;
  answerRaw(socket, status, status === 431 ? "Request Header Fields Too Large" : "Bad Request", { error: `${what}: see GET /api/schema for the API` });
};
