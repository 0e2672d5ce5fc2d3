/**
 * `/projects/{p}/envs/{e}/agents`: the agents connected to the environment
 * (repositories, targets, tags, running / concurrency), the queue of
 * executions waiting and why, and every agent the log has seen.
 * Refreshed every 2 s.
 */
import type { AgentsAnswer } from "../../protocol/api.js";
import { ErrorBox, Link, Loading } from "../components.js";
import { showTime } from "../format.js";
import { forStudio } from "../messages.js";
import { useApi } from "../hooks.js";
import { envApi, pathOf } from "../routes.js";

const tagsText = (tags: { readonly [tag: string]: readonly string[] }): string =>
  Object.entries(tags)
    .map(([k, vs]) => `${k}=${vs.join("|")}`)
    .join(", ") || "none";

export const AgentsPage = ({ project, env }: { project: string; env: string }) => {
  const agents = useApi<AgentsAnswer>(envApi(project, env, "/agents"), { pollMs: () => 2000 });
  const a = agents.data;
  return (
    <section class="agents">
      <p class="crumbs">
        <Link href={pathOf({ view: "project", project })}>{project}</Link> / <Link href={pathOf({ view: "runs", project, env })}>{env}</Link> / agents
      </p>
      <h1>
        Agents of <code>{env}</code>
      </h1>
      {agents.error && <ErrorBox error={agents.error} what="agents" />}
      {agents.loading && <Loading />}
      {a && (
        <>
          <h2>Connected</h2>
          {a.connected.length === 0 ? (
            <p class="muted">No agent is connected. Start one with <code>tributary agent --project {project} --env {env} MODULE…</code>.</p>
          ) : (
            <div class="scroll">
              <table class="agents-table">
                <thead>
                  <tr>
                    <th>agent</th>
                    <th>repositories and targets</th>
                    <th>tags</th>
                    <th>running</th>
                  </tr>
                </thead>
                <tbody>
                  {a.connected.map((c) => {
                    const byRepo = new Map<string, string[]>();
                    for (const t of c.targets) {
                      const [repo, name] = t.split(":") as [string, string];
                      byRepo.set(repo, [...(byRepo.get(repo) ?? []), name]);
                    }
                    return (
                      <tr key={c.agentId} data-agent={c.agentId}>
                        <td>
                          <code>{c.agentId}</code>
                          {c.draining ? <span class="tag"> draining</span> : null}
                        </td>
                        <td>
                          {[...byRepo].map(([repo, names]) => (
                            <div key={repo}>
                              <strong>{repo}</strong>: {names.join(", ")}
                            </div>
                          ))}
                        </td>
                        <td>{tagsText(c.tags)}</td>
                        <td data-running={c.running}>
                          {c.running} / {c.concurrency}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          <h2>Queue</h2>
          {a.queue.length === 0 ? (
            <p class="muted">No execution is waiting.</p>
          ) : (
            <div class="scroll">
              <table class="queue">
                <thead>
                  <tr>
                    <th>execution</th>
                    <th>target</th>
                    <th>requires</th>
                    <th>why it waits</th>
                  </tr>
                </thead>
                <tbody>
                  {a.queue.map((q) => (
                    <tr key={q.executionId} data-execution={q.executionId} data-reason={q.reason}>
                      <td>
                        <Link href={pathOf({ view: "run", project, env, runId: q.runId, stepId: q.stepId, executionId: q.executionId })}>
                          <code>{q.executionId}</code>
                        </Link>
                      </td>
                      <td>{q.target}</td>
                      <td>{q.requires ? tagsText(q.requires) : ""}</td>
                      <td class="why">{forStudio(q.message)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <h2>Known</h2>
          <ul class="known">
            {a.known.map((k) => (
              <li key={k.agentId}>
                <code>{k.agentId}</code> {k.status === "connected" ? `connected since ${showTime(k.connectedAt)}` : `${k.status}, connected ${showTime(k.connectedAt)}`}
                {k.disconnectedAt ? `, left ${showTime(k.disconnectedAt)}${k.reason ? ` (${k.reason})` : ""}` : ""} — {k.repositories.join(", ")}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
};
