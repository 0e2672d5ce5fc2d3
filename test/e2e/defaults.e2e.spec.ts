/**
 * What a newcomer gets by leaving things out: `startServer` and `startAgent`
 * with no project or environment meet in the same place, the server's
 * default project and environment, as the CLI and the client do.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type Agent } from "../../src/agent/runtime.js";
import { Client } from "../../src/client/index.js";
import { startServer } from "../../src/server.js";
import type { fanOut } from "./fixtures/flows.js";
import { FLOWS } from "./support.js";

describe("defaults", () => {
  let dataDir: string;
  let server: Awaited<ReturnType<typeof startServer>>;
  let agent: Agent;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "trib-defaults-"));
    server = await startServer({ dataDir, port: 0, onNotice: () => {} });
    agent = await startAgent({ server: server.url, modules: [FLOWS], onLog: () => {} });
  });
  afterAll(async () => {
    await agent?.stop({ drainMs: 0 });
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("an agent started without project or environment serves the client's default environment", async () => {
    const client = new Client({ url: server.url });
    const { connected } = await client.agents();
    expect(connected.map((a) => a.agentId)).toContain(agent.agentId);
    const run = await client.submit<typeof fanOut>("flows:fan_out", [3]);
    // fan_out(n) adds i + 1 for i < n: n(n+1)/2.
    await expect(run.result()).resolves.toBe((3 * 4) / 2);
  });
});
