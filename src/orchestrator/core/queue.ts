/**
 * Why each queued execution waits (for `GET …/agents`): the same tests the
 * scheduling pass makes (`nextActions`), read as reasons. Pure.
 */
import type { ActiveExecution, AgentSlot } from "./next-actions.js";
import { satisfies } from "./next-actions.js";
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
): Waiting[] => {
  const all = [...active];
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
    if (x.notBefore !== undefined && x.notBefore > now) out.push(why("backoff", `a retry's backoff: not before ${new Date(x.notBefore).toISOString()}`));
    else if (x.waitFor?.some((s) => !resolved(s))) out.push(why("waiting-for-handles", "waits for the steps whose handles it was given"));
    else if (x.resumeWhen && !x.resumeWhen.some(resolved)) out.push(why("suspended", `a suspended execution's resume: waits for any of ${x.resumeWhen.join(", ")}`));
    else if (hosts.length === 0) out.push(why("no-agent-hosts-target", `no connected agent hosts ${target}`));
    else if (fit.length === 0) out.push(why("no-agent-with-tags", `no agent hosting ${target} has the tags ${tagsText(x.requires ?? {})}`));
    else if (free.length === 0) out.push(why("no-capacity", `every agent that can run it is busy (${fit.map((a) => `${a.agentId} ${load.get(a.agentId) ?? 0}/${a.concurrency}`).join(", ")})`));
    else out.push(why("assignable", "an agent has room: it is being assigned"));
  }
  return out;
};
