import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { arityOf, loadRepositories, parameterLists, manifestOf, ModuleLoadError, parseParameterSource, parseParameters } from "../../src/agent/modules.js";

const fixtures = fileURLToPath(new URL("../agent/fixtures/", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));

const loadError = async (paths: string[]): Promise<ModuleLoadError> => {
  const e = await loadRepositories(paths, fixtures).then(() => undefined, (err: unknown) => err);
  if (e instanceof ModuleLoadError) return e;
  throw new Error(`expected a ModuleLoadError, got ${String(e)}`);
};

describe("loading repositories", () => {
  it("makes a repository of each module, named after the file or its exported name, TypeScript or JavaScript", async () => {
    const repos = await loadRepositories(["basic.ts", "named.ts", "plain.mjs"], fixtures);
    expect(repos.map((r) => r.repository)).toEqual(["basic", "custom_name", "plain"]);
    expect([...(repos[1]?.targets.keys() ?? [])]).toEqual(["double", "flow"]);
    expect(repos[0]?.targets.get("echo")?.repository).toBe("basic");
  });

  it("reports manifests: targets, kinds, parameters and options", async () => {
    const [named, plain] = await loadRepositories(["named.ts", "plain.mjs"], fixtures);
    if (named === undefined || plain === undefined) throw new Error("not loaded");
    expect(manifestOf(named)).toEqual({
      repository: "custom_name",
      targets: [
        { name: "double", kind: "task", parameters: [{ name: "x" }], options: { timeoutMs: 500, requires: { gpu: ["yes"], region: ["eu", "us"] } }, codeHash: expect.stringMatching(/^[0-9a-f]{16}$/), arity: { min: 1, max: 1 } },
        {
          name: "flow",
          kind: "workflow",
          parameters: [{ name: "input" }, { name: "scale", default: "2" }, { name: "...rest" }],
          options: { retries: { limit: 1, delayMs: 1000, factor: 2, maxDelayMs: 60_000 }, cache: { maxAgeMs: 1000 }, memo: true },
          codeHash: expect.stringMatching(/^[0-9a-f]{16}$/),
          arity: { min: 1 },
        },
      ],
    });
    expect(manifestOf(plain).targets[0]?.parameters).toEqual([{ name: "text" }, { name: "times", default: "1" }]);
    // The code hash is of the code: different functions, different hashes; the same function, the same hash.
    const [a, b] = manifestOf(named).targets.map((t) => t.codeHash);
    expect(a).not.toBe(b);
    const [again] = await loadRepositories(["named.ts"], fixtures);
    expect(manifestOf(again!).targets[0]!.codeHash).toBe(a);
  });

  it("loads the example repository of the README", async () => {
    const [orders] = await loadRepositories(["examples/orders.ts"], root);
    const m = orders && manifestOf(orders);
    expect(m?.repository).toBe("orders");
    expect(m?.targets.map((t) => [t.name, t.kind])).toEqual([
      ["charge", "task"],
      ["format_total", "task"],
      ["summarize", "task"],
      ["process_orders", "workflow"],
    ]);
    expect(m?.targets.find((t) => t.name === "process_orders")?.parameters).toEqual([{ name: "orders" }]);
  });

  it.each([
    [["empty.ts"], "empty.ts: the module exports no task or workflow"],
    [["broken.ts"], "this module fails to load"],
    [["missing.ts"], "cannot load module"],
    [["duplicate.ts"], 'two different targets are named "same"'],
    [["basic.ts", "./basic.ts"], 'repository "basic" is already loaded'],
  ])("refuses %j", async (paths, message) => {
    const e = await loadError(paths);
    expect(e.message).toContain(message);
    expect(e.path).toContain("/test/agent/fixtures/");
  });
});

describe("parameter names from a function's source", () => {
  it.each([
    ["async(order,b=5,...rest)=>order", ["order", "b=5", "...rest"]],
    ["x => x", ["x"]],
    ["async x=>x", ["x"]],
    ["function named(a, { b, c } = {}, [d] = [1, 2], e = 'x,y', f = (g) => g) {}", ["a", "{ b, c }={}", "[d]=[1, 2]", "e='x,y'", "f=(g) => g"]],
    ["(/* first */ a, // second\n b = \"//not a comment\") => a", ["a", 'b="//not a comment"']],
    ["(a: number, b: Map<string, number> = new Map()) => a", ["a: number", "b: Map<string, number>=new Map()"]],
    ["() => 1", []],
  ])("reads %s", (src, expected) => {
    const shown = parseParameterSource(src).map(
      (p) => `${p.name}${p.annotation ? `: ${p.annotation}` : ""}${p.default !== undefined ? `=${p.default}` : ""}`,
    );
    expect(shown).toEqual(expected);
  });

  it("reads a real function", () => {
    expect(parseParameters(function sum(a: number, b = 2) {
      return a + b;
    })).toEqual([{ name: "a" }, { name: "b", default: "2" }]);
  });
});

describe("how many arguments a target takes", () => {
  it.each([
    ["(a, b) => a", { min: 2, max: 2 }],
    ["() => 1", { min: 0, max: 0 }],
    ["x => x", { min: 1, max: 1 }],
    ["(a, b = 2) => a", { min: 1, max: 2 }],
    ["(a, b = 2, c) => a", { min: 3, max: 3 }],
    ["(a, ...rest) => a", { min: 1 }],
    ["function (a) { return arguments[1]; }", { min: 1 }],
    ["(a: number, b?: string) => a", { min: 1, max: 2 }],
  ])("%s takes %j", (src, expected) => {
    expect(arityOf(src)).toEqual(expected);
  });

  it("a TypeScript `x?: T`, erased from the loaded code, is found optional in the module's source", () => {
    const original = parameterLists("export const f = task('f', async (order: number, note?: string): Promise<number> => order); // f(order, note)");
    expect(arityOf("async (order, note) => order")).toEqual({ min: 2, max: 2 });
    expect(arityOf("async (order, note) => order", () => original)).toEqual({ min: 1, max: 2 });
  });

  it("a parameter list it cannot read gives no arity (any count is accepted)", () => {
    expect(arityOf("not a function")).toBeUndefined();
  });

  it("an agent reports a TypeScript fixture's optional parameter as optional", async () => {
    const [reuse] = await loadRepositories(["test/e2e/fixtures/reuse.ts"], root);
    expect(manifestOf(reuse!).targets.find((t) => t.name === "cache_flow")?.arity).toEqual({ min: 1, max: 2 });
  });
});
