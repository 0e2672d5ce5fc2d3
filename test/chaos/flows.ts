/**
 * The chaos harness's repository (`chaos:*`): a mixed workload whose every
 * result is a pure function of its arguments, so that the harness can
 * compute it independently (see `expected.ts`).
 *
 * Every target writes marker files into `$TRIB_CHAOS_MARKERS` — the tasks'
 * own record of what ran, kept apart from the orchestrator's:
 *   `<key>.start.<executionId>`  when its code starts,
 *   `<key>.done.<executionId>`   when its code returns (and `<key>.done`),
 *   `<key>.fail.<executionId>`   when its code throws,
 *   `<key>.redo.<executionId>`   when it starts although `<key>.done` exists.
 * `key` names the logical call (derived from the run's tag and the call's
 * place in it, or, for the cached task, from its argument alone): a second
 * step made for the same call is caught as well as a second execution of
 * one step. Each file holds JSON: key, run, step, execution, attempt, agent
 * pid, time.
 */
import { createHash } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { context, task, workflow, type Asset } from "../../src/index.js";

export const repository = "chaos";

const markersDir = (): string => {
  const dir = process.env.TRIB_CHAOS_MARKERS;
  if (!dir) throw new Error("TRIB_CHAOS_MARKERS must name the directory for the chaos harness's marker files");
  return dir;
};

const write = (name: string, body: object) => writeFileSync(join(markersDir(), name), JSON.stringify(body));

/** Runs `fn` between a start marker and a done (or fail) marker for `key`. */
const tracked = async <R>(kind: "task" | "workflow", key: string, fn: () => Promise<R> | R): Promise<R> => {
  const { runId, stepId, executionId, attempt } = context();
  const info = (what: string) => ({ what, kind, key, runId, stepId, executionId, attempt, pid: process.pid, at: Date.now() });
  write(`${key}.start.${executionId}`, info("start"));
  if (existsSync(join(markersDir(), `${key}.done`))) write(`${key}.redo.${executionId}`, info("redo"));
  let value: R;
  try {
    value = await fn();
  } catch (e) {
    write(`${key}.fail.${executionId}`, { ...info("fail"), error: String(e) });
    throw e;
  }
  write(`${key}.done.${executionId}`, info("done"));
  write(`${key}.done`, info("done"));
  return value;
};

/** A pause long enough for kills to land mid-work, derived from the arguments. */
const pause = (n: number) => sleep(40 + (Math.abs(n * 37) % 160), undefined, { signal: context().signal });

export const square = task("square", (key: string, x: number) =>
  tracked("task", key, async () => {
    await pause(x);
    return x * x + 1;
  }),
);

export const step = task("step", (key: string, x: number, i: number) =>
  tracked("task", key, async () => {
    await pause(x + i);
    return (x * 7 + i) % 1009;
  }),
);

/** Fails the first time it runs for its key (whatever the attempt number says), then succeeds. */
export const flaky = task("flaky", { retries: { limit: 3, delay: 100 } }, (key: string, x: number) =>
  tracked("task", key, async () => {
    await pause(x);
    const failedOnce = join(markersDir(), `${key}.failed-once`);
    if (!existsSync(failedOnce)) {
      writeFileSync(failedOnce, "");
      throw new Error(`flaky ${key} fails its first time`);
    }
    return x * 3;
  }),
);

/** Cached across runs: the key is the argument alone, so a second execution anywhere is a redo. */
export const cube = task("cube", { cache: true }, (x: number) =>
  tracked("task", `cube-${x}`, async () => {
    await pause(x);
    return x * x * x;
  }),
);

/** Content of the asset file for (tag, n): `n` lines. */
const assetText = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag} line ${i}\n`).join("");

export const produce = task("produce", (key: string, tag: string, n: number) =>
  tracked("task", key, async () => {
    await writeFile(join(context().workdir, "data.txt"), assetText(tag, n));
    return context().persist("data.txt", { name: `data-${tag}` });
  }),
);

export const consume = task("consume", (key: string, asset: Asset) =>
  tracked("task", key, async () => {
    const [file] = await context().restore(asset, { to: "in" });
    const bytes = await readFile(file!);
    return { size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
  }),
);

export const fanOut = workflow("fan_out", (tag: string, xs: number[]) =>
  tracked("workflow", `${tag}.wf`, async () => {
    const handles = xs.map((x, i) => square.submit(`${tag}.sq${i}`, x));
    const values = await Promise.all(handles.map((h) => h.result()));
    return values.reduce((a, b) => a + b, 0);
  }),
);

export const chain = workflow("chain", (tag: string, n: number, x0: number) =>
  tracked("workflow", `${tag}.wf`, async () => {
    let x = x0;
    for (let i = 0; i < n; i++) x = await step(`${tag}.st${i}`, x, i);
    return x;
  }),
);

export const retries = workflow("retries", (tag: string, xs: number[]) =>
  tracked("workflow", `${tag}.wf`, async () => {
    const values = await Promise.all(xs.map((x, i) => flaky(`${tag}.fl${i}`, x)));
    return values.reduce((a, b) => a + b, 0);
  }),
);

export const cached = workflow("cached", (tag: string, xs: number[]) =>
  tracked("workflow", `${tag}.wf`, async () => {
    const values = await Promise.all(xs.map((x) => cube(x)));
    return values.reduce((a, b) => a + b, 0);
  }),
);

/** Calls two workflows (child runs) in parallel and combines their results. */
export const parent = workflow("parent", (tag: string, xs: number[], n: number, x0: number) =>
  tracked("workflow", `${tag}.wf`, async () => {
    const [a, b] = await Promise.all([fanOut(`${tag}.a`, xs), chain(`${tag}.b`, n, x0)]);
    return { fan: a, chain: b };
  }),
);

export const assets = workflow("assets", (tag: string, n: number) =>
  tracked("workflow", `${tag}.wf`, async () => {
    const asset = await produce(`${tag}.pr`, tag, n);
    return consume(`${tag}.co`, asset);
  }),
);
