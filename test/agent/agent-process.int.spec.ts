/** The agent as it really runs: its own process, under tsx, loading a TypeScript repository in its workers. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { ScriptedServer } from "./scripted-server.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

it("runs TypeScript task code in its workers when the process runs under tsx", async () => {
  const server = await ScriptedServer.start();
  const child = spawn(`${root}node_modules/.bin/tsx`, ["test/agent/fixtures/run-agent.ts", server.url, "examples/orders.ts"], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  try {
    const [line] = (await once(child.stdout, "data")) as [Buffer];
    expect(line.toString()).toBe("agent agent-1 ready\n");
    server.send({ type: "execute", executionId: "e1", runId: "r1", stepId: "s1", attempt: 2, target: { repository: "orders", target: "charge" }, arguments: [102] });
    expect(await server.result("e1")).toMatchObject({ type: "succeeded", value: { order: 102, amount: 20 } });
  } finally {
    child.kill("SIGTERM");
    await once(child, "exit");
    await server.close();
  }
});
