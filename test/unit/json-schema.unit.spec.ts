/** The JSON Schema subset of prompts: which schemas are accepted, and the misfits of answers, named by path. */
import { describe, expect, it } from "vitest";
import { checkSchema, validateValue } from "../../src/protocol/json-schema.js";

const order = {
  type: "object",
  properties: {
    ok: { type: "boolean" },
    qty: { type: "integer", minimum: 1, maximum: 10 },
    code: { type: "string", pattern: "^[A-Z]{3}$" },
    tags: { type: "array", items: { enum: ["a", "b"] }, maxItems: 2 },
    kind: { anyOf: [{ const: "x" }, { type: "null" }] },
  },
  required: ["ok"],
  additionalProperties: false,
};

describe("json-schema", () => {
  it("accepts the subset and refuses any other keyword, or a malformed one, naming it", () => {
    expect(checkSchema(order)).toBeUndefined();
    expect(checkSchema(true)).toBeUndefined();
    expect(checkSchema({ type: "string", $ref: "#/x" })).toMatch(/schema\.\$ref: the keyword "\$ref" is not supported/);
    expect(checkSchema({ properties: { a: { type: "text" } } })).toMatch(/schema\.properties\.a\.type must be one of/);
    expect(checkSchema({ pattern: "(" })).toMatch(/schema\.pattern is not a valid regular expression/);
    expect(checkSchema({ minLength: -1 })).toMatch(/schema\.minLength must be a whole number/);
    expect(checkSchema(5)).toMatch(/schema must be a JSON Schema/);
  });

  it("says where an answer does not fit, and nothing when it does", () => {
    expect(validateValue(order, { ok: true, qty: 3, code: "ABC", tags: ["a"], kind: null })).toBeUndefined();
    expect(validateValue(order, {})).toBe("value.ok is required");
    expect(validateValue(order, { ok: "yes" })).toBe("value.ok must be boolean, got string");
    expect(validateValue(order, { ok: true, qty: 2.5 })).toBe("value.qty must be integer, got a fraction");
    expect(validateValue(order, { ok: true, qty: 11 })).toBe("value.qty must be <= 10");
    expect(validateValue(order, { ok: true, code: "abc" })).toBe("value.code must match ^[A-Z]{3}$");
    expect(validateValue(order, { ok: true, tags: ["a", "c"] })).toBe('value.tags[1] must be one of "a", "b"');
    expect(validateValue(order, { ok: true, tags: ["a", "a", "b"] })).toBe("value.tags must have at most 2 items");
    expect(validateValue(order, { ok: true, kind: "y" })).toBe("value.kind fits none of the schemas of anyOf");
    expect(validateValue(order, { ok: true, other: 1 })).toBe("value.other is not a known property");
    expect(validateValue(order, [])).toBe("value must be object, got array");
  });
});
