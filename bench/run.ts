/**
 * `npm run bench`: prints throughput figures. Not a test: nothing here
 * asserts a speed. Options: `--events N` (default 100000), `--awaited N`
 * (events appended one by one, default 10000), `--adapter embedded|jetstream`
 * (default both), `--fan-out N`, `--chain N`, `--steps N` (the branch
 * benchmark's workflow, default 1000), `--only workflows|waits|branch|assets|validation|studio|log`, `--cycles N` (suspend/resume cycles of one workflow, default 20), `--suspended N` (workflows suspended at once, default 1000), `--studio-steps N` (a finished run Studio opens, default 10000), `--studio-running N` (a running fan-out Studio watches, default 1000), `--studio-history N` (a finished run whose history view's slider is walked, default 1000; 0: none; `--studio-steps 0`: that only), `--asset-mb N` (default 100), `--asset-files N` (default 200) (default
 * all three sections).
 */
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { runAssetBench } from "./assets.js";
import { runBranchBench } from "./branch.js";
import { runLogBench, type Row } from "./log.js";
import { runValidationBench } from "./validation.js";
import { runStudioBench } from "./studio.js";
import { runWorkflowBench } from "./workflows.js";
import { runWaitsBench } from "./waits.js";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "100000" },
    awaited: { type: "string", default: "10000" },
    adapter: { type: "string", multiple: true },
    "fan-out": { type: "string", default: "1000" },
    chain: { type: "string", default: "100" },
    steps: { type: "string", default: "1000" },
    only: { type: "string" },
    "asset-mb": { type: "string", default: "100" },
    "asset-files": { type: "string", default: "200" },
    "studio-steps": { type: "string", default: "10000" },
    "studio-running": { type: "string", default: "1000" },
    "studio-history": { type: "string", default: "1000" },
    cycles: { type: "string", default: "20" },
    suspended: { type: "string", default: "1000" },
  },
});

const adapters = (values.adapter ?? ["embedded", "jetstream"]) as ("embedded" | "jetstream")[];
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
);

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const section = (name: string) => values.only === undefined || values.only === name;

if (section("workflows")) {
  const wf = await runWorkflowBench({ adapters, fanOut: Number(values["fan-out"]), chain: Number(values.chain) });
  console.log("");
  console.log(["adapter".padEnd(10), "workflow measure".padEnd(48), "result"].join(" "));
  for (const r of wf) console.log([r.adapter.padEnd(10), r.what.padEnd(48), r.value].join(" "));
}
if (section("waits")) {
  const ws = await runWaitsBench({ adapters, cycles: Number(values.cycles), suspended: Number(values.suspended) });
  console.log("");
  console.log(["adapter".padEnd(10), "waits measure".padEnd(64), "result"].join(" "));
  for (const r of ws) console.log([r.adapter.padEnd(10), r.what.padEnd(64), r.value].join(" "));
}
if (section("branch")) {
  const br = await runBranchBench({ adapters, steps: Number(values.steps) });
  console.log("");
  console.log(["adapter".padEnd(10), "branch measure".padEnd(64), "result"].join(" "));
  for (const r of br) console.log([r.adapter.padEnd(10), r.what.padEnd(64), r.value].join(" "));
}
if (section("assets")) {
  const as = await runAssetBench({ adapters, mb: Number(values["asset-mb"]), files: Number(values["asset-files"]) });
  console.log("");
  console.log(["adapter".padEnd(10), "asset measure".padEnd(48), "result"].join(" "));
  for (const r of as) console.log([r.adapter.padEnd(10), r.what.padEnd(48), r.value].join(" "));
}
if (section("validation")) {
  console.log("");
  console.log(["validation measure".padEnd(70), "result"].join(" "));
  for (const r of runValidationBench()) console.log([r.what.padEnd(70), r.value].join(" "));
}
if (section("studio")) {
  const st = await runStudioBench({
    steps: Number(values["studio-steps"]),
    running: Number(values["studio-running"]),
    tries: 3,
    historySteps: Number(values["studio-history"]),
  });
  console.log("");
  console.log(["studio measure (headless Chromium)".padEnd(90), "result"].join(" "));
  for (const r of st) console.log([r.what.padEnd(90), r.value].join(" "));
}
if (!section("log")) process.exit(0);

const rows: Row[] = await runLogBench({
  events: Number(values.events),
  awaitedEvents: Number(values.awaited),
  adapters,
});

console.log("");
console.log(
  ["adapter".padEnd(10), "measure".padEnd(52), "events".padStart(9), "commits".padStart(8), "events/s".padStart(10), "commits/s".padStart(10)].join(" "),
);
for (const r of rows) {
  console.log(
    [
      r.adapter.padEnd(10),
      r.what.padEnd(52),
      fmt(r.events).padStart(9),
      fmt(r.commits).padStart(8),
      fmt(r.events / r.seconds).padStart(10),
      fmt(r.commits / r.seconds).padStart(10),
    ].join(" "),
  );
}
const mem = process.memoryUsage();
console.log(`\nbench process memory: rss ${fmt(mem.rss / 2 ** 20)} MiB, heap used ${fmt(mem.heapUsed / 2 ** 20)} MiB`);
