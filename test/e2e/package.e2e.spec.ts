/**
 * The package as a user gets it: `npm pack` of this clone, installed into a
 * project of its own outside the clone, used by name. Its TypeScript flows
 * type-check against the package's `.d.ts`, and run on the installed bin
 * (`npx tributary server`, `npx tributary agent ./flows.ts`, `npx tributary
 * submit`); an application reaches the server through `tributary/client`
 * and starts one in-process with `tributary/server`.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, ROOT, waitForOutput } from "./support.js";

/** The environment of the user's commands: none of the npm variables of the run that started the tests. */
const userEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== "NODE_OPTIONS" && !k.startsWith("TRIBUTARY_")));

const run = (cmd: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: userEnv(), maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });

const FLOWS = `import { context, task, workflow } from "tributary";

export const square = task("square", async (n: number): Promise<number> => {
  context().log.info("squaring", { n });
  return n * n;
});

export const sumOfSquares = workflow("sum_of_squares", async (ns: number[]): Promise<number> => {
  const squares = await Promise.all(ns.map((n) => square(n)));
  return squares.reduce((a, b) => a + b, 0);
});

export const refuse = workflow("refuse", async (why: string): Promise<never> => {
  throw new RangeError(why);
});
`;

/** Type-checked, never loaded: the package's types are real, not \`any\`, so each misuse must fail to type-check. */
const MISUSE = `import { task } from "tributary";
import { Client } from "tributary/client";
import { square, type sumOfSquares } from "./flows.js";

// @ts-expect-error a retry policy is a number or an object
export const misused = task("misused", { retries: "often" }, () => 1);
// @ts-expect-error square takes a number
export const misusedCall = () => square("two");
// @ts-expect-error sum_of_squares takes a list of numbers
export const misusedSubmit = new Client().submit<typeof sumOfSquares>("flows:sum_of_squares", ["x"]);
export const typedResult = async (): Promise<number> => (await new Client().run<typeof sumOfSquares>("r").result()) + 1;
export const typedOutcome = async (): Promise<number> => {
  const o = await new Client().run<typeof sumOfSquares>("r").outcome();
  return o.status === "succeeded" ? o.value + 1 : o.error.message.length;
};
export const misusedOutcome = async () => {
  const o = await new Client().run<typeof sumOfSquares>("r").poll();
  // @ts-expect-error the result of sum_of_squares is a number
  return o?.status === "succeeded" ? o.value.total : 0;
};
`;

const APP = `import { Client, RunFailedError } from "tributary/client";
import { startServer } from "tributary/server";

const [url, ns, dataDir] = [process.argv[2], JSON.parse(process.argv[3]), process.argv[4]];
const client = new Client({ url });
const run = await client.submit("flows:sum_of_squares", [ns], { idempotencyKey: "app-1" });
const value = await run.result();
let failure;
try {
  await (await client.submit("flows:refuse", ["no reason"])).result();
} catch (e) {
  failure = e instanceof RunFailedError ? { status: e.status, type: e.error.type, message: e.error.message } : String(e);
}
const listed = (await client.listRuns({ limit: 10 })).map((r) => r.runId);
const inProcess = await startServer({ dataDir, port: 0, onNotice: () => {} });
const health = await inProcess.client().health();
await inProcess.close();
console.log(JSON.stringify({ runId: run.runId, value, failure, listed, health }));
`;

const TSCONFIG = (typeRoots: string) =>
  JSON.stringify({
    compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true, types: ["node"], typeRoots: [typeRoots] },
    include: ["flows.ts", "misuse.ts"],
  });

