/**
 * What the routes of the HTTP API share: the server's parts they use, the
 * request as matched against its route, the handler types (one handler per
 * route name: a route without one does not compile), and the look-ups of an
 * environment and a run that most routes start with.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AssetId, EnvName, EventLog, Principal, ProjectName, RunId, StepId } from "../../events/index.js";
import type { BlobStore } from "../../events/storage/blob-store.js";
import { getRunView, type RunView } from "../../projections/index.js";
import type { ParamName, RouteName } from "../../protocol/index.js";
import { rejectionMessage, rejectionStatus, type Rejection, type RolePermission } from "../core/index.js";
import { AccessDenied, type Access, type Caller } from "../auth/access.js";
import type { Env, Environments } from "../environments.js";
import { HttpError } from "./http-io.js";
import type { StudioFiles } from "./studio.js";

export interface ServerContext {
  readonly log: EventLog;
  readonly blobs: BlobStore;
  readonly envs: Environments;
  /** Tokens, and (with --auth) who may do what. */
  readonly access: Access;
  /** Aborted when the server starts closing. */
  readonly stopping: AbortSignal;
  readonly notice: (message: string) => void;
  /** Studio's files, served outside `/api`. */
  readonly studio: StudioFiles;
}

/** The path parameters, parsed into the ids and names they are. */
export interface Params extends Readonly<Record<ParamName, string>> {
  readonly project: ProjectName;
  readonly env: EnvName;
  readonly runId: RunId;
  readonly stepId: StepId;
  readonly assetId: AssetId;
  /** A blob key (`sha256:…`). */
  readonly key: string;
  /** An access token's public id. */
  readonly tokenId: string;
}

/** A request matched to its route, its parameters, query and body checked against the route's schemas. */
export interface RouteRequest {
  /** The path parameters (a handler reads only those of its own route's path). */
  readonly params: Params;
  readonly query: URLSearchParams;
  /** The decoded JSON body, `undefined` when empty. */
  readonly body: unknown;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /**
   * Who asks, once the server checked the credential (`--auth`): record it
   * on the events the request causes. Absent without `--auth`.
   */
  readonly principal?: Principal;
  /** The caller as authenticated (with its token), with --auth. */
  readonly caller?: Caller;
}

/** Answers with what it returns (200, JSON), or streams the answer itself and returns {@link STREAMED}. */
export type JsonHandler = (ctx: ServerContext, r: RouteRequest) => Promise<unknown> | unknown;
/** Reads the request's body (bytes, not JSON) and writes the answer itself. */
export interface RawHandler {
  readonly raw: (ctx: ServerContext, r: Omit<RouteRequest, "body">) => Promise<void>;
}
export type Handler = JsonHandler | RawHandler;
/** One handler for every route of the API. */
export type Handlers = { readonly [K in RouteName]: Handler };

/** Returned by a handler that wrote its answer itself. */
export const STREAMED = Symbol("streamed");

export const goingAway = () => new HttpError(503, "the server is shutting down: retry in a moment");

export const rejected = (r: Rejection) => new HttpError(rejectionStatus(r), rejectionMessage(r));

/** The environment of the request's path, started on first use (404 if there is none). */
export const envOf = (ctx: ServerContext, r: RouteRequest): Promise<Env> => ctx.envs.get(r.params.project, r.params.env);

/**
 * The run of the request's path (404 if the environment has none). With
 * `rerun`, a run the environment only sees (in a branch's parent, or a base)
 * is brought into it first, unless `rerun` refuses it.
 */
export const runOf = async (ctx: ServerContext, env: Env, r: RouteRequest, rerun?: (view: RunView) => Rejection | undefined): Promise<RunView> => {
  const { runId } = r.params;
  const view = rerun ? await ctx.envs.importRun(env, runId, rerun, r.principal) : getRunView(env.rt.source, runId);
  if (!view) throw rejected({ _tag: "UnknownRun", runId });
  return view;
};

/** Waits for `work`, unless the server starts closing first: then a 503 that tells the client to retry. */
export const unlessClosing = <T>(ctx: ServerContext, work: Promise<T>): Promise<T> => {
  const signal = ctx.stopping;
  if (signal.aborted) return Promise.reject(goingAway());
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(goingAway());
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
};

/**
 * 403 unless the caller may do `permission` in environment `env` of the
 * request's project: for the routes whose environments are not (only) in
 * their path (see `ANY_ENV` in api.ts). Without --auth, or for the admin, nothing.
 */
export const allowed = (ctx: ServerContext, r: Pick<RouteRequest, "caller" | "params">, permission: RolePermission, env: string): void => {
  if (!r.caller) return;
  const denied = ctx.access.permit(r.caller, { permission, project: r.params.project, env });
  if (denied) throw new AccessDenied(denied);
};

/** Whether the caller may do `permission` in `env` of the request's project (to filter what a list shows). */
export const sees = (ctx: ServerContext, r: Pick<RouteRequest, "caller" | "params">, env: string): boolean =>
  !r.caller || ctx.access.permit(r.caller, { permission: "read", project: r.params.project, env }) === undefined;
