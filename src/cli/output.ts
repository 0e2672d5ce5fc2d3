/**
 * Human-readable renderings of runs and histories, for the CLI and the demo.
 * Pure: strings in, strings out.
 */
import { describePrincipal, type Commit, type Event, type ResultValue, type Value } from "../events/index.js";
import type { EnvironmentDoc, ExecutionDoc, ProgressDoc, RunView, StepDoc } from "../projections/index.js";
import type { Waiting } from "../protocol/api.js";
import { currentExecutions, stepRunTime } from "../protocol/run-tree.js";

const time = (ms: number | undefined): string => (ms === undefined ? "-" : new Date(ms).toISOString().slice(11, 23));

const duration = (from: number | undefined, to: number | undefined): string =>
  from === undefined || to === undefined ? "" : `${to - from} ms`;

/** A short, one-line rendering of a value. */
export const showValue = (v: Value | undefined, max = 60): string => {
  const s = JSON.stringify(v, (_k, x: unknown) =>
    typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? `<${x.length} bytes>` : x,
  );
  const out = s === undefined ? "undefined" : s;
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
};

export const showResult = (r: ResultValue | undefined): string =>
  r === undefined ? "" : r.kind === "inline" ? showValue(r.value) : `<blob ${r.blob.size} bytes ${r.blob.key.slice(0, 19)}…>`;

const target = (s: { target: { repository: string; target: string } }) => `${s.target.repository}:${s.target.target}`;

/** An execution's latest progress and metrics in a few words: `40% loading b.csv  loss=0.25 rows=1200`. */
export const progressText = (p: ProgressDoc | undefined): string => {
  if (!p) return "";
  const parts = [p.fraction === undefined ? "" : `${Math.round(p.fraction * 1000) / 10}%`, p.message ?? ""].filter((s) => s !== "");
  const metrics = Object.entries(p.metrics)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, m]) => `${name}=${Number(m.value.toPrecision(6))}`);
  return [parts.join(" "), metrics.join(" ")].filter((s) => s !== "").join("  ");
};

/**
 * The tree of a run's steps (children under the execution that called them),
 * each with its status, attempts, duration, agent and result or error.
 */
