/**
 * Arguments and results: what may cross a call, checked at the call site,
 * and the handles inside them encoded as `{ [HANDLE_TAG]: HandleRef }` and
 * decoded back into live handles; assets likewise as
 * `{ [ASSET_TAG]: AssetRef }`, decoded back into {@link Asset}s.
 *
 * Allowed: JSON values (`NaN` and `Infinity` included), `Date`, `Uint8Array`,
 * `bigint`, handles and assets, nested to any depth. Object properties whose value is
 * `undefined` are dropped, as `JSON.stringify` does; `undefined` anywhere else
 * is refused. Shared sub-values are copied; cycles are refused.
 */
import type { Value } from "../events/index.js";
import { ASSET_TAG, HANDLE_TAG, isAssetValue, isHandleValue, type HandleRef } from "../protocol/messages.js";
import { InvalidValueError } from "./errors.js";
import { Asset, isAssetLike, isAssetRef } from "./asset.js";

/** Brand of live handles; a symbol from the global registry, so that two copies of the SDK agree. */
export const HANDLE_BRAND: unique symbol = Symbol.for("tributary.handle") as never;

/** What the value checker needs of a live handle. */
export interface HandleLike {
  readonly [HANDLE_BRAND]: true;
  /** The handle's reference, waiting for the server's `submitted` reply if needed. */
  ref(): Promise<HandleRef>;
  /** The reference if already known. */
  knownRef(): HandleRef | undefined;
}

export const isHandleLike = (v: unknown): v is HandleLike =>
  typeof v === "object" && v !== null && (v as { [HANDLE_BRAND]?: unknown })[HANDLE_BRAND] === true;

/** A checked value: a {@link Value} that may still hold live handles. */
export interface Prepared {
  readonly value: unknown;
  readonly handles: readonly HandleLike[];
}

const HINT = "(arguments and results must be JSON values, Date, Uint8Array, bigint, handles or assets)";

/**
 * Checks `value` and copies it into a plain value, keeping live handles.
 * Throws {@link InvalidValueError} naming the path, e.g.
 * `argument 0 .items[2]: a Map cannot be passed`.
 *
 * @param where how the value is named in messages: `argument 0`, `result`.
 */
export const prepareValue = (value: unknown, where: string): Prepared => {
  const handles: HandleLike[] = [];
  const ancestors = new Set<object>();
  const walk = (v: unknown, path: string): unknown => {
    switch (typeof v) {
      case "string":
      case "boolean":
      case "number":
      case "bigint":
        return v;
      case "undefined":
        return fail(where, path, "undefined", " (use null)");
      case "function":
        return fail(where, path, "a function");
      case "symbol":
        return fail(where, path, "a symbol");
      case "object":
        break;
      default:
        return fail(where, path, `a ${typeof v}`);
    }
    if (v === null) return null;
    if (isHandleLike(v)) {
      handles.push(v);
      return v;
    }
    // An asset's reference is known at once: it is encoded here.
    if (isAssetLike(v)) return { [ASSET_TAG]: v.ref };
    if (v instanceof Date) {
      if (Number.isNaN(v.getTime())) return fail(where, path, "an invalid Date");
      return new Date(v.getTime());
    }
    if (v instanceof Uint8Array) return v;
    if (ancestors.has(v)) return fail(where, path, "a cycle (the value contains itself)", "");
    ancestors.add(v);
    try {
      if (Array.isArray(v)) {
        const out: unknown[] = [];
        for (let i = 0; i < v.length; i++) {
          if (!(i in v)) fail(where, `${path}[${i}]`, "a hole in an array", " (use null)");
          out.push(walk(v[i], `${path}[${i}]`));
        }
        return out;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        const d = describeObject(v);
        return fail(where, path, d.what, d.hint);
      }
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v)) {
        if (key === HANDLE_TAG) fail(where, path, `the key "${HANDLE_TAG}"`, " (it is reserved for handles)");
        if (key === ASSET_TAG) fail(where, path, `the key "${ASSET_TAG}"`, " (it is reserved for assets)");
        if (key === "__proto__") fail(where, path, 'the key "__proto__"', " (values cannot keep it: rename it)");
        const item = (v as Record<string, unknown>)[key];
        if (item !== undefined) out[key] = walk(item, `${path}${keyPath(key)}`);
      }
      return out;
    } finally {
      ancestors.delete(v);
    }
  };
  return { value: walk(value, ""), handles };
};

