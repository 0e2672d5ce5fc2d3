import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/table.js";
import { usageOf } from "../../src/cli/usage.js";
import { BIN, cli, FLOWS, freePort, ROOT, spawnCli, waitForOutput } from "./support.js";

/** The `tributary` command as a user runs it: a server process, an agent process, and commands. */
describe("the tributary CLI", () => {
  let dataDir: string;
  let server: ChildProcess;
  let agent: ChildProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "trib-cli-"));
    const port = await freePort();
    env = { TRIBUTARY_SERVER: `http://127.0.0.1:${port}` };
    server = spawnCli(["server", "--data", dataDir, "--port", String(port)]);
    await waitForOutput(server, /listening on/);
    agent = spawnCli(["agent", FLOWS], env);
    await waitForOutput(agent, /connected/);
  });

  afterAll(async () => {
    agent?.kill("SIGTERM");
    server?.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    await rm(dataDir, { recursive: true, force: true });
  });

  it("submit --wait prints the result and exits 0", async () => {
    const r = await cli(["submit", "flows:fan_out", "--arg", "5", "--wait"], env);
    expect(r).toMatchObject({ code: 0, stdout: "15\n" });
    expect(r.stderr).toMatch(/run \S+: waiting/);
  });

  it("--arg @FILE reads an argument too large for a command line from a file", async () => {
    const file = join(dataDir, "big-arg.json");
    await writeFile(file, JSON.stringify("x".repeat(300_000)));
    expect(await cli(["submit", "flows:length_of", "--arg", `@${file}`, "--wait"], env)).toMatchObject({ code: 0, stdout: "300000\n" });
    const missing = await cli(["submit", "flows:length_of", "--arg", `@${file}.nope`], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--arg number 1: cannot read .*big-arg\.json\.nope \(ENOENT\)/);
  });

  it("an agent whose module does not load exits 1 saying why, and what to do for a .ts file outside an ESM package", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trib-mod-"));
    await writeFile(join(dir, "flows.ts"), `import { workflow } from ${JSON.stringify(join(ROOT, "src/index.js"))};\nexport const w = workflow("w", () => 1);\n`);
    const r = await cli(["agent", join(dir, "flows.ts")], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot load module .*flows\.ts: .*put it in a package whose package.json says "type": "module" \(or name it \.mts\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await rm(dir, { recursive: true, force: true });
  });

  it("--help prints the usage the table makes, on stdout, exit 0; an option of another subcommand is bad usage, exit 1", async () => {
    const usage = usageOf(COMMANDS.runs, "rerun");
    expect(await cli(["runs", "rerun", "--help"])).toEqual({ code: 0, stdout: `${usage}\n`, stderr: "" });
    expect(await cli(["help", "runs"])).toEqual({ code: 0, stdout: `${usageOf(COMMANDS.runs)}\n`, stderr: "" });
    const wrong = await cli(["runs", "ls", "--cascade"]);
    expect(wrong).toMatchObject({ code: 1, stdout: "" });
    expect(wrong.stderr).toContain("tributary runs: --cascade is an option of runs rerun, not of runs ls\n");
    expect(wrong.stderr).toContain(usageOf(COMMANDS.runs, "ls"));
  });

  it.each([
    [["runs", "ls", "--bogus"], "--bogus is not an option of runs ls"],
    [["runs", "ls", "--limit", "--json"], '--limit takes N (at most N runs, 1 to 10000), got the option "--json": give the value after --limit'],
  ])("bad usage names the option and what it takes, in the CLI's words, with the usage: %j", async (args, message) => {
    const r = await cli(args);
    expect(r).toMatchObject({ code: 1, stdout: "" });
    expect(r.stderr).toContain(`tributary runs: ${message}`);
    expect(r.stderr).toContain(usageOf(COMMANDS.runs, "ls"));
    expect(r.stderr).not.toMatch(/ambiguous|To specify|Unknown option/);
  });

  it("--version prints the version of package.json, exit 0", async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(await cli(["--version"])).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });

  it("output piped into head ends quietly, without a broken-pipe trace", () => {
    for (const command of ["projections dump", "runs ls", "runs ls --json"]) {
      const r = spawnSync("sh", ["-c", `node ${BIN} ${command} | head -c 10`], { env: { ...process.env, ...env }, encoding: "utf8" });
      expect(r.stderr, command).not.toMatch(/EPIPE|Error/);
      expect(r.stdout.length, command).toBeGreaterThan(0);
    }
  });

  it("submit prints the run id; runs ls, show and history describe it; --json is machine-readable", async () => {
    const submitted = await cli(["submit", "flows:flaky_flow", "--arg", "1", "--idempotency-key", "cli-1"], env);
    expect(submitted.code).toBe(0);
    const runId = submitted.stdout.trim();
    expect(runId).toMatch(/^[0-9A-Z]{26}$/);
    const again = await cli(["submit", "flows:flaky_flow", "--arg", "1", "--idempotency-key", "cli-1"], env);
    expect(again.stdout.trim()).toBe(runId);
    expect(again.stderr).toBe(`note: run ${runId} already existed (same idempotency key, target and arguments): nothing new was submitted\n`);
    expect(submitted.stderr).toBe("");
    await cli(["submit", "flows:flaky_flow", "--arg", "1", "--idempotency-key", "cli-1", "--wait"], env);

    const ls = await cli(["runs", "ls"], env);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`${runId}\\s+succeeded`));
    // Filtered by the server, as the API's status= and target= are.
    const mine = await cli(["runs", "ls", "--status", "succeeded", "--target", "flows:flaky_flow"], env);
    expect([mine.code, mine.stdout.includes(runId)]).toEqual([0, true]);
    expect((await cli(["runs", "ls", "--status", "failed"], env)).stdout).not.toContain(runId);
    expect((await cli(["runs", "ls", "--target", "flows:other"], env)).stdout).not.toContain(runId);
    const badStatus = await cli(["runs", "ls", "--status", "done"], env);
    expect(badStatus.code).not.toBe(0);
    expect(badStatus.stderr).toMatch(/status/);

    const show = await cli(["runs", "show", runId], env);
    expect(show.stdout).toMatch(/flows:flaky_flow\s+SUCCEEDED/);
    expect(show.stdout).toMatch(/flows:flaky\(1\)\s+succeeded\s+attempts 2/);
    expect(show.stdout).toMatch(/attempt 1 \(first\) failed: RangeError: attempt 1 fails/);

    const history = await cli(["runs", "history", runId], env);
    const types = history.stdout.split("\n").slice(1).filter(Boolean).map((l) => l.trim().split(/\s+/)[2]);
    expect(types.slice(0, 3)).toEqual(["RunSubmitted", "StepScheduled", "ExecutionCreated"]);
    expect(types).toContain("ExecutionFailed");
    expect(types[types.length - 1]).toBe("ExecutionSucceeded");
    // Who caused each event: nobody for a request to a server without --auth, the agent for what it reported.
    const by = (type: string) => history.stdout.split("\n").find((l) => l.trim().split(/\s+/)[2] === type)?.trim().split(/\s+/).slice(3, 5);
    expect(by("RunSubmitted")?.[0]).toBe("-");
    expect(by("ExecutionStarted")).toEqual(["agent", expect.any(String)]);
    expect(by("ExecutionAssigned")?.[0]).toBe("-");
    const rows = JSON.parse((await cli(["runs", "history", runId, "--json"], env)).stdout) as { type: string; by?: unknown }[];
    expect(rows.find((r) => r.type === "ExecutionSucceeded")?.by).toMatchObject({ kind: "agent", agentId: expect.any(String) });
    expect(rows.find((r) => r.type === "RunSubmitted")).not.toHaveProperty("by");

    const json = JSON.parse((await cli(["runs", "show", runId, "--json"], env)).stdout) as { run: { status: string } };
    expect(json.run.status).toBe("succeeded");
  });

  it("runs show --at SEQ and --at-time ISO show the run as it stood then", async () => {
    const { runId } = JSON.parse((await cli(["submit", "flows:flaky_flow", "--arg", "2", "--wait", "--json"], env)).stdout) as { runId: string };
    const rows = JSON.parse((await cli(["runs", "history", runId, "--json"], env)).stdout) as { seq: number; type: string; at: number }[];
    const failed = rows.find((r) => r.type === "ExecutionFailed")!;
    const then = await cli(["runs", "show", runId, "--at", String(failed.seq)], env);
    expect(then.code).toBe(0);
    expect(then.stdout).toMatch(/flows:flaky_flow\s+RUNNING/);
    expect(then.stdout).not.toMatch(/flows:flaky\(2\)\s+succeeded/);
    expect((await cli(["runs", "show", runId], env)).stdout).toMatch(/flows:flaky\(2\)\s+succeeded/);
    const now = (await cli(["runs", "show", runId], env)).stdout;
    expect(now).toMatch(/flows:flaky_flow\s+SUCCEEDED/);
    expect((await cli(["runs", "show", runId, "--at", String(rows[rows.length - 1]!.seq)], env)).stdout).toBe(now);
    const json = JSON.parse((await cli(["runs", "show", runId, "--at-time", new Date(rows[0]!.at).toISOString(), "--json"], env)).stdout) as { run: { status: string } };
    expect(json.run.status).toBe("running");
    const before = await cli(["runs", "show", runId, "--at-time", "2001-01-01T00:00:00Z"], env);
    expect(before.code).toBe(1);
    expect(before.stderr).toMatch(new RegExp(`did not exist yet at 2001-01-01T00:00:00.000Z: its first event .* is at seq ${rows[0]!.seq}`));
    const zero = await cli(["runs", "show", runId, "--at", "0"], env);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toMatch(/--at takes a whole number of 1 or more, got "0"/);
  });

  it("runs logs prints the lines tasks logged", async () => {
    const runId = (await cli(["submit", "flows:logs", "--wait", "--json"], env)).stdout;
    const id = (JSON.parse(runId) as { runId: string }).runId;
    const logs = await cli(["runs", "logs", id], env);
    expect(logs.stdout).toMatch(/info\s+hello from a task\s+\{"answer":42\}/);
    // --json: NDJSON, one object per line (not one document), as --follow writes them.
    const ndjson = (await cli(["runs", "logs", id, "--json"], env)).stdout.trimEnd().split("\n");
    expect(ndjson).toHaveLength(logs.stdout.trimEnd().split("\n").length);
    expect(ndjson.map((l) => JSON.parse(l) as unknown)).toContainEqual(expect.objectContaining({ runId: id, level: "info", message: "hello from a task", fields: { answer: 42 } }));
  });

  it("a failed run exits 3 with the error on stderr", async () => {
    const r = await cli(["submit", "flows:fail_flow", "--wait"], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/failed: RangeError: value out of range/);
  });

  it("refusals exit 1 and say what to do; a missing server exits 2", async () => {
    const unknown = await cli(["submit", "flows:missing"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown target flows:missing/);
    const badArg = await cli(["submit", "flows:fan_out", "--arg", "{oops"], env);
    expect(badArg).toMatchObject({ code: 1 });
    expect(badArg.stderr).toMatch(/--arg number 1 is not valid JSON/);
    const noRun = await cli(["runs", "show", "NOSUCHRUN"], env);
    expect(noRun.code).toBe(1);
    expect(noRun.stderr).toMatch(/no run NOSUCHRUN .*runs ls/);
    const badEnv = await cli(["envs", "create", "bad.name"], env);
    expect(badEnv.code).toBe(1);
    expect(badEnv.stderr).toMatch(/invalid environment name "bad.name"/);
    const usage = await cli(["frobnicate"], env);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/unknown command "frobnicate"/);
    const down = await cli(["runs", "ls"], { TRIBUTARY_SERVER: "http://127.0.0.1:1" });
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/cannot reach the Tributary server .* start it with 'tributary server'/);
  });

  it.each([
    [["server", "--port", "abc"], /--port takes a whole number from 0 to 65535, got "abc"/],
    [["server", "--heartbeat-ms", "1.5"], /--heartbeat-ms takes a whole number/],
    [["server", "--nats", "localhost"], /--nats takes nats:\/\/host:port URLs/],
    [["server", "--project", "has space"], /--project: invalid project name "has space"/],
    [["runs", "ls", "--server", "not a url"], /--server takes the server's http:\/\/ or https:\/\/ URL/],
    [["runs", "ls", "--limit", "2.5"], /--limit takes a whole number from 1 to 10000, got "2.5"/],
    [["runs", "ls", "--limit", "-3"], /^tributary runs: --limit takes a whole number from 1 to 10000, got "-3"\n$/],
    [["submit", "nocolon"], /^tributary submit: REPO:TARGET takes the workflow as repository:target, e.g. orders:process_orders; got "nocolon"\n$/],
    [["runs", "ls", "--env", "../etc"], /--env: invalid environment name "..\/etc"/],
    [["agent", "--concurrency", "0", "examples/orders.ts"], /--concurrency takes a whole number from 1/],
  ])("a bad option is refused before anything starts: %j", async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
  });

  it("envs create and ls; projections dump is stable across a rebuild", async () => {
    expect((await cli(["envs", "create", "staging"], env)).code).toBe(0);
    const ls = await cli(["envs", "ls"], env);
    expect(ls.stdout).toMatch(/^production  \d+ commits$/m);
    // Created on nobody's behalf (no --auth): no "created by".
    expect(ls.stdout).toMatch(/^staging  \d+ commits$/m);
    expect((await cli(["envs", "create", "staging"], env)).code).toBe(1);
    const before = await cli(["projections", "dump"], env);
    const rebuilt = await cli(["projections", "rebuild"], env);
    expect(rebuilt.stdout).toMatch(/rebuilt default\/production from \d+ commits/);
    const after = await cli(["projections", "dump"], env);
    expect(after.stdout).toBe(before.stdout);
    expect(before.stdout.split("\n").length).toBeGreaterThan(20);
  });

  it("runs cancel and runs rerun act on a run", async () => {
    const runId = (await cli(["submit", "flows:sleep_flow", "--arg", "30000", "--arg", "2"], env)).stdout.trim();
    await new Promise((r) => setTimeout(r, 500));
    expect((await cli(["runs", "cancel", runId], env)).code).toBe(0);
    expect((await cli(["runs", "show", runId], env)).stdout).toMatch(/CANCELLED/);
    expect((await cli(["runs", "rerun", runId, "1"], env)).code).toBe(1);

    const done = JSON.parse((await cli(["submit", "flows:stamp_flow", "--wait", "--json"], env)).stdout) as { runId: string };
    const rerun = await cli(["runs", "rerun", done.runId, "2"], env);
    expect(rerun).toMatchObject({ code: 0 });
    expect(rerun.stdout).toMatch(/re-running step 2 of run \S+ in production: execution \S+-2-2/);
  });

  it("wrong requests exit 1 with a refusal that says why: cancelling a finished run, a reused key, a task, a wrong count, an archived base", async () => {
    const done = JSON.parse((await cli(["submit", "flows:double", "--arg", "2", "--wait", "--json"], env)).stdout) as { runId: string };
    const cancel = await cli(["runs", "cancel", done.runId], env);
    expect(cancel).toMatchObject({ code: 1, stderr: expect.stringContaining(`run ${done.runId} has already succeeded`) });
    expect((await cli(["runs", "show", done.runId], env)).stdout).toMatch(/SUCCEEDED/);

    const running = (await cli(["submit", "flows:sleep_flow", "--arg", "30000", "--arg", "1"], env)).stdout.trim();
    expect(await cli(["runs", "cancel", running], env)).toMatchObject({ code: 0, stdout: `cancelled run ${running}\n` });
    expect(await cli(["runs", "cancel", running], env)).toMatchObject({ code: 0, stdout: `run ${running} was already cancelled\n` });

    expect((await cli(["submit", "flows:double", "--arg", "1", "--idempotency-key", "cli-refuse"], env)).code).toBe(0);
    const reused = await cli(["submit", "flows:double", "--arg", "5", "--idempotency-key", "cli-refuse"], env);
    expect(reused).toMatchObject({ code: 1, stderr: expect.stringMatching(/idempotency key "cli-refuse" was already used for run \S+ \(flows:double\)/) });

    const task = await cli(["submit", "flows:add", "--arg", "1", "--arg", "2"], env);
    expect(task).toMatchObject({ code: 1, stderr: expect.stringMatching(/flows:add is a task: only workflows are submitted as runs/) });

    const count = await cli(["submit", "flows:fan_out", "--wait"], env);
    expect(count).toMatchObject({ code: 1, stderr: expect.stringContaining("flows:fan_out takes 1 argument (n), got 0") });

    expect((await cli(["envs", "create", "nobody", "--base", "production"], env)).code).toBe(0);
    const rerun = await cli(["runs", "rerun", done.runId, "1", "--env", "nobody"], env);
    expect(rerun).toMatchObject({ code: 1, stderr: expect.stringContaining("unknown target flows:double: no connected agent has registered it") });

    expect((await cli(["envs", "create", "attic"], env)).code).toBe(0);
    expect((await cli(["envs", "archive", "attic"], env)).code).toBe(0);
    const base = await cli(["envs", "create", "loft", "--base", "attic"], env);
    expect(base).toMatchObject({ code: 1, stderr: expect.stringContaining("environment default/attic is archived: it cannot be the base") });
    expect((await cli(["envs", "update", "staging", "--base", "attic"], env)).code).toBe(1);
  });
});
