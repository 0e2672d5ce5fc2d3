/**
 * The schema kit of the edge: TypeBox schemas (JSON Schema objects, so the
 * API's JSON Schema is the schemas themselves), compiled on first use into
 * fast checks, and errors turned into one sentence that names the field and
 * what it must be: `manifests[0].targets[1].options.timeoutMs must be a
 * whole number >= 0`.
 */
import { Kind, Type, TypeRegistry, type TSchema, type TUnsafe } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { ValueErrorType, type ValueError } from "@sinclair/typebox/errors";
import type { Value } from "../events/types.js";
import { ASSET_TAG, HANDLE_TAG, MAX_VALUE_DEPTH } from "./constants.js";

/** A check: `undefined` when the value fits, else what is wrong, naming the field. */
export type Check = (value: unknown) => string | undefined;

/**
 * Compiles `schema` the first time the check runs (compiling every schema at
 * load would cost each process that only needs a few, such as an agent).
 * `root` prefixes every path in the messages.
 */
export const check = (schema: TSchema, root = ""): Check => {
  let compiled: TypeCheck<TSchema> | undefined;
  return (value) => {
    compiled ??= TypeCompiler.Compile(schema);
    if (compiled.Check(value)) return undefined;
    const first = compiled.Errors(value).First();
    return first ? describeError(first, root) : `${root || "the value"} does not fit its schema`;
  };
};

