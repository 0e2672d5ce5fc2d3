/**
 * Schemas of the HTTP API: every route with its methods, path parameters,
 * query and body. The server matches each request against {@link ROUTES}
 * (unknown path: 404, wrong method: 405) and checks its parameters, query
 * and body before it acts (a misfit: 400 naming the field). `GET /api/schema`
 * serves {@link apiSchema}: these same schemas as JSON Schema.
 */
import { Type, type TObject, type TProperties, type TSchema } from "@sinclair/typebox";
import { ID, ID_HINT, NAME, NAME_HINT } from "../events/ids.js";
import { MAX_POOL_AGENTS, MAX_POOL_MODULES, POOL_NAME, POOL_NAME_HINT } from "../events/pools.js";
import { MAX_BODY_BYTES, PROTOCOL_VERSION } from "./constants.js";
import { AGENT_MESSAGES, SERVER_MESSAGES } from "./agent.js";
import { NamedString, ValueSchema, check, type Check } from "./schema.js";

const strict = <T extends TProperties>(props: T, description?: string): TObject<T> =>
  Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });

const Name = (what: string) => NamedString(NAME, what, NAME_HINT);
const Id = (what: string) => NamedString(ID, what, ID_HINT);
/** An ISO date or time (`2026-12-01`, `2026-12-01T10:00:00Z`, with an offset or fraction). */
const IsoTime = (what: string) =>
  Type.String({
    pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\\.[0-9]{1,9})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?$",
    description: `an ISO date (2026-12-01T10:00:00Z): ${what}`,
  });
/**
 * The time of an ISO date or time that {@link IsoTime} lets through, in ms
 * since the epoch; undefined when it names a day or time that does not exist
 * (`2026-02-30`, `T25:00`, an offset of `+99:99`), which `Date.parse` would
 * otherwise move silently (to March 2).
 */
export const isoTimeOf = (text: string): number | undefined => {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?[^Z+-]*(?:Z|[+-](\d{2}):(\d{2}))?)?$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0] = m.slice(1).map((x) => (x === undefined ? undefined : Number(x))) as number[];
  const day = new Date(Date.UTC(y!, mo! - 1, d!));
  if (mo! < 1 || mo! > 12 || day.getUTCFullYear() !== y || day.getUTCMonth() !== mo! - 1 || day.getUTCDate() !== d) return undefined;
  if (h! > 23 || mi! > 59 || sec! > 59 || oh! > 23 || om! > 59) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
};
const Flag = (description: string) =>
  Type.Union([Type.Literal("true"), Type.Literal("false"), Type.Literal("1"), Type.Literal("0")], { description });

/** Path parameters, by name. */
export const PARAMS = {
  project: Name("project name"),
  env: Name("environment name"),
  runId: Id("run id"),
  stepId: Id("step id"),
  assetId: Id("asset id"),
  key: NamedString(/^sha256:[0-9a-f]{64}$/, "blob key", "expected sha256:<64 lower-case hex digits>"),
  tokenId: NamedString(/^[0-9a-z]{1,64}$/, "token id", "expected 1-64 lower-case letters and digits"),
  pool: NamedString(POOL_NAME, "pool name", `expected ${POOL_NAME_HINT}`),
  inputId: Id("input id"),
} as const;
export type ParamName = keyof typeof PARAMS;

/** Bodies. */
export const SubmitBody = strict({
  target: Type.String({ pattern: "^[^:]+:[^:]+$", description: 'the target as "repository:target", e.g. "orders:process_orders"' }),
  arguments: Type.Optional(Type.Array(ValueSchema(), { maxItems: 100_000 })),
  idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  queue: Type.Optional(Type.Boolean({ description: "accept the run of a target no agent has registered yet: it waits for one" })),
});
export const CreateEnvBody = strict({
  name: Name("environment name"),
  base: Type.Optional(Name("base environment")),
  from: Type.Optional(Name("environment to branch from")),
  at: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "a log sequence number" })),
  atTime: Type.Optional(Type.String({ maxLength: 64, description: "an ISO date" })),
});
export const UpdateEnvBody = strict({
  base: Type.Union([Name("new base environment"), Type.Null()], { description: 'the new base: a name, or null for none' }),
});
export const RerunBody = strict({ cascade: Type.Optional(Type.Boolean()) });
export const EmptyBody = strict({}, "no fields");
export const AnswerInputBody = strict({ value: ValueSchema() }, "the answer: a JSON value that fits the input's schema");
export const CreateTokenBody = strict({
  role: Type.Union([Type.Literal("read"), Type.Literal("submit"), Type.Literal("agent"), Type.Literal("admin")], { description: "read | submit | agent | admin" }),
  envs: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 64, description: "an environment name, or a prefix ending in * (dev-*)" }), {
      minItems: 1,
      maxItems: 64,
      description: "environment patterns; default every environment (*)",
    }),
  ),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "what the token is for" })),
  expiresInMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 10 * 366 * 86_400_000, description: "expires this long after its creation, ms" })),
});
export const CreatePoolBody = strict({
  name: NamedString(POOL_NAME, "pool name", `expected ${POOL_NAME_HINT}`),
  launcher: Type.Literal("process", { description: '"process": agent processes on the server\'s machine' }),
  modules: Type.Array(Type.String({ minLength: 2, maxLength: 4096, pattern: "^/", description: "an absolute path on the server's machine" }), {
    minItems: 1,
    maxItems: MAX_POOL_MODULES,
  }),
  max: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_POOL_AGENTS, description: "at most this many agents at once (default 1)" })),
  tags: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.Array(Type.String({ maxLength: 256 }), { maxItems: 64 }))),
});
export const RevokeTokenBody = strict({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })) });
export const PauseEnvBody = strict({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "why, for the record" })) });

