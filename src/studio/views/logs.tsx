/**
 * `/projects/{p}/envs/{e}/runs/{run}/logs`: what the run's task code logged,
 * followed live (`…/logs?follow=true`, NDJSON, until the run ends), filtered
 * by level and by step. A stream cut while the run still runs (a server
 * restarting) is asked again with backoff; the lines it replays from the
 * first are skipped up to those already shown.
 */
import { useEffect, useState } from "preact/hooks";
import type { LogLine, RunAnswer } from "../../protocol/api.js";
import { api, ApiError, streamLines } from "../api.js";
import { ErrorBox, Link } from "../components.js";
import { showClock, showValue } from "../format.js";
import { useApi } from "../hooks.js";
import { envApi, pathOf } from "../routes.js";

const LEVELS = ["debug", "info", "warn", "error"] as const;
/** The most lines kept in the page (the oldest go first). */
const KEEP = 5000;
/** A cut stream (the server restarted) is asked again after this, doubling up to {@link RETRY_MAX_MS}. */
const RETRY_MS = 500;
const RETRY_MAX_MS = 8000;

export const LogsPage = ({ project, env, runId }: { project: string; env: string; runId: string }) => {
  const run = useApi<RunAnswer>(envApi(project, env, `/runs/${encodeURIComponent(runId)}`), { pollMs: (v) => (v?.run.status === "running" ? 2000 : undefined) });
  const [lines, setLines] = useState<LogLine[]>([]);
  const [state, setState] = useState<"following" | "reconnecting" | "ended" | "error">("following");
  const [error, setError] = useState<ApiError | null>(null);
  const [level, setLevel] = useState<(typeof LEVELS)[number]>("debug");
  const [step, setStep] = useState("");
  useEffect(() => {
    const abort = new AbortController();
    setLines([]);
    setState("following");
    setError(null);
    const got: LogLine[] = [];
    /** Lines heard in all, over every connection: a new one replays the run's lines from the first, these are skipped. */
    let seen = 0;
    let pending = false;
    let retryMs = RETRY_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Lines arrive in bursts: drawn at most once a frame.
    const flush = () => {
      pending = false;
      setLines(got.slice(-KEEP));
    };
    const runPath = envApi(project, env, `/runs/${encodeURIComponent(runId)}`);
    /** Whether the run still runs (a stream that ended while it does was cut: the server stopped). */
    const stillRunning = async (): Promise<boolean> => {
      try {
        return (await api<RunAnswer>(runPath, { signal: abort.signal })).run.status === "running";
      } catch (e) {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 404)) throw e;
        return true; // no answer: the server is not back yet
      }
    };
    const again = () => {
      setState("reconnecting");
      timer = setTimeout(() => void follow(), retryMs);
      retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
    };
    const follow = async (): Promise<void> => {
      let skip = seen;
      try {
        await streamLines(
          `${runPath}/logs?follow=true`,
          (v) => {
            if (skip > 0) return void skip--;
            seen++;
            retryMs = RETRY_MS;
            got.push(v as LogLine);
            if (got.length > 2 * KEEP) got.splice(0, got.length - KEEP);
            if (!pending) {
              pending = true;
              requestAnimationFrame(flush);
            }
          },
          abort.signal,
        );
        if (abort.signal.aborted) return;
        setState("following");
        if (await stillRunning()) return again();
        flush();
        setState("ended");
      } catch (e) {
        if (abort.signal.aborted) return;
        const err = e instanceof ApiError ? e : new ApiError(0, (e as Error).message);
        if (err.status === 0) return again(); // the server does not answer: it may be restarting
        setError(err);
        setState("error");
      }
    };
    void follow();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
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
          {state === "following" ? "following live…" : state === "reconnecting" ? "reconnecting…" : state === "ended" ? "the run has ended" : ""} · {shown.length} of {lines.length}{" "}
          line(s)
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