export const renderRunTree = (view: RunView, stale: ReadonlySet<string> = new Set(), queue: readonly Waiting[] = []): string => {
  const { run } = view;
  const waiting = new Map(queue.map((w) => [w.executionId, w]));
  const lines: string[] = [];
  lines.push(
    `run ${run.runId}  ${target(run)}  ${run.status.toUpperCase()}` +
      `  ${duration(run.submittedAt, run.finishedAt)}  (${run.steps} step${run.steps === 1 ? "" : "s"}, ${run.executions} execution${run.executions === 1 ? "" : "s"}, last seq ${run.lastSeq})`,
  );
  // Who asked, when the server recorded it (with --auth): absent from older logs and open servers.
  if (run.submittedBy) lines.push(`submitted by ${describePrincipal(run.submittedBy)}`);
  if (run.cancelledBy) lines.push(`cancelled by ${describePrincipal(run.cancelledBy)}`);
  const children = new Map<string, StepDoc[]>();
  for (const s of view.steps) {
    const parent = s.parentExecutionId ?? "";
    const list = children.get(parent);
    if (list) list.push(s);
    else children.set(parent, [s]);
  }
  const walk = (step: StepDoc, indent: string, last: boolean, earlier = false) => {
    const execs = step.executions.map((id) => view.executions[id]).filter((x): x is ExecutionDoc => x !== undefined);
    const latest = execs[execs.length - 1];
    const outcome =
      step.status === "succeeded" || step.status === "reused"
        ? `→ ${showResult(step.result)}`
        : step.error
          ? `✗ ${step.error.type}: ${step.error.message}`
          : "";
    lines.push(
      `${indent}${last ? "└─" : "├─"} ${earlier ? "(earlier) " : ""}${step.stepId} ${target(step)}(${step.argumentsBlob ? `<arguments: blob ${step.argumentsBlob.size} bytes>` : step.arguments.map((a) => showValue(a, 30)).join(", ")})` +
        (step.options.group !== undefined ? `  [${step.options.group}]` : "") +
        `  ${step.status}  attempts ${execs.length}` +
        (latest ? `  ${duration(stepRunTime(view, step).from, stepRunTime(view, step).to)}` : "") +
        (latest?.agentId ? `  on ${latest.agentId}` : "") +
        (step.reusedFrom
          ? // Re-run here (in a branch, say), its reused result is where it came from, no longer its result.
            `  ${step.resultReused || step.status === "reused" ? "from" : "re-run, earlier from"} ${step.reusedFrom.env}/${step.reusedFrom.runId}/${step.reusedFrom.stepId}@${step.reusedFrom.seq}`
          : "") +
        (stale.has(step.stepId) ? "  STALE (a step it called has a newer result)" : "") +
        (outcome ? `  ${outcome}` : ""),
    );
    const inner = indent + (last ? "   " : "│  ");
    const reported = progressText(latest ? view.progress?.[latest.executionId] : undefined);
    if (reported) lines.push(`${inner}◔ ${reported}`);
    const held = latest ? waiting.get(latest.executionId) : undefined;
    if (held && held.reason !== "assignable") lines.push(`${inner}… queued: ${held.message}`);
    for (const x of execs) {
      for (const id of x.assetsPersisted) lines.push(`${inner}▲ persisted ${describeAsset(view, id)}`);
      for (const id of x.assetsRestored) lines.push(`${inner}▼ restored ${describeAsset(view, id)}`);
    }
    for (const c of view.checkpoints ?? []) {
      if (c.stepId !== step.stepId) continue;
      lines.push(`${inner}◆ checkpoint ${c.name} = ${showResult(c.value)}  (${c.saves} save${c.saves === 1 ? "" : "s"}, last by ${c.executionId})`);
    }
    if (execs.length > 1) {
      for (const x of execs) {
        lines.push(
          `${inner}· attempt ${x.attempt} (${x.reason}${x.resumes ? `, resumes ${x.resumes}` : ""}) ${x.status}` +
            (x.abandonCause ? ` (${x.abandonCause})` : "") +
            (x.suspended ? ` (${describeSuspension(x.suspended)})` : "") +
            (x.error ? `: ${x.error.type}: ${x.error.message}` : "") +
            (x.agentId ? `  on ${x.agentId}` : ""),
        );
      }
    }
    // A reused step's children hang under the execution it was reused from (in a branch, before its re-run too).
    const producers = new Set([...execs.map((x) => x.executionId), ...(step.reusedFrom ? [step.reusedFrom.executionId] : [])]);
    const kids = [...producers].flatMap((id) => children.get(id) ?? []).sort((a, b) => a.scheduledSeq - b.scheduledSeq);
    // Steps called by an execution that is not the step's latest were superseded by a retry or re-run —
    // unless the latest resumed that execution, and so took its calls over.
    const current = currentExecutions(view, step);
    kids.forEach((k, i) => walk(k, inner, i === kids.length - 1, !current.has(k.parentExecutionId ?? "")));
  };
  const known = new Set(view.steps.flatMap((s) => [...s.executions, ...(s.reusedFrom ? [s.reusedFrom.executionId] : [])]));
  const roots = view.steps.filter((s) => s.parentExecutionId === undefined || !known.has(s.parentExecutionId));
  roots.forEach((s, i) => walk(s, "", i === roots.length - 1));
  return lines.join("\n");
};

/** Why an execution suspended itself: until when, or for what. */
const describeSuspension = (s: NonNullable<ExecutionDoc["suspended"]>): string =>
  [s.until === undefined ? "" : `until ${time(s.until)}`, s.waitingFor ? `waiting for any of ${s.waitingFor.join(", ")}` : ""].filter(Boolean).join(", ");

/** An asset in a line: id, name, files, bytes. */
const describeAsset = (view: RunView, assetId: string): string => {
  const p = view.assets[assetId]?.persisted;
  if (!p) return `asset ${assetId}`;
  return `asset ${assetId}${p.name ? ` "${p.name}"` : ""} (${p.entries.length} files, ${p.totalSize} bytes)`;
};

