/**
 * Waits benchmark (`--only waits`), through a server process and a real
 * agent: the cost of a suspend/resume cycle (a workflow of n sleeps of 1 ms,
 * against the same workflow's calls without them), and N workflows suspended
 * at once until one time, resumed (time from that time to all finished).
 */
import { join, resolve } from "node:path";
import { fromJson } from "../src/protocol/json.js";
import { runWorkflow, withServer, type WorkflowRow } from "./workflows.js";

const FLOWS = join(resolve(import.meta.dirname, ".."), "bench/fixtures/bench-waits.ts");
const RUNS = "/api/projects/default/envs/production/runs";

export const runWaitsBench = async (options: { adapters: readonly ("embedded" | "jetstream")[]; cycles: number; suspended: number }): Promise<WorkflowRow[]> => {
  const rows: WorkflowRow[] = [];
  for (const adapter of options.adapters) {
    await withServer(adapter, { modules: [FLOWS], concurrency: 64 }, async ({ url }) => {
      await runWorkflow(url, "bwaits:sleeps", [2]); // warm-up
      const plain = (await runWorkflow(url, "bwaits:plain", [])).seconds;
      const n = options.cycles;
      const slept = (await runWorkflow(url, "bwaits:sleeps", [n])).seconds;
      rows.push({ adapter, what: `a workflow of ${n} suspend(1 ms) cycles (a call before each)`, value: `${((slept * 1000) / n).toFixed(1)} ms per cycle (${(slept * 1000).toFixed(0)} ms; one call, no suspend: ${(plain * 1000).toFixed(0)} ms)` });
      const single = (await runWorkflow(url, "bwaits:sleeps", [1])).seconds;
      rows.push({ adapter, what: "one suspend/resume cycle, end to end, over no suspend", value: `${((single - plain) * 1000).toFixed(1)} ms` });

      // N workflows, all asleep until `at`, then resumed together.
      const count = options.suspended;
      const t0 = Date.now();
      const at = t0 + Math.max(10_000, count * 25);
      const runIds: string[] = [];
      for (let i = 0; i < count; i += 50) {
        const batch = Array.from({ length: Math.min(50, count - i) }, (_, k) =>
          fetch(new URL(RUNS, url), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ target: "bwaits:until", arguments: [i + k, at] }) })
            .then((r) => r.text())
            .then((t) => (fromJson(t) as { runId: string }).runId),
        );
        runIds.push(...(await Promise.all(batch)));
      }
      const asleep = Date.now();
      for (const id of runIds) {
        const r = fromJson(await (await fetch(new URL(`${RUNS}/${id}/result?wait=true`, url))).text()) as { outcome: { status: string } };
        if (r.outcome.status !== "succeeded") throw new Error(`run ${id} ${r.outcome.status}`);
      }
      const done = Date.now();
      rows.push({ adapter, what: `${count} workflows suspended at once until one time`, value: `submitted and suspended in ${asleep - t0} ms (the time was ${at - t0} ms after the start); all finished ${done - at} ms after it` });
    });
  }
  return rows;
};
