/**
 * `npx tsx test/chaos/timeline.ts DATA_DIR RUN [STEP]` — for a campaign kept
 * with `--keep` on the embedded log: the events of one run (or one step of
 * it) in log order, interleaved with the agents' connections, with times to
 * set against the harness's progress lines and the marker files.
 */
import { logRef } from "../../src/events/index.js";
import { EmbeddedEventLog } from "../../src/events/storage/index.js";

const [dir, runId, stepId] = process.argv.slice(2);
if (!dir || !runId) {
  console.error("usage: npx tsx test/chaos/timeline.ts DATA_DIR RUN [STEP]   (a data directory kept by npm run chaos -- --keep, embedded log)");
  process.exit(1);
}
const log = new EmbeddedEventLog({ dir: `${dir}/log` });
const time = (ms: number) => new Date(ms).toISOString().slice(11, 23);
for await (const c of log.read(logRef("chaos", "production"))) {
  for (const e of c.events) {
    const d = (e as { data?: Record<string, unknown> }).data ?? {};
    const execution = typeof d.executionId === "string" ? d.executionId : "";
    const ofRun = "runId" in e && e.runId === runId;
    const ofStep = stepId === undefined || d.stepId === stepId || execution.startsWith(`${runId}-${stepId}-`);
    if ((ofRun && ofStep) || e.type === "AgentConnected" || e.type === "AgentDisconnected") {
      const detail = [execution, d.agentId, d.reason, d.result === undefined ? undefined : JSON.stringify(d.result).slice(0, 60)].filter((x) => x !== undefined && x !== "");
      console.log(`${String(c.seq).padStart(6)}  ${time(e.at)}  ${e.type.padEnd(20)} ${detail.join("  ")}`);
    }
  }
}
await log.close();
