/** `tributary runs ls | show RUN | watch RUN | wait RUN | history RUN | logs RUN | cancel RUN | rerun RUN STEP | diff RUN [B]`: see RUNS in ../table.ts. */
import type { Commit, Event } from "../../events/index.js";
import { toJson } from "../../protocol/json.js";
import type { LogLine } from "../../protocol/api.js";
import { clientOf } from "../client.js";
import { name as checkName, runId as checkRunId, wholeNumber } from "../args.js";
import { targetOf } from "../options.js";
import { renderDiff } from "../diff.js";
import { renderHistory, renderRunTree, showValue } from "../output.js";
import { RUNS } from "../table.js";
import { parse, UsageError, usageOf } from "../usage.js";
import { noting, printOutcome, waitForRun } from "../wait.js";
import { watchRun } from "../watch.js";

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table.
  const parsed = parse(RUNS, argv);
  const { values, positionals } = parsed;
  const t = targetOf(parsed);
  const client = clientOf(t);
  const [sub, runId, stepId] = positionals;
  if (runId !== undefined) checkRunId(runId);
  if (sub === "diff" && stepId !== undefined) checkRunId(stepId);
  const limit = wholeNumber("limit", values.limit, 1, 10_000)!;

  const out = (v: unknown, text: () => string) => console.log(values.json ? toJson(v) : text());
  switch (sub) {
    case "ls": {
      const runs = await client.listRuns({
        limit,
        ...(values.since === undefined ? {} : { since: values.since }),
        ...(values.until === undefined ? {} : { until: values.until }),
        ...(values.status === undefined ? {} : { status: values.status }),
        ...(values.target === undefined ? {} : { target: values.target }),
      });
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
      const at = wholeNumber("at", values.at, 1);
      if (at !== undefined && values["at-time"] !== undefined) throw new UsageError("give --at or --at-time, not both", usageOf(RUNS));
      const view = await client.run(runId).view({ ...(at === undefined ? {} : { at }), ...(values["at-time"] === undefined ? {} : { atTime: values["at-time"] }) });
      const seen = view.asOf?.seenFrom ? `as of seq ${view.asOf.seq} of ${view.asOf.env}'s log (this environment sees the run from its ${view.asOf.seenFrom})\n` : "";
      out(view, () => seen + renderRunTree(view, new Set(view.stale), view.queue ?? []));
      return 0;
    }
    case "watch": {
      if (!runId) break;
      return watchRun(client, runId, { tty: process.stdout.isTTY === true && !values.json, json: values.json === true, columns: () => process.stdout.columns });
    }
    case "wait": {
      if (!runId) break;
      return printOutcome(runId, await waitForRun(t, runId), values.json);
    }
    case "history": {
      if (!runId) break;
      const rows = await client.run(runId).history();
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
      const show = (l: LogLine) =>
        values.json
          ? toJson(l)
          : `${new Date(l.at).toISOString().slice(11, 23)}  step ${l.stepId.padEnd(4)} ${l.level.padEnd(5)} ${l.message}` +
            (l.fields ? `  ${showValue(l.fields, 200)}` : "");
      if (!values.follow) {
        for (const l of await client.run(runId).logs()) console.log(show(l));
        return 0;
      }
      for await (const l of client.run(runId).followLogs(noting(`following the logs of ${runId}`))) console.log(show(l));
      return 0;
    }
    case "cancel": {
      if (!runId) break;
      const r = await client.run(runId).cancel();
      out(r, () =>
        r.cancelled
          ? r.already
            ? `run ${runId} was already cancelled`
            : `cancelled run ${runId}`
          : `run ${runId} has already ${r.status}: stopped the ${r.stopped} execution(s) of its steps re-running; it stays ${r.status}`,
      );
      return 0;
    }
    case "rerun": {
      if (!runId || !stepId) break;
      const r = await client.run(runId).rerun(stepId, { cascade: values.cascade });
      if (r.warning && !values.json) console.error(`warning: ${r.warning}`);
      if (!values.wait || !values.json) {
        const text = `re-running step ${stepId} of run ${runId} in ${t.env}: execution ${r.executionId}${values.cascade ? ", then its callers up to the root" : ""}`;
        if (values.wait) console.error(`${text}; waiting…`);
        else out(r, () => text);
      }
      if (!values.wait) return 0;
      const outcome = await r.outcome(noting(values.cascade ? `waiting for run ${runId}` : `waiting for step ${stepId} of run ${runId}`));
      return printOutcome(runId, outcome, values.json, values.cascade ? `run ${runId}` : `step ${stepId} of run ${runId}`);
    }
    case "diff": {
      if (!runId) break;
      const bEnv = values["b-env"] === undefined ? undefined : checkName("env", values["b-env"], "--b-env");
      const c = await client.run(runId).compare({ ...(stepId === undefined ? {} : { run: stepId }), ...(bEnv === undefined ? {} : { env: bEnv }) });
      out(c, () => renderDiff(c));
      return 0;
    }
  }
  throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`, usageOf(RUNS));
};
