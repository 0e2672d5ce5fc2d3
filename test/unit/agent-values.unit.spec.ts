import { describe, expect, it } from "vitest";
import { InvalidValueError } from "../../src/index.js";
import { Handle } from "../../src/agent/handle.js";
import { decodeMessage, encodeMessage, HANDLE_TAG } from "../../src/protocol/messages.js";
import { decodeValue, finishValue, prepareArguments, prepareResult, prepareValue } from "../../src/agent/values.js";

const error = (f: () => unknown): InvalidValueError => {
  try {
    f();
  } catch (e) {
    if (e instanceof InvalidValueError) return e;
    throw e;
  }
  throw new Error("no error");
};

class Point {
  constructor(readonly x: number) {}
}

describe("values that cross a call", () => {
  it("accepts JSON values, NaN, Date, Uint8Array and bigint, and drops undefined properties", async () => {
    const v = { a: [1, "x", true, null], n: Number.NaN, d: new Date(5), b: new Uint8Array([1, 2]), big: 2n ** 70n, gone: undefined, o: Object.create(null) as object };
    const out = await finishValue(prepareValue(v, "argument 0"));
    expect(out).toEqual({ a: [1, "x", true, null], n: Number.NaN, d: new Date(5), b: new Uint8Array([1, 2]), big: 2n ** 70n, o: {} });
    expect("gone" in (out as object)).toBe(false);
  });

  it("accepts a value shared in two places (it is copied), not a cycle", () => {
    const shared = { k: 1 };
    expect(prepareValue([shared, shared], "result").value).toEqual([{ k: 1 }, { k: 1 }]);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic["self"] = { again: cyclic };
    expect(error(() => prepareValue(cyclic, "result")).message).toBe("result .self.again: a cycle (the value contains itself) cannot be passed");
  });

  it.each([
    ["argument 0 .items[2]: a Map cannot be passed", { items: [1, 2, new Map()] }],
    ["argument 0 .f: a function cannot be passed", { f: () => 1 }],
    ["argument 0 [0]: a symbol cannot be passed", [Symbol("s")]],
    ["argument 0 .p: an instance of class Point cannot be passed", { p: new Point(1) }],
    ["argument 0: a Set cannot be passed", new Set([1])],
    ["argument 0 .later: a Promise cannot be passed (await it first)", { later: Promise.resolve(1) }],
    ['argument 0 ["odd key"]: a Float32Array cannot be passed (use a Uint8Array)', { "odd key": new Float32Array(1) }],
    ["argument 0 [1]: undefined cannot be passed (use null)", [1, undefined]],
    ["argument 0 [1]: a hole in an array cannot be passed", [1, , 3]],
    [`argument 0: the key "${HANDLE_TAG}" cannot be passed (it is reserved for handles)`, { [HANDLE_TAG]: 1 }],
    ["argument 0: an invalid Date cannot be passed", new Date(Number.NaN)],
    ["argument 0: an Error cannot be passed", new Error("e")],
  ])("refuses: %s", (message, value) => {
    const e = error(() => prepareValue(value, "argument 0"));
    expect(e.message.startsWith(message)).toBe(true);
    expect(e).toBeInstanceOf(TypeError);
  });

  it("names the callee and the argument", () => {
    const e = error(() => prepareArguments([1, { items: [0, 0, new Map()] }], 'task "charge"'));
    expect(e.message).toMatch(/^task "charge": argument 1 \.items\[2\]: a Map cannot be passed/);
    expect(e.path).toBe("argument 1 .items[2]");
  });

  it("drops trailing undefined arguments but refuses one in the middle", () => {
    expect(prepareArguments([1, undefined, undefined], "t").value).toEqual([1]);
    expect(error(() => prepareArguments([undefined, 1], "t")).message).toBe("t: argument 0: undefined cannot be passed (use null)");
  });

  it("turns an undefined result into null", () => {
    expect(prepareResult(undefined).value).toBeNull();
  });

  it("encodes handles as tagged references and decodes them into live handles, through msgpack", async () => {
    const ref = { runId: "r", stepId: "s", executionId: "e" };
    const pending = new Handle<number>(Promise.resolve(ref), undefined);
    const encoded = await finishValue(prepareValue({ h: pending, list: [new Handle<number>(ref, undefined)] }, "result"));
    expect(encoded).toEqual({ h: { [HANDLE_TAG]: ref }, list: [{ [HANDLE_TAG]: ref }] });

    const wire = decodeMessage(encodeMessage({ type: "succeeded", executionId: "x", value: encoded }));
    const decoded = decodeValue(wire?.["value"], (r) => new Handle<unknown>(r, undefined)) as { h: Handle<number>; list: Handle<number>[] };
    expect(decoded.h).toBeInstanceOf(Handle);
    expect(decoded.h.knownRef()).toEqual(ref);
    expect(decoded.list[0]?.knownRef()).toEqual(ref);
  });

  it("leaves a malformed handle tag as plain data", () => {
    const v = { [HANDLE_TAG]: { runId: 1 } };
    expect(decodeValue(v, () => "handle")).toEqual(v);
  });
});
