/**
 * `/projects/{p}/envs/{e}/runs/{run}/history[/steps/{step}]?at=SEQ`: the
 * run's events in log order, and a time-travel slider over the sequences of
 * its commits that redraws the graph and the selected step as the server
 * knew them at that sequence (`GET …/runs/{run}?at=SEQ`). The URL keeps
 * `at`, so a point of the history can be linked to. "Branch here" makes a
 * branch of the environment at that sequence.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { EnvironmentAnswer, HistoryEntry, RunAnswer } from "../../protocol/api.js";
import { describePrincipal } from "../../events/principal.js";
import { api, ApiError } from "../api.js";
import { ErrorBox, Link, Loading, Status } from "../components.js";
import { count, showClock, showTime, targetText } from "../format.js";
import { navigate, useApi } from "../hooks.js";
import { checkAt, commitSeqs, historyRows } from "../history.js";
import { envApi, envsApi, pathOf } from "../routes.js";
import { refusedProps, useRefusal } from "../may.js";
import { GraphView } from "./graph-view.js";
import { StepDetails } from "./step.js";

/** How long the slider rests before the run is fetched as of its sequence, ms. */
const DEBOUNCE_MS = 120;

/** `?at=SEQ` of the address bar, if it is a whole number from 1. */
const atOfUrl = (): number | undefined => {
  const raw = new URLSearchParams(location.search).get("at");
  return raw !== null && /^[1-9][0-9]{0,14}$/.test(raw) ? Number(raw) : undefined;
};

