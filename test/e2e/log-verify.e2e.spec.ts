/**
 * `tributary log verify` on both logs: clean logs exit 0 with a summary; a
 * commit written underneath the adapter that does not decode is reported
 * with its sequence, exit 1, and the read goes on past it.
 */
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { open } from "lmdb";
import { afterEach, describe, expect, inject, it } from "vitest";
import { envSubject, logRef } from "../../src/events/index.js";
import { encodeCommit } from "../../src/events/codec.js";
import { agentConnected } from "../support/events.js";
import { cli, startHarness, type Harness } from "./support.js";

/** A commit with a good frame and checksum, holding an event the decoder refuses. */
const wellFramedButInvalid = () => encodeCommit([{ ...agentConnected("x"), data: { agentId: 42 } } as never]);

describe("tributary log verify", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("embedded: a clean log exits 0 with a summary; bytes written into LMDB underneath are reported by sequence with exit 1", async () => {
    h = await startHarness("embedded");
    const agent = await h.agent();
    await h.api.run("flows:chain", [3]);
    await agent.stop({ drainMs: 0 });
    const args = ["log", "verify", "--server", h.server.url, "--project", h.api.project];
    const clean = await cli(args);
    expect(clean.stderr).toBe("");
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(new RegExp(`${h.api.project}/production \\(embedded log\\): (\\d+) commits, \\d+ events up to sequence \\1: every commit decodes`));
    const json = JSON.parse((await cli([...args, "--json"])).stdout) as { lastSeq: number; commits: number; failures: unknown[] };
    expect(json.failures).toEqual([]);
    expect(json.commits).toBe(json.lastSeq);

    // The server stops; its log gets two bad commits straight into LMDB (as a damaged disk or another program would).
    const dataDir = h.dataDir;
    const project = h.api.project;
    await h.server.close();
    const root = open({ path: join(dataDir, "log", project, "production"), maxDbs: 4, compression: false });
    const commits = root.openDB<Uint8Array, number>({ name: "commits", encoding: "binary" });
    let last = 0;
    for (const k of commits.getKeys({ reverse: true, limit: 1 })) last = k;
    commits.putSync(last + 1, new Uint8Array([0x54, 0x01, 1, 2, 3, 4, 0x90]));
    commits.putSync(last + 2, wellFramedButInvalid());
    await root.close();

    const direct = ["log", "verify", "--data", dataDir, "--project", project];
    const bad = await cli(direct);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`sequence ${last + 1}: checksum mismatch`);
    expect(bad.stdout).toMatch(new RegExp(`sequence ${last + 2}: .*agentId must be a string`));
    expect(bad.stderr).toMatch(/2 commits that do not decode.*restore the log from a backup/);
    const badJson = JSON.parse((await cli([...direct, "--json"])).stdout) as { commits: number; failures: { seq: number }[] };
    expect(badJson.failures.map((f) => f.seq)).toEqual([last + 1, last + 2]);
    expect(badJson.commits).toBe(last + 2);
    expect((await cli(["log", "verify", "--data", dataDir, "--project", "nobody"])).code).toBe(1);
    // A server will not start on that log, and says how to find out more.
    const start = await cli(["server", "--data", dataDir, "--port", "0"]);
    expect(start.code).toBe(2);
    expect(start.stderr).toContain(`corrupt event at sequence ${last + 1}: checksum mismatch`);
    expect(start.stderr).toContain(`'tributary log verify --project ${project} --env production --data ${dataDir}', and restore the log from a backup`);
    expect(start.stderr).not.toMatch(/\n\s+at /);
  });

  it("JetStream: garbage published onto the stream's subject is reported by sequence through the server, with exit 1", async () => {
    h = await startHarness("jetstream");
    const agent = await h.agent();
    await h.api.run("flows:chain", [2]);
    await agent.stop({ drainMs: 0 });
    const args = ["log", "verify", "--server", h.server.url, "--project", h.api.project];
    const clean = await cli(args);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/\(jetstream log\): \d+ commits.*every commit decodes/);
    const nc = await connect({ servers: inject("natsUrl") });
    const js = jetstream(nc);
    const subject = envSubject(logRef(h.api.project, "production"));
    const garbage = await js.publish(subject, new Uint8Array([1, 2, 3]));
    const invalid = await js.publish(subject, wellFramedButInvalid());
    await nc.close();
    const bad = await cli([...args, "--json"]);
    expect(bad.code).toBe(1);
    const r = JSON.parse(bad.stdout) as { lastSeq: number; failures: { seq: number; reason: string }[] };
    expect(r.failures.map((f) => f.seq)).toEqual([garbage.seq, invalid.seq]);
    expect(r.failures[0]!.reason).toMatch(/truncated: 3 bytes/);
    expect(r.failures[1]!.reason).toMatch(/agentId must be a string/);
    expect(r.lastSeq).toBe(invalid.seq);
    const direct = await cli(["log", "verify", "--nats", inject("natsUrl"), "--project", h.api.project]);
    expect(direct.code).toBe(1);
    expect(direct.stdout).toContain(`sequence ${garbage.seq}: truncated: 3 bytes`);
  });
});
