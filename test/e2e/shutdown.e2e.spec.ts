import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { cli, FLOWS, freePort, spawnCli, waitForOutput } from "./support.js";

const LIMITS = join(import.meta.dirname, "fixtures/limits.ts");

/** Shutdown, the data directory's lock, and clients that ride out a restart: the CLI as processes. */
describe("shutdown and restart", () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 100));
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  const dataDir = async () => {
    const d = await mkdtemp(join(tmpdir(), "trib-stop-"));
    dirs.push(d);
    return d;
  };
  const spawn = (args: string[], env: Record<string, string> = {}) => {
    const c = spawnCli(args, env);
    children.push(c);
    return c;
  };
  const startServer = async (dir: string, port: number, extra: string[] = []) => {
    const s = spawn(["server", "--data", dir, "--port", String(port), "--heartbeat-ms", "300", ...extra]);
    await waitForOutput(s, /listening on/);
    return s;
  };
  const exited = (c: ChildProcess): Promise<number | null> =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve(c.exitCode) : new Promise((r) => c.once("exit", (code) => r(code)));
  const collect = (c: ChildProcess) => {
    const out = { stdout: "", stderr: "" };
    c.stdout!.on("data", (d: Buffer) => (out.stdout += d.toString()));
    c.stderr!.on("data", (d: Buffer) => (out.stderr += d.toString()));
    return out;
  };

  it.each(["embedded", "jetstream"])("SIGINT with a submit --wait attached stops the server (%s log) within 2 s; the client is told to retry", async (kind) => {
    const dir = await dataDir();
    const port = await freePort();
    const project = `stop${Math.random().toString(36).slice(2, 8)}`;
    const env = { TRIBUTARY_SERVER: `http://127.0.0.1:${port}`, TRIBUTARY_PROJECT: project };
    const server = await startServer(dir, port, ["--project", project, ...(kind === "jetstream" ? ["--nats", inject("natsUrl")] : [])]);
    const agent = spawn(["agent", FLOWS], env);
    await waitForOutput(agent, /connected/);
    const client = spawn(["submit", "flows:sleep_flow", "--arg", "30000", "--arg", "1", "--wait"], env);
    const seen = collect(client);
    await waitForOutput(client, /waiting/);
    await new Promise((r) => setTimeout(r, 300)); // the long poll is in place
    const t0 = Date.now();
    server.kill("SIGINT");
    const code = await exited(server);
    const took = Date.now() - t0;
    expect(code).toBe(0);
    expect(took).toBeLessThan(2000);
    // The client was answered (503, retry) and keeps waiting rather than failing.
    await waitForOutput(client, /retrying in/);
    expect(client.exitCode).toBe(null);
    expect(seen.stderr).toMatch(/shutting down/);
    // The lock went with the server.
    await expect(readFile(join(dir, "server.lock"), "utf8")).rejects.toThrow(/ENOENT/);
  });

  it.each(["embedded", "jetstream"])("a second server on the same data directory (%s log) is refused, naming the first's pid", async (kind) => {
    const dir = await dataDir();
    const nats = ["--project", `lock${Math.random().toString(36).slice(2, 8)}`, ...(kind === "jetstream" ? ["--nats", inject("natsUrl")] : [])];
    const first = await startServer(dir, await freePort(), nats);
    const second = await cli(["server", "--data", dir, "--port", String(await freePort()), ...nats]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`in use by another server \\(pid ${first.pid}\\b`));
    expect(first.exitCode).toBe(null);
  });

  it("after kill -9 the lock is stale and the next server takes it over", async () => {
    const dir = await dataDir();
    const port = await freePort();
    const first = await startServer(dir, port);
    expect(JSON.parse(await readFile(join(dir, "server.lock"), "utf8"))).toMatchObject({ pid: first.pid });
    first.kill("SIGKILL");
    await exited(first);
    const second = await startServer(dir, port);
    expect(JSON.parse(await readFile(join(dir, "server.lock"), "utf8"))).toMatchObject({ pid: second.pid });
  });

  it("submit --wait and runs logs --follow ride out a kill -9 and restart of the server, and still print the result", async () => {
    const dir = await dataDir();
    const port = await freePort();
    const env = { TRIBUTARY_SERVER: `http://127.0.0.1:${port}` };
    let server = await startServer(dir, port);
    const agent = spawn(["agent", FLOWS, LIMITS], env);
    await waitForOutput(agent, /connected/);
    const client = spawn(["submit", "limits:slow_logs", "--arg", "2000", "--wait"], env);
    const seen = collect(client);
    await waitForOutput(client, /waiting/);
    const runId = /run (\S+): waiting/.exec(seen.stderr)![1]!;
    const follower = spawn(["runs", "logs", runId, "--follow"], env);
    const followed = collect(follower);
    await new Promise((r) => setTimeout(r, 300));
    server.kill("SIGKILL");
    await exited(server);
    await waitForOutput(client, /retrying in/);
    await new Promise((r) => setTimeout(r, 700));
    server = await startServer(dir, port);
    expect(await exited(client)).toBe(0);
    expect(seen.stdout).toBe('"done"\n');
    expect(seen.stderr).toMatch(/the server is back/);
    expect(await exited(follower)).toBe(0);
    expect(followed.stderr).toMatch(/retrying in/);
    expect(followed.stdout).toMatch(/info\s+before the pause/);
    expect(followed.stdout).toMatch(/info\s+after the pause/);
    // Every line of the run, each once, although the stream after the restart starts again from the run's first line.
    const all = await cli(["runs", "logs", runId], env);
    expect(followed.stdout).toBe(all.stdout);
  }, 30_000);

  it("runs wait prints the result of a run that exists (exit 0, or 3 if it failed); runs rerun --wait prints the step's new result", async () => {
    const dir = await dataDir();
    const port = await freePort();
    const env = { TRIBUTARY_SERVER: `http://127.0.0.1:${port}` };
    await startServer(dir, port);
    const agent = spawn(["agent", FLOWS], env);
    await waitForOutput(agent, /connected/);
    const runId = (await cli(["submit", "flows:chain", "--arg", "3"], env)).stdout.trim();
    expect(await cli(["runs", "wait", runId], env)).toMatchObject({ code: 0, stdout: "3\n" });
    const json = await cli(["runs", "wait", runId, "--json"], env);
    expect(JSON.parse(json.stdout)).toEqual({ runId, status: "succeeded", value: 3 });
    const failed = (await cli(["submit", "flows:fail_flow"], env)).stdout.trim();
    const f = await cli(["runs", "wait", failed], env);
    expect(f.code).toBe(3);
    expect(f.stderr).toMatch(/failed: RangeError: value out of range/);
    expect((await cli(["runs", "wait", "NOSUCHRUN"], env)).code).toBe(1);

    const stamped = JSON.parse((await cli(["submit", "flows:stamp_flow", "--wait", "--json"], env)).stdout) as { runId: string; value: number };
    expect(stamped.value).toBe(1);
    const rerun = await cli(["runs", "rerun", stamped.runId, "2", "--wait"], env);
    expect(rerun).toMatchObject({ code: 0, stdout: "2\n" });
    expect(rerun.stderr).toMatch(/re-running step 2 .*waiting/);
    const cascade = await cli(["runs", "rerun", stamped.runId, "2", "--cascade", "--wait", "--json"], env);
    expect(cascade.code).toBe(0);
    // The root ran again (its call of stamp is a new step: no memo outside a branch), and the wait saw its new result.
    expect(JSON.parse(cascade.stdout)).toEqual({ runId: stamped.runId, status: "succeeded", value: 1 });
    const view = JSON.parse((await cli(["runs", "show", stamped.runId, "--json"], env)).stdout) as {
      steps: { stepId: string; executions: string[] }[];
      executions: Record<string, { reason: string; status: string }>;
    };
    const root = view.steps.find((s) => s.stepId === "1")!;
    expect(root.executions.map((x) => [view.executions[x]!.reason, view.executions[x]!.status])).toEqual([
      ["first", "succeeded"],
      ["rerun", "succeeded"],
    ]);
  }, 30_000);
});
