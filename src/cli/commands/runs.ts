/** `tributary runs ls | show RUN | wait RUN | history RUN | logs RUN | cancel RUN | rerun RUN STEP`: see RUNS in ../table.ts. */
import type { Commit, Event } from "../../events/index.js";
import { fromJson, toJson } from "../../orchestrator/json.js";
import type { TaskLogLine } from "../../orchestrator/task-logs.js";
import type { RunDoc, RunView } from "../../projections/index.js";
import { api, CliError, envPath, request } from "../client.js";
import { runId as checkRunId, wholeNumber } from "../args.js";
import { targetOf } from "../options.js";
import { renderHistory, renderRunTree, showValue } from "../output.js";
import { RUNS } from "../table.js";
import { parse, UsageError, usageOf } from "../usage.js";
import { printOutcome, retrying, waitForCascade, waitForRun, waitForStep } from "../wait.js";

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table.
  const parsed = parse(RUNS, argv);
  const { values, positionals } = parsed;
  const t = targetOf(parsed);
  const [sub, runId, stepId] = positionals;
  if (runId !== undefined) checkRunId(runId);
  const limit = wholeNumber("limit", values.limit, 1, 10_000)!;

  const out = (v: unknown, text: () => string) => console.log(values.json ? toJson(v) : text());
  switch (sub) {
    case "ls": {
      const runs = await api<RunDoc[]>(t.server, "GET", envPath(t, `/runs?limit=${limit}`));
      out(runs, () =>
        [
          `${"run".padEnd(26)}  ${"status".padEnd(9)}  ${"submitted".padEnd(24)}  steps  target`,
          ...runs.map(
            (r) =>
              `${r.runId.padEnd(26)}  ${r.status.padEnd(9)}  ${new Date(r.submittedAt).toISOString().padEnd(24)}  ${String(r.steps).padStart(5)}  ${r.target.repository}:${r.target.target}`,
          ),
        ].join("\n"),
      );
      return 0;
    }
    case "show": {
      if (!runId) break;
      const view = await api<RunView & { stale: string[] }>(t.server, "GET", envPath(t, `/runs/${runId}`));
      out(view, () => renderRunTree(view, new Set(view.stale)));
      return 0;
    }
    case "wait": {
      if (!runId) break;
      return printOutcome(runId, await waitForRun(t, runId), values.json);
    }
    case "history": {
      if (!runId) break;
      const rows = await api<(Event & { seq: number; index: number })[]>(t.server, "GET", envPath(t, `/runs/${runId}/history`));
      const commits: Commit[] = [];
      for (const r of rows) {
        const { seq, index: _i, ...event } = r;
        const last = commits[commits.length - 1];
        if (last?.seq === seq) (last.events as Event[]).push(event as Event);
        else commits.push({ seq, id: event.id, subject: "", events: [event as Event] });
      }
      out(rows, () => renderHistory(commits));
      return 0;
    }
    case "logs": {
      if (!runId) break;
      const show = (l: TaskLogLine) =>
        values.json
          ? toJson(l)
          : `${new Date(l.at).toISOString().slice(11, 23)}  step ${l.stepId.padEnd(4)} ${l.level.padEnd(5)} ${l.message}` +
            (l.fields ? `  ${showValue(l.fields, 200)}` : "");
      if (!values.follow) {
        for (const l of await api<TaskLogLine[]>(t.server, "GET", envPath(t, `/runs/${runId}/logs`))) console.log(show(l));
        return 0;
      }
      // Across server restarts: each new stream starts from the run's first line; the lines printed already are skipped.
      const seen = new Set<string>();
      for (;;) {
        await retrying(`following the logs of ${runId}`, async () => {
          const res = await request(t.server, "GET", envPath(t, `/runs/${runId}/logs?follow=true`));
          if (!res.ok || !res.body) {
            const message = `cannot follow the logs of ${runId}: HTTP ${res.status}${res.status === 404 ? ` (no run ${runId}?)` : ""}`;
            throw new CliError(message, res.status >= 500 ? 2 : 1);
          }
          let rest = "";
          try {
            for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
              rest += Buffer.from(chunk).toString("utf8");
              const lines = rest.split("\n");
              rest = lines.pop() ?? "";
              for (const text of lines) {
                if (!text) continue;
                const l = fromJson(text) as TaskLogLine;
                const key = `${l.executionId}\0${l.at}\0${l.level}\0${l.message}`;
                if (seen.has(key)) continue;
                seen.add(key);
                console.log(show(l));
              }
            }
          } catch (e) {
            throw new CliError(`the log stream of ${runId} was cut (${(e as Error).message})`, 2);
          }
        });
        // The stream ends when the run has finished, or when the server stops: then follow again.
        const view = await retrying(`following the logs of ${runId}`, () => api<RunView>(t.server, "GET", envPath(t, `/runs/${runId}`)));
        if (view.run.status !== "running") return 0;
      }
    }
    case "cancel": {
      if (!runId) break;
      const r = await api<{ cancelled: boolean; already?: boolean; stopped?: number; status?: string }>(t.server, "POST", envPath(t, `/runs/${runId}/cancel`));
      out(r, () =>
        r.already
          ? `run ${runId} was already cancelled`
          : r.cancelled
            ? `cancelled run ${runId}`
            : `run ${runId} has already ${r.status}: stopped the ${r.stopped} execution(s) of its steps re-running; it stays ${r.status}`,
      );
      return 0;
    }
    case "rerun": {
      if (!runId || !stepId) break;
      const r = await api<{ executionId: string; warning?: string }>(t.server, "POST", envPath(t, `/runs/${runId}/steps/${stepId}/rerun`), {
        cascade: values.cascade,
      });
      if (r.warning && !values.json) console.error(`warning: ${r.warning}`);
      if (!values.wait || !values.json) {
        const text = `re-running step ${stepId} of run ${runId} in ${t.env}: execution ${r.executionId}${values.cascade ? ", then its callers up to the root" : ""}`;
        if (values.wait) console.error(`${text}; waiting…`);
        else out(r, () => text);
      }
      if (!values.wait) return 0;
      const outcome = values.cascade ? await waitForCascade(t, runId, stepId, r.executionId) : await waitForStep(t, runId, stepId, r.executionId);
      return printOutcome(runId, outcome, values.json, values.cascade ? `run ${runId}` : `step ${stepId} of run ${runId}`);
    }
  }
  throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`, usageOf(RUNS));
};
