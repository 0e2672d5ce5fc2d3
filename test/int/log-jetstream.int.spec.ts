import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, inject, it } from "vitest";
import { InvalidCommit, envSubject, LogUnavailable, logRef, type Commit, type EventLog } from "../../src/events/index.js";
import { JetStreamEventLog } from "../../src/events/storage/index.js";
import { eventLogContract } from "../contract/event-log.contract.js";
import { agentConnected, newRunId, stepScheduled } from "../support/events.js";
import { startNatsServer } from "../support/nats-server.js";

const url = inject("natsUrl");
// One NATS server serves every test file: a prefix of our own keeps this
// file's streams apart and lets cleanup find what a failed test left.
const prefix = `js${randomBytes(4).toString("hex")}`;

/** Deletes every stream of this file's projects. */
const deleteLeftovers = async (): Promise<void> => {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(`TRIB_${prefix}-`)) await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
  }
};

eventLogContract(
  "JetStream",
  async () => {
    const open = (): Promise<EventLog> => JetStreamEventLog.connect({ servers: url, name: `contract-${prefix}` });
    return {
      log: await open(),
      reopen: open,
      cleanup: deleteLeftovers,
      writeUnderneath: async (ref, bytes) => {
        // Garbage published onto the stream's subject by any NATS client.
        const nc = await connect({ servers: url });
        try {
          await jetstream(nc).publish(envSubject(ref), bytes);
        } finally {
          await nc.close();
        }
      },
    };
  },
  { projectPrefix: prefix },
);

describe("JetStreamEventLog against servers of its own", () => {
  it("connecting where no server listens fails with LogUnavailable", async () => {
    const server = await startNatsServer();
    await server.stop();
    await expect(JetStreamEventLog.connect({ servers: server.url })).rejects.toBeInstanceOf(LogUnavailable);
  });

  it("a server whose max_payload is below MAX_COMMIT_BYTES lowers the commit limit, with InvalidCommit past it", async () => {
    const server = await startNatsServer({ config: "max_payload: 65536\n" });
    const log = await JetStreamEventLog.connect({ servers: server.url });
    try {
      const ref = logRef("small", "payload");
      await log.createEnv(ref);
      const fits = stepScheduled(newRunId(), "s", { arguments: [new Uint8Array(60_000)] });
      const tooBig = stepScheduled(newRunId(), "s", { arguments: [new Uint8Array(65_000)] });
      expect(await log.append(ref, [fits])).toEqual({ seq: 1, duplicate: false });
      await expect(log.append(ref, [tooBig])).rejects.toBeInstanceOf(InvalidCommit);
      expect(await log.lastSeq(ref)).toBe(1);
    } finally {
      await log.close();
      await server.stop();
    }
  });

  it("appends fail with LogUnavailable while the server is down; after a restart a retry is stored once and a subscription resumes without gaps", async () => {
    const storeDir = await mkdtemp(join(tmpdir(), "trib-nats-restart-"));
    let server = await startNatsServer({ storeDir });
    const log = await JetStreamEventLog.connect({ servers: server.url, timeoutMs: 1_000 });
    try {
      const ref = logRef("restart", "production");
      await log.createEnv(ref);
      for (let i = 0; i < 3; i++) await log.append(ref, [agentConnected(`agent-${i}`)]);
      const seen: Commit[] = [];
      const sub = log.subscribe(ref);
      const feed = (async () => {
        for await (const c of sub) seen.push(c);
      })();
      await until(() => seen.length === 3);

      await server.kill();
      const events = [agentConnected("during-outage")];
      await expect(log.append(ref, events)).rejects.toBeInstanceOf(LogUnavailable);

      server = await startNatsServer({ storeDir, port: server.port });
      // The client may also flush the timed-out publish on reconnecting: the
      // retry must not store the commit twice.
      let appended: { seq: number } | undefined;
      for (let attempt = 0; !appended && attempt < 20; attempt++) {
        appended = await log.append(ref, events).catch(async () => {
          await new Promise((r) => setTimeout(r, 100));
          return undefined;
        });
      }
      expect(appended?.seq).toBe(4);
      expect(await log.lastSeq(ref)).toBe(4);

      await until(() => seen.length === 4);
      await sub.close();
      await feed;
      expect(seen.map((c) => c.seq)).toEqual([1, 2, 3, 4]);
      expect(seen[3]!.events).toEqual(events);
      await log.deleteEnv(ref);
    } finally {
      await log.close();
      await server.stop();
      await rm(storeDir, { recursive: true, force: true });
    }
  });
});

/** Polls `done` every 20 ms, for up to 15 s. */
const until = async (done: () => boolean): Promise<void> => {
  const deadline = Date.now() + 15_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("condition not met within 15 s");
    await new Promise((r) => setTimeout(r, 20));
  }
};
