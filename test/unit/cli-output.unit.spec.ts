/** The CLI's renderings of who did what: `runs history`, `runs show` and `envs ls`, with and without a recorded principal. */
import { describe, expect, it } from "vitest";
import type { Commit, EnvName, Event, ProjectName } from "../../src/events/index.js";
import { renderEnvs, renderHistory, renderRunTree } from "../../src/cli/output.js";
import { getRunView, MemoryStore, PROJECTIONS } from "../../src/projections/index.js";
import { AGENT, EXAMPLES, EXEC, RUN, attributed, runEvent, target, STEP } from "../support/event-examples.js";

const TOKEN = { kind: "token", tokenId: "k3v9q2m7x4p8r1t6", name: "ci" } as const;
const commitOf = (seq: number, ...events: Event[]): Commit => ({ seq, id: events[0]!.id, subject: "", runId: RUN, events });

describe("runs history", () => {
  const submitted = attributed(runEvent("RunSubmitted", { target, arguments: [], rootStepId: STEP }), TOKEN);
  const started = attributed(runEvent("ExecutionStarted", { executionId: EXEC, stepId: STEP }), { kind: "agent", agentId: AGENT });
  const cancelled = runEvent("RunCancelled", { reason: "parent gone" });

  it("has a by column: the token with its name, the agent, and - for what the server did by itself", () => {
    const lines = renderHistory([commitOf(1, submitted), commitOf(2, started, cancelled)]).split("\n");
    expect(lines[0]).toMatch(/^\s+seq\s+time\s+event\s+by\s+detail$/);
    expect(lines[1]).toMatch(/^\s+1\.0\s+\S+\s+RunSubmitted\s+token k3v9q2m7x4p8r1t6 \(ci\)\s+github\.com\/acme\/data-pipelines:dailyEtl/);
    expect(lines[2]).toMatch(new RegExp(`^\\s+2\\.0\\s+\\S+\\s+ExecutionStarted\\s+agent worker-eu-1\\s+exec ${EXEC}$`));
    expect(lines[3]).toMatch(/^\s+2\.1\s+\S+\s+RunCancelled\s+-\s+parent gone$/);
    // One column: the details start at the same place on every line.
    const at = (l: string, what: string) => l.indexOf(what);
    expect(at(lines[2]!, `exec ${EXEC}`)).toBe(at(lines[3]!, "parent gone"));
  });

  it("of a log older than attribution shows - on every line", () => {
    const lines = renderHistory([commitOf(1, runEvent("RunSubmitted", { target, arguments: [], rootStepId: STEP }), cancelled)]).split("\n");
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/)[3])).toEqual(["-", "-"]);
  });
});

describe("runs show", () => {
  const viewOf = (...commits: Event[][]) => {
    const store = new MemoryStore(PROJECTIONS);
    commits.forEach((events, i) => store.apply([commitOf(i + 1, ...events)]));
    return getRunView(store, RUN)!;
  };
  const submission = (): Event[] => [
    runEvent("RunSubmitted", { target, arguments: [], rootStepId: STEP }),
    runEvent("StepScheduled", { stepId: STEP, target, kind: "workflow", arguments: [], options: {} }),
  ];

  it("says who submitted and who cancelled the run", () => {
    const [s, step] = submission();
    const view = viewOf([attributed(s!, TOKEN), attributed(step!, TOKEN)], [attributed(runEvent("RunCancelled", { reason: "no" }), { kind: "admin" })]);
    expect(view.run.submittedBy).toStrictEqual(TOKEN);
    expect(view.run.cancelledBy).toStrictEqual({ kind: "admin" });
    const text = renderRunTree(view);
    expect(text).toContain("\nsubmitted by token k3v9q2m7x4p8r1t6 (ci)\n");
    expect(text).toContain("\ncancelled by admin\n");
  });

  it("says nothing of it when nobody is recorded", () => {
    const view = viewOf(submission(), [runEvent("RunCancelled", { reason: "no" })]);
    expect(Object.hasOwn(view.run, "submittedBy") || Object.hasOwn(view.run, "cancelledBy")).toBe(false);
    expect(renderRunTree(view)).not.toMatch(/submitted by|cancelled by/);
  });

  it("a step brought into a branch reads as from production; re-run there, as re-run with its own result, its origin still named", () => {
    const source = { env: "production", runId: RUN, stepId: STEP, executionId: "01JN8A4W7X2C9H5Q3R6T8V0Y30", seq: 12 } as never;
    const [s, step] = submission();
    const brought = [{ ...s!, data: { ...s!.data, branchedFrom: { env: "production", seq: 12 } } } as Event, step!];
    const reused = runEvent("StepResultReused", { stepId: STEP, cacheKey: "", source, result: { kind: "inline", value: 1 } });
    const rerun = runEvent("ExecutionCreated", { executionId: EXEC, stepId: STEP, attempt: 1, reason: "rerun" });
    const done = runEvent("ExecutionSucceeded", { executionId: EXEC, stepId: STEP, result: { kind: "inline", value: 2 } });
    const line = (...commits: Event[][]) => renderRunTree(viewOf(...commits)).split("\n")[1]!;
    expect(line(brought, [reused])).toMatch(new RegExp(`reused  attempts 0  from production/${RUN}/${STEP}@12  → 1$`));
    expect(line(brought, [reused], [rerun])).toMatch(new RegExp(`pending  attempts 1\\s+from production/${RUN}/${STEP}@12$`));
    expect(line(brought, [reused], [rerun], [done])).toMatch(new RegExp(`succeeded  attempts 1  .*re-run, earlier from production/${RUN}/${STEP}@12  → 2$`));
  });
});

describe("envs ls", () => {
  const p = "acme" as ProjectName;
  it("says who created and who branched each environment, when recorded, in the tree of bases and branches", () => {
    const text = renderEnvs([
      { name: "production", project: p, env: "production" as EnvName, createdAt: 1, archived: false, lastSeq: 9, createdBy: { kind: "admin" } },
      {
        name: "feature-x",
        project: p,
        env: "feature-x" as EnvName,
        createdAt: 2,
        archived: true,
        lastSeq: 3,
        branchedFrom: { parent: "production" as EnvName, at: 7 },
        createdBy: TOKEN,
        archivedBy: { kind: "admin" },
      },
      { name: "staging", project: p, env: "staging" as EnvName, createdAt: 3, archived: false, lastSeq: 1, base: "production" as EnvName },
    ]);
    expect(text.split("\n")).toEqual([
      "production  9 commits  created by admin",
      "  feature-x  (branch of production at 7)  (archived by admin)  3 commits  branched by token k3v9q2m7x4p8r1t6 (ci)",
      "  staging  1 commits",
    ]);
  });

  it("reads as before for environments without a recorded principal", () => {
    expect(renderEnvs([{ name: "production", archived: true, lastSeq: 4 }])).toBe("production  (archived)  4 commits");
  });

  it("and the examples' branch event carries its principal through the projection", () => {
    const store = new MemoryStore(PROJECTIONS);
    store.apply([{ seq: 1, id: EXAMPLES.EnvironmentBranched[0]!.id, subject: "", events: [EXAMPLES.EnvironmentBranched[0]!] }]);
    expect(store.get("environment", "environment")).toMatchObject({ createdBy: EXAMPLES.EnvironmentBranched[0]!.by });
  });
});