interface RouteSpec {
  /** The route's name: the server dispatches on it (each name has exactly one handler). */
  readonly name: string;
  readonly method: "GET" | "POST" | "PUT" | "HEAD";
  /** Segments after `/api`; `:name` is a parameter of {@link PARAMS}. */
  readonly path: string;
  readonly summary: string;
  /** Accepted query parameters (all optional). Any other is refused. */
  readonly query?: TObject;
  /** JSON body, for POST. Absent: none accepted other than `{}`. */
  readonly body?: TSchema;
  /** The body is a stream of bytes, not JSON. */
  readonly rawBody?: boolean;
}

const ENV = "projects/:project/envs/:env";
const RUN = `${ENV}/runs/:runId`;

const TABLE = [
  { name: "health", method: "GET", path: "health", summary: "liveness and the kind of log" },
  { name: "schema", method: "GET", path: "schema", summary: "this API as JSON Schema" },
  { name: "whoami", method: "GET", path: "whoami", summary: "whether the server checks credentials, and who the caller is" },
  { name: "listProjects", method: "GET", path: "projects", summary: "the projects (with --auth, a token's own project only)" },
  { name: "projectChanges", method: "GET", path: "projects/:project/changes", summary: "the project's environments as they are made and their logs grow (Server-Sent Events, coalesced)" },
  { name: "listTokens", method: "GET", path: "projects/:project/tokens", summary: "a project's access tokens (never their secrets)" },
  { name: "createToken", method: "POST", path: "projects/:project/tokens", summary: "make an access token (its text is answered once)", body: CreateTokenBody },
  { name: "revokeToken", method: "POST", path: "projects/:project/tokens/:tokenId/revoke", summary: "revoke an access token", body: RevokeTokenBody },
  { name: "listEnvs", method: "GET", path: "projects/:project/envs", summary: "environments of a project" },
  { name: "createEnv", method: "POST", path: "projects/:project/envs", summary: "create or branch an environment", body: CreateEnvBody },
  { name: "updateEnv", method: "POST", path: `${ENV}/update`, summary: "set an environment's base", body: UpdateEnvBody },
  {
    name: "envChanges",
    method: "GET",
    path: `${ENV}/changes`,
    summary: "the environment's commits as they are acknowledged (Server-Sent Events, coalesced)",
    query: strict({ after: Type.Optional(Type.String({ pattern: "^(?:0|[1-9][0-9]{0,15})$", description: "a whole number from 0: the log sequence to resume after (as Last-Event-ID)" })) }),
  },
  { name: "archiveEnv", method: "POST", path: `${ENV}/archive`, summary: "archive an environment" },
  { name: "pauseEnv", method: "POST", path: `${ENV}/pause`, summary: "pause an environment: nothing new is assigned", body: PauseEnvBody },
  { name: "resumeEnv", method: "POST", path: `${ENV}/resume`, summary: "resume a paused environment" },
  {
    name: "listRuns",
    method: "GET",
    path: `${ENV}/runs`,
    summary: "latest runs",
    query: strict({
      limit: Type.Optional(Type.String({ pattern: "^(?:[1-9][0-9]{0,3}|10000)$", description: "a whole number from 1 to 10000" })),
      before: Type.Optional(Id("run id (runs older than it: the next page)")),
      status: Type.Optional(Type.Union([Type.Literal("running"), Type.Literal("succeeded"), Type.Literal("failed"), Type.Literal("cancelled")], { description: "running | succeeded | failed | cancelled" })),
      target: Type.Optional(Type.String({ pattern: "^[^:]+:[^:]+$", maxLength: 512, description: 'a target as "repository:target"' })),
      since: Type.Optional(IsoTime("runs submitted at or after it")),
      until: Type.Optional(IsoTime("runs submitted before it")),
    }),
  },
  { name: "submitRun", method: "POST", path: `${ENV}/runs`, summary: "submit a run", body: SubmitBody },
  {
    name: "getRun",
    method: "GET",
    path: RUN,
    summary: "a run with its steps (now, or as of a log sequence or a time)",
    query: strict({
      at: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,14}$", description: "a whole number from 1: the run as of this log sequence" })),
      atTime: Type.Optional(IsoTime("the run as of its last commit at or before it")),
    }),
  },
  { name: "runHistory", method: "GET", path: `${RUN}/history`, summary: "a run's events" },
  { name: "runResult", method: "GET", path: `${RUN}/result`, summary: "a run's outcome", query: strict({ wait: Type.Optional(Flag("wait for the outcome")) }) },
  { name: "runLogs", method: "GET", path: `${RUN}/logs`, summary: "a run's task logs", query: strict({ follow: Type.Optional(Flag("stream until the run ends (ndjson)")) }) },
  { name: "cancelRun", method: "POST", path: `${RUN}/cancel`, summary: "cancel a run" },
  { name: "rerunStep", method: "POST", path: `${RUN}/steps/:stepId/rerun`, summary: "re-run a step", body: RerunBody },
  {
    name: "compareRuns",
    method: "GET",
    path: `${RUN}/compare`,
    summary: "this run and another compared step by step",
    query: strict({
      with: Type.Optional(Id("run id")),
      withEnv: Type.Optional(Name("environment name")),
    }),
  },
  { name: "runSteps", method: "GET", path: `${ENV}/steps/:runId`, summary: "a run's steps" },
  { name: "listAssets", method: "GET", path: `${ENV}/assets`, summary: "assets", query: strict({ run: Type.Optional(Id("run id")) }) },
  { name: "getAsset", method: "GET", path: `${ENV}/assets/:assetId`, summary: "an asset" },
  { name: "listAgents", method: "GET", path: `${ENV}/agents`, summary: "agents connected and known" },
  { name: "listPools", method: "GET", path: `${ENV}/pools`, summary: "pools of agents the server starts, with their agents now" },
  { name: "createPool", method: "POST", path: `${ENV}/pools`, summary: "create a pool of agents the server starts", body: CreatePoolBody },
  { name: "deletePool", method: "POST", path: `${ENV}/pools/:pool/delete`, summary: "delete a pool (its agents are stopped)" },
  {
    name: "listInputs",
    method: "GET",
    path: `${ENV}/inputs`,
    summary: "inputs asked by prompts (newest first)",
    query: strict({ status: Type.Optional(Type.Union([Type.Literal("pending"), Type.Literal("answered")], { description: "pending | answered" })), run: Type.Optional(Id("run id")) }),
  },
  { name: "getInput", method: "GET", path: `${ENV}/inputs/:inputId`, summary: "an input: its title, schema, and answer if any" },
  { name: "answerInput", method: "POST", path: `${ENV}/inputs/:inputId/answer`, summary: "answer a pending input (checked against its schema)", body: AnswerInputBody },
  { name: "dumpProjections", method: "GET", path: `${ENV}/projections/dump`, summary: "every projection document" },
  { name: "rebuildProjections", method: "POST", path: `${ENV}/projections/rebuild`, summary: "drop the projections and replay the log" },
  { name: "verifyLog", method: "GET", path: `${ENV}/log/verify`, summary: "decode every commit of the log; list those that fail" },
  { name: "getBlob", method: "GET", path: `${ENV}/blobs/:key`, summary: "a blob's bytes, if the environment refers to it (an asset, a large value)" },
  { name: "headBlob", method: "HEAD", path: `${ENV}/blobs/:key`, summary: "whether a blob is stored, and its size (agents: before an upload)" },
  { name: "putBlob", method: "PUT", path: `${ENV}/blobs/:key`, summary: "store a blob (streamed; its sha256 must match the key)", rawBody: true },
] as const satisfies readonly RouteSpec[];