/** `/manifests/0/targets` → `manifests[0].targets`. */
export const pathOf = (pointer: string, root = ""): string => {
  let out = root;
  for (const raw of pointer.split("/").slice(1)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg.slice(0, 64))}]`;
  }
  return out || "the value";
};

const describeError = (e: ValueError, root: string): string => {
  const path = pathOf(e.path, root);
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return `${path} is missing: it must be ${expected(e.schema)}`;
    case ValueErrorType.ObjectAdditionalProperties:
      return `${path} is not a known field: remove it`;
    case ValueErrorType.Kind:
      if (e.schema[Kind] === VALUE_KIND) return valueProblem(e.value, path) ?? `${path} must be ${expected(e.schema)}`;
      return `${path} must be ${expected(e.schema)}`;
    case ValueErrorType.StringPattern:
      if (typeof e.schema["x-name"] === "string") {
        return `${path}: invalid ${String(e.schema["x-name"])} ${JSON.stringify(String(e.value).slice(0, 80))}: ${String(e.schema["x-hint"])}`;
      }
      return `${path} must be ${expected(e.schema)}`;
    case ValueErrorType.StringMaxLength:
      return `${path} must be at most ${String(e.schema["maxLength"])} characters long`;
    case ValueErrorType.ArrayMaxItems:
      return `${path} must have at most ${String(e.schema["maxItems"])} items`;
    case ValueErrorType.ObjectMaxProperties:
      return `${path} must have at most ${String(e.schema["maxProperties"])} fields`;
    default:
      return `${path} must be ${expected(e.schema)}`;
  }
};

/**
 * A name or id: a string of `pattern`, refused as `invalid <what> "<value>": <hint>`
 * (the wording of the ids' own parsers).
 */
export const NamedString = (pattern: RegExp, what: string, hint: string) =>
  Type.String({ pattern: pattern.source, description: `the ${what}: ${hint}`, "x-name": what, "x-hint": hint });

/** What a value of `schema` must be, in words. */
export const expected = (s: TSchema): string => {
  if (typeof s.description === "string" && s["x-expect"] === true) return s.description;
  switch (s[Kind]) {
    case "String": {
      if (s["pattern"] !== undefined) return s.description ?? `a string matching ${String(s["pattern"])}`;
      const min = s["minLength"] as number | undefined;
      const max = s["maxLength"] as number | undefined;
      return min ? `a non-empty string${max ? ` of at most ${max} characters` : ""}` : max ? `a string of at most ${max} characters` : "a string";
    }
    case "Integer": {
      const min = s["minimum"] as number | undefined;
      return min === undefined ? "an integer" : `a whole number >= ${min}${s["maximum"] !== undefined && s["maximum"] !== Number.MAX_SAFE_INTEGER ? ` and <= ${String(s["maximum"])}` : ""}`;
    }
    case "Number":
      return s.description ?? "a finite number";
    case "Boolean":
      return "true or false";
    case "Null":
      return "null";
    case "Literal":
      return JSON.stringify(s["const"]);
    case "Union": {
      const members = (s["anyOf"] as TSchema[]) ?? [];
      return members.every((m) => m[Kind] === "Literal")
        ? `one of ${members.map((m) => JSON.stringify(m["const"])).join(", ")}`
        : members.map(expected).join(" or ");
    }
    case "Array":
      return `an array whose items are each ${expected(s["items"] as TSchema)}`;
    case "Object":
    case "Record":
      return s.description ? `an object (${s.description})` : "an object";
    case VALUE_KIND:
      return "a value";
    default:
      return s.description ?? "something else";
  }
};

// ---------------------------------------------------------------------------
// Values: user data with tags

const shorten = (path: string): string => (path.length > 120 ? `${path.slice(0, 60)}…${path.slice(-40)}` : path);

const VALUE_KIND = "TributaryValue";

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);

/** A handle reference: what `{ [HANDLE_TAG]: … }` holds. */
export const HandleRefSchema = Type.Object(
  {
    runId: Type.String({ minLength: 1, maxLength: 256 }),
    stepId: Type.String({ minLength: 1, maxLength: 256 }),
    executionId: Type.String({ maxLength: 256 }),
  },
  { additionalProperties: false, description: "a reference to a step of a run" },
);

/** One file of an asset. */
export const AssetFileSchema = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 4096 }),
    size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    sha256: Type.String({ pattern: "^[0-9a-f]{64}$", description: "64 lower-case hex digits" }),
  },
  { additionalProperties: false },
);

let handleCheck: Check | undefined;
let assetCheck: Check | undefined;

/**
 * What is wrong with a user value, or `undefined`: nested no deeper than
 * {@link MAX_VALUE_DEPTH}, and every handle or asset tag holding a well-formed
 * reference (the server reads them). JSON, `Date`, bytes and `bigint` pass.
 */
export const valueProblem = (v: unknown, path: string, depth = 0): string | undefined =>
  depth === 0 && v !== undefined && valueFits(v, 0) ? undefined : describeValue(v, path, depth);

/** The fast walk: whether a value fits, building no paths (what almost every value does). */
const valueFits = (v: unknown, depth: number): boolean => {
  if (depth > MAX_VALUE_DEPTH) return false;
  if (typeof v !== "object" || v === null) return true;
  if (Array.isArray(v)) {
    if (v.length > 0 && depth >= MAX_VALUE_DEPTH) return false;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === "object" && x !== null && !valueFits(x, depth + 1)) return false;
    }
    return true;
  }
  if (v instanceof Date) return !Number.isNaN(v.getTime());
  if (v instanceof Uint8Array) return true;
  const o = v as Record<string, unknown>;
  let n = 0;
  let only: string | undefined;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) continue;
    if (depth >= MAX_VALUE_DEPTH || k === "__proto__") return false;
    n++;
    only = k;
    const x = o[k];
    if (typeof x === "object" && x !== null && !valueFits(x, depth + 1)) return false;
  }
  return n !== 1 || (only !== HANDLE_TAG && only !== ASSET_TAG) || describeValue(v, "", depth) === undefined;
};

/**
 * What is wrong with a value about to be sent as the API's JSON, or
 * `undefined`. It is a live JavaScript value, not one decoded from the wire,
 * so on top of {@link valueProblem}'s rules it is held to those of the SDK's
 * call sites (docs/sdk.md), before JSON would mangle it: no function, symbol,
 * `undefined` (a property that is `undefined` is dropped, as JSON drops it),
 * hole in an array, non-finite number (JSON has none), cycle, nor object
 * other than a plain one, an array, a `Date` or a `Uint8Array`; and no
 * one-key object that the API's JSON would read back as a tag
 * (`{"$date": "…"}`).
 */
export const jsonValueProblem = (v: unknown, path: string): string | undefined => describeValue(v, path, 0, new Set());

const SENDABLE = "a value is JSON, a Date, a Uint8Array or a bigint";
/** The tags of the API's JSON (`./json.ts`): a one-key object of these, holding a string, is read back as a bigint, a Date or bytes. */
const JSON_TAGS = new Set(["$bigint", "$date", "$bytes"]);

/** What JSON would drop or change in a live value, at this level. `live`: the arrays and objects being walked, for cycles. */
const unsendable = (v: unknown, path: string, live: ReadonlySet<object>): string | undefined => {
  const at = shorten(path);
  switch (typeof v) {
    case "function":
      return `${at} is a function: ${SENDABLE}`;
    case "symbol":
      return `${at} is a symbol: ${SENDABLE}`;
    case "undefined":
      return `${at} is undefined, which JSON cannot carry: use null`;
    case "number":
      return Number.isFinite(v) ? undefined : `${at} is ${v}, which JSON cannot carry: use null or a string`;
    case "object":
      break;
    default:
      return undefined;
  }
  if (v === null || v instanceof Date || v instanceof Uint8Array) return undefined;
  if (live.has(v)) return `${at} is a cycle: the value contains itself`;
  if (Array.isArray(v)) return undefined;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) {
    const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name !== "string" || name === "") return `${at} is an object with a custom prototype: ${SENDABLE}`;
    if (v instanceof Promise) return `${at} is a Promise: await it first`;
    return `${at} is ${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}: ${SENDABLE}`;
  }
  const keys = Object.keys(v);
  if (keys.length === 1 && JSON_TAGS.has(keys[0]!) && typeof (v as Record<string, unknown>)[keys[0]!] === "string") {
    return `${at} is an object of the one key "${keys[0]}", which the API's JSON reads back as a tag: rename the key`;
  }
  return undefined;
};

