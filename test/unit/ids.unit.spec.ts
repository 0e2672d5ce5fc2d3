import { describe, expect, it } from "vitest";
import { InvalidNameError } from "../../src/events/errors.js";
import {
  IdGenerator,
  describeInvalidName,
  isSortableId,
  parseAgentId,
  parseAssetId,
  parseEnvName,
  parseExecutionId,
  parseField,
  parseProjectName,
  parseRunId,
  parseStepId,
  timeOfId,
  type InvalidName,
} from "../../src/events/ids.js";
import { logRef } from "../../src/events/subjects.js";
import { Random } from "../support/prng.js";

const T0 = Date.UTC(2025, 2, 1, 9, 30, 0);

/** A generator whose clock returns `times` in turn (then the last one forever). */
const generatorOver = (times: readonly number[], seed = 1): IdGenerator => {
  let i = 0;
  const rng = new Random(seed);
  return new IdGenerator(
    () => times[Math.min(i++, times.length - 1)]!,
    (b) => rng.fill(b),
  );
};

const expectStrictlyIncreasing = (ids: readonly string[]) => {
  for (let i = 1; i < ids.length; i++) {
    if (!(ids[i]! > ids[i - 1]!)) throw new Error(`id ${i} ${ids[i]} is not greater than ${ids[i - 1]}`);
  }
};

describe("IdGenerator", () => {
  it("makes 26-character Crockford base32 ids", () => {
    const gen = new IdGenerator();
    for (let i = 0; i < 1_000; i++) {
      const id = gen.next();
      expect(id).toHaveLength(26);
      expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(isSortableId(id)).toBe(true);
    }
  });

  it("makes strictly increasing ids while the clock advances", () => {
    const gen = generatorOver(Array.from({ length: 5_000 }, (_, i) => T0 + i * 3));
    expectStrictlyIncreasing(Array.from({ length: 5_000 }, () => gen.next()));
  });

  it("makes strictly increasing ids while the clock stands still", () => {
    const gen = generatorOver([T0]);
    const ids = Array.from({ length: 10_000 }, () => gen.next());
    expectStrictlyIncreasing(ids);
    expect(new Set(ids.map(timeOfId))).toEqual(new Set([T0]));
  });

  it("makes strictly increasing ids when the clock goes back", () => {
    const times = [T0, T0 + 10, T0 - 5_000, T0 - 60_000, T0 + 5, T0 + 11, T0 + 11, T0 + 12, 0];
    const gen = generatorOver(times);
    const ids = times.map(() => gen.next());
    expectStrictlyIncreasing(ids);
    // Time never appears to go back: a stepped-back clock reuses the latest time.
    expect(ids.map(timeOfId)).toEqual([T0, T0 + 10, T0 + 10, T0 + 10, T0 + 10, T0 + 11, T0 + 11, T0 + 12, T0 + 12]);
  });

  it("makes strictly increasing ids under a jittery clock", () => {
    const rng = new Random(5);
    const gen = generatorOver(Array.from({ length: 20_000 }, () => T0 + rng.int(-50, 50)));
    expectStrictlyIncreasing(Array.from({ length: 20_000 }, () => gen.next()));
  });

  it("moves the time on by a millisecond when the random part is exhausted", () => {
    const gen = new IdGenerator(
      () => T0,
      (b) => b.fill(0xff),
    );
    const first = gen.next();
    const second = gen.next();
    expect(first).toBe(`${first.slice(0, 10)}${"Z".repeat(16)}`);
    expect(second > first).toBe(true);
    expect(timeOfId(second)).toBe(T0 + 1);
    expect(second.slice(10)).toBe("0".repeat(16));
  });

  it.each([0, 1, 31, 32, T0, Date.UTC(1970, 0, 1, 0, 0, 1), Date.UTC(2100, 11, 31), 2 ** 48 - 1])(
    "round-trips time %d through timeOfId",
    (t) => {
      expect(timeOfId(generatorOver([t]).next())).toBe(t);
    },
  );

  it("orders ids by time first", () => {
    const a = generatorOver([T0], 1).next();
    const b = generatorOver([T0 + 1], 2).next();
    expect(a < b).toBe(true);
  });

  it("repeats the same ids from the same clock and random source", () => {
    const times = Array.from({ length: 100 }, (_, i) => T0 + Math.floor(i / 3));
    const a = generatorOver(times, 9);
    const b = generatorOver(times, 9);
    expect(times.map(() => a.next())).toEqual(times.map(() => b.next()));
  });

  it("uses the real clock by default", () => {
    const before = Date.now();
    const t = timeOfId(new IdGenerator().next());
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });

  it.each([
    "",
    "01JN8A4W7X2C9H5Q3R6T8V0Y1",
    "01JN8A4W7X2C9H5Q3R6T8V0Y1ZZ",
    "01jn8a4w7x2c9h5q3r6t8v0y1z",
    "01JN8A4W7X2C9H5Q3R6T8V0Y1I",
    "01JN8A4W7X2C9H5Q3R6T8V0Y1L",
    "01JN8A4W7X2C9H5Q3R6T8V0Y1O",
    "01JN8A4W7X2C9H5Q3R6T8V0Y1U",
    42,
    null,
  ])("does not take %j for a sortable id", (value) => {
    expect(isSortableId(value)).toBe(false);
  });
});