/** The name of a route of {@link ROUTES}. */
export type RouteName = (typeof TABLE)[number]["name"];

/** A route of the API. */
export interface Route extends RouteSpec {
  readonly name: RouteName;
}

/** Every route of the API. */
export const ROUTES: readonly Route[] = TABLE;

/** A request matched to its route, parameters checked. */
export interface Matched {
  readonly route: Route;
  readonly params: Readonly<Record<string, string>>;
}

export type Match =
  | { readonly ok: true; readonly matched: Matched }
  | { readonly ok: false; readonly status: 400 | 404 | 405; readonly message: string; readonly allow?: readonly string[] };

const split = (path: string): string[] => path.split("/");
const compiledParams = new Map<string, Check>();
const paramCheck = (name: string): Check => {
  let c = compiledParams.get(name);
  if (!c) compiledParams.set(name, (c = check(PARAMS[name as ParamName], name)));
  return c;
};

/**
 * Finds the route of `method` and `segments` (the decoded path after `/api`)
 * and checks its path parameters.
 */
export const matchRoute = (method: string, segments: readonly string[]): Match => {
  const fits = ROUTES.filter((r) => {
    const parts = split(r.path);
    return parts.length === segments.length && parts.every((p, i) => p.startsWith(":") || p === segments[i]);
  });
  if (fits.length === 0) return { ok: false, status: 404, message: `no such endpoint: /api/${segments.join("/")}: see GET /api/schema` };
  const route = fits.find((r) => r.method === method);
  if (!route) {
    const allow = [...new Set(fits.map((r) => r.method))];
    return { ok: false, status: 405, message: `${method} is not allowed on /api/${segments.join("/")}: use ${allow.join(" or ")}`, allow };
  }
  const params: Record<string, string> = {};
  const parts = split(route.path);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (!p.startsWith(":")) continue;
    const name = p.slice(1);
    const problem = paramCheck(name)(segments[i]);
    if (problem) return { ok: false, status: 400, message: problem };
    params[name] = segments[i]!;
  }
  return { ok: true, matched: { route, params } };
};

