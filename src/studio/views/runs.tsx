/** `/projects/{p}/envs/{e}`: the environment's latest runs, newest first, fetched again (at most once a second) when a run changes. */
import type { RunsAnswer } from "../../protocol/api.js";
import { ErrorBox, Link, Loading, Status } from "../components.js";
import { durationOf, showTime, targetText } from "../format.js";
import { useApi } from "../hooks.js";
import { envApi, pathOf } from "../routes.js";

const LIMIT = 100;

export const RunsList = ({ project, env }: { project: string; env: string }) => {
  const runs = useApi<RunsAnswer>(envApi(project, env, `/runs?limit=${LIMIT}`), { live: { project, env, touches: (m) => m.runs.length > 0, minGapMs: 1000 } });
  const now = Date.now();
  return (
    <section>
      <p class="crumbs">
        <Link href={pathOf({ view: "project", project })}>{project}</Link> / {env}
      </p>
      <h1>
        Runs of <code>{env}</code>
      </h1>
      {runs.error && <ErrorBox error={runs.error} what="runs" />}
      {runs.loading && <Loading />}
      {runs.data && runs.data.length === 0 && (
        <p class="muted">
          No runs yet. Submit one with <code>tributary submit REPOSITORY:TARGET --project {project} --env {env}</code>.
        </p>
      )}
      {runs.data && runs.data.length > 0 && (
        <div class="scroll">
          <table class="runs">
            <thead>
              <tr>
                <th>run</th>
                <th>target</th>
                <th>status</th>
                <th>submitted</th>
                <th>duration</th>
                <th title="steps · executions">steps</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((r) => (
                <tr key={r.runId} data-run={r.runId}>
                  <td>
                    <Link href={pathOf({ view: "run", project, env, runId: r.runId })}>
                      <code>{r.runId}</code>
                    </Link>
                  </td>
                  <td>{targetText(r.target)}</td>
                  <td>
                    <Status status={r.status} />
                  </td>
                  <td>{showTime(r.submittedAt)}</td>
                  <td>{durationOf(r.submittedAt, r.finishedAt, now)}</td>
                  <td>
                    {r.steps} · {r.executions}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {runs.data.length === LIMIT && <p class="muted">The latest {LIMIT} runs (paging comes later).</p>}
        </div>
      )}
    </section>
  );
};
