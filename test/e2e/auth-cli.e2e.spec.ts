/**
 * The CLI, the client and the agent against a real server with --auth (the
 * embedded log: what is tested here is the caller's side; the server's checks
 * on both logs are auth.e2e): the refusals as the CLI says them (exit 4),
 * tokens create → ls → revoke → refused, whoami, agents with a bad or an
 * out-of-scope token failing fast, and one with a good token running work.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentRefusedError } from "../../src/agent/errors.js";
import { startAgent } from "../../src/agent/runtime.js";
import { ForbiddenError, UnauthenticatedError } from "../../src/client/errors.js";
import { GRANTS } from "../../src/orchestrator/core/index.js";
import { startServer, type RunningServer } from "../../src/server.js";
import type { TokenAnswer } from "../../src/protocol/api.js";
import { cli, FLOWS, freshProject, spawnCli } from "./support.js";

describe("the CLI and agents against a server with --auth", () => {
  const admin = randomBytes(24).toString("hex");
  const project = freshProject();
  let dataDir: string;
  let server: RunningServer;
  /** Runs the CLI on the test's server and project, with `token` (as TRIBUTARY_TOKEN) if given. */
  const run = (args: string[], token?: string) =>
    cli([...args, "--server", server.url, ...(args[0] === "whoami" ? [] : ["--project", project])], token === undefined ? {} : { TRIBUTARY_TOKEN: token });
  /** Makes a token through the CLI, as an admin would; its text and id. */
  const create = async (args: string[]): Promise<{ text: string; id: string; stderr: string }> => {
    const r = await run(["tokens", "create", ...args], admin);
    expect(r.code, r.stderr).toBe(0);
    const id = /^created token ([0-9a-z]+)/.exec(r.stderr)?.[1];
    expect(id, r.stderr).toBeDefined();
    return { text: r.stdout.trimEnd(), id: id!, stderr: r.stderr };
  };

  beforeAll(async () => {
    expect(process.env.TRIBUTARY_TOKEN, "the tests run without a token of their own").toBeUndefined();
    dataDir = await mkdtemp(join(tmpdir(), "trib-auth-cli-"));
    server = await startServer({ dataDir, port: 0, defaultProject: project, heartbeatMs: 500, auth: true, adminToken: admin, onNotice: () => {} });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("without a token: the server's 401 and what to do, exit 4; whoami says who a token makes you", async () => {
    const r = await run(["runs", "ls"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^tributary runs: no token: give one with --token or TRIBUTARY_TOKEN/);
    const who = await run(["whoami"], admin);
    expect(who.code, who.stderr).toBe(0);
    expect(who.stdout).toMatch(/checks credentials; you are admin/);
    expect((await run(["whoami"])).code).toBe(4);
    // The client says the same as the CLI, typed.
    await expect(server.client().listRuns()).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(await server.client({ token: admin }).listRuns()).toEqual([]);
  });

  it("tokens create prints the text alone on stdout, ls lists it without it, revoke ends it", async () => {
    const made = await create(["--role", "read", "--envs", "production,dev-*", "--name", "ci reader", "--expires", "1h"]);
    expect(made.text).toMatch(/^\S+$/);
    expect(made.stderr).toMatch(/shown this once/);
    expect(made.stderr).toContain("role read, environments production, dev-*");
    expect(made.stderr).not.toContain(made.text);

    const who = await run(["whoami"], made.text);
    expect(who.stdout).toContain(`you are token ${made.id} (ci reader): project ${project}, role read`);
    expect((await run(["runs", "ls"], made.text)).code).toBe(0);

    const ls = await run(["tokens", "ls", "--json"], admin);
    expect(ls.code, ls.stderr).toBe(0);
    const listed = JSON.parse(ls.stdout) as TokenAnswer[];
    expect(listed.find((t) => t.tokenId === made.id)).toMatchObject({ name: "ci reader", role: "read", envs: ["production", "dev-*"] });
    const table = await run(["tokens", "ls"], admin);
    expect(table.stdout.split("\n")[0]).toMatch(/^id\s+name\s+role\s+envs\s+created \(UTC\)\s+expires\s+by\s+revoked$/);
    expect(table.stdout).toMatch(new RegExp(`^${made.id}\\s+ci reader\\s+read\\s+production,dev-\\*\\s`, "m"));
    expect(ls.stdout + table.stdout).not.toContain(made.text);

    const revoked = await run(["tokens", "revoke", made.id, "--reason", "rotated"], admin);
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await run(["runs", "ls"], made.text);
    expect(after.code).toBe(4);
    expect(after.stderr).toMatch(/^tributary runs: the token was revoked.*\(ask an admin for a new token/);
    expect(after.stderr).not.toContain(made.text);
    const relisted = JSON.parse((await run(["tokens", "ls", "--json"], admin)).stdout) as TokenAnswer[];
    const first = relisted.find((t) => t.tokenId === made.id)?.revoked;
    expect(first).toMatchObject({ reason: "rotated" });
    expect(revoked.stdout).toMatch(new RegExp(`^revoked token ${made.id} of project ${project}: it is refused from now on`));
    expect(revoked.stdout).toContain("the tokens it made are not revoked");

    // Again: the server keeps the first revocation, and the CLI says so.
    const again = await run(["tokens", "revoke", made.id, "--reason", "twice"], admin);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(`token ${made.id} of project ${project} was already revoked at ${new Date(first!.at).toISOString()} (rotated): nothing changed\n`);
  });

  it("a 403 says what to do after what the token lacks: environment, project, expiry, and for tokens create the --envs it may give", async () => {
    const devReader = await create(["--role", "read", "--envs", "dev-*"]);
    const env = await run(["runs", "ls", "--env", "production"], devReader.text);
    expect(env.code).toBe(4);
    expect(env.stderr).toMatch(/\(use a token whose --envs cover production, or ask an admin of the project\)\n$/);

    const other = await cli(["runs", "ls", "--server", server.url, "--project", "elsewhere", "--env", "dev-1"], { TRIBUTARY_TOKEN: devReader.text });
    expect(other.code).toBe(4);
    expect(other.stderr).toMatch(new RegExp(`\\(use a token of project elsewhere\\)\\n$`));

    const devAdmin = await create(["--role", "admin", "--envs", "dev-*", "--expires", "1h"]);
    const wide = await run(["tokens", "create", "--role", "read", "--envs", "production"], devAdmin.text);
    expect(wide.code).toBe(4);
    expect(wide.stderr).toMatch(/\(give --envs within your token's \(see tributary whoami\)\)\n$/);
    expect(wide.stdout).toBe("");
    const long = await run(["tokens", "create", "--role", "read", "--envs", "dev-*", "--expires", "2h"], devAdmin.text);
    expect(long.code).toBe(4);
    expect(long.stderr).toMatch(/\(give a shorter --expires \(at most the token's own\)\)\n$/);
    for (const r of [env, other, wide, long]) expect(r.stderr).not.toContain(devReader.text);
  });

  it("a token the CLI refuses itself exits 4 as the server's 401 does, trimmed pastes pass, and none is echoed", async () => {
    // (Each kind of refusal: the unit and int tests; here, one through the real command.)
    const bearer = await run(["runs", "ls"], `Bearer ${admin}`);
    expect(bearer.code, bearer.stderr).toBe(4);
    expect(bearer.stderr).toMatch(/^tributary runs: TRIBUTARY_TOKEN: give the token alone, without 'Bearer '/);
    expect(bearer.stderr).not.toContain(admin);
    const agent = await cli(["agent", FLOWS, "--server", server.url, "--project", project, "--workers", "1"], { TRIBUTARY_TOKEN: "" });
    expect(agent.code).toBe(4);
    expect(agent.stderr).toMatch(/^tributary agent: TRIBUTARY_TOKEN: no token/);
    expect((await run(["runs", "ls"], ` ${admin}\n`)).code).toBe(0);
  });

  it("tokens create whose stdout is closed before the text is written: says so, how to revoke it, exit 1", async () => {
    const child = spawnCli(["tokens", "create", "--role", "read", "--name", "lost", "--server", server.url, "--project", project], { TRIBUTARY_TOKEN: admin });
    // The reader goes away at once, as `| head -0` does: the text's write meets a closed pipe.
    child.stdout!.destroy();
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, "close")) as [number | null];
    expect(code, stderr).toBe(1);
    const id = /^tributary tokens: created token ([0-9a-z]+) \(lost\)/.exec(stderr)?.[1];
    expect(id, stderr).toBeDefined();
    expect(stderr).toContain("its text was not written to stdout (EPIPE)");
    expect(stderr).toContain(`tributary tokens revoke ${id} --project ${project}`);
    expect(stderr).not.toMatch(/shown this once/);
    // It exists, unrevoked, until someone revokes it as told.
    const listed = JSON.parse((await run(["tokens", "ls", "--json"], admin)).stdout) as TokenAnswer[];
    expect(listed.find((t) => t.tokenId === id)).toMatchObject({ name: "lost" });
    expect(listed.find((t) => t.tokenId === id)?.revoked).toBeUndefined();
  });

  it("a token whose role does not grant the route: the server's 403 and the role to ask for, exit 4", async () => {
    const reader = await create(["--role", "read"]);
    const r = await run(["submit", "flows:double", "--arg", "4"], reader.text);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`ask an admin for a token with role ${GRANTS.submit.join(" or ")}`);
    expect(r.stderr).not.toContain(reader.text);
    // Only an admin manages tokens.
    expect((await run(["tokens", "ls"], reader.text)).code).toBe(4);
    await expect(server.client({ token: reader.text }).submit("flows:double", [4])).rejects.toBeInstanceOf(ForbiddenError);
  });

  it("an agent with an unknown token fails at once with the server's message (exit 4), one out of its scope with the refusal (exit 4 too)", async () => {
    const unknown = await cli(["agent", FLOWS, "--server", server.url, "--project", project, "--workers", "1"], { TRIBUTARY_TOKEN: `${admin}x` });
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/^tributary agent: the server refused the agent \(HTTP 401\): /m);
    expect(unknown.stderr).not.toContain(admin);

    const devAgent = await create(["--role", "agent", "--envs", "dev-*"]);
    const e = await startAgent({ server: server.url, project, token: devAgent.text, modules: [FLOWS], workers: 1, onLog: () => undefined }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AgentRefusedError);
    expect((e as AgentRefusedError).reason).toMatch(/production/);
    expect((e as AgentRefusedError).status).toBe(403);
    const cliRefused = await cli(["agent", FLOWS, "--server", server.url, "--project", project, "--workers", "1"], { TRIBUTARY_TOKEN: devAgent.text });
    expect(cliRefused.code).toBe(4);
    expect(cliRefused.stderr).toContain(`tributary agent: the server refused the agent (HTTP 403): ${(e as AgentRefusedError).reason}`);
  });

  it("an agent with a token of role agent runs what a submit token submits, and stops when its token is revoked", async () => {
    const agentToken = await create(["--role", "agent", "--envs", "production"]);
    const submitter = await create(["--role", "submit"]);
    const agent = await startAgent({ server: server.url, project, token: agentToken.text, modules: [FLOWS], workers: 1, onLog: () => undefined });
    try {
      expect(await (await server.client({ token: submitter.text }).submit("flows:double", [4])).result()).toBe(8);
      // A result over the inline limit goes through the blob API: the worker threads send the token too.
      expect(await (await server.client({ token: submitter.text }).submit("flows:big_text_flow", [600_000])).result()).toBe(600_000);
      const refused = once(agent, "refused") as Promise<[AgentRefusedError]>;
      await server.client({ token: admin }).revokeToken(agentToken.id, { reason: "rotated" });
      // The server ends the session; the agent's reconnection is answered 401, which it does not retry.
      const [e] = await refused;
      expect(e.status).toBe(401);
      expect(e.reason).toMatch(/revoked/);
      expect(agent.connected).toBe(false);
    } finally {
      await agent.stop({ drainMs: 0 });
    }
  });
});
