/**
 * Pools, the pure part: what each pool hosts (learned from its agents'
 * registrations, so it is read back from the log after a restart), which
 * pools can host a target, and how many agents each pool should start for
 * the executions waiting now.
 */
import { poolOfAgent, type AgentId } from "../../events/index.js";
import type { AgentDoc, PoolDoc } from "../../projections/index.js";
import type { Waiting } from "./queue.js";

/** A pool agent's concurrency (the `tributary agent` default): how many waiting executions one more agent serves. */
export const POOL_AGENT_CONCURRENCY = 16;

/**
 * The repositories each pool's agents have brought (`AgentConnected` of an
 * agent named `pool_<name>_…`). A pool absent from the map has never had
 * an agent connect: what it hosts is not known yet.
 */
export const poolHosts = (agents: Iterable<{ readonly agentId: string; readonly repositories: AgentDoc["repositories"] }>): Map<string, Set<string>> => {
  const out = new Map<string, Set<string>>();
  for (const a of agents) {
    const pool = poolOfAgent(a.agentId);
    if (pool === undefined) continue;
    const set = out.get(pool) ?? new Set<string>();
    for (const r of a.repositories) set.add(r);
    out.set(pool, set);
  }
  return out;
};

/**
 * The pools that can host `repository` — those whose agents brought it, and
 * those none of whose agents has connected yet (they may: their modules are
 * only known once loaded). For a submit that no connected agent can run
 * (issue 12 point 9): with such a pool it is accepted, and the pool starts
 * an agent for it.
 */
export const poolsThatMayHost = (pools: readonly Pick<PoolDoc, "name">[], hosts: ReadonlyMap<string, ReadonlySet<string>>, repository: string): string[] =>
  pools.filter((p) => hosts.get(p.name)?.has(repository) ?? true).map((p) => p.name);

/** One pool as the launcher sees it now. */
export interface PoolNow {
  readonly pool: Pick<PoolDoc, "name" | "max">;
  /** Its agents alive (started and not exited, connected or not yet). */
  readonly alive: number;
}

/**
 * How many agents to start per pool for the executions waiting now: those
 * that no connected agent hosts, or whose hosts are all busy or lack their
 * tags (`Waiting.reason`), of a repository the pool may host. A pool whose
 * hosts are not known yet starts one agent (to learn them); one that hosts
 * the repository, enough for the waiting executions at
 * {@link POOL_AGENT_CONCURRENCY} each, up to its `max`. A repository two
 * pools may host counts for each: the first agent to connect takes the work.
 */
export const poolLaunches = (pools: readonly PoolNow[], hosts: ReadonlyMap<string, ReadonlySet<string>>, waiting: readonly Waiting[]): { pool: string; start: number }[] => {
  const wanting = waiting.filter((w) => w.reason === "no-agent-hosts-target" || w.reason === "no-capacity" || w.reason === "no-agent-with-tags");
  const out: { pool: string; start: number }[] = [];
  for (const { pool, alive } of pools) {
    const known = hosts.get(pool.name);
    const demand = wanting.filter((w) => known === undefined || known.has(w.target.split(":")[0]!)).length;
    if (demand === 0) continue;
    const want = known === undefined ? 1 : Math.ceil(demand / POOL_AGENT_CONCURRENCY);
    const start = Math.min(pool.max, want) - alive;
    if (start > 0) out.push({ pool: pool.name, start });
  }
  return out;
};

/** A new pool agent's id: the pool's prefix and 10 characters of `random` (letters and digits). */
export const poolAgentId = (pool: string, random: string): AgentId => `pool_${pool}_${random.replace(/[^A-Za-z0-9]/g, "").slice(0, 10).toLowerCase()}` as AgentId;
