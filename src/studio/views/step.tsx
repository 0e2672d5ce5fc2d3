/** The selected step of a run: what it was called with, how it ended, and each of its executions. */
import { useEffect } from "preact/hooks";
import type { RunAnswer } from "../../protocol/api.js";
import { Link, Status } from "../components.js";
import { durationOf, showClock, stackBelow, showTime, showValue, targetText } from "../format.js";
import { markersOf } from "../graph.js";
import { pathOf } from "../routes.js";
import { RerunControls } from "./actions.js";

type Step = RunAnswer["steps"][number];
type Result = NonNullable<Step["result"]>;
type ErrorInfo = NonNullable<Step["error"]>;

const ResultText = ({ result }: { result: Result }) =>
  result.kind === "inline" ? <pre class="value">{showValue(result.value)}</pre> : <p>stored as blob <code>{result.blob.key}</code> ({result.blob.size} bytes)</p>;

const ErrorText = ({ error }: { error: ErrorInfo }) => (
  <div class="err">
    <p>
      <strong>{error.type}</strong>: {error.message} {error.retryable ? "" : <span class="tag">not retryable</span>}
    </p>
    {stackBelow(error) && <pre class="stack">{stackBelow(error)}</pre>}
  </div>
);

export const StepDetails = (props: { view: RunAnswer; step: Step; project: string; env: string; executionId?: string; now: number }) => {
  const { view, step, project, env } = props;
  // An execution's URL brings its row into sight.
  useEffect(() => {
    if (props.executionId) document.getElementById(`execution-${props.executionId}`)?.scrollIntoView({ block: "nearest" });
  }, [props.executionId, step.stepId]);
  const runId = view.run.runId;
  const parent = step.parentExecutionId ? view.executions[step.parentExecutionId] : undefined;
  const caller = parent ? view.steps.find((s) => s.stepId === parent.stepId) : undefined;
  const markers = markersOf(step, view, env);
  const producer = step.resultExecutionId ? view.executions[step.resultExecutionId] : undefined;
  return (
    <div class="step" data-step={step.stepId}>
      <h2>
        {targetText(step.target)} <Status status={step.status} />
      </h2>
      <RerunControls key={`${env}/${runId}/${step.stepId}`} project={project} env={env} runId={runId} stepId={step.stepId} />
      <dl class="facts">
        <dt>step</dt>
        <dd>
          <code>{step.stepId}</code> ({step.kind})
        </dd>
        {caller && (
          <>
            <dt>called by</dt>
            <dd>
              <Link href={pathOf({ view: "run", project, env, runId, stepId: caller.stepId })}>{caller.target.target}</Link>
            </dd>
          </>
        )}
        <dt>scheduled</dt>
        <dd>
          {showTime(step.scheduledAt)} (seq {step.scheduledSeq})
        </dd>
        {markers.length > 0 && (
          <>
            <dt>marks</dt>
            <dd>{markers.join(", ")}</dd>
          </>
        )}
        {step.reusedFrom && (
          <>
            {/* Re-run here, the reused result is where the step came from, no longer its result. */}
            <dt>{step.resultReused ? "result from" : view.run.branchedFrom ? "brought in from" : "earlier result from"}</dt>
            <dd data-reused-from={step.reusedFrom.executionId}>
              <Link href={pathOf({ view: "run", project, env: step.reusedFrom.env, runId: step.reusedFrom.runId, stepId: step.reusedFrom.stepId })}>
                run {step.reusedFrom.runId} in {step.reusedFrom.env}
              </Link>{" "}
              (seq {step.reusedFrom.seq})
            </dd>
          </>
        )}
        {step.reusedFrom && !step.resultReused && producer && (
          <>
            <dt>result from</dt>
            <dd data-result-from={producer.executionId}>
              <Link href={pathOf({ view: "run", project, env, runId, stepId: step.stepId, executionId: producer.executionId })}>execution #{producer.attempt}</Link> here, in {env}
            </dd>
          </>
        )}
      </dl>
      <h3>Arguments</h3>
      {step.argumentsBlob ? <p>stored as blob <code>{step.argumentsBlob.key}</code> ({step.argumentsBlob.size} bytes)</p> : <pre class="value">{showValue(step.arguments)}</pre>}
      {step.result && (
        <>
          <h3>Result</h3>
          <div class="result">
            <ResultText result={step.result} />
          </div>
        </>
      )}
      {step.error && (
        <>
          <h3>Error</h3>
          <ErrorText error={step.error} />
        </>
      )}
      <h3>Executions</h3>
      {step.executions.length === 0 ? (
        <p class="muted">None: {step.status === "reused" ? "the result was reused" : step.status === "deferred" ? "it waits for an identical call in flight" : "not started yet"}.</p>
      ) : (
        <div class="scroll">
          <table class="executions">
            <thead>
              <tr>
                <th>attempt</th>
                <th>reason</th>
                <th>status</th>
                <th>agent</th>
                <th>created</th>
                <th title="from created to started">queued</th>
                <th title="from started to finished">ran</th>
              </tr>
            </thead>
            <tbody>
              {step.executions.map((id) => {
                const x = view.executions[id];
                if (!x) return null;
                return (
                  <tr key={id} id={`execution-${id}`} data-execution={id} class={props.executionId === id ? "selected" : undefined}>
                    <td>
                      <Link href={pathOf({ view: "run", project, env, runId, stepId: step.stepId, executionId: id })} title={id}>
                        #{x.attempt}
                      </Link>
                    </td>
                    <td>{x.reason}</td>
                    <td>
                      <Status status={x.status} />
                    </td>
                    <td>{x.agentId ?? "-"}</td>
                    <td title={showTime(x.createdAt)}>{showClock(x.createdAt)}</td>
                    <td>{durationOf(x.createdAt, x.startedAt, props.now)}</td>
                    <td>{x.startedAt === undefined ? "-" : durationOf(x.startedAt, x.finishedAt, props.now)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <ExecutionExtras {...props} />
    </div>
  );
};

/** The errors of failed attempts, and the assets each execution persisted and restored. */
const ExecutionExtras = ({ view, step, project, env }: { view: RunAnswer; step: Step; project: string; env: string }) => {
  const xs = step.executions.map((id) => view.executions[id]).filter((x) => x !== undefined);
  const failed = xs.filter((x) => x.error && x.executionId !== step.resultExecutionId && !(step.error && x === xs[xs.length - 1]));
  const assets = xs.flatMap((x) => [
    ...x.assetsPersisted.map((a) => ({ a, how: "persisted", attempt: x.attempt })),
    ...x.assetsRestored.map((a) => ({ a, how: "restored", attempt: x.attempt })),
  ]);
  return (
    <>
      {failed.map((x) => (
        <div key={x.executionId} class="attempt-error">
          <h4>Attempt #{x.attempt}: {x.status}</h4>
          <ErrorText error={x.error!} />
        </div>
      ))}
      {assets.length > 0 && (
        <>
          <h3>Assets</h3>
          <ul>
            {assets.map(({ a, how, attempt }) => (
              <li key={`${how}-${a}-${attempt}`}>
                {how} by #{attempt}:{" "}
                <Link href={pathOf({ view: "asset", project, env, assetId: a })}>{view.assets[a]?.persisted?.name ?? a}</Link>
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
};
