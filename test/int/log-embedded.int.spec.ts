import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { open } from "lmdb";
import { LogUnavailable, logRef } from "../../src/events/index.js";
import { EmbeddedEventLog } from "../../src/events/storage/index.js";
import { agentConnected } from "../support/events.js";
import { eventLogContract } from "../contract/event-log.contract.js";

eventLogContract("embedded", async () => {
  const dir = await mkdtemp(join(tmpdir(), "trib-log-"));
  return {
    log: new EmbeddedEventLog({ dir }),
    reopen: async () => new EmbeddedEventLog({ dir }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
    writeUnderneath: async (ref, bytes) => {
      // Straight into LMDB, as a damaged disk or another program would.
      const root = open({ path: join(dir, ref.project, ref.env), maxDbs: 4, compression: false });
      const commits = root.openDB<Uint8Array, number>({ name: "commits", encoding: "binary" });
      let last = 0;
      for (const k of commits.getKeys({ reverse: true, limit: 1 })) last = k;
      commits.putSync(last + 1, bytes);
      await root.close();
    },
  };
});

describe("embedded log on disk", () => {
  it("a damaged log file is refused with a clear error and left untouched", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trib-log-"));
    try {
      const ref = logRef("p", "e");
      const log = new EmbeddedEventLog({ dir });
      await log.createEnv(ref);
      await log.append(ref, [agentConnected("a1")]);
      await log.close();
      const file = join(dir, "p", "e", "data.mdb");
      const garbage = Buffer.alloc(16384, 0x5a);
      await writeFile(file, garbage);
      const again = new EmbeddedEventLog({ dir });
      await expect(again.lastSeq(ref)).rejects.toThrow(LogUnavailable);
      await expect(again.lastSeq(ref)).rejects.toThrow(/is damaged: .* not an LMDB file.* restore .* from a backup/);
      expect(Buffer.compare(await readFile(file), garbage)).toBe(0);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