describe("name parsers", () => {
  const left = (r: { _tag: "Left"; left: InvalidName } | { _tag: "Right"; right: unknown }): InvalidName => {
    if (r._tag === "Right") throw new Error(`expected a refusal, got ${JSON.stringify(r.right)}`);
    return r.left;
  };

  describe.each([
    ["project name", parseProjectName],
    ["environment name", parseEnvName],
  ])("the %s parser", (kind, parse) => {
    it.each(["a", "acme", "Acme-Prod-2", "0day", "feature-123-x", "x".repeat(64)])("accepts %j", (name) => {
      expect(parse(name)).toEqual({ _tag: "Right", right: name });
    });

    it.each(["", "a.b", "a*", "a>", "a b", "a/b", "a_b", "-lead", "ünïcode", "tab\t", "line\n", "x".repeat(65)])(
      "rejects %j with a hint",
      (name) => {
        const e = left(parse(name));
        expect(e).toMatchObject({ _tag: "InvalidName", kind, value: name });
        const message = describeInvalidName(e);
        expect(message).toContain(`invalid ${kind} ${JSON.stringify(name)}`);
        expect(message).toContain("use 1-64 characters: letters, digits and '-'");
      },
    );

    it.each([42, null, undefined, {}, ["acme"], true])("rejects the non-string %j", (value) => {
      const e = left(parse(value));
      expect(e.value).toBe(value);
      expect(describeInvalidName(e)).toMatch(/use 1-64 characters/);
    });
  });

  describe.each([
    ["run id", parseRunId],
    ["step id", parseStepId],
    ["execution id", parseExecutionId],
    ["agent id", parseAgentId],
    ["asset id", parseAssetId],
  ])("the %s parser", (kind, parse) => {
    it.each(["a", "a_b", "worker-1", "01JN8A4W7X2C9H5Q3R6T8V0Y1Z", "x".repeat(64)])("accepts %j", (id) => {
      expect(parse(id)).toEqual({ _tag: "Right", right: id });
    });

    it.each(["", "a.b", "a*", "a>", "a b", "a/b", "_lead", "x".repeat(65), 7, null])("rejects %j with a hint", (value) => {
      const e = left(parse(value));
      expect(e.kind).toBe(kind);
      expect(describeInvalidName(e)).toContain("use 1-64 characters: letters, digits, '-' and '_'");
    });
  });

  it("refuses a bad name in a log reference with an InvalidNameError that says what to do", () => {
    expect(() => logRef("acme", "feature.x")).toThrow(InvalidNameError);
    expect(() => logRef("acme", "feature.x")).toThrow(/invalid environment name "feature\.x": use 1-64 characters/);
    expect(() => logRef("my_project", "staging")).toThrow(/invalid project name "my_project"/);
    expect(logRef("acme", "staging")).toEqual({ project: "acme", env: "staging" });
  });

  it("parseField gives the parsed id, or the refusal naming the field it came in", () => {
    expect(parseField(parseExecutionId, "executionId", "R1-2-1")).toEqual({ _tag: "Right", right: "R1-2-1" });
    expect(parseField(parseStepId, "handle.stepId", "../1")).toEqual({
      _tag: "Left",
      left: `handle.stepId: invalid step id "../1": use 1-64 characters: letters, digits, '-' and '_', starting with a letter or digit`,
    });
  });
});
