/**
 * The SDK's control-flow surface without a server: `concurrency` options,
 * `group()`, and what a call sends for them.
 */
import { describe, expect, it } from "vitest";
import { group, InvalidOptionError, metric, OutsideExecutionError, progress, task } from "../../src/index.js";
import { runInExecution, type ExecutionHost, type HostReply, type HostRequest } from "../../src/agent/context.js";
import { bindRepository, targetCore, type Target } from "../../src/agent/sdk.js";
import { parseOptions } from "../../src/agent/options.js";

const lim = task("lim", { concurrency: 2 }, (n: number) => n);
const perCustomer = task("per_customer", { concurrency: { limit: 1, key: (c: string) => `c-${c}` } }, (c: string, n: number) => `${c}${n}`);
const free = task("free", (n: number) => n);
for (const t of [lim, perCustomer, free] as Target<never[], unknown>[]) bindRepository(targetCore(t)!, "shop");

/** A host that records submissions and answers each with a handle. */
class Host {
  readonly requests: HostRequest[] = [];
  #n = 0;
  readonly host: ExecutionHost = {
    info: { runId: "r1", stepId: "s0", executionId: "e0", attempt: 1, target: { repository: "shop", target: "flow" } },
    signal: new AbortController().signal,
    workdir: "/tmp/control-host",
    persist: () => Promise.reject(new Error("not here")),
    restore: () => Promise.reject(new Error("not here")),
    request: async (r: HostRequest): Promise<HostReply> => {
      this.requests.push(r);
      this.#n++;
      return { type: "submitted", handle: { runId: "r1", stepId: `s${this.#n}`, executionId: `e${this.#n}` } };
    },
    log: () => {},
    track: () => {},
  };
  run<T>(fn: () => T): T {
    return runInExecution(this.host, fn);
  }
  async options(): Promise<unknown[]> {
    await new Promise((r) => setTimeout(r, 0));
    return this.requests.map((r) => (r.type === "submit" ? r.options : undefined));
  }
}

describe("the concurrency option", () => {
  it("takes a count or { limit, key }", () => {
    expect(parseOptions({ concurrency: 3 }, "task t").concurrency).toEqual({ limit: 3 });
    const keyed = parseOptions({ concurrency: { limit: 2, key: (a: string) => a } }, "task t").concurrency;
    expect(keyed?.limit).toBe(2);
    expect(keyed?.key?.("x")).toBe("x");
  });
  const bad: [unknown, RegExp][] = [
    [0, /option concurrency must be a whole number from 1/],
    [1.5, /option concurrency must be/],
    ["2", /option concurrency must be/],
    [{ limit: 0 }, /option concurrency\.limit must be a whole number from 1/],
    [{ limit: 2, key: "customer" }, /option concurrency\.key must be a function/],
    [{ limit: 2, per: 1 }, /option concurrency\.per must be absent/],
  ];
  for (const [given, message] of bad) {
    it(`refuses ${JSON.stringify(given)}, naming the field`, () => {
      expect(() => task("t", { concurrency: given as never }, () => 1)).toThrow(InvalidOptionError);
      expect(() => task("t", { concurrency: given as never }, () => 1)).toThrow(message);
    });
  }
});

describe("calls with limits and groups", () => {
  it("a limited target's call carries its key; a keyed one adds the key of its arguments; others carry none", async () => {
    const h = new Host();
    h.run(() => [lim.submit(1), perCustomer.submit("acme", 2), free.submit(3)]);
    expect(await h.options()).toEqual([
      { concurrency: [{ key: "target:shop:lim", limit: 2 }] },
      { concurrency: [{ key: "target:shop:per_customer:c-acme", limit: 1 }] },
      {},
    ]);
  });

  it("a call in a group carries the group, and its limit; groups nest, the inner one naming the step", async () => {
    const h = new Host();
    const got = h.run(() =>
      group("outer", { concurrency: 4 }, () => {
        free.submit(1);
        group("inner", () => lim.submit(2));
        return "returned";
      }),
    );
    expect(got).toBe("returned");
    expect(await h.options()).toEqual([
      { concurrency: [{ key: "group:outer", limit: 4 }], group: "outer" },
      { concurrency: [{ key: "target:shop:lim", limit: 2 }, { key: "group:outer", limit: 4 }], group: "inner" },
    ]);
  });

  it("the group follows the code across awaits, and ends with its function", async () => {
    const h = new Host();
    await h.run(async () => {
      await group("g", async () => {
        await new Promise((r) => setTimeout(r, 1));
        free.submit(1);
      });
      free.submit(2);
    });
    expect(await h.options()).toEqual([{ group: "g" }, {}]);
  });

  it("a keyed limit whose key function returns no string fails the call", () => {
    const bad = task("bad_key", { concurrency: { limit: 1, key: () => 5 as unknown as string } }, () => 1);
    bindRepository(targetCore(bad)!, "shop");
    expect(() => new Host().run(() => bad.submit())).toThrow(/concurrency key function of task "bad_key" must return a string/);
  });

  it("group() refuses a bad name or concurrency, and outside an execution", () => {
    const h = new Host();
    expect(() => h.run(() => group("", () => 1))).toThrow(/the name must be a string/);
    expect(() => h.run(() => group("g", { concurrency: 0 }, () => 1))).toThrow(/option concurrency must be a whole number/);
    expect(() => h.run(() => group("g", { limit: 1 } as never, () => 1))).toThrow(/unknown option limit/);
    expect(() => group("g", () => 1)).toThrow(OutsideExecutionError);
  });
});

describe("progress() and metric()", () => {
  const reporting = () => {
    const reports: unknown[] = [];
    const h = new Host();
    const host = { ...h.host, report: (r: unknown) => void reports.push(r) };
    return { reports, run: <T>(fn: () => T) => runInExecution(host, fn) };
  };

  it("report to the host, checked", () => {
    const { reports, run } = reporting();
    run(() => {
      progress(0.5, "half");
      progress(undefined, "a message alone");
      metric("loss/train", 0.25);
    });
    expect(reports).toEqual([
      { kind: "progress", fraction: 0.5, message: "half" },
      { kind: "progress", message: "a message alone" },
      { kind: "metric", name: "loss/train", value: 0.25 },
    ]);
  });

  it("refuse what cannot be recorded, naming it", () => {
    const { run } = reporting();
    expect(() => run(() => progress(1.5))).toThrow(/fraction must be a number from 0 to 1/);
    expect(() => run(() => progress(Number.NaN))).toThrow(RangeError);
    expect(() => run(() => progress(undefined))).toThrow(/give a fraction, a message, or both/);
    expect(() => run(() => progress(0, "x".repeat(1025)))).toThrow(/at most 1024 characters/);
    expect(() => run(() => metric("has space", 1))).toThrow(/the name must be/);
    expect(() => run(() => metric("loss", Number.POSITIVE_INFINITY))).toThrow(/finite number/);
    expect(() => progress(0.1)).toThrow(OutsideExecutionError);
    expect(() => metric("loss", 1)).toThrow(OutsideExecutionError);
  });
});
