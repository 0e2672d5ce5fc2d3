/**
 * What the client throws. A refusal (`ApiError` with a 4xx) says what to
 * do (401 and 403 are its kinds `UnauthenticatedError` and `ForbiddenError`);
 * a fault (`ConnectionError`, `UnexpectedResponseError`, `ApiError`
 * with a 5xx) may pass: waiting calls wait it out (see `WaitOptions`). A run
 * that did not succeed is a `RunFailedError` carrying its error.
 */
import type { ErrorInfo } from "../events/types.js";
import type { Permission } from "../protocol/permissions.js";

/** Every error of the client is one. */
export class TributaryClientError extends Error {
  override name = "TributaryClientError";
}

/** The server answered with an error status: `status` and the server's `message` (which says what to do). */
export class ApiError extends TributaryClientError {
  override name = "ApiError";
  constructor(
    message: string,
    /** The HTTP status: 4xx a refusal (bad input, unknown name, conflict), 5xx a fault. */
    readonly status: number,
    /** The request, e.g. `POST /api/projects/default/envs/production/runs`. */
    readonly request: string,
  ) {
    super(message);
  }
}

/** Why a server refused a credential (401), as its answer says: `{ error, reason }`. */
export const UNAUTHENTICATED_REASONS = ["missing", "malformed", "unknown", "expired", "revoked"] as const;
export type UnauthenticatedReason = (typeof UNAUTHENTICATED_REASONS)[number];
/** What a valid token lacks (403), as the server's answer says: `{ error, lacks }`. */
export const FORBIDDEN_LACKS = ["project", "environment", "role", "expiry"] as const;
export type ForbiddenLack = (typeof FORBIDDEN_LACKS)[number];

/**
 * The server checks credentials (`tributary server --auth`) and refused the
 * request's (401): none was given, or the token is malformed, unknown,
 * expired or revoked; `message` is the server's, saying which, and `reason`
 * the word (absent if the server did not say one). Give the client a valid
 * `token`; for `expired` and `revoked`, a new one. Never retried. The
 * token's text is in no field.
 */
export class UnauthenticatedError extends ApiError {
  override name = "UnauthenticatedError";
  declare readonly status: 401;
  constructor(
    message: string,
    request: string,
    /** `missing | malformed | unknown | expired | revoked`, from the server's answer. */
    readonly reason?: UnauthenticatedReason,
  ) {
    super(message, 401, request);
  }
}

/**
 * The token is valid but does not reach this far (403): another project, an
 * environment outside its patterns, or a role that does not grant the
 * route, or (creating a token) an expiry within its own; `message` is the
 * server's, naming what it lacks, and `lacks` the word (absent if the
 * server did not say one). Never retried.
 */
export class ForbiddenError extends ApiError {
  override name = "ForbiddenError";
  declare readonly status: 403;
  constructor(
    message: string,
    request: string,
    /** What the route asks of a token (src/protocol/permissions.ts): a role, `download`, `any`. */
    readonly permission?: Permission,
    /** `project | environment | role | expiry`, from the server's answer. */
    readonly lacks?: ForbiddenLack,
  ) {
    super(message, 403, request);
  }
}

/**
 * The server could not be reached (`reason: "unreachable"`), the connection
 * broke before its answer was read (`"cut"`), or its TLS certificate is not
 * trusted (`"untrusted"`: a refusal, not transient; give the client `ca`).
 */
export class ConnectionError extends TributaryClientError {
  override name = "ConnectionError";
  constructor(
    message: string,
    /** The server's URL, as the client was given it. */
    readonly url: string,
    readonly reason: "unreachable" | "cut" | "untrusted",
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The server answered with something that is not the API's JSON (another program on that port?). */
export class UnexpectedResponseError extends TributaryClientError {
  override name = "UnexpectedResponseError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * A request the client refuses to send, as the server would refuse it (the
 * same route matcher; the message names the parameter), or an option of the
 * client that cannot be.
 */
export class InvalidRequestError extends TributaryClientError {
  override name = "InvalidRequestError";
  constructor(
    message: string,
    /** What the server would answer: 400 a misfit parameter, 404 no such route, 405 not with this method. */
    readonly status: 400 | 404 | 405 = 400,
  ) {
    super(message);
  }
}

/** A run (or a re-run step) that ended without a result: its status and the error it ended with. */
export class RunFailedError extends TributaryClientError {
  override name = "RunFailedError";
  constructor(
    readonly runId: string,
    readonly status: "failed" | "cancelled" | "timed_out" | "abandoned",
    /** The error the run ended with: `type` (the error's class name), `message`, `stack?`, `retryable`. */
    readonly error: ErrorInfo,
  ) {
    super(`run ${runId} ${status}: ${error.type}: ${error.message}`);
  }
}

/**
 * Is this a failure that may pass (no server, a cut connection, a server
 * error or a server restarting), rather than a refusal?
 */
export const isTransient = (e: unknown): boolean =>
  (e instanceof ConnectionError && e.reason !== "untrusted") || e instanceof UnexpectedResponseError || (e instanceof ApiError && e.status >= 500);
