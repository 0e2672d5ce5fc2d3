/**
 * Seeded mutations of recorded frames and request bodies: field deletions,
 * type swaps, huge strings and arrays, deep nesting, wrong tags, unknown and
 * prototype-shaped keys, and (on the encoded bytes) bit flips and
 * truncations. Pure apart from the seeded random source.
 */
import { ASSET_TAG, HANDLE_TAG } from "../../src/protocol/messages.js";
import { packValue } from "../../src/events/codec.js";
import type { Random } from "../support/prng.js";

type Json = unknown;

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);

/** Paths to every node of a value (objects and arrays, not into bytes or dates). */
const paths = (v: Json, at: (string | number)[] = [], out: (string | number)[][] = [], depth = 0): (string | number)[][] => {
  out.push(at);
  if (depth > 12 || out.length > 2000) return out;
  if (Array.isArray(v)) v.slice(0, 50).forEach((x, i) => paths(x, [...at, i], out, depth + 1));
  else if (isObj(v)) for (const k of Object.keys(v)) paths(v[k], [...at, k], out, depth + 1);
  return out;
};

const clone = (v: Json): Json => {
  if (Array.isArray(v)) return v.map(clone);
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (v instanceof Date) return new Date(v.getTime());
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  return v;
};

const setAt = (root: Json, path: (string | number)[], f: (old: Json) => Json | typeof DELETE): Json => {
  if (path.length === 0) {
    const r = f(root);
    return r === DELETE ? {} : r;
  }
  let node = root as Record<string | number, Json>;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  const r = f(node[last]);
  if (r === DELETE) {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
  } else node[last] = r;
  return root;
};
const DELETE = Symbol("delete");

/** A random value of any type the codec carries, and some it would rather not. */
export const randomValue = (r: Random, depth = 0): Json => {
  switch (r.int(0, 17)) {
    case 0:
      return r.pick(["", "soon", "x".repeat(r.int(1, 300)), "é🙂\u0000", "__proto__", "constructor", "../../etc", "a.b", "*", ">"]);
    case 1:
      return r.pick([0, -1, 1, 2 ** 53, -(2 ** 31), 1.5, 1e308, Number.MAX_SAFE_INTEGER + 2]);
    case 2:
      return r.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0]);
    case 3:
      return r.pick([0n, -1n, 2n ** 64n, 2n ** 70n]);
    case 4:
      return r.chance(0.5);
    case 5:
      return null;
    case 6:
      return undefined;
    case 7:
      return new Date(r.pick([0, 1_700_000_000_000, -1e15, 8.64e15]));
    case 8:
      return r.bytes(r.int(0, 64));
    case 9:
      return depth > 3 ? [] : Array.from({ length: r.int(0, 4) }, () => randomValue(r, depth + 1));
    case 10:
      return depth > 3 ? {} : Object.fromEntries(Array.from({ length: r.int(0, 4) }, (_, i) => [r.pick(["a", "type", "value", `k${i}`]), randomValue(r, depth + 1)]));
    case 11:
      return { [HANDLE_TAG]: r.chance(0.5) ? { runId: r.hex(8), stepId: "1", executionId: r.hex(8) } : randomValue(r, depth + 1) };
    case 12:
      return { [ASSET_TAG]: r.chance(0.5) ? { assetId: r.hex(8), env: "production", entries: [] } : randomValue(r, depth + 1) };
    case 13:
      return { $date: r.pick(["2025-01-01T00:00:00Z", "never", 5]) };
    case 14:
      return { $bigint: r.pick(["12", "x", "1e5"]) };
    case 15:
      return { $bytes: r.pick(["AAEC", "!!!", ""]) };
    case 16:
      return r.pick(["workflow", "task", "debug", "succeeded", "hello"]);
    default:
      return r.int(-5, 5);
  }
};

/** Arrays nested `depth` deep, as msgpack bytes (built by hand: the encoder would recurse). */
export const deepBytes = (depth: number, inObjectKey?: string): Uint8Array => {
  const head = inObjectKey === undefined ? [] : [...packValue({ [inObjectKey]: null }).slice(0, -1)];
  return new Uint8Array([...head, ...new Array<number>(depth).fill(0x91), 0xc0]);
};

export type Mutation =
  | "delete"
  | "swap"
  | "huge-string"
  | "huge-array"
  | "deep"
  | "wrong-tag"
  | "unknown-field"
  | "proto-key"
  | "retype"
  | "bit-flip"
  | "truncate"
  | "random-bytes"
  | "text-frame"
  | "none";

