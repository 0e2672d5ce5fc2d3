/**
 * Both log adapters, opened the way tests need them: a fresh, isolated place
 * (a temp directory, or a project-name prefix on the shared test nats-server),
 * a way to reopen it, and cleanup. For `describe.each` over adapters.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { logRef, type EventLog, type LogRef } from "../../src/events/index.js";
import { EmbeddedEventLog, JetStreamEventLog } from "../../src/events/storage/index.js";

export interface TestLog {
  readonly log: EventLog;
  /** A ref unique to this test log. */
  readonly ref: LogRef;
  /** Opens another handle on the same store (after `log.close()`: a restart). */
  reopen(): Promise<EventLog>;
  /** Deletes what the test stored. */
  cleanup(): Promise<void>;
}

export interface LogAdapter {
  readonly name: "embedded" | "jetstream";
  open(): Promise<TestLog>;
}

export const embeddedAdapter: LogAdapter = {
  name: "embedded",
  async open() {
    const dir = await mkdtemp(join(tmpdir(), "trib-test-log-"));
    const ref = logRef("test", "staging");
    return {
      log: new EmbeddedEventLog({ dir }),
      ref,
      reopen: async () => new EmbeddedEventLog({ dir }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

export const jetstreamAdapter: LogAdapter = {
  name: "jetstream",
  async open() {
    const servers = inject("natsUrl");
    const ref = logRef(`t${randomBytes(6).toString("hex")}`, "staging");
    const open = () => JetStreamEventLog.connect({ servers });
    return {
      log: await open(),
      ref,
      reopen: open,
      async cleanup() {
        const log = await open();
        try {
          await log.deleteEnv(ref);
        } finally {
          await log.close();
        }
      },
    };
  },
};

export const LOG_ADAPTERS: readonly LogAdapter[] = [embeddedAdapter, jetstreamAdapter];
