import { describe, expect, it } from "vitest";
import { crc32 } from "node:zlib";
import { checkEvents, decodeCommit, encodeCommit, frame, packValue, unpackValue } from "../../src/events/codec.js";
import { CorruptEvent } from "../../src/events/errors.js";
import { EVENT_TYPES, type Event, type EventOf } from "../../src/events/types.js";
import { EXAMPLES, EXEC, RUN, STEP, T0, VALUES, allExamples, eventId, runEvent, target } from "../support/event-examples.js";
import { Random } from "../support/prng.js";
import { simulate } from "../support/simulate.js";

/** What `decodeCommit` threw, or `"returned"`. */
const outcome = (bytes: Uint8Array): unknown => {
  try {
    decodeCommit(bytes);
    return "returned";
  } catch (e) {
    return e;
  }
};

const corruptMessage = (bytes: Uint8Array): string => {
  const e = outcome(bytes);
  if (!(e instanceof CorruptEvent)) {
    throw new Error(`expected CorruptEvent, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  return e.message;
};

/** A commit of raw (not necessarily valid) event values, framed like a real one. */
const rawCommit = (events: unknown): Uint8Array => frame(packValue(events));
const raw = (e: Event): Record<string, unknown> => ({ ...e, data: { ...e.data } });

describe("encodeCommit / decodeCommit", () => {
  it("has examples of every event type", () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual([...EVENT_TYPES].sort());
  });

  it.each(EVENT_TYPES)("round-trips %s exactly, optional fields present and absent", (type) => {
    for (const e of EXAMPLES[type]) {
      expect(decodeCommit(encodeCommit([e]))).toStrictEqual([e]);
    }
  });

  it("round-trips a commit of many events in order", () => {
    const runEvents = allExamples.filter((e) => e.runId !== undefined);
    expect(decodeCommit(encodeCommit(runEvents))).toStrictEqual(runEvents);
  });

  it.each(Object.entries(VALUES))("round-trips %s as an argument and a result", (_name, value) => {
    const events = [
      runEvent("RunSubmitted", { target, arguments: [value], rootStepId: STEP }),
      runEvent("ExecutionSucceeded", { executionId: EXEC, stepId: STEP, result: { kind: "inline", value } }),
    ];
    const decoded = decodeCommit(encodeCommit(events));
    expect(decoded).toStrictEqual(events);
  });

  it("decodes bytes as Uint8Array, not Buffer, and copies them out of the input", () => {
    const result = { kind: "inline", value: new Uint8Array([7, 8, 9]) } as const;
    const bytes = encodeCommit([runEvent("ExecutionSucceeded", { executionId: EXEC, stepId: STEP, result })]);
    const [e] = decodeCommit(bytes) as [EventOf<"ExecutionSucceeded">];
    const value = (e.data.result as { value: Uint8Array }).value;
    expect(value.constructor).toBe(Uint8Array);
    bytes.fill(0);
    expect([...value]).toEqual([7, 8, 9]);
  });

  it("frames with the same bytes as encodeCommit", () => {
    expect(rawCommit(allExamples)).toEqual(encodeCommit(allExamples));
  });

  it("reads the frame: magic 'T', format 1, big-endian crc32 of the payload", () => {
    const bytes = encodeCommit([EXAMPLES.ExecutionStarted[0]!]);
    const payload = bytes.subarray(6);
    expect(bytes[0]).toBe(0x54);
    expect(bytes[1]).toBe(0x01);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(2)).toBe(crc32(payload));
    expect(unpackValue(payload)).toStrictEqual([EXAMPLES.ExecutionStarted[0]!]);
  });
});

describe("decodeCommit on damaged bytes", () => {
  const valid: Uint8Array[] = [
    ...[...simulate({ seed: 3, runs: 3 })].filter((_, i) => i % 17 === 0).map((c) => encodeCommit(c)),
    encodeCommit(EXAMPLES.ExecutionSucceeded),
    encodeCommit(EXAMPLES.ManifestRegistered),
  ];

  /** Decodes each case and lists those that did not throw CorruptEvent. */
  const misses = (cases: Iterable<[string, Uint8Array]>): string[] => {
    const out: string[] = [];
    for (const [name, bytes] of cases) {
      const e = outcome(bytes);
      if (!(e instanceof CorruptEvent)) out.push(`${name}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    }
    return out.slice(0, 10);
  };

  it("always throws CorruptEvent on garbage bytes", () => {
    const rng = new Random(101);
    const cases = function* (): Generator<[string, Uint8Array]> {
      for (let i = 0; i < 3_000; i++) {
        const bytes = rng.bytes(rng.int(0, 400));
        // Half of them pass the magic and format checks and reach the checksum.
        if (i % 2 === 0 && bytes.length >= 2) bytes.set([0x54, 0x01]);
        yield [`garbage #${i}`, bytes];
      }
    };
    expect(misses(cases())).toEqual([]);
  });

  it("always throws CorruptEvent on garbage with a valid frame and checksum", () => {
    const rng = new Random(102);
    const cases = function* (): Generator<[string, Uint8Array]> {
      for (let i = 0; i < 3_000; i++) {
        const payload = rng.bytes(rng.int(0, 300));
        // Start most payloads like an array of maps, so they get past the first byte.
        if (i % 3 !== 0 && payload.length > 1) payload.set([0x91, 0x80 + rng.int(0, 15)]);
        yield [`framed garbage #${i}`, frame(payload)];
      }
    };
    expect(misses(cases())).toEqual([]);
  });

  it("always throws CorruptEvent on a truncation at every length", () => {
    const cases = function* (): Generator<[string, Uint8Array]> {
      for (const [k, bytes] of valid.entries()) {
        for (let n = 0; n < bytes.length; n++) yield [`commit ${k} cut to ${n} bytes`, bytes.slice(0, n)];
        yield [`commit ${k} with a trailing byte`, Uint8Array.from([...bytes, 0])];
      }
    };
    expect(misses(cases())).toEqual([]);
  });

  it("always throws CorruptEvent on every single-bit flip", () => {
    let count = 0;
    const cases = function* (): Generator<[string, Uint8Array]> {
      for (const [k, bytes] of valid.entries()) {
        for (let bit = 0; bit < bytes.length * 8; bit++) {
          const copy = bytes.slice();
          copy[bit >> 3]! ^= 1 << (bit & 7);
          count++;
          yield [`commit ${k} bit ${bit}`, copy];
        }
      }
    };
    expect(misses(cases())).toEqual([]);
    expect(count).toBeGreaterThan(10_000);
  });

  it("throws CorruptEvent or returns valid events when the payload is altered and re-checksummed", () => {
    // A checksum cannot catch this (a writer with a bug would produce it):
    // decoding must still never fail with anything but CorruptEvent.
    const rng = new Random(103);
    const cases = function* (): Generator<[string, Uint8Array]> {
      for (let i = 0; i < 4_000; i++) {
        const base = valid[i % valid.length]!;
        const payload = base.slice(6);
        for (let m = rng.int(1, 4); m > 0; m--) payload[rng.int(0, payload.length - 1)] = rng.int(0, 255);
        yield [`altered payload #${i}`, frame(payload.subarray(0, rng.chance(0.2) ? rng.int(0, payload.length) : payload.length))];
      }
    };
    const unexpected = [...cases()].flatMap(([name, bytes]) => {
      const e = outcome(bytes);
      return e === "returned" || e instanceof CorruptEvent ? [] : [`${name}: ${(e as Error).name}: ${(e as Error).message}`];
    });
    expect(unexpected.slice(0, 10)).toEqual([]);
  });

  it("throws CorruptEvent or returns valid events when fields get values of any type", () => {
    const rng = new Random(104);
    const weird: unknown[] = [
      null, true, 0, -1, 1.5, NaN, "", "x", "constructor", "__proto__", "toString", "valueOf", "hasOwnProperty",
      "inline", "blob", "first", "task", 5n, -(2n ** 80n), new Date(0), new Uint8Array([1]), [], [1, "a"], {}, { kind: "constructor" },
      { __proto__: null, a: 1 },
    ];
    const mutate = (v: unknown, depth: number): unknown => {
      if (depth > 0 && typeof v === "object" && v !== null && !(v instanceof Date) && !(v instanceof Uint8Array)) {
        const entries = Object.entries(v);
        if (entries.length > 0) {
          const [key, child] = rng.pick(entries);
          const copy: Record<string, unknown> = Array.isArray(v) ? ([...v] as unknown as Record<string, unknown>) : { ...v };
          if (rng.chance(0.15)) delete copy[key];
          else copy[key] = mutate(child, depth - 1);
          return copy;
        }
      }
      return rng.pick(weird);
    };
    const unexpected: string[] = [];
    for (let i = 0; i < 5_000; i++) {
      const e = allExamples[i % allExamples.length]!;
      const bytes = rawCommit([mutate(raw(e), rng.int(1, 5))]);
      const result = outcome(bytes);
      if (result !== "returned" && !(result instanceof CorruptEvent)) unexpected.push(`${e.type} #${i}: ${String(result)}`);
    }
    expect(unexpected.slice(0, 10)).toEqual([]);
  });
});

