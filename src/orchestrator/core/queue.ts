/**
 * Why each queued execution waits (for `GET …/agents`): the same tests the
 * scheduling pass makes (`nextActions`), read as reasons. Pure.
 */
import type { ActiveExecution, AgentSlot, Gate } from "./next-actions.js";
import { fullLimit, permitsTaken, satisfies } from "./next-actions.js";
import type { Waiting } from "../../protocol/api.js";

export type { Waiting };

const tagsText = (r: { readonly [tag: string]: readonly string[] }): string =>
  Object.entries(r)
    .map(([k, vs]) => `${k}=${vs.join("|")}`)
    .join(", ");

export const waitingReasons = (
  active: Iterable<ActiveExecution>,
  agents: readonly AgentSlot[],
  now: number,
  resolved: (step: string) => boolean,
  gate: Gate = {},
): Waiting[] => {
  const all = [...active];
  const taken = permitsTaken(all);
  const load = new Map<string, number>();
  for (const x of all) if (x.status !== "queued" && x.agentId) load.set(x.agentId, (load.get(x.agentId) ?? 0) + 1);
  const out: Waiting[] = [];
  for (const x of all) {
    if (x.status !== "queued") continue;
    const target = `${x.target.repository}:${x.target.target}`;
    const base = { executionId: x.executionId, runId: x.runId, stepId: x.stepId, target, ...(x.requires ? { requires: x.requires } : {}) };
    const hosts = agents.filter((a) => !a.draining && a.targets.has(target));
    const fit = hosts.filter((a) => satisfies(a.tags, x.requires));
    const free = fit.filter((a) => a.concurrency - (load.get(a.agentId) ?? 0) > 0);
    const why = (reason: Waiting["reason"], message: string): Waiting => ({ ...base, reason, message });
    const full = fullLimit(x, taken);
    if (gate.paused) out.push(why("environment-paused", "the environment is paused: nothing new is assigned until `tributary envs resume`"));
    else if (x.notBefore !== undefined && x.notBefore > now) out.push(why("backoff", `a retry's backoff: not before ${new Date(x.notBefore).toISOString()}`));
    else if (x.waitFor?.some((s) => !resolved(s))) out.push(why("waiting-for-handles", "waits for the steps whose handles it was given"));
    else if (x.resumeWhen && !x.resumeWhen.some(resolved)) out.push(why("suspended", `a suspended execution's resume: waits for any of ${x.resumeWhen.join(", ")}`));
    else if (full) {
      out.push({ ...why("concurrency-limit", `held by the concurrency limit ${full.key}: ${full.taken}/${full.limit} running`), limit: full });
    } else if (hosts.length === 0) out.push(why("no-agent-hosts-target", `no connected agent hosts ${target}`));
    else if (fit.length === 0) out.push(why("no-agent-with-tags", `no agent hosting ${target} has the tags ${tagsText(x.requires ?? {})}`));
    else if (free.length === 0) out.push(why("no-capacity", `every agent that can run it is busy (${fit.map((a) => `${a.agentId} ${load.get(a.agentId) ?? 0}/${a.concurrency}`).join(", ")})`));
    else {
      out.push(why("assignable", "an agent has room: it is being assigned"));
      // Counted as the scheduling pass would assign it: the next one in line sees the permit taken.
      for (const c of x.concurrency ?? []) taken.set(c.key, (taken.get(c.key) ?? 0) + 1);
    }
  }
  return out;
};
