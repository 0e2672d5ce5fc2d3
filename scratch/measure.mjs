import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
const BIN = "bin/tributary.mjs";
const dir = mkdtempSync("/tmp/trib-m-");
const env = { ...process.env, TRIBUTARY_SERVER: "http://127.0.0.1:7782" };
const run = (args) => spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
const waitFor = (c, re) => new Promise((r) => { let s = ""; const on = (d) => { s += d; if (re.test(s)) r(); }; c.stdout.on("data", on); c.stderr.on("data", on); });
const times = [];
const agent = [];
for (let i = 0; i < 3; i++) {
  const server = run(["server", "--data", dir, "--port", "7782"]);
  await waitFor(server, /listening/);
  const a = run(["agent", "test/e2e/fixtures/flows.ts"]); agent.push(a);
  await waitFor(a, /connected/);
  const c = run(["submit", "flows:sleep_task", "--arg", "60000", "--wait"]);
  await waitFor(c, /waiting/);
  await new Promise((r) => setTimeout(r, 500));
  const t0 = performance.now();
  server.kill("SIGINT");
  await new Promise((r) => server.once("exit", r));
  times.push(Math.round(performance.now() - t0));
  c.kill("SIGKILL"); a.kill("SIGKILL");
}
console.log("SIGINT to exit, ms:", times.join(", "));
process.exit(0);