describe("the packed package, installed into a project outside the clone", () => {
  const dirs: string[] = [];
  const started: ChildProcess[] = [];
  let app: string;

  const tempDir = async (prefix: string) => {
    const d = await mkdtemp(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };

  /** `npx tributary ...args` in the project, in a process group of its own (npx runs the bin as a child). */
  const npx = (args: string[]): ChildProcess => {
    const child = spawn("npx", ["tributary", ...args], { cwd: app, env: userEnv(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
    started.push(child);
    return child;
  };

  beforeAll(async () => {
    const packs = await tempDir("trib-pack-");
    const packed = await run("npm", ["pack", "--pack-destination", packs], ROOT);
    expect(packed.code, packed.stderr).toBe(0);
    const [tgz] = (await readdir(packs)).filter((f) => f.endsWith(".tgz"));
    app = await tempDir("trib-app-");
    await writeFile(join(app, "package.json"), JSON.stringify({ name: "user-app", private: true, type: "module" }));
    const installed = await run("npm", ["install", join(packs, tgz!), "--prefer-offline", "--no-audit", "--no-fund"], app);
    expect(installed.code, installed.stderr).toBe(0);
    await writeFile(join(app, "flows.ts"), FLOWS);
    await writeFile(join(app, "misuse.ts"), MISUSE);
    await writeFile(join(app, "app.mjs"), APP);
    await writeFile(join(app, "tsconfig.json"), TSCONFIG(join(ROOT, "node_modules/@types")));
  }, 120_000);

  afterAll(async () => {
    for (const c of started) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((r) => c.once("exit", r));
      try {
        process.kill(-c.pid!, "SIGTERM");
      } catch {
        continue;
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (c.exitCode === null && c.signalCode === null) process.kill(-c.pid!, "SIGKILL");
    }
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("holds built JavaScript and its .d.ts, no TypeScript sources", () => {
    const pkg = join(app, "node_modules/tributary");
    for (const f of ["dist/src/index.js", "dist/src/index.d.ts", "dist/src/client/index.d.ts", "dist/src/server.d.ts", "bin/tributary.mjs", "dist/src/cli/main.js", "dist/src/agent/worker-boot.mjs", "dist/studio/index.html"]) {
      expect(existsSync(join(pkg, f)), f).toBe(true);
    }
    expect(existsSync(join(pkg, "src"))).toBe(false);
  });

  it("npx tributary --version prints the package's version", async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(await run("npx", ["tributary", "--version"], app)).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  }, 30_000);

  it("the user's flows.ts type-checks against the package's types, and misuses of them do not", async () => {
    const tsc = await run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "."], app);
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.code).toBe(0);
  }, 60_000);

  it("runs a workflow of the user's TypeScript on the installed bin, and an application awaits runs through tributary/client", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = npx(["server", "--port", String(port), "--data", await tempDir("trib-app-data-")]);
    await waitForOutput(server, /listening on/, 30_000);
    // The installed server serves Studio from the package's dist/studio/.
    const studio = await fetch(`${url}/projects/default`);
    expect([studio.status, studio.headers.get("content-type")]).toEqual([200, "text/html; charset=utf-8"]);
    expect(await studio.text()).toMatch(/<script type="module" src="\/assets\/app-[A-Z0-9]+\.js">/);
    const agent = npx(["agent", "./flows.ts", "--server", url]);
    await waitForOutput(agent, /connected/, 30_000);

    const ns = [2, 3, 4];
    const expected = ns.reduce((sum, n) => sum + n * n, 0);
    const submitted = await run("npx", ["tributary", "submit", "flows:sum_of_squares", "--arg", JSON.stringify(ns), "--wait", "--server", url], app);
    expect(submitted.stderr).toMatch(/waiting/);
    expect(submitted).toMatchObject({ code: 0, stdout: `${expected}\n` });

    const used = await run(process.execPath, ["app.mjs", url, JSON.stringify([...ns, 5]), await tempDir("trib-app-inproc-")], app);
    expect(used.stderr).toBe("");
    const out = JSON.parse(used.stdout) as { runId: string; value: number; failure: unknown; listed: string[]; health: { ok: boolean } };
    expect(out.value).toBe(expected + 25);
    expect(out.failure).toEqual({ status: "failed", type: "RangeError", message: "no reason" });
    expect(out.listed).toContain(out.runId);
    expect(out.health).toMatchObject({ ok: true, log: "embedded" });
  }, 60_000);
});
