/**
 * Log and projection benchmark, for both adapters: append throughput
 * (awaited one by one, and pipelined), read-back throughput, and projection
 * rebuild throughput, over realistic commits from the simulator.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logRef, type Event, type EventLog, type LogRef } from "../src/events/index.js";
import { EmbeddedEventLog, JetStreamEventLog } from "../src/events/storage/index.js";
import { encodeCommit } from "../src/events/codec.js";
import { PROJECTIONS } from "../src/projections/index.js";
import { LmdbProjectionStore, Projector } from "../src/projections/store/index.js";
import { startNatsServer } from "../test/support/nats-server.js";
import { simulate } from "../test/support/simulate.js";

export interface LogBenchOptions {
  /** Events for the pipelined append, read-back and rebuild. */
  readonly events: number;
  /** Events for the awaited-one-by-one append (slower: each waits for its ack or flush). */
  readonly awaitedEvents: number;
  readonly adapters: readonly ("embedded" | "jetstream")[];
}

export interface Row {
  readonly adapter: string;
  readonly what: string;
  readonly events: number;
  readonly commits: number;
  readonly seconds: number;
}

/** Commits from the simulator until at least `events` events. */
export const workload = (events: number): Event[][] => {
  const out: Event[][] = [];
  let n = 0;
  for (let seed = 1; n < events; seed++) {
    for (const c of simulate({ seed, runs: 400, env: "bench", parallelRuns: 8 })) {
      out.push(c);
      n += c.length;
      if (n >= events) break;
    }
  }
  return out;
};

const countEvents = (commits: readonly Event[][]) => commits.reduce((n, c) => n + c.length, 0);

const time = async (f: () => Promise<void>): Promise<number> => {
  const t0 = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};

/** Appends with up to `window` appends in flight, each fenced on the sequence it expects. */
const pipelined = async (log: EventLog, ref: LogRef, commits: readonly Event[][], window = 2000) => {
  const inflight = new Set<Promise<unknown>>();
  let seq = 0;
  for (const events of commits) {
    const p = log.append(ref, events, { expectedLastSeq: seq++ });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    if (inflight.size >= window) await Promise.race(inflight);
  }
  await Promise.all(inflight);
};

export const runLogBench = async (options: LogBenchOptions): Promise<Row[]> => {
  const commits = workload(options.events);
  const events = countEvents(commits);
  const awaited = workload(options.awaitedEvents);
  const awaitedEvents = countEvents(awaited);
  const bytes = commits.reduce((n, c) => n + encodeCommit(c).length, 0);
  console.log(
    `workload: ${events} events in ${commits.length} commits, ${(bytes / commits.length).toFixed(0)} bytes per commit, ` +
      `${(bytes / events).toFixed(0)} bytes per event (framed)`,
  );
  const rows: Row[] = [];
  for (const adapter of options.adapters) {
    const dir = await mkdtemp(join(tmpdir(), "trib-bench-"));
    const server = adapter === "jetstream" ? await startNatsServer() : undefined;
    const log: EventLog =
      adapter === "embedded"
        ? new EmbeddedEventLog({ dir: join(dir, "log") })
        : await JetStreamEventLog.connect({ servers: server!.url });
    try {
      const one = logRef("bench", "awaited");
      const many = logRef("bench", "pipelined");
      await log.createEnv(one);
      await log.createEnv(many);

      let seq = 0;
      const s1 = await time(async () => {
        for (const c of awaited) await log.append(one, c, { expectedLastSeq: seq++ });
      });
      rows.push({ adapter, what: "append, awaited one by one", events: awaitedEvents, commits: awaited.length, seconds: s1 });

      const s2 = await time(() => pipelined(log, many, commits));
      rows.push({ adapter, what: "append, pipelined", events, commits: commits.length, seconds: s2 });

      let read = 0;
      const s3 = await time(async () => {
        for await (const c of log.read(many)) read += c.events.length;
      });
      if (read !== events) throw new Error(`read back ${read} events, appended ${events}`);
      rows.push({ adapter, what: "read back", events, commits: commits.length, seconds: s3 });

      const store = await LmdbProjectionStore.open(join(dir, "projections"), PROJECTIONS);
      const projector = new Projector({ log, ref: many, store });
      let applied = 0;
      const s4 = await time(async () => {
        applied = (await projector.start()).events;
      });
      if (applied !== events) throw new Error(`rebuilt ${applied} events, appended ${events}`);
      rows.push({ adapter, what: "projection rebuild (read + decode + evolve + LMDB)", events, commits: commits.length, seconds: s4 });
      await store.close();
    } finally {
      await log.close();
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
  return rows;
};
