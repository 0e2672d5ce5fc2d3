import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, eventually, startHarness, type Harness } from "./support.js";

const CHATTY = new URL("./fixtures/chatty.ts", import.meta.url).pathname;

/** `tributary ARGS | READER` in bash: the CLI's exit code (`${PIPESTATUS[0]}`), its stderr, and what the reader printed. */
const piped = (args: string, reader: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const script = `node ${JSON.stringify(BIN)} ${args} 2>"$ERR" | ${reader}; status=\${PIPESTATUS[0]}; cat "$ERR" >&2; exit $status`;
    const child = spawn("bash", ["-c", `ERR=$(mktemp); ${script}`], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });

/**
 * A reader that stops early closes the pipe under the CLI while it is still
 * writing (`head -1` after the first line of output larger than a pipe's
 * buffer), or before it writes at all (`true`): either way the command ends
 * quietly, exit 0, as other tools do.
 */
describe("output into a pipe that closes early", () => {
  let h: Harness;
  let env: Record<string, string>;
  let runId: string;
  const LINES = 3000;

  beforeAll(async () => {
    h = await startHarness("embedded");
    await h.agent({ modules: [CHATTY] });
    runId = await h.api.submit("chatty:chatter", [LINES, 300]);
    expect(await h.api.result(runId)).toMatchObject({ status: "succeeded" });
    await eventually(async () => (await h.api.ok<unknown[]>("GET", `/runs/${runId}/logs`)).length === LINES, 10_000, "every log line");
    env = { TRIBUTARY_SERVER: h.server.url, TRIBUTARY_PROJECT: h.api.project, TRIBUTARY_ENV: "production" };
  });

  afterAll(async () => {
    await h?.close();
  });

  const COMMANDS = ["envs ls", "runs ls", "runs ls --json", "runs history RUN", "runs logs RUN", "log verify", "--help", "runs --help", "runs rerun -h"];

  it.each(COMMANDS)("tributary %s | head -1 prints one line and exits 0, without a trace", async (command) => {
    const r = await piped(command.replace("RUN", runId), "head -1", env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^.+\n$/);
  });

  it.each(COMMANDS)("tributary %s | true (closed before the first write) exits 0, without a trace", async (command) => {
    const r = await piped(command.replace("RUN", runId), "true", env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("the outputs are larger than a pipe's buffer, so head -1 really closes the pipe mid-output", async () => {
    const full = await piped(`runs logs ${runId}`, "wc -c", env);
    const history = await piped(`runs history ${runId}`, "wc -c", env);
    expect(full.code).toBe(0);
    expect(Number(full.stdout.trim())).toBeGreaterThan(4 * 65536);
    expect(Number(history.stdout.trim())).toBeGreaterThan(65536);
  });
});