describe("decodeCommit on valid msgpack that is not a valid commit", () => {
  const started = EXAMPLES.ExecutionStarted[0]!;
  const created = EXAMPLES.EnvironmentCreated[0]!;

  it.each([
    ["a frame shorter than its header", Uint8Array.from([0x54, 0x01, 0]), "truncated: 3 bytes"],
    ["a wrong magic byte", Uint8Array.from([0x00, 0x01, 0, 0, 0, 0, 0x90]), "bad magic byte 0x0"],
    ["an unknown frame format", Uint8Array.from([0x54, 0x02, 0, 0, 0, 0, 0x90]), "unknown frame format 2"],
    ["a wrong checksum", Uint8Array.from([0x54, 0x01, 0, 0, 0, 0, 0x90]), "checksum mismatch"],
    ["a payload that is not msgpack", frame(Uint8Array.from([0x92, 0x01])), "undecodable msgpack"],
    ["an empty array", rawCommit([]), "payload is not a non-empty array of events"],
    ["a map instead of an array", rawCommit({ events: [started] }), "payload is not a non-empty array of events"],
    ["an event that is not an object", rawCommit([42]), "event[0] must be an object"],
    ["an unknown type", rawCommit([{ ...raw(started), type: "RunExploded" }]), 'event[0].type "RunExploded" is not a known event type'],
    ["an id that is not sortable", rawCommit([{ ...raw(started), id: "not-an-id" }]), "event[0].id must be a 26-character sortable id"],
    ["a missing time", rawCommit([{ ...raw(started), at: undefined }]), "event[0].at must be a whole number >= 0"],
    ["a negative time", rawCommit([{ ...raw(started), at: -5 }]), "event[0].at must be a whole number >= 0"],
    ["a fractional version", rawCommit([{ ...raw(started), v: 1.5 }]), "event[0].v must be an integer"],
    ["a missing data", rawCommit([{ ...raw(started), data: undefined }]), "event[0].data is missing"],
    ["a run event without runId", rawCommit([{ ...raw(started), runId: undefined }]), "ExecutionStarted lacks a runId"],
    ["an environment event with a runId", rawCommit([{ ...raw(created), runId: RUN }]), "EnvironmentCreated must not carry a runId"],
    ["a version newer than known", rawCommit([{ ...raw(started), v: 2 }]), "ExecutionStarted v2 is newer than this build knows (v1)"],
    ["version 0", rawCommit([{ ...raw(started), v: 0 }]), "ExecutionStarted has invalid version 0"],
    [
      "a missing field",
      rawCommit([{ ...raw(EXAMPLES.ExecutionAssigned[0]!), data: { executionId: EXEC, stepId: STEP } }]),
      "event[0](ExecutionAssigned).data.agentId must be a string",
    ],
    [
      "a field of the wrong type",
      rawCommit([{ ...raw(EXAMPLES.ExecutionCreated[1]!), data: { executionId: EXEC, stepId: STEP, attempt: "1", reason: "first" } }]),
      "event[0](ExecutionCreated).data.attempt must be an integer",
    ],
    [
      "an unknown literal",
      rawCommit([{ ...raw(EXAMPLES.ExecutionCreated[1]!), data: { executionId: EXEC, stepId: STEP, attempt: 1, reason: "again" } }]),
      'event[0](ExecutionCreated).data.reason must be one of "first", "retry", "rerun"',
    ],
    [
      "a result kind that names an Object.prototype member",
      rawCommit([{ ...raw(EXAMPLES.ExecutionSucceeded[0]!), data: { executionId: EXEC, stepId: STEP, result: { kind: "constructor" } } }]),
      "event[0](ExecutionSucceeded).data.result.kind must be one of inline, blob",
    ],
    [
      "a wrong nested field",
      rawCommit([
        { ...raw(EXAMPLES.StepScheduled[0]!), data: { ...EXAMPLES.StepScheduled[0]!.data, options: { retries: { limit: -1 } } } },
      ]),
      "event[0](StepScheduled).data.options.retries.limit must be a whole number >= 0",
    ],
    [
      "a concurrency limit of 0",
      rawCommit([
        { ...raw(EXAMPLES.StepScheduled[0]!), data: { ...EXAMPLES.StepScheduled[0]!.data, options: { concurrency: [{ key: "group:db", limit: 0 }] } } },
      ]),
      "event[0](StepScheduled).data.options.concurrency[0].limit must be a whole number >= 1",
    ],
    ["a bad second event", rawCommit([started, { ...raw(started), at: "now" }]), "event[1].at must be a whole number >= 0"],
  ])("reports %s", (_what, bytes, message) => {
    expect(corruptMessage(bytes)).toContain(message);
  });

  it("rejects input that is not bytes", () => {
    expect(corruptMessage("T\u0001abcd" as unknown as Uint8Array)).toContain("not a byte array");
    expect(corruptMessage(new ArrayBuffer(8) as unknown as Uint8Array)).toContain("not a byte array");
  });

  it("names the sequence when it is given", () => {
    expect(() => decodeCommit(rawCommit([{ ...raw(started), v: 9 }]), 42)).toThrow(/^corrupt event at sequence 42: /);
    expect(() => decodeCommit(Uint8Array.from([1]), 7)).toThrow(expect.objectContaining({ name: "CorruptEvent", seq: 7 }));
  });
});