/** What an event is about, in a few words, for a history line. */
export const describeEvent = (e: Event): string => {
  switch (e.type) {
    case "RunSubmitted":
      return `${e.data.target.repository}:${e.data.target.target} args ` +
        (e.data.argumentsBlob ? `<blob ${e.data.argumentsBlob.size} bytes>` : showValue(e.data.arguments, 40));
    case "RunCancelled":
      return e.data.reason;
    case "StepScheduled":
      return `step ${e.data.stepId} ${e.data.target.repository}:${e.data.target.target}` +
        (e.data.parentExecutionId ? ` called by ${e.data.parentExecutionId}` : "");
    case "ExecutionCreated":
      return `step ${e.data.stepId} exec ${e.data.executionId} attempt ${e.data.attempt} (${e.data.reason})` +
        (e.data.resumes ? ` resumes ${e.data.resumes}` : "") +
        (e.data.resumeWhen ? ` when any of ${e.data.resumeWhen.join(", ")}` : "") +
        (e.data.notBefore ? ` not before ${time(e.data.notBefore)}` : "");
    case "ExecutionAssigned":
      return `exec ${e.data.executionId} → agent ${e.data.agentId}`;
    case "ExecutionStarted":
      return `exec ${e.data.executionId}`;
    case "ExecutionSucceeded":
      return `exec ${e.data.executionId} → ${showResult(e.data.result)}`;
    case "ExecutionFailed":
      return `exec ${e.data.executionId} ✗ ${e.data.error.type}: ${e.data.error.message}` +
        (e.data.error.retryable ? "" : " (terminal)");
    case "ExecutionCancelled":
      return `exec ${e.data.executionId}: ${e.data.reason}`;
    case "ExecutionTimedOut":
      return `exec ${e.data.executionId} after ${e.data.timeoutMs} ms`;
    case "ExecutionAbandoned":
      return `exec ${e.data.executionId} by agent ${e.data.agentId}: ${e.data.reason}` + (e.data.cause ? ` (${e.data.cause})` : "");
    case "StepResultReused":
      return `step ${e.data.stepId} from ${e.data.source.env}/${e.data.source.runId}/${e.data.source.executionId} @${e.data.source.seq}`;
    case "StepDeferred":
      return `step ${e.data.stepId} → ${e.data.to.runId}/${e.data.to.executionId}`;
    case "CallResumed":
      return `call ${e.data.callId} → step ${e.data.step.runId === e.runId ? "" : `${e.data.step.runId}/`}${e.data.step.stepId} (made by ${e.data.resumedCallId})`;
    case "AssetPersisted":
      return `asset ${e.data.assetId} (${e.data.entries.length} entries) by ${e.data.executionId}`;
    case "AssetRestored":
      return `asset ${e.data.assetId} by ${e.data.executionId}`;
    case "ManifestRegistered":
      return `${e.data.repository}: ${e.data.targets.map((t) => t.name).join(", ")}`;
    case "AgentConnected":
      return `agent ${e.data.agentId} (${e.data.repositories.join(", ")})`;
    case "AgentDisconnected":
      return `agent ${e.data.agentId}: ${e.data.reason}`;
    case "EnvironmentCreated":
      return `${e.data.project}/${e.data.env}` + (e.data.base ? ` base ${e.data.base}` : "");
    case "EnvironmentBranched":
      return `${e.data.project}/${e.data.env} from ${e.data.parent} @${e.data.at}`;
    case "EnvironmentRebased":
      return `base ${e.data.base ?? "(none)"}`;
    case "EnvironmentArchived":
      return e.data.reason ?? "";
    case "EnvironmentPaused":
      return e.data.reason ?? "";
    case "EnvironmentResumed":
      return "";
    case "ExecutionProgressed":
      return `exec ${e.data.executionId}` + (e.data.fraction === undefined ? "" : ` ${Math.round(e.data.fraction * 100)}%`) + (e.data.message ? ` ${e.data.message}` : "");
    case "MetricRecorded":
      return `exec ${e.data.executionId} ${e.data.name} = ${e.data.value}`;
    case "TokenCreated":
      return `token ${e.data.tokenId} ${e.data.role} of ${e.data.project} (${e.data.envs.join(", ")})` + (e.data.name ? ` "${e.data.name}"` : "");
    case "TokenRevoked":
      return `token ${e.data.tokenId}` + (e.data.reason ? `: ${e.data.reason}` : "");
    case "BlobStored":
      return `${e.data.key} (${e.data.size} bytes) uploaded`;
    case "CheckpointSaved":
      return `checkpoint ${e.data.name} by ${e.data.executionId} = ${showResult(e.data.value)}`;
    case "PoolCreated":
      return `pool ${e.data.name}: ${e.data.launcher}, up to ${e.data.max}, ${e.data.modules.join(" ")}`;
    case "PoolDeleted":
      return `pool ${e.data.name}`;
    case "ExecutionSuspended":
      return `exec ${e.data.executionId}` + (e.data.until ? ` until ${time(e.data.until)}` : "") +
        (e.data.waitingFor ? ` waiting for any of ${e.data.waitingFor.join(", ")}` : "") + (e.data.callId ? ` (call ${e.data.callId})` : "");
    case "ExecutionRecurred":
      return `exec ${e.data.executionId} returned nothing: the step recurs`;
    case "InputRequested":
      return `input ${e.data.inputId} "${e.data.title}" asked by ${e.data.executionId} (call ${e.data.callId})`;
    case "InputAnswered":
      return `input ${e.data.inputId} → ${showValue(e.data.value, 40)}`;
  }
};

