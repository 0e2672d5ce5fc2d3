import { describe, expect, it } from "vitest";
import { InvalidOptionError, task, workflow } from "../../src/index.js";
import { mergeOptions, parseOptions } from "../../src/agent/options.js";

/** The error `task()` throws for these options. */
const defineError = (options: unknown): InvalidOptionError => {
  try {
    task("t", options as never, () => null);
  } catch (e) {
    if (e instanceof InvalidOptionError) return e;
    throw e;
  }
  throw new Error("task() accepted the options");
};

class PaymentError extends Error {}

describe("target options", () => {
  it("converts a retry count to a policy with the default backoff", () => {
    expect(parseOptions({ retries: 3 }, "t").step.retries).toEqual({ limit: 3, delayMs: 1000, factor: 2, maxDelayMs: 60_000 });
  });

  it("converts a retry object, naming the classes of retryOn", () => {
    const p = parseOptions({ retries: { limit: 2, delay: 200, factor: 3, maxDelay: 5000, retryOn: ["Busy", PaymentError] } }, "t");
    expect(p.step.retries).toEqual({ limit: 2, delayMs: 200, factor: 3, maxDelayMs: 5000, retryOn: ["Busy", "PaymentError"] });
    expect(p.retryFilter.classes).toEqual([PaymentError]);
  });

  it("converts timeout, delay, requires, cache, memo and defer to the catalogue's StepOptions", () => {
    const p = parseOptions({ timeout: 500, delay: 10, requires: { gpu: "a100", region: ["eu", "us"] }, cache: { maxAge: 60_000, namespace: "v2" }, memo: true, defer: false, wait: true }, "t");
    expect(p.step).toEqual({ timeoutMs: 500, delayMs: 10, requires: { gpu: ["a100"], region: ["eu", "us"] }, cache: { maxAgeMs: 60_000, namespace: "v2" }, memo: true, defer: false });
    expect(p.wait).toBe(true);
    expect(parseOptions({ cache: true }, "t").step.cache).toEqual({});
  });

  it.each([
    [{ retries: -1 }, "retries", "option retries must be a non-negative integer"],
    [{ retries: { limit: 1.5 } }, "retries.limit", "option retries.limit must be a non-negative integer, got 1.5"],
    [{ retries: { limit: 1, delay: -5 } }, "retries.delay", "retries.delay must be a non-negative number"],
    [{ retries: { limit: 1, factor: 0.5 } }, "retries.factor", "retries.factor must be a number ≥ 1"],
    [{ retries: { limit: 1, delay: 500, maxDelay: 100 } }, "retries.maxDelay", "≥ delay (500)"],
    [{ retries: { limit: 1, retryOn: [42] } }, "retries.retryOn[0]", "an error name or an Error class, got 42"],
    [{ retries: { limit: 1, tries: 2 } }, "retries.tries", "unknown option retries.tries"],
    [{ timeout: 0 }, "timeout", "option timeout must be a positive number of milliseconds, got 0"],
    [{ timeout: "5s" }, "timeout", 'got "5s"'],
    [{ delay: Number.NaN }, "delay", "option delay must be"],
    [{ requires: { gpu: [] } }, "requires.gpu", "option requires.gpu must be a non-empty string"],
    [{ requires: "gpu" }, "requires", "option requires must be an object"],
    [{ cache: { maxAge: -1 } }, "cache.maxAge", "cache.maxAge must be"],
    [{ memo: "yes" }, "memo", "option memo must be a boolean"],
    [{ retry: 3 }, "retry", "unknown option retry (known: retries, timeout"],
  ])("rejects %j naming %s", (options, field, message) => {
    const e = defineError(options);
    expect(e.field).toBe(field);
    expect(e.message).toContain(message);
    expect(e.message).toMatch(/^task "t": /);
    expect(e).toBeInstanceOf(TypeError);
  });

  it("validates the options of .with() when it is called", () => {
    const t = workflow("w", () => null);
    expect(() => t.with({ timeout: -1 })).toThrow(/workflow "w" \.with\(\): option timeout/);
  });

  it("lets per-call options replace the target's own, field by field", () => {
    const base = parseOptions({ retries: { limit: 2, retryOn: ["A"] }, timeout: 100 }, "t");
    const merged = mergeOptions(base, parseOptions({ timeout: 500 }, "t"));
    expect(merged.step).toEqual({ retries: base.step.retries, timeoutMs: 500 });
    expect(merged.retryFilter.names).toEqual(["A"]);
  });

  it("rejects a name that cannot name a target", () => {
    expect(() => task("has space", () => 1)).toThrow(/the name must start with a letter/);
    expect(() => task("repo:target", () => 1)).toThrow(TypeError);
  });
});
