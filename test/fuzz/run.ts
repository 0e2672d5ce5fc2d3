/**
 * `npm run fuzz -- --inputs N --seed S [--log embedded|jetstream] [--nats URL] [--json]`:
 * a fuzz campaign against a real server and agent (see campaign.ts). Prints
 * the report; exits 1 if it found anything.
 */
import { parseArgs } from "node:util";
import { runCampaign } from "./campaign.js";
import { startNatsServer } from "../support/nats-server.js";

const { values } = parseArgs({
  options: {
    inputs: { type: "string", default: "10000" },
    seed: { type: "string", default: "1" },
    log: { type: "string", default: "embedded" },
    nats: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const inputs = Number(values.inputs);
const seed = Number(values.seed);
if (!Number.isSafeInteger(inputs) || inputs < 1) throw new Error(`--inputs must be a whole number >= 1, got ${values.inputs}`);
if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
if (values.log !== "embedded" && values.log !== "jetstream") throw new Error(`--log must be embedded or jetstream, got ${values.log}`);

const nats = values.log === "jetstream" && values.nats === undefined ? await startNatsServer() : undefined;
let lastPrint = 0;
let printed = 0;
const report = await runCampaign({
  inputs,
  seed,
  log: values.log,
  ...(values.log === "jetstream" ? { nats: values.nats ?? nats!.url } : {}),
  onProgress: (done, r) => {
    if (values.json) return;
    for (; printed < r.findings.length; printed++) console.error(`fuzz: finding after ${done} inputs: ${r.findings[printed]}`);
    if (Date.now() - lastPrint < 5000) return;
    lastPrint = Date.now();
    console.error(`fuzz: ${done}/${inputs} inputs, ${r.findings.length} findings, health max ${r.health.maxMs} ms`);
  },
});
await nats?.stop();
if (values.json) console.log(JSON.stringify(report, null, 2));
else {
  const top = (m: Record<string, number>, n: number) =>
    Object.entries(m)
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `  ${String(v).padStart(7)}  ${k}`)
      .join("\n");
  console.log(`fuzz campaign: seed ${report.seed}, ${report.log} log, ${report.inputs} inputs (${report.agentFrames} agent frames, ${report.httpRequests} HTTP requests) in ${report.seconds} s`);
  console.log(`recorded frames: ${JSON.stringify(report.recordedFrames)}`);
  console.log(`health: ${report.health.checks} checks, slowest ${report.health.maxMs} ms (after ${report.health.slowestAfter} inputs), ${report.health.slow} over the bound`);
  const statuses = Object.entries(report.refusals).filter(([k]) => /^http:\d+$/.test(k));
  const frames = Object.entries(report.refusals).filter(([k]) => /^(error|refused):/.test(k)).reduce((n, [, v]) => n + v, 0);
  console.log(`refusals: ${frames} error/refused frames; HTTP ${statuses.map(([k, v]) => `${k.slice(5)}: ${v}`).join(", ")}`);
  console.log(`refusals by kind:\n${top(report.refusals, 40)}`);
  console.log(`accepted:\n${top(report.accepted, 20)}`);
  console.log(`environments: ${report.envs.map((e) => `${e.env} (${e.lastSeq} commits, rebuild ${e.rebuildMatches ? "matches" : "DIFFERS"}, ${e.verifyFailures} corrupt)`).join("; ")}`);
  console.log(report.findings.length ? `FINDINGS (${report.findings.length}):\n${report.findings.map((f) => `- ${f}`).join("\n")}` : "findings: none");
}
process.exit(report.findings.length ? 1 : 0);
