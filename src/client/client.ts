/**
 * The client of one environment of a Tributary server, for applications
 * (and the CLI): submit runs and get handles on them, list runs, and the
 * environment's other resources.
 */
import type { Target } from "../agent/sdk.js";
import { describeInvalidName, parseEnvName, parseProjectName } from "../events/ids.js";
import type { Value } from "../events/types.js";
import type {
  AgentsAnswer,
  AssetAnswer,
  CreatedTokenAnswer,
  DumpAnswer,
  EnvironmentAnswer,
  EnvironmentRow,
  HealthAnswer,
  RebuildAnswer,
  ProjectRow,
  RunsAnswer,
  SubmitAnswer,
  TokenAnswer,
  VerifyAnswer,
  WhoAmIAnswer,
} from "../protocol/api.js";
import type { AssetDoc, InputDoc } from "../projections/index.js";
import { jsonValueProblem } from "../protocol/schema.js";
import { InvalidRequestError } from "./errors.js";
import { RunHandle, SubmittedRun, type Scope } from "./run.js";
import { Transport, type Request } from "./transport.js";
import { fetchTrusting, type CaOption } from "./tls.js";

/** Where the client connects. */
export interface ClientOptions {
  /** The server's `http://` or `https://` URL. Default `http://127.0.0.1:7777`. */
  readonly url?: string;
  /** Default `default`. */
  readonly project?: string;
  /** Default `production`. */
  readonly env?: string;
  /** The `fetch` to send requests with. Default: the global one (with `ca`: undici's, trusting it). */
  readonly fetch?: typeof fetch;
  /**
   * For an `https://` server whose certificate a private CA signed (or a
   * self-signed one): that CA's certificate, PEM (the text, not a path).
   * Only these certificates are trusted then.
   */
  readonly ca?: CaOption;
  /**
   * An access token (`tributary tokens create`, or the server's admin
   * token), for a server started with `--auth`: sent as `Authorization:
   * Bearer <token>` on every request. Without it such a server answers 401
   * ({@link UnauthenticatedError}). `undefined`: none (so
   * `token: process.env.TRIBUTARY_TOKEN` is fine).
   */
  readonly token?: string | undefined;
}

/** Options of a submission. */
export interface SubmitOptions {
  /**
   * 1-256 characters. A second submission with the same key, target and
   * arguments answers the first run (`created: false`); with other target or
   * arguments it is refused (409).
   */
  readonly idempotencyKey?: string;
  /**
   * Accept the run even when no agent has registered the target in the
   * environment yet: it waits, queued, until one that hosts it connects.
   * Without it such a submission is refused (400).
   */
  readonly queue?: boolean;
}

/** The argument types of a workflow (`typeof myWorkflow`), else any list. */
export type ArgumentsOf<W> = W extends Target<infer A, unknown> ? A : readonly unknown[];
/** The result type of a workflow (`typeof myWorkflow`), else any {@link Value}. */
export type ResultOf<W> = W extends Target<never, infer R> ? R : Value;

const ENV = "projects/:project/envs/:env";

/**
 * A client of one environment. Creating it sends nothing; each call is one
 * request (the waiting ones, a few).
 *
 * @example
 * const client = new Client({ url: "http://127.0.0.1:7777" });
 * const run = await client.submit<typeof processOrders>("orders:process_orders", [[101, 102]]);
 * console.log(await run.result());
 *
 * @throws {InvalidRequestError} for a URL, project or environment that cannot be one.
 */
export class Client {
  readonly url: string;
  readonly project: string;
  readonly env: string;
  readonly #scope: Scope;
  readonly #fetch: typeof fetch | undefined;
  readonly #token: string | undefined;

  constructor(options: ClientOptions = {}) {
    this.url = checkUrl(options.url ?? "http://127.0.0.1:7777");
    this.project = checkName("project", options.project ?? "default");
    this.env = checkName("env", options.env ?? "production");
    this.#fetch = options.fetch ?? (options.ca === undefined ? undefined : fetchTrusting(checkCa(options.ca)));
    this.#token = options.token === undefined ? undefined : checkToken(options.token);
    this.#scope = { transport: new Transport(this.url, this.#fetch, this.#token), project: this.project, env: this.env };
  }

  /**
   * A client checked against the server: answers once `GET /api/health` does.
   * @throws {ConnectionError} if the server cannot be reached.
   */
  static async connect(options: ClientOptions = {}): Promise<Client> {
    const client = new Client(options);
    await client.health();
    return client;
  }

