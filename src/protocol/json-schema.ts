/**
 * The JSON Schemas of prompts (`prompt({ title, schema })`): which schemas
 * are accepted, and whether an answer fits one. Pure, no dependency.
 *
 * A subset of JSON Schema (draft 2020-12 keywords), enforced completely: a
 * schema using a keyword outside it is refused when the prompt is made
 * (rather than accepted and then not enforced). Supported: `type` (a name or
 * a list), `enum`, `const`, `properties`, `required`,
 * `additionalProperties` (boolean or schema), `items`, `minItems`,
 * `maxItems`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
 * `multipleOf`, `minLength`, `maxLength`, `pattern`, `anyOf`, `oneOf`,
 * `allOf`, `not`; and, for people reading it, `title`, `description`,
 * `default`, `examples`, `$schema`, `$id`, `$comment`, `format` (not checked).
 */


const ANNOTATIONS = new Set(["title", "description", "default", "examples", "$schema", "$id", "$comment", "format", "readOnly", "writeOnly", "deprecated"]);
const TYPES = new Set(["null", "boolean", "object", "array", "number", "integer", "string"]);
const KEYWORDS = new Set([
  "type", "enum", "const", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
  "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern",
  "anyOf", "oneOf", "allOf", "not",
]);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isNat = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

/** Why `schema` is not a schema this module enforces (naming the path), or `undefined`. */
export const checkSchema = (schema: unknown, path = "schema", depth = 0): string | undefined => {
  if (typeof schema === "boolean") return undefined;
  if (!isObj(schema)) return `${path} must be a JSON Schema (an object or a boolean)`;
  if (depth > 32) return `${path} is nested too deeply (over 32 levels)`;
  for (const [k, v] of Object.entries(schema)) {
    const at = `${path}.${k}`;
    if (ANNOTATIONS.has(k)) continue;
    if (!KEYWORDS.has(k)) return `${at}: the keyword ${JSON.stringify(k)} is not supported (see src/protocol/json-schema.ts)`;
    switch (k) {
      case "type": {
        const list = Array.isArray(v) ? v : [v];
        if (list.length === 0 || !list.every((t) => typeof t === "string" && TYPES.has(t))) return `${at} must be one of ${[...TYPES].join(", ")}, or a list of them`;
        break;
      }
      case "enum":
        if (!Array.isArray(v) || v.length === 0) return `${at} must be a non-empty array`;
        break;
      case "const":
        break;
      case "properties":
        if (!isObj(v)) return `${at} must be an object of schemas`;
        for (const [name, s] of Object.entries(v)) {
          const bad = checkSchema(s, `${at}.${name}`, depth + 1);
          if (bad) return bad;
        }
        break;
      case "required":
        if (!Array.isArray(v) || !v.every((n) => typeof n === "string")) return `${at} must be an array of property names`;
        break;
      case "additionalProperties":
      case "items":
      case "not": {
        const bad = checkSchema(v, at, depth + 1);
        if (bad) return bad;
        break;
      }
      case "anyOf":
      case "oneOf":
      case "allOf":
        if (!Array.isArray(v) || v.length === 0) return `${at} must be a non-empty array of schemas`;
        for (let i = 0; i < v.length; i++) {
          const bad = checkSchema(v[i], `${at}[${i}]`, depth + 1);
          if (bad) return bad;
        }
        break;
      case "minItems":
      case "maxItems":
      case "minLength":
      case "maxLength":
        if (!isNat(v)) return `${at} must be a whole number >= 0`;
        break;
      case "multipleOf":
        if (typeof v !== "number" || !(v > 0)) return `${at} must be a number > 0`;
        break;
      case "pattern":
        if (typeof v !== "string") return `${at} must be a regular expression (a string)`;
        try {
          new RegExp(v, "u");
        } catch (e) {
          return `${at} is not a valid regular expression: ${(e as Error).message}`;
        }
        break;
      default:
        if (typeof v !== "number" || !Number.isFinite(v)) return `${at} must be a finite number`;
    }
  }
  return undefined;
};

const typeOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "object" ? "object" : typeof v);
const same = (a: unknown, b: unknown): boolean => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
const canonical = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(canonical) : isObj(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])])) : v;

