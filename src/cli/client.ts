/**
 * The CLI's link to the server: a `tributary/client` of the target the
 * options name, and its errors mapped to exit codes: a refusal (4xx, or a
 * request the client refuses to send) is exit 1, a fault (5xx, no server,
 * a cut connection) exit 2, and a refused credential (401: none, or not a
 * valid token; 403: a token whose scope does not reach; a token the CLI
 * refuses before sending it) exit 4.
 */
import { Client } from "../client/client.js";
import { ConnectionError, ForbiddenError, TributaryClientError, UnauthenticatedError, isTransient } from "../client/errors.js";
import { GRANTS } from "../orchestrator/core/authorize.js";

export class CliError extends Error {
  constructor(
    message: string,
    /** 1: refused or bad usage; 2: fault; 3: the run failed; 4: credentials refused (401, 403). */
    readonly exitCode: 1 | 2 | 3 | 4,
  ) {
    super(message);
  }
}

export interface Target {
  readonly server: string;
  readonly project: string;
  readonly env: string;
  /** The PEM text of the CA to trust for an https:// server (--ca / TRIBUTARY_CA). */
  readonly ca?: string;
  /** The access token to send (--token / TRIBUTARY_TOKEN). Never printed. */
  readonly token?: string;
}

/** The client of the target's environment (without `env`: of its project, for the routes about the project as a whole). */
export const clientOf = (t: Omit<Target, "env"> & { readonly env?: string }): Client =>
  new Client({
    url: t.server,
    project: t.project,
    ...(t.env === undefined ? {} : { env: t.env }),
    ...(t.ca === undefined ? {} : { ca: t.ca }),
    ...(t.token === undefined ? {} : { token: t.token }),
  });

/** Exit code of a refused credential (401 or 403), of the CLI and of `tributary agent`. */
export const CREDENTIALS_REFUSED = 4;

/** What to do about a 401 (`reason` the server's word, if it said one), unless the server's message says it already. */
export const unauthenticatedHint = (message: string, reason?: UnauthenticatedError["reason"]): string => {
  if (reason === "expired" || reason === "revoked") return `${message} (ask an admin for a new token, and give it with --token TOKEN or TRIBUTARY_TOKEN)`;
  return /--token/.test(message) ? message : `${message} (give a valid token with --token TOKEN or TRIBUTARY_TOKEN)`;
};

/** The server's words for an environment a route names: `…/envs/<env>/…` of the request. */
const envOf = (request: string | undefined): string | undefined => (request === undefined ? undefined : /\/envs\/([^/?\s]+)/.exec(request)?.[1]);
const projectOf = (request: string | undefined): string | undefined =>
  request === undefined ? undefined : /\/projects\/([^/?\s]+)/.exec(request)?.[1];

/**
 * What to do about a 403, after what the token lacks (the server's `lacks`):
 * a token of the project, one whose environments cover the one asked for, a
 * shorter expiry (creating a token), or else one whose role grants what the
 * route asks (src/protocol/permissions.ts). `request` is the refused one
 * (`POST /api/projects/p/envs/e/runs`), for the names to say.
 */
export const forbiddenHint = (
  message: string,
  permission: ForbiddenError["permission"],
  lacks?: ForbiddenError["lacks"],
  request?: string,
): string => {
  const project = projectOf(request);
  const env = envOf(request);
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const creating = request !== undefined && /^POST \/api\/projects\/[^/]+\/tokens$/.test(request);
  if (lacks === "environment" && creating) return `${message} (give --envs within your token's (see tributary whoami))`;
  if (lacks === "environment") {
    return `${message} (use a token whose --envs cover ${env === undefined ? "this environment" : decode(env)}, or ask an admin of the project)`;
  }
  if (lacks === "project") return `${message} (use a token of project ${project === undefined ? "this project" : decode(project)})`;
  if (lacks === "expiry") return `${message} (give a shorter --expires (at most the token's own))`;
  const roles = permission !== undefined && Object.hasOwn(GRANTS, permission) ? GRANTS[permission as keyof typeof GRANTS] : undefined;
  const role = roles === undefined ? "" : ` with role ${roles.join(" or ")}`;
  return `${message} (ask an admin for a token${role} that covers this project and environment: 'tributary tokens create')`;
};

/** A client's error as the CLI reports it (`undefined` for any other error). */
export const cliErrorOf = (e: unknown): CliError | undefined => {
  if (e instanceof CliError) return e;
  if (!(e instanceof TributaryClientError)) return undefined;
  if (e instanceof UnauthenticatedError) return new CliError(unauthenticatedHint(e.message, e.reason), CREDENTIALS_REFUSED);
  if (e instanceof ForbiddenError) return new CliError(forbiddenHint(e.message, e.permission, e.lacks, e.request), CREDENTIALS_REFUSED);
  if (e instanceof ConnectionError && e.reason === "unreachable") {
    return new CliError(`${e.message}: start it with 'tributary server', or set --server / TRIBUTARY_SERVER`, 2);
  }
  if (e instanceof ConnectionError && e.reason === "untrusted") return new CliError(e.message, 1);
  return new CliError(e.message, isTransient(e) ? 2 : 1);
};