const compiledQueries = new Map<Route, Check>();
const compiledBodies = new Map<Route, Check>();

/** Checks a query string against the route's: `undefined` or a message naming the parameter. */
export const checkQuery = (route: Route, query: URLSearchParams): string | undefined => {
  const obj: Record<string, string> = {};
  for (const [k, v] of query) {
    if (Object.hasOwn(obj, k)) return `query parameter ${k} is given twice: give it once`;
    obj[k] = v;
  }
  if (!route.query) {
    const first = Object.keys(obj)[0];
    return first === undefined ? undefined : `query parameter ${JSON.stringify(first)} is not known here: this endpoint takes none`;
  }
  let c = compiledQueries.get(route);
  if (!c) compiledQueries.set(route, (c = check(route.query, "")));
  const problem = c(obj);
  return problem === undefined ? undefined : `query parameter ${problem}`;
};

/** Checks a decoded JSON body (`undefined` when empty) against the route's. */
export const checkBody = (route: Route, body: unknown): string | undefined => {
  const schema = route.body ?? EmptyBody;
  if (body === undefined) return route.body && hasRequired(route.body) ? `the request needs a JSON body: ${describeBody(route.body)}` : undefined;
  let c = compiledBodies.get(route);
  if (!c) compiledBodies.set(route, (c = check(schema, "body")));
  return c(body);
};

const hasRequired = (s: TSchema): boolean => Array.isArray(s["required"]) && (s["required"] as unknown[]).length > 0;
const describeBody = (s: TSchema): string => `an object with ${(s["required"] as string[]).join(", ")}`;

let schemaDoc: unknown;
/**
 * The API as one JSON Schema document: each route with its parameters, query
 * and body, and the agent protocol's messages. Plain JSON (the schema
 * library's own markers are symbols, dropped by `JSON.stringify`).
 */
export const apiSchema = (): unknown =>
  (schemaDoc ??= JSON.parse(
    JSON.stringify({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      title: "Tributary server API",
      description: `HTTP API under /api and the agent protocol (version ${PROTOCOL_VERSION}, msgpack frames on the WebSocket /agent). Request bodies are JSON, at most ${MAX_BODY_BYTES} bytes; blobs (…/envs/{env}/blobs/{key}) are streamed bytes. Errors answer {"error": "..."} with 400, 404, 405, 409 or 413; with --auth, 401 (no valid credential: also "reason") or 403 (one that does not reach: also "lacks"), credentials sent as "Authorization: Bearer <token>".`,
      routes: ROUTES.map((r) => ({
        method: r.method,
        path: `/api/${r.path.replace(/:(\w+)/g, "{$1}")}`,
        summary: r.summary,
        params: Object.fromEntries(
          split(r.path)
            .filter((p) => p.startsWith(":"))
            .map((p) => [p.slice(1), PARAMS[p.slice(1) as ParamName]]),
        ),
        ...(r.query ? { query: r.query } : {}),
        ...(r.body ? { body: r.body } : r.rawBody ? { body: { type: "string", contentMediaType: "application/octet-stream" } } : {}),
      })),
      agentMessages: AGENT_MESSAGES,
      serverMessages: SERVER_MESSAGES,
    }),
  ));
