/**
 * The timeline (Gantt) of a run's executions: one row per execution, in
 * the order they were created, with the time it waited (created → started:
 * queued, then assigned) apart from the time it ran (started → finished, or
 * → now while it runs). Times are ms from the run's submission. Pure
 * (unit-tested).
 */
import type { RunAnswer } from "../protocol/api.js";
import { argsPreview } from "./graph.js";

export interface TimelineRow {
  readonly executionId: string;
  readonly stepId: string;
  readonly label: string;
  readonly status: string;
  /** Waiting: from creation to start (or to now / the end, if it never started). */
  readonly queued: { readonly from: number; readonly to: number };
  /** Running: from start to finish (or to now); absent if it never started. */
  readonly ran?: { readonly from: number; readonly to: number };
}

export interface Timeline {
  readonly rows: readonly TimelineRow[];
  /** The span drawn, ms from the submission. */
  readonly span: number;
}

export const timelineOf = (view: RunAnswer, now: number): Timeline => {
  const t0 = view.run.submittedAt;
  const end = (x: { finishedAt?: number }) => x.finishedAt ?? (view.run.finishedAt !== undefined && view.run.status !== "running" ? view.run.finishedAt : now);
  const targets = new Map(view.steps.map((s) => [s.stepId as string, `${s.target.target}(${s.argumentsBlob ? "…" : argsPreview(s.arguments, 14)})`]));
  const rows = Object.values(view.executions)
    .sort((a, b) => a.createdSeq - b.createdSeq || a.createdAt - b.createdAt)
    .map((x): TimelineRow => {
      const created = x.createdAt - t0;
      const started = x.startedAt === undefined ? undefined : x.startedAt - t0;
      const stop = Math.max(end(x) - t0, started ?? created);
      return {
        executionId: x.executionId,
        stepId: x.stepId,
        label: `${targets.get(x.stepId) ?? x.stepId} #${x.attempt}`,
        status: x.status,
        queued: { from: created, to: started ?? stop },
        ...(started === undefined ? {} : { ran: { from: started, to: stop } }),
      };
    });
  const span = Math.max(1, ...rows.map((r) => (r.ran ?? r.queued).to));
  return { rows, span };
};

/** Px per character of a row's label (11 px sans-serif, its widest usual characters). */
const LABEL_CHAR = 6.6;

/** A row's label cut (with `…`) to fit `px` pixels, so it never runs under the bars; the row's title has it whole. */
export const fitLabel = (label: string, px: number): string => {
  const max = Math.max(4, Math.floor(px / LABEL_CHAR));
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
};

/** The least width of a bar, px: an execution of a few ms is still seen. */
export const MIN_BAR = 2;
