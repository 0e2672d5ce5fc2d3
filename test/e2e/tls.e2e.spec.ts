/**
 * HTTPS and WSS: a server started by `tributary server --tls-cert --tls-key`
 * with a self-signed certificate made by the test, an agent over WSS trusting
 * it with --ca, a run submitted through the client (option ca) and through the
 * CLI (--ca, TRIBUTARY_CA); without the CA, the client and the CLI say the
 * certificate is not trusted and how to fix it.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "../../src/client/client.js";
import { ConnectionError } from "../../src/client/errors.js";
import { startServer } from "../../src/server.js";
import { makeSelfSigned, type SelfSigned } from "../support/tls-cert.js";
import { cli, FLOWS, freePort, spawnCli, waitForOutput } from "./support.js";

describe("TLS: HTTPS and WSS with a self-signed certificate", () => {
  let dir: string;
  let tls: SelfSigned;
  let url: string;
  let server: ChildProcess;
  let agent: ChildProcess;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "trib-tls-"));
    tls = makeSelfSigned(dir);
    const port = await freePort();
    server = spawnCli(["server", "--data", join(dir, "data"), "--port", String(port), "--tls-cert", tls.certPath, "--tls-key", tls.keyPath]);
    const line = await waitForOutput(server, /listening on \S+/);
    url = line.replace(/^.*listening on /, "");
    agent = spawnCli(["agent", FLOWS, "--server", url, "--ca", tls.certPath]);
    await waitForOutput(agent, /connected to/);
  });

  afterAll(async () => {
    agent?.kill("SIGTERM");
    server?.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    await rm(dir, { recursive: true, force: true });
  });

  it("the server says its https:// URL", () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("a run submitted by the client with ca is run by the agent over WSS; a result kept as a blob travels over HTTPS", async () => {
    const client = new Client({ url, ca: tls.cert });
    expect(await (await client.submit("flows:fan_out", [5])).result()).toBe(15);
    // 600 000 characters: the result goes to the blob API (the worker's HTTPS with the CA) and back to its caller.
    expect(await (await client.submit("flows:big_text_flow", [600_000])).result()).toBe(600_000);
    // withEnv keeps the trust.
    expect((await client.withEnv("production").health()).ok).toBe(true);
  });

  it("the CLI with --ca, or TRIBUTARY_CA, submits and waits", async () => {
    const r = await cli(["submit", "flows:fan_out", "--arg", "4", "--wait", "--server", url, "--ca", tls.certPath]);
    expect(r).toMatchObject({ code: 0, stdout: "10\n" });
    const e = await cli(["runs", "ls", "--json", "--server", url], { TRIBUTARY_CA: tls.certPath });
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/fan_out/);
  });

  it("without the CA, the client and the CLI say the certificate is not trusted and how to fix it", async () => {
    const err = await new Client({ url }).health().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).reason).toBe("untrusted");
    expect((err as Error).message).toMatch(/certificate of the Tributary server at https:\/\/127\.0\.0\.1:\d+ is not trusted/);
    expect((err as Error).message).toMatch(/--ca FILE/);
    const r = await cli(["runs", "ls", "--server", url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT/);
    expect(r.stderr).toMatch(/--ca FILE or TRIBUTARY_CA/);
    expect(r.stderr).not.toMatch(/cannot reach/);
  });

  it("an agent without the CA says the certificate is not trusted and how to fix it", async () => {
    const lost = spawnCli(["agent", FLOWS, "--server", url]);
    try {
      const said = await waitForOutput(lost, /[^\n]*not trusted[^\n]*/);
      expect(said).toMatch(/certificate of the server at wss:\/\/127\.0\.0\.1:\d+\/\S+ is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT/);
      expect(said).toMatch(/--ca FILE or TRIBUTARY_CA/);
    } finally {
      lost.kill("SIGKILL");
    }
  });

  it("the client's ca is PEM text: a path is refused, naming the option", () => {
    expect(() => new Client({ url, ca: tls.certPath })).toThrow(/ca takes the text of a PEM certificate .* not a path/);
  });

  it("--tls-cert and --tls-key go together, and each must be a PEM file that can be read", async () => {
    const only = await cli(["server", "--data", join(dir, "d1"), "--port", "0", "--tls-cert", tls.certPath]);
    expect(only.code).toBe(1);
    expect(only.stderr).toMatch(/--tls-cert needs --tls-key/);
    const keyOnly = await cli(["server", "--data", join(dir, "d1"), "--port", "0", "--tls-key", tls.keyPath]);
    expect(keyOnly.code).toBe(1);
    expect(keyOnly.stderr).toMatch(/--tls-key needs --tls-cert/);
    const missing = await cli(["server", "--data", join(dir, "d1"), "--port", "0", "--tls-cert", join(dir, "nope.pem"), "--tls-key", tls.keyPath]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--tls-cert .*nope\.pem: cannot be read \(ENOENT\)/);
    const garbage = join(dir, "garbage.pem");
    await writeFile(garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
    const bad = await cli(["server", "--data", join(dir, "d1"), "--port", "0", "--tls-cert", garbage, "--tls-key", tls.keyPath]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/cannot be used/);
    const swapped = await cli(["server", "--data", join(dir, "d1"), "--port", "0", "--tls-cert", tls.keyPath, "--tls-key", tls.certPath]);
    expect(swapped.code).toBe(1);
    expect(swapped.stderr).toMatch(/--tls-cert .*key\.pem: not a PEM certificate/);
  });

  it("startServer refuses tls without a key, or with a key that is not the certificate's, before taking the data directory", async () => {
    await expect(startServer({ dataDir: join(dir, "inproc"), port: 0, tls: { cert: tls.cert, key: "" } })).rejects.toThrow(/tls: give both cert and key .*key is missing/);
    const other = makeSelfSigned(await mkdtemp(join(dir, "other-")));
    await expect(startServer({ dataDir: join(dir, "inproc"), port: 0, tls: { cert: tls.cert, key: other.key } })).rejects.toThrow(/tls: the certificate and key cannot be used/);
  });

  it("startServer with tls serves https://, and its client trusts a given ca", async () => {
    const s = await startServer({ dataDir: join(dir, "inproc"), port: 0, tls: { cert: tls.cert, key: tls.key } });
    try {
      expect(s.url).toMatch(/^https:\/\//);
      expect((await s.client({ ca: tls.cert }).health()).ok).toBe(true);
    } finally {
      await s.close();
    }
  });
});
