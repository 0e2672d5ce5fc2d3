/** Assets as values (encoding, decoding), the SDK's persist/restore arguments, and the protocol's asset messages. */
import { beforeAll, describe, expect, it } from "vitest";
import { Asset, AssetIntegrityError, InvalidValueError, OutsideExecutionError, context, persist, restore } from "../../src/index.js";
import { isAssetLike, isAssetRef } from "../../src/agent/asset.js";
import { blobBaseUrl } from "../../src/agent/blob-client.js";
import { loadServerMessageCheck, parseServerMessage } from "../../src/agent/connection.js";
import { runInExecution, type ExecutionHost, type HostPersistOptions, type HostReply } from "../../src/agent/context.js";
import { Handle } from "../../src/agent/handle.js";
import { ASSET_TAG, decodeMessage, encodeMessage, HANDLE_TAG, type AssetRef } from "../../src/protocol/messages.js";
import { DEFAULT_MAX_ASSET_BYTES, validateAgentOptions } from "../../src/agent/runtime-options.js";
import { decodeValue, finishValue, prepareArguments, prepareResult, prepareValue } from "../../src/agent/values.js";
import { defaultWorkdirRoot, workdirOf } from "../../src/agent/workdir.js";

const H = (c: string): string => c.repeat(64);
const ref: AssetRef = {
  assetId: "A1",
  name: "model",
  env: "prod",
  entries: [
    { path: "model/weights.bin", size: 1000, sha256: H("a") },
    { path: "model/empty", size: 0, sha256: H("b") },
    { path: "README", size: 24, sha256: H("c") },
  ],
  metadata: { epochs: 3, when: new Date(7) },
};

describe("Asset", () => {
  it("shows its id, name, env, entries and total size without downloading anything, and is frozen", () => {
    const a = new Asset(ref);
    expect(a).toMatchObject({ assetId: "A1", name: "model", env: "prod", size: 1024, metadata: { epochs: 3, when: new Date(7) } });
    expect(a.entries.map((e) => [e.path, e.size])).toEqual([
      ["model/weights.bin", 1000],
      ["model/empty", 0],
      ["README", 24],
    ]);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.entries)).toBe(true);
    expect(a.ref).toEqual(ref);
    expect(JSON.parse(JSON.stringify({ a }))).toEqual({ a: { [ASSET_TAG]: { ...ref, metadata: { epochs: 3, when: "1970-01-01T00:00:00.007Z" } } } });
  });

  it("is made from well-formed references only", () => {
    expect(() => new Asset({ ...ref, entries: [{ path: "x", size: -1, sha256: H("a") }] })).toThrow(TypeError);
    expect(isAssetRef({ ...ref, entries: [{ path: "x", size: 1, sha256: "sha256:abc" }] })).toBe(false);
    expect(isAssetRef({ ...ref, assetId: "" })).toBe(false);
    expect(isAssetRef({ assetId: "A", env: "e", entries: [] })).toBe(true);
    expect(isAssetLike({ ref })).toBe(false);
  });
});

describe("assets in values", () => {
  it("are encoded as tagged references, at any depth, next to handles", async () => {
    const a = new Asset(ref);
    const h = new Handle<number>({ runId: "r", stepId: "s", executionId: "e" }, undefined);
    const p = prepareValue({ out: [a, { again: a }], h }, "result");
    expect(p.handles).toHaveLength(1);
    expect(await finishValue(p)).toEqual({ out: [{ [ASSET_TAG]: ref }, { again: { [ASSET_TAG]: ref } }], h: { [HANDLE_TAG]: { runId: "r", stepId: "s", executionId: "e" } } });
    expect(prepareResult(a).value).toEqual({ [ASSET_TAG]: ref });
    expect(prepareArguments([a, 1], "task").value).toEqual([{ [ASSET_TAG]: ref }, 1]);
  });

  it("are decoded back into Assets, after a trip through the wire codec", () => {
    const wire = decodeMessage(encodeMessage({ type: "succeeded", executionId: "e", value: { list: [{ [ASSET_TAG]: ref }] } as never }));
    const decoded = decodeValue(wire?.["value"], () => "handle") as { list: Asset[] };
    const a = decoded.list[0];
    expect(a).toBeInstanceOf(Asset);
    expect(a?.ref).toEqual(ref);
    expect(a?.size).toBe(1024);
  });

  it("leaves a malformed tag as it is", () => {
    const bad = { [ASSET_TAG]: { assetId: "A", env: "e", entries: "nope" } };
    expect(decodeValue(bad, () => "handle")).toEqual(bad);
    expect(decodeValue({ [ASSET_TAG]: ref, extra: 1 }, () => "handle")).toEqual({ [ASSET_TAG]: ref, extra: 1 });
  });

  it("reserve their tag: a plain object cannot carry it", () => {
    expect(() => prepareValue({ x: { [ASSET_TAG]: ref } }, "argument 0")).toThrow(new InvalidValueError(`argument 0 .x: the key "${ASSET_TAG}" cannot be passed (it is reserved for assets)`, "argument 0 .x"));
  });
});

