/**
 * `/projects/{p}/envs/{e}/runs/{run}[/steps/{step}[/executions/{x}]]`: a
 * run, its step graph, and the selected step's details. Fetched again when
 * the server pushes a change of this run (hooks.ts `useApi` with `live`).
 */
import type { RunAnswer } from "../../protocol/api.js";
import { describePrincipal } from "../../events/principal.js";
import { ErrorBox, Link, Loading, Status } from "../components.js";
import { count, durationOf, showTime, showValue, targetText } from "../format.js";
import { navigate, useApi, useNow } from "../hooks.js";
import { envApi, pathOf } from "../routes.js";
import { useEffect, useRef } from "preact/hooks";
import { GraphView } from "./graph-view.js";
import { GRAPH_LIMIT, StepList } from "./step-list.js";
import { StepDetails } from "./step.js";
import { StepLogs } from "./step-logs.js";
import { TimelineView } from "./timeline-view.js";
import { CompareWith } from "./compare.js";
import { CancelButton } from "./actions.js";

export const RunPage = ({ project, env, runId, stepId, executionId }: { project: string; env: string; runId: string; stepId?: string; executionId?: string }) => {
  // Fetched again when a pushed change touches this run (a finished run too: a step can be re-run).
  const run = useApi<RunAnswer>(envApi(project, env, `/runs/${encodeURIComponent(runId)}`), {
    live: { project, env, touches: (m) => m.runs.some((r) => r.runId === runId), minGapMs: 500 },
  });
  // Durations of what still runs tick every second, drawn again here (no request).
  const now = useNow(run.data?.run.status === "running" ? 1000 : undefined);
  // Marked once per run shown, when its page is first drawn with its data: what `npm run bench -- --only studio` times.
  const has = run.data !== undefined;
  useEffect(() => {
    const mark = `tributary:run-rendered:${runId}`;
    if (has && performance.getEntriesByName(mark).length === 0) performance.mark(mark);
  }, [runId, has]);
  const details = useRef<HTMLElement>(null);
  const close = () => {
    if (stepId === undefined) return;
    navigate(pathOf({ view: "run", project, env, runId }));
    // The focus goes back to the step's node (or row) in the graph.
    requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-step="${CSS.escape(stepId)}"]`)?.focus());
  };
  // Escape closes the step panel (not while a field of it is being typed in).
  useEffect(() => {
    if (stepId === undefined) return;
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (e.key !== "Escape" || e.defaultPrevented || (t && /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
      close();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [stepId, project, env, runId]);
  // Narrow, the panel is below the graph: bring it into view when a step is chosen.
  useEffect(() => {
    const el = details.current;
    if (stepId === undefined || !el || !matchMedia("(max-width: 900px)").matches) return;
    if (el.getBoundingClientRect().top > innerHeight * 0.6) el.scrollIntoView({ block: "start" });
  }, [stepId, has]);
  const crumbs = (
    <p class="crumbs">
      <Link href={pathOf({ view: "project", project })}>{project}</Link> / <Link href={pathOf({ view: "runs", project, env })}>{env}</Link> / run{" "}
      <code>{runId}</code>
    </p>
  );
  if (!run.data) {
    return (
      <section>
        {crumbs}
        {run.error && <ErrorBox error={run.error} what={`run ${runId}`} />}
        {run.loading && <Loading />}
      </section>
    );
  }
  const view = run.data;
  const r = view.run;
  const step = stepId === undefined ? undefined : view.steps.find((s) => s.stepId === stepId);
  return (
    <section class="run">
      {crumbs}
      {run.error && <ErrorBox error={run.error} what="refreshing" />}
      <h1>
        {targetText(r.target)} <Status status={r.status} />
      </h1>
      <p class="run-actions">
        <Link href={pathOf({ view: "logs", project, env, runId })}>logs</Link> <CancelButton key={`${env}/${runId}`} project={project} env={env} runId={runId} run={r} />
      </p>
      <dl class="facts">
        <dt>run</dt>
        <dd>
          <code>{r.runId}</code>
        </dd>
        <dt>submitted</dt>
        <dd>
          {showTime(r.submittedAt)} (seq {r.submittedSeq}){r.submittedBy ? ` by ${describePrincipal(r.submittedBy)}` : ""}
        </dd>
        <dt>history</dt>
        <dd>
          <Link href={pathOf({ view: "history", project, env, runId, ...(stepId === undefined ? {} : { stepId }) })}>its events, with time travel</Link>
        </dd>
        <dt>duration</dt>
        <dd>{durationOf(r.submittedAt, r.finishedAt, now)}</dd>
        <dt>steps</dt>
        <dd>
          {count(r.steps, "step")}, {count(r.executions, "execution")}{r.pending ? `, ${r.pending} pending` : ""}
        </dd>
        {r.branchedFrom && (
          <>
            <dt>re-run of</dt>
            <dd>
              {r.branchedFrom.env} at seq {r.branchedFrom.seq}
            </dd>
          </>
        )}
        {r.error && (
          <>
            <dt>error</dt>
            <dd class="err">
              {r.error.type}: {r.error.message}
            </dd>
          </>
        )}
        {r.cancelReason && (
          <>
            <dt>cancelled</dt>
            <dd>{r.cancelReason}</dd>
          </>
        )}
        <dt>arguments</dt>
        <dd>
          <code>{r.argumentsBlob ? `stored as a blob (${r.argumentsBlob.size} bytes)` : showValue(r.arguments, 0).replace(/\n/g, " ")}</code>
        </dd>
      </dl>
      <CompareWith project={project} env={env} runId={runId} />
      <div class="run-body">
        <div class="run-main">
          {view.steps.length < GRAPH_LIMIT ? (
            <GraphView view={view} env={env} now={now} {...(stepId === undefined ? {} : { selected: stepId })} onSelect={(s) => navigate(pathOf({ view: "run", project, env, runId, stepId: s }))} />
          ) : (
            <StepList view={view} env={env} now={now} {...(stepId === undefined ? {} : { selected: stepId })} onSelect={(s) => navigate(pathOf({ view: "run", project, env, runId, stepId: s }))} />
          )}
          <h2>Timeline</h2>
          <p class="muted legend">Each execution: hatched while it waited (queued, a retry's backoff, no agent free), solid while it ran.</p>
          <TimelineView view={view} now={now} href={(s, x) => pathOf({ view: "run", project, env, runId, stepId: s, executionId: x })} />
        </div>
        <aside class="details" aria-label="step details" ref={details}>
          {stepId !== undefined && (
            <button type="button" class="link close-panel" name="close-step" aria-label="close the step details (Escape)" title="close (Escape)" onClick={close}>
              ✕
            </button>
          )}
          {stepId === undefined && <p class="muted">Select a step in the graph to see its arguments, result and executions.</p>}
          {stepId !== undefined && !step && (
            <div class="error" role="alert">
              <strong>not found</strong> — run {runId} has no step {stepId}.
            </div>
          )}
          {step && executionId !== undefined && !(step.executions as readonly string[]).includes(executionId) && (
            <div class="error" role="alert">
              <strong>not found</strong> — step {step.stepId} has no execution {executionId}.
            </div>
          )}
          {step && <StepDetails view={view} step={step} project={project} env={env} now={now} {...(executionId === undefined ? {} : { executionId })} />}
          {step && <StepLogs key={`${env}/${runId}/${step.stepId}`} view={view} step={step} project={project} env={env} />}
        </aside>
      </div>
    </section>
  );
};

