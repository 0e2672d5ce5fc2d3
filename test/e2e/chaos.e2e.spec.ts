/**
 * A short chaos campaign on each log (see docs/chaos.md): a few SIGKILLs of
 * the server (and maybe of an agent, and on JetStream of the nats-server)
 * under the mixed workload, then every invariant of the harness must hold.
 * `npm run chaos` runs long campaigns; TRIB_CHAOS_SEED replays a seed here.
 */
import { describe, expect, it } from "vitest";
import { chaosTable, runChaos } from "../chaos/harness.js";
import { LOG_KINDS } from "./support.js";

const seed = Number(process.env.TRIB_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe.each(LOG_KINDS)("chaos on the %s log", (adapter) => {
  it("the control: with no kills every invariant holds, so a violation under chaos is the chaos's doing", { timeout: 60_000 }, async () => {
    const report = await runChaos({ adapter, kills: 0, seed, initialRuns: 7, settleMs: 30_000 });
    const summary = `${chaosTable([report])}\n${report.failures.slice(0, 15).join("\n")}`;
    expect(report.submitted, summary).toBeGreaterThanOrEqual(7); // every kind of workflow once
    expect(report.tasksExecuted, summary).toBeGreaterThan(20);
    expect(report.failures.length, summary).toBe(0);
    expect(report.rebuildEqual, summary).toBe(true);
  });

  it(`three server kills under a mixed workload leave every invariant intact (seed ${seed})`, { timeout: 90_000 }, async () => {
    const report = await runChaos({
      adapter,
      kills: 3,
      seed,
      maxOutageMs: 2000,
      minUptimeMs: 400,
      maxUptimeMs: 1500,
      initialRuns: 6,
      settleMs: 30_000,
    });
    const summary = `${chaosTable([report])}\nreproduce: npm run chaos -- --kills 3 --seed ${seed} --adapter ${adapter} --max-outage-ms 2000 --min-uptime-ms 400 --max-uptime-ms 1500`;
    // The campaign really ran: kills, runs and task executions happened.
    expect(report.kills, summary).toBe(3);
    expect(report.submitted, summary).toBeGreaterThanOrEqual(6);
    expect(report.tasksExecuted, summary).toBeGreaterThan(0);
    expect(report.failures.length, `${summary}\n${report.failures.slice(0, 15).join("\n")}`).toBe(0);
    expect(report.rebuildEqual, summary).toBe(true);
  });
});
