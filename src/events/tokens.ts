/**
 * The facts of access tokens, kept in the server-wide log
 * ({@link SERVER_LOG}): a token was created (only the hash of its secret is
 * recorded), a token was revoked. Part of the catalogue (`types.ts`).
 */
import type { EnvName, ProjectName } from "./ids.js";
import type { LogRef } from "./subjects.js";
import type { EnvEventOf } from "./types.js";

/** What a token may do: `read` ⊂ `submit` ⊂ `admin`; `agent` connects and executes only. */
export type TokenRole = "read" | "submit" | "agent" | "admin";
export const TOKEN_ROLES: readonly TokenRole[] = ["read", "submit", "agent", "admin"];

/** Token ids: lower-case letters and digits (no `_`: it separates the parts of a token's text). */
export const TOKEN_ID = /^[0-9a-z]{1,64}$/;
/** The recorded hash of a secret: hex SHA-256. */
export const TOKEN_HASH = /^[0-9a-f]{64}$/;

/**
 * The log of the server as a whole (tokens), beside the environments'
 * logs. A valid project name, reserved: users may not create a project of
 * that name (see {@link isReservedProject}).
 */
export const SERVER_LOG: LogRef = { project: "tributary-server" as ProjectName, env: "auth" as EnvName };

/** Is `project` the name reserved for {@link SERVER_LOG} (in any case: a file system may not tell them apart)? The edges refuse it. */
export const isReservedProject = (project: string): boolean => project.toLowerCase() === SERVER_LOG.project;

/** A token was made (who made it: the envelope's `by`). Its secret is never recorded: `hash` is the hex SHA-256 of it. */
export type TokenCreated = EnvEventOf<
  "TokenCreated",
  {
    tokenId: string;
    name?: string;
    project: ProjectName;
    /** Environment patterns: an exact name (`dev`), or a prefix ending in `*` (`dev-*`, `*`). */
    envs: readonly string[];
    role: TokenRole;
    hash: string;
    /** After this time (ms since the epoch) it is refused as expired. */
    expiresAt?: number;
  }
>;

/** A token was revoked: refused from now on. */
export type TokenRevoked = EnvEventOf<"TokenRevoked", { tokenId: string; reason?: string }>;

export type TokenEvent = TokenCreated | TokenRevoked;