describe("decoding old event versions", () => {
  const v1 = (data: Record<string, unknown>) => ({
    id: eventId(),
    type: "ExecutionFailed",
    v: 1,
    at: T0,
    runId: RUN,
    data: { executionId: EXEC, stepId: STEP, ...data },
  });

  it("upcasts ExecutionFailed v1 to v2 with error type Error", () => {
    const old = v1({ message: "disk full", retryable: false });
    const [e] = decodeCommit(rawCommit([old]));
    expect(e).toStrictEqual({
      ...old,
      v: 2,
      data: { executionId: EXEC, stepId: STEP, error: { type: "Error", message: "disk full", retryable: false } },
    });
  });

  it("upcasts a v1 failure without retryable as retryable", () => {
    const [e] = decodeCommit(rawCommit([v1({ message: "flaky" })])) as [EventOf<"ExecutionFailed">];
    expect(e.v).toBe(2);
    expect(e.data.error).toStrictEqual({ type: "Error", message: "flaky", retryable: true });
  });

  it("decodes a commit mixing v1 and v2 events", () => {
    const current = EXAMPLES.ExecutionFailed[0]!;
    const decoded = decodeCommit(rawCommit([v1({ message: "a", retryable: true }), current]));
    expect(decoded.map((e) => e.v)).toEqual([2, 2]);
    expect(decoded[1]).toStrictEqual(current);
  });

  it("reports a malformed v1 event by its old shape", () => {
    expect(corruptMessage(rawCommit([v1({ retryable: true })]))).toContain("ExecutionFailed@v1.data.message must be a string");
    expect(corruptMessage(rawCommit([v1({ message: "m", retryable: "yes" })]))).toContain(
      "ExecutionFailed@v1.data.retryable must be a boolean",
    );
  });

  it("does not accept v1 data labelled v2", () => {
    expect(corruptMessage(rawCommit([{ ...v1({ message: "m" }), v: 2 }]))).toContain("data.error must be an object");
  });
});

