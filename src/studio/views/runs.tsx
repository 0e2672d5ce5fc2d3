/**
 * `/projects/{p}/envs/{e}`: the environment's runs, newest first, fetched
 * again (at most once a second) when a run changes; filtered by status,
 * target and time (by the API: `status`, `target`, `since`, `until`),
 * searched by run id (in the page), paged (`before`), and a form to submit
 * one. The filters and the page are the address's query (`?status=…&target=…
 * &since=ISO&until=ISO&q=…&pages=RUN,RUN`; query.ts), so back, forward,
 * reload and a shared link keep them.
 */
import type { AgentsAnswer, RunsAnswer } from "../../protocol/api.js";
import { ErrorBox, Link, Loading, Status } from "../components.js";
import { durationOf, showTime, targetText } from "../format.js";
import { navigate, useApi } from "../hooks.js";
import { envApi, pathOf } from "../routes.js";
import { setQuery, useQuery } from "../query.js";
import { SubmitForm } from "./actions.js";

const LIMIT = 50;
const STATUSES = ["running", "succeeded", "failed", "cancelled"] as const;

/** The query of `GET …/runs` for these filters. */
export const runsQuery = (f: { limit: number; before?: string; status?: string; target?: string; since?: string; until?: string }): string => {
  const q = new URLSearchParams({ limit: String(f.limit) });
  if (f.before) q.set("before", f.before);
  if (f.status) q.set("status", f.status);
  if (f.target) q.set("target", f.target);
  if (f.since) q.set("since", f.since);
  if (f.until) q.set("until", f.until);
  return `/runs?${q.toString()}`;
};

/** A `datetime-local` field's value (local time) as an ISO time (UTC), or undefined. */
const isoOf = (v: string): string | undefined => {
  if (!v) return undefined;
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
};

/** An ISO time as a `datetime-local` field's value (local time, to the minute); "" for none or a bad one. */
const localOf = (iso: string | undefined): string => {
  const t = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(t)) return "";
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};

export const RunsList = ({ project, env }: { project: string; env: string }) => {
  const query = useQuery();
  const get = (k: string) => query.get(k) ?? "";
  const status = get("status");
  const target = get("target");
  const since = get("since");
  const until = get("until");
  const search = get("q");
  /** The `before` of each page shown so far: the last is this page's. */
  const pages = get("pages").split(",").filter(Boolean);
  const state = { status, target, since, until, q: search, pages: pages.join(",") };
  /** A filter changed: back to the first page, a new history entry (the search's typing replaces it). */
  const change = (k: "status" | "target" | "since" | "until" | "q", v: string | undefined) => setQuery({ ...state, [k]: v, pages: undefined }, k === "q");
  const setPages = (next: string[]) => setQuery({ ...state, pages: next.join(",") });
  const before = pages.at(-1);
  const runs = useApi<RunsAnswer>(envApi(project, env, runsQuery({ limit: LIMIT, ...(before ? { before } : {}), ...(status ? { status } : {}), ...(target ? { target } : {}), ...(since ? { since } : {}), ...(until ? { until } : {}) })), { live: { project, env, touches: (m) => m.runs.length > 0, minGapMs: 1000 } });
  const agents = useApi<AgentsAnswer>(envApi(project, env, "/agents"), { pollMs: () => 30_000 });
  const targets = [...new Set((agents.data?.manifests ?? []).flatMap((m) => m.targets.filter((t) => t.kind === "workflow").map((t) => `${m.repository}:${t.name}`)))].sort();
  const now = Date.now();
  const needle = search.trim();
  const rows = (runs.data ?? []).filter((r) => needle === "" || r.runId.includes(needle));
  const filtered = Boolean(status || target || since || until);
  return (
    <section>
      <p class="crumbs">
        <Link href={pathOf({ view: "project", project })}>{project}</Link> / {env} · <Link href={pathOf({ view: "agents", project, env })}>agents</Link>
      </p>
      <h1>
        Runs of <code>{env}</code>
      </h1>
      <SubmitForm project={project} env={env} />
      <form
        class="filters runs-filters"
        onSubmit={(e) => {
          e.preventDefault();
          if (needle) navigate(pathOf({ view: "run", project, env, runId: needle }));
        }}
      >
        <label>
          run id <input name="search" value={search} size={28} placeholder="search, Enter opens" onInput={(e) => change("q", e.currentTarget.value)} />
        </label>{" "}
        <label>
          status{" "}
          <select name="status" value={status} onChange={(e) => change("status", e.currentTarget.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>{" "}
        <label>
          target{" "}
          <select name="target" value={target} onChange={(e) => change("target", e.currentTarget.value)}>
            <option value="">any</option>
            {targets.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
            {target && !targets.includes(target) && <option value={target}>{target}</option>}
          </select>
        </label>{" "}
        <label>
          from <input type="datetime-local" name="from" value={localOf(since)} onChange={(e) => change("since", isoOf(e.currentTarget.value))} />
        </label>{" "}
        <label>
          to <input type="datetime-local" name="to" value={localOf(until)} onChange={(e) => change("until", isoOf(e.currentTarget.value))} />
        </label>
      </form>
      {runs.error && <ErrorBox error={runs.error} what="runs" />}
      {runs.loading && <Loading />}
      {runs.data && runs.data.length === 0 && pages.length === 0 && !filtered && (
        <p class="muted">
          No runs yet. Submit one above, or with <code>tributary submit REPOSITORY:TARGET --project {project} --env {env}</code>.
        </p>
      )}
      {runs.data && (runs.data.length > 0 || pages.length > 0 || filtered) && (
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
              {rows.map((r) => (
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
          {rows.length === 0 && <p class="muted">No run {needle ? "on this page " : ""}matches.</p>}
          <p class="pager">
            <button type="button" name="newest" disabled={pages.length === 0} onClick={() => setPages([])}>
              newest
            </button>{" "}
            <button type="button" name="newer" disabled={pages.length === 0} onClick={() => setPages(pages.slice(0, -1))}>
              ‹ newer
            </button>{" "}
            <span class="muted">
              page {pages.length + 1} · {runs.data.length} run(s)
              {rows.length !== runs.data.length ? `, ${rows.length} shown` : ""}
            </span>{" "}
            <button type="button" name="older" disabled={runs.data.length < LIMIT} onClick={() => setPages([...pages, runs.data!.at(-1)!.runId])}>
              older ›
            </button>
          </p>
        </div>
      )}
    </section>
  );
};