/** Every event of the commits, one line each: `seq.index  time  type  by  what` (`by`: who caused it, `-` for nobody). */
export const renderHistory = (commits: Iterable<Commit>): string => {
  const rows = [...commits].flatMap((c) => c.events.map((e, i) => ({ at: `${c.seq}.${i}`, e, by: describePrincipal(e.by) })));
  const width = Math.max(2, ...rows.map((r) => r.by.length));
  const lines = [`${"seq".padStart(8)}  ${"time".padEnd(12)}  ${"event".padEnd(19)}  ${"by".padEnd(width)}  detail`];
  for (const { at, e, by } of rows) lines.push(`${at.padStart(8)}  ${time(e.at)}  ${e.type.padEnd(19)}  ${by.padEnd(width)}  ${describeEvent(e)}`);
  return lines.join("\n");
};

/** An environment as `envs ls` lists it. */
export type EnvLine = { readonly name: string; readonly lastSeq?: number } & Partial<EnvironmentDoc>;

/**
 * The environments of a project as a tree (each under its base or its
 * branch's parent), with who created or branched each when it is recorded.
 */
export const renderEnvs = (rows: readonly EnvLine[]): string => {
  const lines: string[] = [];
  const parentOf = (r: EnvLine) => r.base ?? r.branchedFrom?.parent ?? "";
  const children = new Map<string, EnvLine[]>();
  for (const r of rows) children.set(parentOf(r), [...(children.get(parentOf(r)) ?? []), r]);
  const walk = (r: EnvLine, indent: string, seen: Set<string>) => {
    const how = r.branchedFrom ? `  (branch of ${r.branchedFrom.parent} at ${r.branchedFrom.at})` : "";
    const by = r.createdBy ? `  ${r.branchedFrom ? "branched" : "created"} by ${describePrincipal(r.createdBy)}` : "";
    const archived = r.archived ? `  (archived${r.archivedBy ? ` by ${describePrincipal(r.archivedBy)}` : ""})` : "";
    const paused = r.paused ? `  (paused${r.paused.by ? ` by ${describePrincipal(r.paused.by)}` : ""})` : "";
    lines.push(`${indent}${r.name}${how}${archived}${paused}  ${r.lastSeq} commits${by}`);
    if (seen.has(r.name)) return;
    for (const c of children.get(r.name) ?? []) walk(c, indent + "  ", new Set([...seen, r.name]));
  };
  for (const r of rows.filter((r) => !rows.some((x) => x.name === parentOf(r)))) walk(r, "", new Set());
  return lines.join("\n");
};