/**
 * Checks call arguments: trailing `undefined` arguments are dropped (so that
 * optional parameters work); any other `undefined` is refused.
 */
export const prepareArguments = (args: readonly unknown[], callee: string): Prepared => {
  let n = args.length;
  while (n > 0 && args[n - 1] === undefined) n--;
  const handles: HandleLike[] = [];
  const value: unknown[] = [];
  for (let i = 0; i < n; i++) {
    try {
      const p = prepareValue(args[i], `argument ${i}`);
      handles.push(...p.handles);
      value.push(p.value);
    } catch (err) {
      if (err instanceof InvalidValueError) throw new InvalidValueError(`${callee}: ${err.message}`, err.path);
      throw err;
    }
  }
  return { value, handles };
};

/** Checks a result: `undefined` (a function that returns nothing) becomes `null`. */
export const prepareResult = (result: unknown): Prepared =>
  result === undefined ? { value: null, handles: [] } : prepareValue(result, "result");

/** Replaces the live handles of a prepared value by their tagged references, once known. */
export const finishValue = async (p: Prepared): Promise<Value> => {
  if (p.handles.length === 0) return p.value as Value;
  await Promise.all(p.handles.map((h) => h.ref()));
  const swap = (v: unknown): unknown => {
    if (isHandleLike(v)) return { [HANDLE_TAG]: v.knownRef() };
    if (isAssetValue(v)) return v;
    if (Array.isArray(v)) return v.map(swap);
    if (typeof v === "object" && v !== null && !(v instanceof Date) && !(v instanceof Uint8Array)) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]));
    }
    return v;
  };
  return swap(p.value) as Value;
};

/**
 * Decodes a received value: every `{ [HANDLE_TAG]: HandleRef }` becomes
 * `makeHandle(ref)`, every `{ [ASSET_TAG]: AssetRef }` an {@link Asset}. A
 * malformed tag is left as it is.
 */
export const decodeValue = (value: unknown, makeHandle: (ref: HandleRef) => unknown): unknown => {
  const walk = (v: unknown): unknown => {
    if (typeof v !== "object" || v === null || v instanceof Date || v instanceof Uint8Array) return v;
    if (Array.isArray(v)) return v.map(walk);
    if (isHandleValue(v) && isHandleRef(v[HANDLE_TAG])) return makeHandle(v[HANDLE_TAG]);
    if (isAssetValue(v) && isAssetRef(v[ASSET_TAG])) return new Asset(v[ASSET_TAG]);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
  };
  return walk(value);
};

export const isHandleRef = (v: unknown): v is HandleRef => {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r["runId"] === "string" && typeof r["stepId"] === "string" && typeof r["executionId"] === "string";
};

const fail = (where: string, path: string, what: string, hint: string = ` ${HINT}`): never => {
  const at = path === "" ? where : `${where} ${path}`;
  throw new InvalidValueError(`${at}: ${what} cannot be passed${hint}`, at);
};

const keyPath = (key: string): string => (/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);

const BUILTINS = new Set(["Map", "Set", "WeakMap", "WeakSet", "Promise", "RegExp", "ArrayBuffer", "SharedArrayBuffer", "DataView"]);

const describeObject = (v: object): { what: string; hint?: string } => {
  const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof name !== "string" || name === "") return { what: "an object with a custom prototype" };
  if (BUILTINS.has(name) || v instanceof Error || ArrayBuffer.isView(v)) {
    const what = `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
    if (name === "Promise") return { what, hint: " (await it first)" };
    if (ArrayBuffer.isView(v)) return { what, hint: " (use a Uint8Array)" };
    return { what };
  }
  return { what: `an instance of class ${name}` };
};
