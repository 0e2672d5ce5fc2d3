/**
 * `tributary runs watch RUN`: the run's tree, live, until the run ends.
 *
 * On a terminal the tree is redrawn in place as the run moves (each step's
 * status, progress and latest metrics; lines cut to the terminal's width).
 * Into a pipe or a file no escape codes are written: a plain line for each
 * change instead (a step whose status, progress or metrics changed; the
 * run's end), so that `| head`, `| grep` and `> file` read well. With
 * `--json`, one JSON document per change of the run (NDJSON). Rides out
 * server restarts as `runs wait` does; the exit code is 0 if the run
 * succeeded, 3 if not.
 */
import type { Client } from "../client/client.js";
import { retrying } from "../client/wait.js";
import type { RunAnswer } from "../protocol/api.js";
import { toJson } from "../protocol/json.js";
import { progressText, renderRunTree, showResult } from "./output.js";
import { noting } from "./wait.js";

export interface WatchOptions {
  /** Redraw in place (stdout is a terminal). */
  readonly tty: boolean;
  readonly json: boolean;
  /** Between two looks at the run, ms. */
  readonly intervalMs?: number;
  readonly write?: (text: string) => void;
  /** The terminal's width, for cutting lines when redrawing. */
  readonly columns?: () => number | undefined;
}

const time = (ms: number): string => new Date(ms).toISOString().slice(11, 23);

/** One line per step: what a plain (not redrawn) watch prints when it changes. */
export const stepLines = (view: RunAnswer): Map<string, string> => {
  const waiting = new Map((view.queue ?? []).map((w) => [w.executionId, w]));
  const out = new Map<string, string>();
  for (const s of view.steps) {
    const latest = s.executions.at(-1);
    const x = latest === undefined ? undefined : view.executions[latest];
    // While the step has no outcome, its latest execution's status says more (queued, assigned, running).
    const status = x && (s.status === "pending" || s.status === "running") ? x.status : s.status;
    const held = latest === undefined ? undefined : waiting.get(latest);
    const outcome = s.status === "succeeded" || s.status === "reused" ? `→ ${showResult(s.result)}` : s.error ? `✗ ${s.error.type}: ${s.error.message}` : "";
    const parts = [
      `step ${s.stepId} ${s.target.repository}:${s.target.target}${s.options.group === undefined ? "" : ` [${s.options.group}]`}`,
      status,
      latest === undefined ? "" : progressText(view.progress?.[latest]),
      held && held.reason !== "assignable" ? `(${held.message})` : "",
      outcome,
    ];
    out.set(s.stepId, parts.filter((p) => p !== "").join("  "));
  }
  return out;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Watches the run until it ends; the exit code. */
export const watchRun = async (client: Client, runId: string, o: WatchOptions): Promise<number> => {
  const write = o.write ?? ((t: string) => void process.stdout.write(t));
  const patience = noting(`watching run ${runId}`);
  let drawn: string[] = []; // the lines of the last redraw
  let lastSeq = -1;
  let headed = false;
  const printed = new Map<string, string>();
  for (;;) {
    const view = await retrying(() => client.run(runId).view(), patience);
    const ended = view.run.status !== "running";
    const changed = view.run.lastSeq !== lastSeq || (view.queue ?? []).length > 0;
    lastSeq = view.run.lastSeq;
    if (o.json) {
      if (changed) write(`${toJson(view)}\n`);
    } else if (o.tty) {
      const width = o.columns?.() ?? 0;
      const lines = renderRunTree(view, new Set(view.stale), view.queue ?? []).split("\n").map((l) => (width > 1 && l.length > width ? `${l.slice(0, width - 1)}…` : l));
      if (!ended) lines.push(`(watching; Ctrl-C stops watching, not the run)`);
      if (lines.join("\n") !== drawn.join("\n")) {
        // Back to the top of the last drawing, then clear down and draw again.
        write(`${drawn.length > 0 ? `\x1b[${drawn.length}F\x1b[J` : ""}${lines.join("\n")}\n`);
        drawn = lines;
      }
    } else {
      if (!headed) write(`${time(Date.now())}  run ${runId}  ${view.run.target.repository}:${view.run.target.target}  ${view.run.status}\n`);
      headed = true;
      for (const [stepId, line] of stepLines(view)) {
        if (printed.get(stepId) === line) continue;
        printed.set(stepId, line);
        write(`${time(Date.now())}  ${line}\n`);
      }
      if (ended) write(`${time(Date.now())}  run ${runId} ${view.run.status}${view.run.error ? `: ${view.run.error.type}: ${view.run.error.message}` : ""}\n`);
    }
    if (ended) return view.run.status === "succeeded" ? 0 : 3;
    await sleep(o.intervalMs ?? 300);
  }
};
