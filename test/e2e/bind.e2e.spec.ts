/**
 * With no authentication, the server listens only where this machine alone
 * reaches it: another address is refused unless `--insecure` is given, and
 * then every start warns.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { InsecureBind, TributaryServer, isLoopback } from "../../src/orchestrator/server/index.js";
import { cli } from "./support.js";

describe("where the server may listen", () => {
  const dirs: string[] = [];
  const dir = async () => {
    const d = await mkdtemp(join(tmpdir(), "trib-bind-"));
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["localhost", true],
    ["::1", true],
    ["[::1]", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.5", false],
    ["example.org", false],
  ])("%s is loopback: %s", (host, loopback) => expect(isLoopback(host)).toBe(loopback));

  it("refuses 0.0.0.0 without --insecure, before it touches the data directory", async () => {
    const dataDir = await dir();
    const error = await TributaryServer.start({ dataDir, host: "0.0.0.0", port: 0, onNotice: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsecureBind);
    expect((error as Error).message).toMatch(/refusing to listen on 0\.0\.0\.0 with no authentication.*--insecure/);
    // The lock was never taken: a server on loopback starts on the same directory at once.
    const ok = await TributaryServer.start({ dataDir, port: 0, onNotice: () => {} });
    await ok.close();
  });

  it("with insecure, listens there and warns on every start", async () => {
    const dataDir = await dir();
    for (let i = 0; i < 2; i++) {
      const notices: string[] = [];
      const server = await TributaryServer.start({ dataDir, host: "0.0.0.0", port: 0, insecure: true, onNotice: (m) => notices.push(m) });
      try {
        expect(notices.filter((n) => /warning: listening on 0\.0\.0\.0 with no authentication/.test(n))).toHaveLength(1);
        const port = new URL(server.url).port;
        expect((await fetch(`http://127.0.0.1:${port}/api/health`)).status).toBe(200);
      } finally {
        await server.close();
      }
    }
  });

  it("the CLI says what to do, exit 1", async () => {
    const r = await cli(["server", "--host", "0.0.0.0", "--port", "0", "--data", await dir()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tributary server: refusing to listen on 0\.0\.0\.0 .*give --insecure/);
  });
});
