/** Pools' events (`PoolCreated`, `PoolDeleted`) and their limits, shared by the decider and the API's schemas. Pure. */
import type { EnvEventOf } from "./types.js";

/**
 * A pool of agents the server starts itself (`tributary pools create`): when
 * executions that only the pool can run are queued, the server launches up
 * to `max` agents (`launcher: "process"`: `tributary agent` processes on the
 * server's machine) hosting `modules` (absolute paths) with `tags`, and stops
 * them when they have been idle for a while.
 */
export type PoolCreated = EnvEventOf<
  "PoolCreated",
  {
    name: string;
    launcher: "process";
    modules: readonly string[];
    /** At most this many of its agents at once (>= 1). */
    max: number;
    tags: { readonly [tag: string]: readonly string[] };
  }
>;

/** The pool was deleted: the server stops its agents (they drain) and starts no more. */
export type PoolDeleted = EnvEventOf<"PoolDeleted", { name: string }>;

export type PoolEvent = PoolCreated | PoolDeleted;

/**
 * Pool names: a lower-case letter or digit, then lower-case letters, digits
 * and `-`, up to 40 characters (no `_`: a pool's agents are named
 * `pool_<name>_<random>`, see {@link poolAgentPrefix}).
 */
export const POOL_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
export const POOL_NAME_HINT = "1 to 40 lower-case letters, digits and -, starting with a letter or digit";
/** The ids of a pool's agents start with this (then 10 random characters). */
export const poolAgentPrefix = (pool: string): string => `pool_${pool}_`;
/** The pool an agent id names, if it is a pool's agent's. */
export const poolOfAgent = (agentId: string): string | undefined => /^pool_([a-z0-9][a-z0-9-]{0,39})_[A-Za-z0-9]+$/.exec(agentId)?.[1];
/** The most agents one pool may run at once. */
export const MAX_POOL_AGENTS = 1000;
/** The most modules one pool may host. */
export const MAX_POOL_MODULES = 100;