/** One mutated frame: its bytes (or text) and what was done. */
export interface Mutant {
  readonly mutation: Mutation;
  readonly bytes: Uint8Array;
  readonly text?: boolean;
}

const MUTATIONS: readonly Mutation[] = [
  "delete", "delete", "swap", "swap", "swap", "huge-string", "huge-array", "deep", "wrong-tag",
  "unknown-field", "proto-key", "retype", "bit-flip", "bit-flip", "truncate", "random-bytes", "text-frame", "none",
];

/** Mutates a decoded frame (or any JSON-like value) once or a few times. */
export const mutateValue = (r: Random, original: Json, types: readonly string[] = []): { value: Json; mutation: Mutation } => {
  let value = clone(original);
  let mutation: Mutation = "none";
  for (let n = r.int(1, 3); n > 0; n--) {
    const all = paths(value);
    const path = r.pick(all);
    const m = r.pick(MUTATIONS.filter((x) => !["bit-flip", "truncate", "random-bytes", "text-frame", "deep"].includes(x)));
    mutation = m;
    switch (m) {
      case "delete":
        if (path.length > 0) value = setAt(value, path, () => DELETE);
        break;
      case "swap":
        value = setAt(value, path, () => randomValue(r));
        break;
      case "huge-string":
        value = setAt(value, path, () => "x".repeat(r.pick([70_000, 300_000, 1_200_000])));
        break;
      case "huge-array":
        value = setAt(value, path, () => new Array<number>(r.pick([10_000, 120_000])).fill(1));
        break;
      case "wrong-tag":
        value = setAt(value, path, () => r.pick([{ [HANDLE_TAG]: randomValue(r) }, { [ASSET_TAG]: randomValue(r) }, { [HANDLE_TAG]: { runId: "x" }, extra: 1 }]));
        break;
      case "unknown-field":
        value = setAt(value, path, (old) => (isObj(old) ? { ...old, [r.pick(["extra", "zz", "type2"])]: randomValue(r) } : old));
        break;
      case "proto-key":
        value = setAt(value, path, (old) => {
          if (!isObj(old)) return old;
          const o = { ...old };
          Object.defineProperty(o, r.pick(["__proto__", "constructor", "prototype", "hasOwnProperty"]), { value: randomValue(r), enumerable: true, writable: true, configurable: true });
          return o;
        });
        break;
      case "retype":
        if (isObj(value)) value = { ...value, type: types.length ? r.pick([...types, "x", ""]) : "x" };
        break;
      default:
        break;
    }
  }
  return { value, mutation };
};

/** A mutant frame of `original` (a decoded agent message), encoded. */
export const mutateFrame = (r: Random, original: Json, types: readonly string[]): Mutant => {
  const m = r.pick(MUTATIONS);
  const enc = (v: Json): Uint8Array => {
    try {
      return packValue(v);
    } catch {
      return packValue({ type: "x" });
    }
  };
  switch (m) {
    case "bit-flip": {
      const b = enc(original);
      for (let i = r.int(1, 4); i > 0; i--) b[r.int(0, b.length - 1)]! ^= 1 << r.int(0, 7);
      return { mutation: m, bytes: b };
    }
    case "truncate": {
      const b = enc(original);
      return { mutation: m, bytes: b.slice(0, r.int(0, Math.max(0, b.length - 1))) };
    }
    case "random-bytes":
      return { mutation: m, bytes: r.bytes(r.int(0, 200)) };
    case "text-frame":
      return { mutation: m, bytes: enc(original), text: true };
    case "deep": {
      if (r.chance(0.5)) return { mutation: m, bytes: deepBytes(r.pick([200, 5_000, 100_000])) };
      // A real frame whose value field (last in the map) is nested very deep.
      const o = { ...(original as Record<string, unknown>) };
      const key = "arguments" in o ? "arguments" : "metadata" in o ? "metadata" : "value";
      delete o[key];
      o[key] = null;
      const b = enc(o);
      return { mutation: m, bytes: new Uint8Array([...b.slice(0, -1), ...deepBytes(r.pick([150, 3_000, 50_000])).slice(0, -1), 0xc0]) };
    }
    case "none":
      return { mutation: m, bytes: enc(original) };
    default: {
      const { value, mutation } = mutateValue(r, original, types);
      return { mutation, bytes: enc(value) };
    }
  }
};
