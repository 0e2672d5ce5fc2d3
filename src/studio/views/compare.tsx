/**
 * `/projects/{p}/compare/{envA}/{runA}/{envB}/{runB}`: two runs compared step
 * by step (`GET …/runs/{runA}/compare?with=runB&withEnv=envB`), matched by
 * their place in the call tree, side by side, each row marked with its kind
 * of change; each step id opens that step in its run. Also the "compare
 * with…" form a run page shows.
 */
import { useState } from "preact/hooks";
import type { CompareAnswer } from "../../protocol/api.js";
import { ErrorBox, Link, Loading, Status } from "../components.js";
import { navigate, useApi } from "../hooks.js";
import { envApi, pathOf, type RunRef } from "../routes.js";

type Match = CompareAnswer["steps"][number];
type Side = NonNullable<Match["a"]>;

const LABEL: Record<Match["change"], string> = {
  same: "same",
  "result-changed": "result changed",
  "code-changed": "code changed",
  "arguments-changed": "arguments changed",
  "only-in-a": "only in A",
  "only-in-b": "only in B",
};

const StepCell = ({ project, run, side, show }: { project: string; run: RunRef; side?: Side; show: "arguments" | "outcome" | "both" }) => {
  if (!side) return <td class="cmp-none">—</td>;
  return (
    <td>
      <Link href={pathOf({ view: "run", project, env: run.env, runId: run.runId, stepId: side.stepId })} title={`open step ${side.stepId} of ${run.env}/${run.runId}`}>
        {side.stepId}
      </Link>{" "}
      <Status status={side.status} />
      {(show === "arguments" || show === "both") && (
        <div>
          <code class="cmp-preview">{side.arguments}</code>
        </div>
      )}
      {(show === "outcome" || show === "both") && side.outcome && (
        <div>
          → <code class="cmp-preview">{side.outcome}</code>
        </div>
      )}
    </td>
  );
};

export const ComparePage = ({ project, a, b }: { project: string; a: RunRef; b: RunRef }) => {
  const [changedOnly, setChangedOnly] = useState(false);
  const query = `?with=${encodeURIComponent(b.runId)}&withEnv=${encodeURIComponent(b.env)}`;
  const c = useApi<CompareAnswer>(envApi(project, a.env, `/runs/${encodeURIComponent(a.runId)}/compare${query}`), {
    pollMs: (v) => (v === undefined || v.a.status === "running" || v.b.status === "running" ? 2000 : undefined),
  });
  const runLink = (r: RunRef) => <Link href={pathOf({ view: "run", project, env: r.env, runId: r.runId })}>{`${r.env}/${r.runId}`}</Link>;
  return (
    <section class="compare">
      <p class="crumbs">
        <Link href={pathOf({ view: "project", project })}>{project}</Link> / compare
      </p>
      <h1>Compare two runs</h1>
      <dl class="facts">
        <dt>A</dt>
        <dd>
          {runLink(a)} {c.data && <Status status={c.data.a.status} />}
        </dd>
        <dt>B</dt>
        <dd>
          {runLink(b)} {c.data && <Status status={c.data.b.status} />}
        </dd>
      </dl>
      {c.error && <ErrorBox error={c.error} what="comparing" />}
      {!c.data && c.loading && <Loading />}
      {c.data && (
        <>
          <p class="cmp-counts">
            {Object.entries(c.data.counts)
              .filter(([, n]) => n > 0)
              .map(([k, n]) => (
                <span key={k} class={`cmp-badge cmp-${k}`}>
                  {n} {LABEL[k as Match["change"]]}
                </span>
              ))}{" "}
            <label>
              <input type="checkbox" checked={changedOnly} onChange={(e) => setChangedOnly((e.target as HTMLInputElement).checked)} /> only changes
            </label>
          </p>
          <div class="cmp-wrap">
            <table class="cmp-table">
              <thead>
                <tr>
                  <th>place</th>
                  <th>change</th>
                  <th>A · {a.env}</th>
                  <th>B · {b.env}</th>
                </tr>
              </thead>
              <tbody>
                {c.data.steps
                  .filter((m) => !changedOnly || m.change !== "same")
                  .map((m) => {
                    const show = m.changes.includes("arguments-changed") || m.change.startsWith("only") ? "both" : "outcome";
                    return (
                      <tr key={m.place} class={`cmp-row cmp-row-${m.change}`} data-place={m.place} data-change={m.change}>
                        <td class="cmp-place" style={{ paddingLeft: `${0.4 + m.depth * 1.1}em` }} title={m.place}>
                          {m.depth === 0 ? "root" : m.place.slice(m.place.lastIndexOf("/") + 1).split(":")[0]} <span class="muted">{(m.a ?? m.b)!.target}</span>
                        </td>
                        <td>
                          {m.changes.length === 0 ? (
                            <span class="cmp-badge cmp-same">same</span>
                          ) : (
                            m.changes.map((k) => (
                              <span key={k} class={`cmp-badge cmp-${k}`}>
                                {LABEL[k]}
                              </span>
                            ))
                          )}
                        </td>
                        <StepCell project={project} run={a} {...(m.a ? { side: m.a } : {})} show={show} />
                        <StepCell project={project} run={b} {...(m.b ? { side: m.b } : {})} show={show} />
                      </tr>
                    );
                  })}
              </tbody>
            </table>
          </div>
          <p class="muted legend">
            Steps are matched by their place in the call tree: the root, then each caller's calls in call order (of its latest execution). "code changed": equal arguments
            with another memo key (the memo key is made from the code's hash; a re-run with other code has its own).
          </p>
        </>
      )}
    </section>
  );
};

/** On a run page: compare this run with another (by default the same run id, as re-run in a branch). */
export const CompareWith = ({ project, env, runId }: { project: string; env: string; runId: string }) => {
  const [otherEnv, setOtherEnv] = useState(env);
  const [otherRun, setOtherRun] = useState(runId);
  return (
    <form
      class="compare-with"
      aria-label="compare with another run"
      onSubmit={(e) => {
        e.preventDefault();
        navigate(pathOf({ view: "compare", project, a: { env, runId }, b: { env: otherEnv.trim() || env, runId: otherRun.trim() || runId } }));
      }}
    >
      compare with…{" "}
      <label>
        run <input name="run" value={otherRun} size={28} onInput={(e) => setOtherRun((e.target as HTMLInputElement).value)} />
      </label>{" "}
      <label>
        in <input name="env" value={otherEnv} size={12} onInput={(e) => setOtherEnv((e.target as HTMLInputElement).value)} />
      </label>{" "}
      <button type="submit">compare</button>
    </form>
  );
};