describe("persist() and restore() in task code", () => {
  class AssetHost implements ExecutionHost {
    readonly info = { runId: "r", stepId: "s", executionId: "e", attempt: 1, target: { repository: "x", target: "t" } };
    readonly signal = new AbortController().signal;
    readonly workdir = "/tmp/wd";
    readonly calls: unknown[][] = [];
    readonly tracked: Promise<unknown>[] = [];
    async request(): Promise<HostReply> {
      throw new Error("no requests here");
    }
    async persist(paths: readonly string[], options: HostPersistOptions): Promise<AssetRef> {
      this.calls.push(["persist", paths, options]);
      return ref;
    }
    async restore(asset: AssetRef, options: { to?: string }): Promise<string[]> {
      this.calls.push(["restore", asset.assetId, options]);
      return asset.entries.map((e) => `${this.workdir}/${options.to ?? ""}${e.path}`);
    }
    log(): void {}
    track(work: Promise<unknown>): void {
      this.tracked.push(work);
    }
  }
  const rejection = async (p: () => Promise<unknown>): Promise<Error> => {
    try {
      await p();
    } catch (e) {
      return e as Error;
    }
    throw new Error("resolved");
  };

  it("persist returns an Asset, with checked options, and the execution waits for it", async () => {
    const host = new AssetHost();
    const a = await runInExecution(host, () => persist(["out", "b.txt"], { name: "n", metadata: { k: [1, new Date(2)], gone: undefined } }));
    expect(a).toBeInstanceOf(Asset);
    expect(a.assetId).toBe("A1");
    expect(host.calls).toEqual([["persist", ["out", "b.txt"], { name: "n", metadata: { k: [1, new Date(2)] } }]]);
    expect(host.tracked).toHaveLength(1);
    const viaContext = await runInExecution(host, () => context().persist("one"));
    expect(viaContext.assetId).toBe("A1");
    expect(host.calls[1]).toEqual(["persist", ["one"], {}]);
    expect(runInExecution(host, () => context().workdir)).toBe("/tmp/wd");
  });

  it("restore takes an Asset (received or persisted), returns the paths", async () => {
    const host = new AssetHost();
    const a = decodeValue({ [ASSET_TAG]: ref }, () => undefined) as Asset;
    expect(await runInExecution(host, () => restore(a, { to: "in/" }))).toEqual(["/tmp/wd/in/model/weights.bin", "/tmp/wd/in/model/empty", "/tmp/wd/in/README"]);
    expect(host.calls).toEqual([["restore", "A1", { to: "in/" }]]);
  });

  it.each([
    ["persist(): expected a path or an array of paths, got 42", () => persist(42 as never)],
    ["persist(): expected a path or an array of paths, got an array", () => persist([])],
    ["persist(): every path must be a non-empty string, got \"\"", () => persist(["a", ""])],
    ["persist(): unknown option nam (known: name, metadata)", () => persist("a", { nam: "x" } as never)],
    ["persist(): name must be a string of 1 to 256 characters, got 3", () => persist("a", { name: 3 as never })],
    ["persist(): metadata must be an object, got an array", () => persist("a", { metadata: [] as never })],
    ["persist() metadata .m: a Map cannot be passed (arguments and results must be JSON values, Date, Uint8Array, bigint, handles or assets)", () => persist("a", { metadata: { m: new Map() } })],
    ["persist() metadata: a handle cannot be stored in an asset's metadata", () => persist("a", { metadata: { h: new Handle({ runId: "r", stepId: "s", executionId: "e" }, undefined) } })],
    ["restore(): expected an Asset (returned by persist(), or received as an argument or a result), got an object (Object)", () => restore({ [ASSET_TAG]: ref } as never)],
    ["restore(): to must be a non-empty path, got \"\"", () => restore(new Asset(ref), { to: "" })],
    ["restore(): unknown option dir (known: to)", () => restore(new Asset(ref), { dir: "x" } as never)],
  ])("refuses bad arguments: %s", async (message, call: () => Promise<unknown>) => {
    const host = new AssetHost();
    const err = await rejection(() => runInExecution(host, call));
    expect(err.message).toBe(message);
    expect(host.calls).toEqual([]);
  });

  it("throws outside an execution", () => {
    expect(() => persist("a")).toThrow(OutsideExecutionError);
    expect(() => restore(new Asset(ref))).toThrow(OutsideExecutionError);
  });

  it("names the asset and the entry in an integrity error", () => {
    const e = new AssetIntegrityError("A1", "model/weights.bin", "blob sha256:aa is missing on the server");
    expect(e.message).toBe("asset A1: entry model/weights.bin: blob sha256:aa is missing on the server");
    expect([e.name, e.assetId, e.path]).toEqual(["AssetIntegrityError", "A1", "model/weights.bin"]);
  });
});