  /** The same server and project, another environment. */
  withEnv(env: string): Client {
    return new Client({
      url: this.url,
      project: this.project,
      env,
      ...(this.#fetch ? { fetch: this.#fetch } : {}),
      ...(this.#token === undefined ? {} : { token: this.#token }),
    });
  }

  /** Liveness, and the kind of log the server keeps. */
  health(): Promise<HealthAnswer> {
    return this.#scope.transport.json({ method: "GET", route: "health" });
  }

  /** The API as JSON Schema (`GET /api/schema`). */
  schema(): Promise<unknown> {
    return this.#scope.transport.json({ method: "GET", route: "schema" });
  }

  /**
   * Submits a run of a workflow, `"repository:target"`; its arguments are
   * JSON values, `Date`, `Uint8Array` or `bigint`, checked before anything
   * is sent as the SDK checks a call's (trailing `undefined` arguments are
   * dropped). Give the workflow's type (`submit<typeof processOrders>(…)`)
   * to type the arguments and the result.
   * @throws {InvalidRequestError} for an argument JSON cannot carry as it is
   *   (a function, a `Map`, `NaN`, `undefined` in an array, a cycle…), naming
   *   its path: `arguments[0][2] is a function: …`.
   * @throws {ApiError} 400 for an unknown target, a task, a wrong number of
   *   arguments; 409 for an idempotency key used with other arguments.
   */
  async submit<W = unknown>(target: string, args?: ArgumentsOf<W>, options: SubmitOptions = {}): Promise<SubmittedRun<ResultOf<W>>> {
    const answer = await this.call<SubmitAnswer>({
      method: "POST",
      route: `${ENV}/runs`,
      body: {
        target,
        arguments: checkArguments(args ?? []),
        ...(options.idempotencyKey !== undefined ? { idempotencyKey: options.idempotencyKey } : {}),
        ...(options.queue === true ? { queue: true } : {}),
      },
    });
    return new SubmittedRun<ResultOf<W>>(this.#scope, answer);
  }

  /** A handle on a run of this environment (sends nothing). */
  run<W = unknown>(runId: string): RunHandle<ResultOf<W>> {
    return new RunHandle<ResultOf<W>>(this.#scope, runId);
  }

  /** The latest runs, newest first: `limit` 1 to 10,000, default 50; `since`/`until`: ISO times (submitted at or after, before). */
  listRuns(options: { readonly limit?: number; readonly since?: string; readonly until?: string; readonly status?: string; readonly target?: string } = {}): Promise<RunsAnswer> {
    const { limit, since, until, status, target } = options;
    return this.call({ method: "GET", route: `${ENV}/runs`, query: { limit: limit === undefined ? undefined : String(limit), since, until, status, target } });
  }

  /** The server's projects, each with how many of its environments the caller sees (a token: its own project only). */
  listProjects(): Promise<ProjectRow[]> {
    return this.call({ method: "GET", route: "projects" });
  }

  /** The project's environments, with the last sequence of each log. */
  listEnvironments(): Promise<EnvironmentRow[]> {
    return this.call({ method: "GET", route: "projects/:project/envs" });
  }

  /** Creates an environment of the project, inheriting from `base` if given. @throws {ApiError} 409 if it exists. */
  createEnvironment(name: string, options: { readonly base?: string } = {}): Promise<EnvironmentAnswer> {
    return this.call({ method: "POST", route: "projects/:project/envs", body: { name, ...(options.base === undefined ? {} : { base: options.base }) } });
  }

  /** Branches an environment from another's log: at its end, at sequence `at`, or as it was at `atTime` (ISO). */
  branchEnvironment(name: string, options: { readonly from: string; readonly at?: number; readonly atTime?: string }): Promise<EnvironmentAnswer> {
    const { from, at, atTime } = options;
    return this.call({
      method: "POST",
      route: "projects/:project/envs",
      body: { name, from, ...(at === undefined ? {} : { at }), ...(atTime === undefined ? {} : { atTime }) },
    });
  }

  /** Sets an environment's base (`null`: none). */
  setBase(env: string, base: string | null): Promise<EnvironmentAnswer> {
    return this.call({ method: "POST", route: `${ENV}/update`, params: { env }, body: { base } });
  }

  /** Archives an environment: it accepts no new runs and cannot be a base. */
  archiveEnvironment(env: string): Promise<EnvironmentAnswer> {
    return this.call({ method: "POST", route: `${ENV}/archive`, params: { env } });
  }

  /** Pauses an environment: nothing new is assigned to its agents until it is resumed (runs may still be submitted; they wait). */
  pauseEnvironment(env: string, options: { readonly reason?: string } = {}): Promise<EnvironmentAnswer> {
    return this.call({ method: "POST", route: `${ENV}/pause`, params: { env }, body: options.reason === undefined ? {} : { reason: options.reason } });
  }

  /** Resumes a paused environment: its queued executions are assigned again. */
  resumeEnvironment(env: string): Promise<EnvironmentAnswer> {
    return this.call({ method: "POST", route: `${ENV}/resume`, params: { env } });
  }

  /** Assets persisted in this environment (or by one run). */
  listAssets(options: { readonly run?: string } = {}): Promise<AssetDoc[]> {
    return this.call({ method: "GET", route: `${ENV}/assets`, query: { run: options.run } });
  }

  /** An asset, here or in an environment this one inherits from, with its `ref`. */
  asset(assetId: string): Promise<AssetAnswer> {
    return this.call({ method: "GET", route: `${ENV}/assets/:assetId`, params: { assetId } });
  }

  /** Inputs that prompts asked, newest first (only `pending` or `answered` ones, or those of one run). */
  listInputs(options: { readonly status?: "pending" | "answered"; readonly run?: string } = {}): Promise<InputDoc[]> {
    return this.call({ method: "GET", route: `${ENV}/inputs`, query: { status: options.status, run: options.run } });
  }

  /** One input: its title, schema, and answer if any. */
  input(inputId: string): Promise<InputDoc> {
    return this.call({ method: "GET", route: `${ENV}/inputs/:inputId`, params: { inputId } });
  }

  /** Answers a pending input with a value that fits its schema; the execution that asked resumes. */
  answerInput(inputId: string, value: Value): Promise<{ inputId: string; answered: true; already?: true; seq?: number }> {
    return this.call({ method: "POST", route: `${ENV}/inputs/:inputId/answer`, params: { inputId }, body: { value } });
  }

  /** Agents connected now, and every agent the log knows. */
  agents(): Promise<AgentsAnswer> {
    return this.call({ method: "GET", route: `${ENV}/agents` });
  }

  /** Every projection document, one sorted line each. */
  dumpProjections(): Promise<DumpAnswer> {
    return this.call({ method: "GET", route: `${ENV}/projections/dump` });
  }

  /** Drops the projections and replays the log. */
  rebuildProjections(): Promise<RebuildAnswer> {
    return this.call({ method: "POST", route: `${ENV}/projections/rebuild` });
  }

  /** Decodes every commit of the environment's log and lists those that fail. */
  verifyLog(): Promise<VerifyAnswer> {
    return this.call({ method: "GET", route: `${ENV}/log/verify` });
  }

  /** Whether the server checks credentials (`--auth`), and who this client's token makes it: the principal, and a token's scope. */
  whoami(): Promise<WhoAmIAnswer> {
    return this.call({ method: "GET", route: "whoami" });
  }

  /** The project's access tokens, revoked ones included (never their secrets). Needs an admin token. */
  listTokens(): Promise<TokenAnswer[]> {
    return this.call({ method: "GET", route: "projects/:project/tokens" });
  }

  /**
   * Makes an access token of the project: `role`, environment patterns
   * (`envs`, default every environment; `dev` exactly, `dev-*` a prefix),
   * `expiresInMs` after its creation (default never), a `name`. The answer
   * holds its text (`token`): the only time the server shows it.
   */
  createToken(options: {
    readonly role: TokenAnswer["role"];
    readonly envs?: readonly string[];
    readonly name?: string;
    readonly expiresInMs?: number;
  }): Promise<CreatedTokenAnswer> {
    const { role, envs, name, expiresInMs } = options;
    const body = { role, ...(envs === undefined ? {} : { envs }), ...(name === undefined ? {} : { name }), ...(expiresInMs === undefined ? {} : { expiresInMs }) };
    return this.call({ method: "POST", route: "projects/:project/tokens", body });
  }

  /** Revokes a token of the project: refused from now on. */
  revokeToken(tokenId: string, options: { readonly reason?: string } = {}): Promise<TokenAnswer> {
    const body = options.reason === undefined ? {} : { reason: options.reason };
    return this.call({ method: "POST", route: "projects/:project/tokens/:tokenId/revoke", params: { tokenId }, body });
  }

  /**
   * Any JSON route of the API by its path, query included (e.g.
   * `/api/projects/default/envs/production/agents`), checked against the
   * route table as every request is.
   */
  async request<T = unknown>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const unfit = body === undefined ? undefined : jsonValueProblem(body, "body");
    if (unfit) throw new InvalidRequestError(unfit);
    return this.#scope.transport.json<T>({ method, path, ...(body === undefined ? {} : { body }) });
  }

  private call<T>(req: Request): Promise<T> {
    return this.#scope.transport.json<T>({ ...req, params: { project: this.project, env: this.env, ...req.params } });
  }
}

/** The longest token text the client sends (a header's worth; the server's own are far shorter). */
export const MAX_TOKEN_LENGTH = 4096;

/**
 * The `token` option: surrounding whitespace (a paste's) trimmed, then 1 to
 * 4096 visible ASCII characters (what a header carries), not starting with
 * `Bearer ` (the client adds it); else refused saying which, never echoing
 * it. `option` names where it came from (the CLI's `--token`,
 * `TRIBUTARY_TOKEN`). Its form is the server's to judge (401 for one it did
 * not make).
 */
export const checkToken = (token: unknown, option = "token"): string => {
  const what = tokenProblem(token);
  if (what !== undefined) throw new InvalidRequestError(`${option}: ${what}`);
  return (token as string).trim();
};

/** What is wrong with a token's text as given (`undefined`: nothing the client can see), never showing it. */
const tokenProblem = (token: unknown): string | undefined => {
  const takes = "give the text of an access token, as 'tributary tokens create' prints it";
  if (typeof token !== "string") return `${takes}, got a ${typeof token}`;
  const t = token.trim();
  if (t === "") return `no token: it is empty (${takes}, or none)`;
  if (/^bearer\s/i.test(t)) return "give the token alone, without 'Bearer ' (the client sends the header 'Authorization: Bearer <token>' itself)";
  if (t.length > MAX_TOKEN_LENGTH) return `too long: ${t.length} characters, at most ${MAX_TOKEN_LENGTH} (${takes}; not shown)`;
  if (!/^[\x21-\x7e]+$/.test(t)) return `it has spaces, control or non-ASCII characters inside (${takes}; not shown)`;
  return undefined;
};

/** The `ca` option: PEM certificates (text or bytes), not a path. */
const checkCa = (ca: CaOption): CaOption => {
  const list: readonly unknown[] = Array.isArray(ca) ? ca : [ca];
  const ok =
    list.length > 0 &&
    list.every((c) => (typeof c === "string" || c instanceof Uint8Array) && Buffer.from(c as string).toString("latin1").includes("-----BEGIN CERTIFICATE-----"));
  if (!ok) throw new InvalidRequestError("ca takes the text of a PEM certificate (-----BEGIN CERTIFICATE-----), or a list of them, not a path");
  return ca;
};

/**
 * A Tributary server's URL, `http://` or `https://`; `option` names where it
 * came from in the message (the CLI's `--server`, `TRIBUTARY_SERVER`).
 * @throws {InvalidRequestError} for anything else.
 */
export const checkUrl = (raw: string, option = "url"): string => {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new InvalidRequestError(`${option} takes the server's http:// or https:// URL (e.g. http://127.0.0.1:7777), got ${JSON.stringify(raw)}`);
  }
  return raw;
};

const checkName = (what: "project" | "env", raw: string): string => {
  const parsed = what === "project" ? parseProjectName(raw) : parseEnvName(raw);
  if (parsed._tag === "Left") throw new InvalidRequestError(`${what}: ${describeInvalidName(parsed.left)}`);
  return raw;
};

/** A call's arguments, checked as the SDK checks them: trailing `undefined` ones dropped, each a value JSON carries as it is. */
const checkArguments = (args: readonly unknown[]): readonly unknown[] => {
  if (!Array.isArray(args)) throw new InvalidRequestError(`arguments must be an array (the workflow's arguments, in order), got ${args === null ? "null" : typeof args}`);
  let n = args.length;
  while (n > 0 && args[n - 1] === undefined) n--;
  for (let i = 0; i < n; i++) {
    const unfit = jsonValueProblem(args[i], `arguments[${i}]`);
    if (unfit) throw new InvalidRequestError(unfit);
  }
  return n === args.length ? args : args.slice(0, n);
};