describe("the principal on the envelope (by)", () => {
  const started = EXAMPLES.ExecutionStarted[1]!;
  const withBy = (by: unknown) => rawCommit([{ ...raw(started), by }]);

  it.each([
    ["the admin", { kind: "admin" }],
    ["a token, with its name", { kind: "token", tokenId: "k3v9q2m7x4p8r1t6", name: "ci of acme" }],
    ["a token without a name", { kind: "token", tokenId: "a0" }],
    ["an agent with its token", { kind: "agent", agentId: "worker-eu-1", tokenId: "a0b1c2" }],
    ["an agent without a token", { kind: "agent", agentId: "worker-eu-1" }],
  ])("round-trips %s", (_what, by) => {
    expect(decodeCommit(withBy(by))).toStrictEqual([{ ...started, by }]);
  });

  it.each([
    ["not an object", "admin", "event[0].by must be an object"],
    ["null", null, "event[0].by must be an object"],
    ["an unknown kind", { kind: "root" }, "event[0].by.kind must be one of admin, token, agent"],
    ["a kind from Object.prototype", { kind: "constructor" }, "event[0].by.kind must be one of admin, token, agent"],
    ["a missing kind", { tokenId: "a0" }, "event[0].by.kind must be one of admin, token, agent"],
    ["a token without its id", { kind: "token" }, "event[0].by.tokenId must be a token id"],
    ["a token id of upper-case letters", { kind: "token", tokenId: "ABC" }, "event[0].by.tokenId must be a token id"],
    ["a token id too long", { kind: "token", tokenId: "a".repeat(65) }, "event[0].by.tokenId must be a token id"],
    ["a token name that is not a string", { kind: "token", tokenId: "a0", name: 7 }, "event[0].by.name must be a string of 1-128 characters"],
    ["an empty token name", { kind: "token", tokenId: "a0", name: "" }, "event[0].by.name must be a string of 1-128 characters"],
    ["a token name too long", { kind: "token", tokenId: "a0", name: "n".repeat(129) }, "event[0].by.name must be a string of 1-128 characters"],
    ["an agent without its id", { kind: "agent" }, "event[0].by.agentId must be an agent id"],
    ["an agent id with a space", { kind: "agent", agentId: "a b" }, "event[0].by.agentId must be an agent id"],
    ["an agent's token id that is no token id", { kind: "agent", agentId: "a1", tokenId: "x_y" }, "event[0].by.tokenId must be a token id"],
    ["a field the admin has not", { kind: "admin", tokenId: "a0" }, "event[0].by.tokenId is not a field of principal kind admin"],
    ["a field a token has not", { kind: "token", tokenId: "a0", secret: "s" }, "event[0].by.secret is not a field of principal kind token"],
    ["a field an agent has not", { kind: "agent", agentId: "a1", name: "n" }, "event[0].by.name is not a field of principal kind agent"],
  ])("refuses %s, naming the field", (_what, by, message) => {
    expect(corruptMessage(withBy(by))).toContain(message);
  });

  it("is refused by the check before every append, naming the field", () => {
    const bad = checkEvents([started, { ...started, by: { kind: "token", tokenId: "" } }]);
    expect(bad?.message).toContain("by.tokenId must be a token id");
    expect(bad?.index).toBe(1);
    expect(checkEvents([{ ...started, by: { kind: "admin" } }])).toBeUndefined();
  });

  it("decodes events without one as before: no by key at all", () => {
    const [e] = decodeCommit(rawCommit([raw(started)]));
    expect(e).toStrictEqual(started);
    expect(Object.hasOwn(e!, "by")).toBe(false);
  });
});