describe("the protocol's asset replies", () => {
  beforeAll(() => loadServerMessageCheck());
  it("accepts persisted and restored with a well-formed asset, and nothing else", () => {
    for (const type of ["persisted", "restored"] as const) {
      expect(parseServerMessage(encodeMessage({ type, requestId: 3, asset: ref }))).toEqual({ type, requestId: 3, asset: ref });
      expect(parseServerMessage(encodeMessage({ type, requestId: 3, asset: { ...ref, entries: [{ path: "x" }] } } as never))).toMatch(/^malformed/);
      expect(parseServerMessage(encodeMessage({ type, asset: ref } as never))).toMatch(/^malformed/);
    }
  });
});

describe("agent options and paths for assets", () => {
  it("defaults maxAssetBytes to 8 GiB, workdirs to <tmp>/tributary-agent-<pid>, removed", () => {
    const o = validateAgentOptions({ server: "http://x", modules: ["m.ts"] });
    expect(o.maxAssetBytes).toBe(8 * 1024 ** 3);
    expect(DEFAULT_MAX_ASSET_BYTES).toBe(8 * 1024 ** 3);
    expect(o.workdirRoot).toBe(defaultWorkdirRoot());
    expect(defaultWorkdirRoot()).toMatch(new RegExp(`tributary-agent-${process.pid}$`));
    expect(o.keepWorkdirs).toBe(false);
    expect(validateAgentOptions({ server: "http://x", modules: ["m.ts"], cwd: "/srv", workdirRoot: "wd" }).workdirRoot).toBe("/srv/wd");
  });

  it.each([
    [{ maxAssetBytes: 0 }, "startAgent: maxAssetBytes must be a positive integer (bytes), got 0"],
    [{ maxAssetBytes: 1.5 }, "startAgent: maxAssetBytes must be a positive integer (bytes), got 1.5"],
    [{ keepWorkdirs: "yes" }, "startAgent: keepWorkdirs must be a boolean"],
    [{ workdirRoot: "" }, "startAgent: workdirRoot must be a non-empty path"],
  ])("refuses %j", (extra, message) => {
    expect(() => validateAgentOptions({ server: "http://x", modules: ["m.ts"], ...(extra as object) })).toThrow(message);
  });

  it("names an execution's directory after its id, or a hash of an id that is not a plain name", () => {
    expect(workdirOf("/r", "01HX-abc_9")).toBe("/r/01HX-abc_9");
    expect(workdirOf("/r", "../../etc")).toMatch(/^\/r\/x-[0-9a-f]{32}$/);
    expect(workdirOf("/r", ".")).toMatch(/^\/r\/x-[0-9a-f]{32}$/);
  });

  it("finds an environment's blob API under the server's URL", () => {
    const scope = { project: "shop", env: "dev-alice" };
    expect(blobBaseUrl("http://127.0.0.1:7777", scope)).toBe("http://127.0.0.1:7777/api/projects/shop/envs/dev-alice/blobs");
    expect(blobBaseUrl("http://h:1/", scope)).toBe("http://h:1/api/projects/shop/envs/dev-alice/blobs");
    expect(blobBaseUrl("ws://h:1/agent", scope)).toBe("http://h:1/api/projects/shop/envs/dev-alice/blobs");
    expect(blobBaseUrl("wss://h/prefix/agent?x=1", scope)).toBe("https://h/prefix/api/projects/shop/envs/dev-alice/blobs");
    expect(() => blobBaseUrl("ftp://h", scope)).toThrow("server: expected an http(s):// or ws(s):// URL, got ftp://h");
  });
});
