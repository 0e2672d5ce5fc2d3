/**
 * NATS credentials: a nats-server (started here) that requires a user and
 * password; the JetStream log and the NATS blob store log in with
 * `nats://user:password@host:port`, and a wrong or missing password is
 * refused with a message that says so and names the URL without the password
 * (the library, and `tributary server` / `tributary log verify`); and one in
 * operator mode that takes a user's `.creds` file (`--nats-creds`).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsBlobStore } from "../../src/events/storage/blob-store-nats.js";
import { JetStreamEventLog } from "../../src/events/storage/jetstream-log.js";
import { natsAuth } from "../../src/events/storage/nats-auth.js";
import { logRef } from "../../src/events/subjects.js";
import { startServer } from "../../src/server.js";
import { cli } from "../e2e/support.js";
import { makeOperatorSetup } from "../support/nats-creds.js";
import { startNatsServer, type NatsServer } from "../support/nats-server.js";

const USER = "tributary-user";
const PASSWORD = "s3cret-p@ss";

describe("NATS with a user and password", () => {
  let nats: NatsServer;
  let dir: string;
  let good: string;
  let wrong: string;

  beforeAll(async () => {
    nats = await startNatsServer({ config: `authorization { user: "${USER}", password: "${PASSWORD}" }\n` });
    dir = await mkdtemp(join(tmpdir(), "trib-nats-auth-"));
    const hostPort = nats.url.replace(/^nats:\/\//, "");
    good = `nats://${USER}:${encodeURIComponent(PASSWORD)}@${hostPort}`;
    wrong = `nats://${USER}:wrong-password@${hostPort}`;
  });

  afterAll(async () => {
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("the URL's user and password are split off, percent-decoded, and never in the URL named in messages", () => {
    const a = natsAuth({ servers: good });
    expect(a.options).toMatchObject({ user: USER, pass: PASSWORD, servers: nats.url });
    expect(a.display).toBe(nats.url.replace("nats://", `nats://${USER}@`));
    expect(a.display).not.toContain(PASSWORD);
  });

  it("the JetStream log and the blob store log in with the URL's user and password", async () => {
    const log = await JetStreamEventLog.connect({ servers: good });
    try {
      expect(await log.hasEnv(logRef("auth", "production"))).toBe(false);
    } finally {
      await log.close();
    }
    const blobs = await NatsBlobStore.connect({ servers: good, maxBlobBytes: 1024 * 1024 });
    try {
      const info = await blobs.put(Readable.from([Buffer.from("hello over an authenticated connection")]));
      const chunks: Buffer[] = [];
      for await (const c of await blobs.get(info.key)) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe("hello over an authenticated connection");
    } finally {
      await blobs.close();
    }
  });

  it("a wrong password, or none, is refused saying so, naming the URL without the password", async () => {
    for (const servers of [wrong, nats.url]) {
      const err = await JetStreamEventLog.connect({ servers }).then(
        async (l) => {
          await l.close();
          return undefined;
        },
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(/refused the credentials/);
      expect(err?.message).toContain(`127.0.0.1:${nats.port}`);
      expect(err?.message).not.toContain("wrong-password");
      const blobErr = await NatsBlobStore.connect({ servers }).then(
        async (b) => {
          await b.close();
          return undefined;
        },
        (e: unknown) => e as Error,
      );
      expect(blobErr?.message).toMatch(/refused the credentials/);
      expect(blobErr?.message).not.toContain("wrong-password");
    }
  });

  it("tributary server with a wrong password exits non-zero, naming the URL without the password", async () => {
    const r = await cli(["server", "--data", join(dir, "data"), "--port", "0", "--nats", wrong]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refused the credentials/);
    expect(r.stderr).toContain(`nats://${USER}@127.0.0.1:${nats.port}`);
    expect(r.stderr).not.toContain("wrong-password");
  });

  it("tributary log verify logs in with the URL's password (and keeps it out of its messages)", async () => {
    const r = await cli(["log", "verify", "--project", "auth", "--env", "production", "--nats", good]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no log for auth\/production on nats:\/\//);
    expect(r.stderr).not.toContain(encodeURIComponent(PASSWORD));
  });

  it("--nats-creds must be a NATS .creds file, and needs --nats", async () => {
    const notCreds = join(dir, "not.creds");
    await writeFile(notCreds, "user: x\n");
    const r = await cli(["server", "--data", join(dir, "d2"), "--port", "0", "--nats", nats.url, "--nats-creds", notCreds]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--nats-creds .*not\.creds: not a NATS \.creds file/);
    const alone = await cli(["server", "--data", join(dir, "d2"), "--port", "0", "--nats-creds", notCreds]);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toMatch(/--nats-creds logs in to --nats: give --nats too/);
  });
});

describe("NATS with a .creds file (operator mode)", () => {
  let nats: NatsServer;
  let dir: string;
  let credsPath: string;
  let creds: string;

  beforeAll(async () => {
    const setup = makeOperatorSetup();
    creds = setup.creds;
    nats = await startNatsServer({ config: setup.config });
    dir = await mkdtemp(join(tmpdir(), "trib-nats-creds-"));
    credsPath = join(dir, "user.creds");
    await writeFile(credsPath, creds, { mode: 0o600 });
  });

  afterAll(async () => {
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("the JetStream log and the blob store log in with the creds; without them NATS refuses, and the error says so", async () => {
    const log = await JetStreamEventLog.connect({ servers: nats.url, creds });
    try {
      expect(await log.hasEnv(logRef("auth", "production"))).toBe(false);
    } finally {
      await log.close();
    }
    const blobs = await NatsBlobStore.connect({ servers: nats.url, creds, maxBlobBytes: 1024 * 1024 });
    try {
      const info = await blobs.put(Readable.from([Buffer.from("hello with a .creds file")]));
      expect((await blobs.stat(info.key))?.size).toBe("hello with a .creds file".length);
    } finally {
      await blobs.close();
    }
    await expect(JetStreamEventLog.connect({ servers: nats.url })).rejects.toThrow(/refused the credentials/);
  });

  it("startServer with natsCreds keeps its log and blobs on that NATS", async () => {
    const server = await startServer({ dataDir: join(dir, "data"), port: 0, nats: nats.url, natsCreds: creds });
    try {
      expect(await server.client().health()).toEqual({ ok: true, log: "jetstream" });
    } finally {
      await server.close();
    }
  });

  it("tributary log verify --nats-creds logs in; without it, it is refused", async () => {
    const ok = await cli(["log", "verify", "--project", "auth", "--env", "production", "--nats", nats.url, "--nats-creds", credsPath]);
    expect(ok.code).toBe(1);
    expect(ok.stderr).toMatch(/no log for auth\/production on nats:\/\//);
    const refused = await cli(["log", "verify", "--project", "auth", "--env", "production", "--nats", nats.url]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refused the credentials/);
  });
});