/** The slow walk: the first problem, with its path. With `live`, a value not yet encoded (see {@link jsonValueProblem}). */
const describeValue = (v: unknown, path: string, depth: number, live?: Set<object>): string | undefined => {
  const unfit = live && unsendable(v, path, live);
  if (unfit) return unfit;
  if (v === undefined && depth === 0) return `${path} is missing: it must be a value`;
  if (depth > MAX_VALUE_DEPTH) return `${shorten(path)} is nested deeper than ${MAX_VALUE_DEPTH} levels`;
  if (Array.isArray(v)) {
    live?.add(v);
    for (let i = 0; i < v.length; i++) {
      if (live && !(i in v)) return `${shorten(`${path}[${i}]`)} is a hole in an array, which JSON cannot carry: use null`;
      const p = describeValue(v[i], `${path}[${i}]`, depth + 1, live);
      if (p) return p;
    }
    live?.delete(v);
    return undefined;
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? `${shorten(path)} must be a valid date` : undefined;
  if (!isPlainObject(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length === 1 && (keys[0] === HANDLE_TAG || keys[0] === ASSET_TAG)) {
    const tag = keys[0];
    const c = tag === HANDLE_TAG ? (handleCheck ??= check(HandleRefSchema)) : (assetCheck ??= check(AssetRefSchema()));
    const p = c(v[tag]);
    return p ? `${path}["${tag}"]: ${p}` : undefined;
  }
  live?.add(v);
  for (const k of keys) {
    // The codec would not keep it (msgpackr renames it, against prototype pollution): refused, not changed.
    if (k === "__proto__") return `${shorten(path)} has a key "__proto__", which values cannot hold: rename it`;
    // JSON drops it, as the SDK does.
    if (live && v[k] === undefined) continue;
    const p = describeValue(v[k], `${path}.${k}`, depth + 1, live);
    if (p) return p;
  }
  live?.delete(v);
  return undefined;
};

if (!TypeRegistry.Has(VALUE_KIND)) TypeRegistry.Set(VALUE_KIND, (_s, v) => valueProblem(v, "") === undefined);

/** Any user value (arguments, results, metadata): JSON plus Date, bytes, bigint, handles and assets as tags. */
export const ValueSchema = (): TUnsafe<Value> =>
  Type.Unsafe<Value>({
    [Kind]: VALUE_KIND,
    description: `any value: JSON, plus tagged handles {"${HANDLE_TAG}": …} and assets {"${ASSET_TAG}": …}; over HTTP, {"$date"}, {"$bytes"}, {"$bigint"}`,
  });

let assetRef: TSchema | undefined;
/** A reference to a persisted asset. (A function: it refers to values, which refer to it.) */
export const AssetRefSchema = (): TSchema =>
  (assetRef ??= Type.Object(
    {
      assetId: Type.String({ minLength: 1, maxLength: 256 }),
      name: Type.Optional(Type.String({ maxLength: 1024 })),
      env: Type.String({ minLength: 1, maxLength: 64 }),
      entries: Type.Array(AssetFileSchema),
      metadata: Type.Optional(Type.Record(Type.String(), ValueSchema())),
    },
    { additionalProperties: false },
  ));