/**
 * Why `value` does not fit `schema` (one accepted by {@link checkSchema}),
 * naming the path of the first misfit, or `undefined` when it fits.
 */
export const validateValue = (schema: unknown, value: unknown, path = "value"): string | undefined => {
  if (schema === true) return undefined;
  if (schema === false) return `${path}: no value is allowed here`;
  const s = schema as { readonly [k: string]: unknown };
  if (s["type"] !== undefined) {
    const types = (Array.isArray(s["type"]) ? s["type"] : [s["type"]]) as string[];
    const t = typeOf(value);
    const fits = types.some((want) => want === t || (want === "integer" && t === "number" && Number.isInteger(value)));
    if (!fits) return `${path} must be ${types.join(" or ")}, got ${t === "number" && !Number.isInteger(value) && types.includes("integer") ? "a fraction" : t}`;
  }
  if (Array.isArray(s["enum"]) && !s["enum"].some((e) => same(e, value))) return `${path} must be one of ${s["enum"].map((e) => JSON.stringify(e)).join(", ")}`;
  if ("const" in s && !same(s["const"], value)) return `${path} must be ${JSON.stringify(s["const"])}`;
  if (typeof value === "number") {
    const n = (k: string) => s[k] as number | undefined;
    if (n("minimum") !== undefined && value < n("minimum")!) return `${path} must be >= ${n("minimum")}`;
    if (n("maximum") !== undefined && value > n("maximum")!) return `${path} must be <= ${n("maximum")}`;
    if (n("exclusiveMinimum") !== undefined && value <= n("exclusiveMinimum")!) return `${path} must be > ${n("exclusiveMinimum")}`;
    if (n("exclusiveMaximum") !== undefined && value >= n("exclusiveMaximum")!) return `${path} must be < ${n("exclusiveMaximum")}`;
    if (n("multipleOf") !== undefined && !Number.isInteger(value / n("multipleOf")!)) return `${path} must be a multiple of ${n("multipleOf")}`;
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (typeof s["minLength"] === "number" && length < s["minLength"]) return `${path} must have at least ${s["minLength"]} characters`;
    if (typeof s["maxLength"] === "number" && length > s["maxLength"]) return `${path} must have at most ${s["maxLength"]} characters`;
    if (typeof s["pattern"] === "string" && !new RegExp(s["pattern"], "u").test(value)) return `${path} must match ${s["pattern"]}`;
  }
  if (Array.isArray(value)) {
    if (typeof s["minItems"] === "number" && value.length < s["minItems"]) return `${path} must have at least ${s["minItems"]} items`;
    if (typeof s["maxItems"] === "number" && value.length > s["maxItems"]) return `${path} must have at most ${s["maxItems"]} items`;
    if (s["items"] !== undefined) {
      for (let i = 0; i < value.length; i++) {
        const bad = validateValue(s["items"], value[i], `${path}[${i}]`);
        if (bad) return bad;
      }
    }
  }
  if (isObj(value)) {
    const props = (isObj(s["properties"]) ? s["properties"] : {}) as Record<string, unknown>;
    for (const name of (s["required"] as string[] | undefined) ?? []) if (!Object.hasOwn(value, name)) return `${path}.${name} is required`;
    for (const [k, v] of Object.entries(value)) {
      const sub = Object.hasOwn(props, k) ? props[k] : s["additionalProperties"];
      if (sub === undefined) continue;
      const bad = validateValue(sub, v, `${path}.${k}`);
      if (bad) return Object.hasOwn(props, k) || sub !== false ? bad : `${path}.${k} is not a known property`;
    }
  }
  if (Array.isArray(s["allOf"])) {
    for (const sub of s["allOf"]) {
      const bad = validateValue(sub, value, path);
      if (bad) return bad;
    }
  }
  if (Array.isArray(s["anyOf"]) && !s["anyOf"].some((sub) => validateValue(sub, value, path) === undefined)) return `${path} fits none of the schemas of anyOf`;
  if (Array.isArray(s["oneOf"]) && s["oneOf"].filter((sub) => validateValue(sub, value, path) === undefined).length !== 1) return `${path} must fit exactly one of the schemas of oneOf`;
  if (s["not"] !== undefined && validateValue(s["not"], value, path) === undefined) return `${path} must not fit the schema of not`;
  return undefined;
};
