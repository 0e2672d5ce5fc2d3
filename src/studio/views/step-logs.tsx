/**
 * The log lines of one step, on the run page's step panel: the run's lines
 * (`GET …/runs/{run}/logs`) of this step, the newest {@link SHOWN}, each with
 * its time, level, attempt and fields; a link to the whole run's logs. Read
 * again when a pushed change touches the step (its executions start and
 * end), and every 2 s while it is running (lines are no commits).
 */
import { useRef } from "preact/hooks";
import type { LogLine, RunAnswer } from "../../protocol/api.js";
import { ErrorBox, Link } from "../components.js";
import { showClock, showValue } from "../format.js";
import { useApi } from "../hooks.js";
import { envApi, pathOf } from "../routes.js";

/** The most lines shown on the panel (the logs page has them all). */
const SHOWN = 200;

type Step = RunAnswer["steps"][number];

export const StepLogs = ({ view, step, project, env }: { view: RunAnswer; step: Step; project: string; env: string }) => {
  const runId = view.run.runId;
  const running = useRef(false);
  running.current = step.status === "running" || step.status === "pending";
  const logs = useApi<LogLine[]>(envApi(project, env, `/runs/${encodeURIComponent(runId)}/logs`), {
    live: { project, env, touches: (m) => m.runs.some((r) => r.runId === runId && (r.steps.includes(step.stepId) || (r.moreSteps ?? 0) > 0)), minGapMs: 1000 },
    pollMs: () => (running.current ? 2000 : undefined),
  });
  const lines = (logs.data ?? []).filter((l) => l.stepId === step.stepId);
  const shown = lines.slice(-SHOWN);
  const attemptOf = (x: string) => view.executions[x]?.attempt;
  return (
    <div class="step-logs" data-lines={lines.length}>
      <h3>
        Logs{" "}
        <span class="muted">
          ({lines.length} line{lines.length === 1 ? "" : "s"}
          {lines.length > shown.length ? `, the last ${shown.length} shown` : ""}) · <Link href={pathOf({ view: "logs", project, env, runId })}>the run's logs</Link>
        </span>
      </h3>
      {logs.error && <ErrorBox error={logs.error} what="logs" />}
      {logs.data && lines.length === 0 && <p class="muted">This step logged nothing.</p>}
      {shown.length > 0 && (
        <div class="scroll log-lines" role="log" aria-label={`log lines of step ${step.stepId}`}>
          {shown.map((l, i) => (
            <div key={i} class={`log-line level-${l.level}`} data-level={l.level} data-execution={l.executionId}>
              <span class="at">{showClock(l.at)}</span> <span class="lvl">{l.level}</span>{" "}
              <Link href={pathOf({ view: "run", project, env, runId, stepId: step.stepId, executionId: l.executionId })} class="step-ref" title={`execution ${l.executionId}`}>
                #{attemptOf(l.executionId) ?? "?"}
              </Link>{" "}
              <span class="msg">{l.message}</span>
              {l.fields && Object.keys(l.fields).length > 0 && <code class="fields"> {showValue(l.fields, 0).replace(/\n/g, " ")}</code>}
            </div>
          ))}
        </div>
      )}
    </div>
  );
};
