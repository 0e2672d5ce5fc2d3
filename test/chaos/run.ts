/**
 * `npm run chaos -- --kills N --seed S [--adapter embedded|jetstream|both]
 *  [--max-outage-ms N] [--min-uptime-ms N] [--max-uptime-ms N] [--agent-kill-chance P]
 *  [--nats-kill-chance P] [--nats-alone-chance P] [--agents N] [--max-in-flight N]
 *  [--settle-ms N] [--heartbeat-ms N] [--port N] [--nats-port N] [--keep] [--report FILE] [--quiet]`
 *
 * Runs the chaos campaign on each log, prints a table (one column per log)
 * and every violated invariant, and exits 1 if any invariant failed (2 if
 * the harness itself could not run). See docs/chaos.md.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { chaosTable, runChaos, type Adapter, type ChaosReport } from "./harness.js";

const fail = (message: string): never => {
  console.error(`chaos: ${message}`);
  process.exit(2);
};

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "10" },
    seed: { type: "string" },
    adapter: { type: "string", default: "both" },
    "max-outage-ms": { type: "string" },
    "min-uptime-ms": { type: "string" },
    "max-uptime-ms": { type: "string" },
    "agent-kill-chance": { type: "string" },
    "nats-kill-chance": { type: "string" },
    "nats-alone-chance": { type: "string" },
    agents: { type: "string" },
    "max-in-flight": { type: "string" },
    "settle-ms": { type: "string" },
    "heartbeat-ms": { type: "string" },
    port: { type: "string" },
    "nats-port": { type: "string" },
    keep: { type: "boolean", default: false },
    report: { type: "string" },
    quiet: { type: "boolean", default: false },
  },
});

const whole = (name: string, v: string | undefined, min = 0): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} takes a whole number of ${min} or more, got ${JSON.stringify(v)}`);
  return n;
};
const chance = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) fail(`--${name} takes a probability between 0 and 1, got ${JSON.stringify(v)}`);
  return n;
};

const adapters: Adapter[] =
  values.adapter === "both" ? ["embedded", "jetstream"] : values.adapter === "embedded" || values.adapter === "jetstream" ? [values.adapter] : fail(`--adapter takes embedded, jetstream or both, got ${JSON.stringify(values.adapter)}`);
const seed = whole("seed", values.seed) ?? Math.floor(Math.random() * 2 ** 31);
const kills = whole("kills", values.kills)!;
const port = whole("port", values.port, 1);
const natsPort = whole("nats-port", values["nats-port"], 1);
const optional = <K extends string, V>(k: K, v: V | undefined) => (v === undefined ? {} : ({ [k]: v } as Record<K, V>));

const reports: ChaosReport[] = [];
for (const adapter of adapters) {
  try {
    reports.push(
      await runChaos({
        adapter,
        kills,
        seed,
        ...optional("maxOutageMs", whole("max-outage-ms", values["max-outage-ms"])),
        ...optional("minUptimeMs", whole("min-uptime-ms", values["min-uptime-ms"])),
        ...optional("maxUptimeMs", whole("max-uptime-ms", values["max-uptime-ms"])),
        ...optional("agentKillChance", chance("agent-kill-chance", values["agent-kill-chance"])),
        ...optional("natsKillChance", chance("nats-kill-chance", values["nats-kill-chance"])),
        ...optional("natsAloneChance", chance("nats-alone-chance", values["nats-alone-chance"])),
        ...optional("agents", whole("agents", values.agents, 1)),
        ...optional("maxInFlight", whole("max-in-flight", values["max-in-flight"], 1)),
        ...optional("settleMs", whole("settle-ms", values["settle-ms"])),
        ...optional("heartbeatMs", whole("heartbeat-ms", values["heartbeat-ms"], 1)),
        ...optional("port", port),
        ...optional("natsPort", natsPort),
        keep: values.keep,
        log: values.quiet ? () => {} : (line) => console.error(line),
      }),
    );
  } catch (err) {
    console.error(`chaos on ${adapter} (seed ${seed}) could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 2;
  }
}

if (reports.length > 0) {
  console.log(`chaos campaign, seed ${seed}, ${kills} kills per log`);
  console.log(chaosTable(reports));
  for (const r of reports) {
    if (r.failures.length === 0) continue;
    console.log(`\n${r.adapter}: ${r.failures.length} invariant violation(s):`);
    for (const f of r.failures.slice(0, 40)) console.log(`  - ${f}`);
    if (r.failures.length > 40) console.log(`  … and ${r.failures.length - 40} more`);
  }
  if (values.report) {
    writeFileSync(values.report, JSON.stringify({ seed, kills, reports }, null, 2));
    console.log(`the full reports (every violation) are in ${values.report}`);
  }
  for (const r of reports) if (r.dirs.length) console.log(`${r.adapter}: kept ${r.dirs.join(" ")}`);
  const bad = reports.some((r) => r.failures.length > 0);
  console.log(
    bad
      ? `\nFAILED: reproduce with npm run chaos -- --kills ${kills} --seed ${seed} --adapter ${values.adapter}`
      : `\nall invariants held (seed ${seed})`,
  );
  if (bad) process.exitCode = 1;
}