/** The address bar's `at`, replaced (moving the slider makes no new history entry). */
const keepAt = (at: number | undefined): void => {
  const q = new URLSearchParams(location.search);
  if (at === undefined) q.delete("at");
  else q.set("at", String(at));
  const search = q.toString();
  history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}`);
};

export const HistoryPage = ({ project, env, runId, stepId }: { project: string; env: string; runId: string; stepId?: string }) => {
  const runPath = envApi(project, env, `/runs/${encodeURIComponent(runId)}`);
  // New events are fetched when the server pushes a change of this run (a finished run too: a step can be re-run).
  const live = useRef(true);
  const events = useApi<HistoryEntry[]>(`${runPath}/history`, { live: { project, env, touches: (m) => m.runs.some((r) => r.runId === runId), minGapMs: 1000 } });
  const seqs = useMemo(() => commitSeqs(events.data ?? []), [events.data]);
  const last = seqs[seqs.length - 1];
  // The sequence the slider shows: the URL's, else the latest.
  const [at, setAt] = useState<number | undefined>(atOfUrl);
  const shown = at ?? last;
  const index = shown === undefined ? -1 : Math.max(0, seqs.findLastIndex((s) => s <= shown));
  const point = seqs[index];

  // The run as of the point, fetched once the slider rests.
  const [asOf, setAsOf] = useState<{ seq: number; view?: RunAnswer; error?: ApiError }>();
  useEffect(() => {
    if (point === undefined) return;
    const abort = new AbortController();
    const timer = setTimeout(() => {
      api<RunAnswer>(`${runPath}?at=${point}`, { signal: abort.signal }).then(
        (view) => setAsOf({ seq: point, view }),
        (e: unknown) => {
          if (!abort.signal.aborted) setAsOf({ seq: point, error: e instanceof ApiError ? e : new ApiError(0, (e as Error).message) });
        },
      );
    }, DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [runPath, point]);

  // The run as of the latest commit: the frame every point is drawn in, so the graph is laid out once for the
  // whole history (again only when a commit adds steps), not once per point (graph.ts `runGraph`).
  const [frame, setFrame] = useState<{ seq: number; view?: RunAnswer; failed?: true }>();
  const latestShown = asOf !== undefined && asOf.seq === last ? asOf.view : undefined;
  useEffect(() => {
    if (last === undefined || frame?.seq === last) return;
    if (latestShown) return setFrame({ seq: last, view: latestShown });
    const abort = new AbortController();
    const timer = setTimeout(
      () =>
        // The run now (from the projections: no fold of the log; it holds what `last` does, or more).
        api<RunAnswer>(runPath, { signal: abort.signal }).then(
          (view) => setFrame({ seq: last, view }),
          () => void (abort.signal.aborted || setFrame({ seq: last, failed: true })),
        ),
      frame === undefined ? 0 : DEBOUNCE_MS,
    );
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [runPath, last, latestShown]);

  // Once the commits are known, an address's `at` that is no sequence of the run says so, and is replaced.
  const [notice, setNotice] = useState<string>();
  const checked = useRef(false);
  useEffect(() => {
    if (checked.current || !events.data) return;
    checked.current = true;
    const c = checkAt(new URLSearchParams(location.search).get("at"), seqs);
    if (c.notice === undefined) return;
    setNotice(c.notice);
    setAt(c.at);
    keepAt(c.at);
  }, [events.data, seqs]);

  const move = (seq: number) => {
    setNotice(undefined);
    setAt(seq);
    keepAt(seq);
  };
  const toIndex = (i: number) => {
    const s = seqs[Math.min(seqs.length - 1, Math.max(0, i))];
    if (s !== undefined) move(s);
  };

  const crumbs = (
    <p class="crumbs">
      <Link href={pathOf({ view: "project", project })}>{project}</Link> / <Link href={pathOf({ view: "runs", project, env })}>{env}</Link> / run{" "}
      <Link href={pathOf({ view: "run", project, env, runId })}>
        <code>{runId}</code>
      </Link>{" "}
      / history
    </p>
  );
  if (!events.data) {
    return (
      <section>
        {crumbs}
        {events.error && <ErrorBox error={events.error} what={`run ${runId}`} />}
        {events.loading && <Loading />}
      </section>
    );
  }
  const atEvents = events.data.filter((e) => e.seq === point);
  const when = atEvents[0]?.at;
  // While the next point loads, the last one fetched stays on screen, dimmed.
  const view = asOf?.view;
  if (view && asOf?.seq === last) live.current = view.run.status === "running" || view.run.pending > 0;
  // The graph's clock: the time of the commit its view is as of (not the slider's, so it is laid out once per view).
  const viewWhen = useMemo(() => events.data?.find((e) => e.seq === asOf?.seq)?.at, [events.data, asOf]);
  const stale = asOf !== undefined && asOf.seq !== point;
  const step = stepId === undefined || !view ? undefined : view.steps.find((s) => s.stepId === stepId);
  const here = (s?: string) => `${pathOf({ view: "history", project, env, runId, ...(s === undefined ? {} : { stepId: s }) })}${point === undefined ? "" : `?at=${point}`}`;
  return (
    <section class="run history">
      {crumbs}
      {events.error && <ErrorBox error={events.error} what="refreshing" />}
      <h1>
        History of {view ? targetText(view.run.target) : <code>{runId}</code>} {view && <Status status={view.run.status} />}
      </h1>
      {notice && (
        <p class="muted notice" role="status" data-testid="at-notice">
          {notice}
        </p>
      )}
      <div class="travel">
        <label for="travel-slider">
          as of seq <strong data-testid="at-seq">{point ?? "-"}</strong> ({index + 1} of {seqs.length} commits{point === last ? ", the latest" : ""}) ·{" "}
          {showTime(when)} · {atEvents.map((e) => e.type).join(", ")}
        </label>
        <div class="travel-controls">
          <button type="button" onClick={() => toIndex(index - 1)} disabled={index <= 0} aria-label="one commit back">
            ◀
          </button>
          <input
            id="travel-slider"
            type="range"
            min={0}
            max={Math.max(0, seqs.length - 1)}
            step={1}
            value={index}
            aria-valuetext={`seq ${point}`}
            onInput={(e) => toIndex(Number((e.target as HTMLInputElement).value))}
          />
          <button type="button" onClick={() => toIndex(index + 1)} disabled={index >= seqs.length - 1} aria-label="one commit on">
            ▶
          </button>
          <button type="button" onClick={() => (setAt(undefined), keepAt(undefined))} disabled={at === undefined} title="follow the latest (at leaves the URL)">
            latest
          </button>
        </div>
        {point !== undefined && <BranchHere project={project} env={env} at={point} />}
      </div>
      {asOf?.error && asOf.seq === point && <ErrorBox error={asOf.error} what={`the run at seq ${point}`} />}
      <div class="run-body">
        <div class="run-main">
          {view ? (
            <div class={stale ? "as-of stale" : "as-of"} data-at={asOf?.seq} aria-busy={stale}>
              <p class="muted">
                {count(view.run.steps, "step")}, {count(view.run.executions, "execution")} as of seq {asOf?.seq}
              </p>
              {frame === undefined ? (
                <Loading />
              ) : (
                <GraphView
                  view={view}
                  env={env}
                  now={viewWhen ?? 0}
                  {...(frame.view ? { frame: frame.view } : {})}
                  {...(stepId === undefined ? {} : { selected: stepId })}
                  onSelect={(s) => navigate(here(s))}
                />
              )}
            </div>
          ) : (
            !asOf?.error && <Loading />
          )}
        </div>
        <aside class="details" aria-label="step details">
          {stepId === undefined && <p class="muted">Select a step in the graph to see it as it stood at this sequence.</p>}
          {stepId !== undefined && view && !step && <p class="muted">Step {stepId} did not exist yet at seq {asOf?.seq}.</p>}
          {step && view && <StepDetails view={view} step={step} project={project} env={env} now={viewWhen ?? 0} />}
        </aside>
      </div>
      <h2>Events</h2>
      <EventTable events={events.data} at={point} onPick={move} />
    </section>
  );
};

/** A row of the events table, px (fixed, so that only the rows in sight are drawn). */
const ROW_PX = 26;
/** Rows drawn beyond those in sight, above and below. */
const OVERSCAN = 30;

/**
 * Every event in log order; the commit at the slider is marked, later ones
 * dimmed; a row's sequence moves the slider there. Only the rows in sight
 * are in the page (a run of 1,000 steps has some 5,000 events).
 */
const EventTable = ({ events, at, onPick }: { events: readonly HistoryEntry[]; at: number | undefined; onPick: (seq: number) => void }) => {
  const rows = useMemo(() => historyRows(events), [events]);
  const box = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  const atIndex = useMemo(() => rows.findIndex((r) => r.seq === at), [rows, at]);
  useEffect(() => {
    const el = box.current;
    if (el) setHeight(el.clientHeight);
  }, []);
  // The marked commit comes into sight.
  useEffect(() => {
    const el = box.current;
    if (!el || atIndex < 0) return;
    const y = atIndex * ROW_PX;
    if (y < el.scrollTop || y + 2 * ROW_PX > el.scrollTop + el.clientHeight) el.scrollTop = Math.max(0, y - el.clientHeight / 2);
  }, [atIndex]);
  const from = Math.max(0, Math.floor(top / ROW_PX) - OVERSCAN);
  const to = Math.min(rows.length, Math.ceil((top + height) / ROW_PX) + OVERSCAN);
  return (
    <div class="events-wrap" ref={box} onScroll={(e) => setTop((e.currentTarget as HTMLDivElement).scrollTop)}>
      <table class="events" aria-rowcount={rows.length + 1}>
        <thead>
          <tr>
            <th>seq</th>
            <th>index</th>
            <th>time</th>
            <th>type</th>
            <th>step</th>
            <th>execution</th>
            <th>agent</th>
            <th>by</th>
          </tr>
        </thead>
        <tbody>
          {from > 0 && <tr class="spacer" aria-hidden="true" style={{ height: `${from * ROW_PX}px` }} />}
          {rows.slice(from, to).map((e, k) => (
            <tr
              key={`${e.seq}.${e.index}`}
              aria-rowindex={from + k + 2}
              class={e.seq === at ? "at" : at !== undefined && e.seq > at ? "future" : ""}
              data-seq={e.seq}
            >
              <td>
                <button type="button" class="link" onClick={() => onPick(e.seq)} title="the run as of this sequence">
                  {e.seq}
                </button>
              </td>
              <td>{e.index}</td>
              <td title={showTime(e.at)}>{showClock(e.at)}</td>
              <td>{e.type}</td>
              <td>{e.stepId ?? ""}</td>
              <td>{e.executionId ?? ""}</td>
              <td>{e.agentId ?? ""}</td>
              <td>{describePrincipal(e.entry.by)}</td>
            </tr>
          ))}
          {to < rows.length && <tr class="spacer" aria-hidden="true" style={{ height: `${(rows.length - to) * ROW_PX}px` }} />}
        </tbody>
      </table>
    </div>
  );
};

/** A branch of this environment at the slider's sequence (`POST …/envs` with `{ name, from, at }`), then a link to it. */
const BranchHere = ({ project, env, at }: { project: string; env: string; at: number }) => {
  const [name, setName] = useState("");
  const [made, setMade] = useState<{ name: string; at: number }>();
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  // Admin on the new name, read on this environment (docs/security.md).
  const mayNotCreate = useRefusal("createEnv", project, name.trim() || undefined);
  const mayNotRead = useRefusal("getRun", project, env);
  const refusal = mayNotCreate ?? mayNotRead;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setMade(undefined);
    try {
      const r = await api<EnvironmentAnswer>(envsApi(project), { method: "POST", body: { name: name.trim(), from: env, at } });
      setMade({ name: r.name, at: r.branchedFrom?.at ?? at });
    } catch (x) {
      setError(x instanceof ApiError ? x : new ApiError(0, (x as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="branch-here" onSubmit={(e) => void submit(e)}>
      <label>
        new branch <input name="branch" value={name} placeholder="dev-fix" required maxLength={64} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      </label>{" "}
      <button type="submit" disabled={busy || name.trim() === ""} {...refusedProps(refusal)}>
        branch here (seq {at})
      </button>
      {refusal && <span class="muted refusal"> {refusal}</span>}
      {made && (
        <span class="made" role="status">
          {" "}
          made <Link href={pathOf({ view: "runs", project, env: made.name })}>{made.name}</Link>, a branch of {env} at seq {made.at} ·{" "}
          <Link href={pathOf({ view: "project", project })}>environments</Link>
        </span>
      )}
      {error && <ErrorBox error={error} what="branch" />}
    </form>
  );
};
