/**
 * `/projects/{p}/envs/{e}/runs/{run}/logs`: what the run's task code logged,
 * followed live (`…/logs?follow=true`, NDJSON, until the run ends), filtered
 * by level and by step.
 */
import { useEffect, useState } from "preact/hooks";
import type { LogLine, RunAnswer } from "../../protocol/api.js";
import { ApiError, streamLines } from "../api.js";
import { ErrorBox, Link } from "../components.js";
import { showClock, showValue } from "../format.js";
import { useApi } from "../hooks.js";
import { envApi, pathOf } from "../routes.js";

const LEVELS = ["debug", "info", "warn", "error"] as const;
/** The most lines kept in the page (the oldest go first). */
const KEEP = 5000;

export const LogsPage = ({ project, env, runId }: { project: string; env: string; runId: string }) => {
  const run = useApi<RunAnswer>(envApi(project, env, `/runs/${encodeURIComponent(runId)}`), { pollMs: (v) => (v?.run.status === "running" ? 2000 : undefined) });
  const [lines, setLines] = useState<LogLine[]>([]);
  const [state, setState] = useState<"following" | "ended" | "error">("following");
  const [error, setError] = useState<ApiError | null>(null);
  const [level, setLevel] = useState<(typeof LEVELS)[number]>("debug");
  const [step, setStep] = useState("");
  useEffect(() => {
    const abort = new AbortController();
    setLines([]);
    setState("following");
    const got: LogLine[] = [];
    let pending = false;
    // Lines arrive in bursts: drawn at most once a frame.
    const flush = () => {
      pending = false;
      setLines(got.slice(-KEEP));
    };
    streamLines(
      envApi(project, env, `/runs/${encodeURIComponent(runId)}/logs?follow=true`),
      (v) => {
        got.push(v as LogLine);
        if (!pending) {
          pending = true;
          requestAnimationFrame(flush);
        }
      },
      abort.signal,
    ).then(
      () => (flush(), setState("ended")),
      (e: unknown) => {
        if (abort.signal.aborted) return;
        setError(e instanceof ApiError ? e : new ApiError(0, (e as Error).message));
        setState("error");
      },
    );
    return () => abort.abort();
  }, [project, env, runId]);
  const min = LEVELS.indexOf(level);
  const shown = lines.filter((l) => LEVELS.indexOf(l.level) >= min && (step === "" || l.stepId === step));
  const steps = run.data?.steps ?? [];
  const targetOf = (id: string) => steps.find((s) => s.stepId === id)?.target.target ?? "";
  return (
    <section class="logs">
      <p class="crumbs">
        <Link href={pathOf({ view: "project", project })}>{project}</Link> / <Link href={pathOf({ view: "runs", project, env })}>{env}</Link> / run{" "}
        <Link href={pathOf({ view: "run", project, env, runId })}>
          <code>{runId}</code>
        </Link>{" "}
        / logs
      </p>
      <h1>
        Logs of run <code>{runId}</code>
      </h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          level at least{" "}
          <select name="level" value={level} onChange={(e) => setLevel(e.currentTarget.value as (typeof LEVELS)[number])}>
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>{" "}
        <label>
          step{" "}
          <select name="step" value={step} onChange={(e) => setStep(e.currentTarget.value)}>
            <option value="">every step</option>
            {steps.map((s) => (
              <option key={s.stepId} value={s.stepId}>
                {s.stepId} {s.target.target}
              </option>
            ))}
          </select>
        </label>{" "}
        <span class="muted" data-state={state}>
          {state === "following" ? "following live…" : state === "ended" ? "the run has ended" : ""} · {shown.length} of {lines.length} line(s)
        </span>
      </form>
      {error && <ErrorBox error={error} what="logs" />}
      {state !== "error" && lines.length === 0 && <p class="muted">No lines yet.</p>}
      <div class="scroll log-lines" role="log" aria-live="polite">
        {shown.map((l, i) => (
          <div key={i} class={`log-line level-${l.level}`} data-step={l.stepId} data-level={l.level}>
            <span class="at">{showClock(l.at)}</span> <span class="lvl">{l.level}</span>{" "}
            <Link href={pathOf({ view: "run", project, env, runId, stepId: l.stepId, executionId: l.executionId })} class="step-ref">
              {l.stepId} {targetOf(l.stepId)}
            </Link>{" "}
            <span class="msg">{l.message}</span>
            {l.fields && Object.keys(l.fields).length > 0 && <code class="fields"> {showValue(l.fields, 0).replace(/\n/g, " ")}</code>}
          </div>
        ))}
      </div>
    </section>
  );
};
