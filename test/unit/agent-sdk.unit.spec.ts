import { describe, expect, it } from "vitest";
import { CancelledError, Handle, InvalidValueError, OutsideExecutionError, context, task, workflow } from "../../src/index.js";
import { runInExecution, type ExecutionHost, type HostReply, type HostRequest } from "../../src/agent/context.js";
import { HANDLE_TAG, type HandleRef, type Outcome } from "../../src/protocol/messages.js";
import { bindRepository, targetCore, type Target } from "../../src/agent/sdk.js";

const charge = task("charge", { retries: 2, timeout: 1000 }, async (order: number) => ({ order, ok: true }));
const total = task("total", (items: readonly unknown[]) => items.length);
const flow = workflow("flow", async (orders: number[]) => orders);
for (const t of [charge, total, flow] as Target<never[], unknown>[]) {
  const core = targetCore(t);
  if (core) bindRepository(core, "shop");
}

/**
 * A host that records the requests of the code it runs and answers them as
 * `answer` says (by default: submissions get handles s1, s2, ...; results are
 * the outcome set for the step, or none).
 */
class RecordingHost implements ExecutionHost {
  readonly requests: HostRequest[] = [];
  readonly logs: unknown[][] = [];
  readonly outcomes = new Map<string, Outcome>();
  readonly info = { runId: "r1", stepId: "s0", executionId: "e0", attempt: 2, target: { repository: "shop", target: "flow" } };
  readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  #n = 0;

  async request(request: HostRequest): Promise<HostReply> {
    this.requests.push(request);
    await Promise.resolve();
    switch (request.type) {
      case "submit":
        this.#n++;
        return { type: "submitted", handle: { runId: "r1", stepId: `s${this.#n}`, executionId: `e${this.#n}` } };
      case "result": {
        const outcome = this.outcomes.get(request.handle.stepId);
        return outcome ? { type: "resolved", outcome } : { type: "resolved" };
      }
      case "cancel":
        return { type: "ack" };
      default:
        throw new Error(`unexpected request ${request.type}`);
    }
  }
  readonly workdir = "/tmp/recording-host";
  async persist(): Promise<never> {
    throw new Error("not in these tests");
  }
  async restore(): Promise<never> {
    throw new Error("not in these tests");
  }
  log(...args: unknown[]): void {
    this.logs.push(args);
  }
  track(): void {}
  run<T>(fn: () => T): T {
    return runInExecution(this, fn);
  }
}

const ok = (value: unknown): Outcome => ({ status: "succeeded", value: value as never });

describe("targets", () => {
  it("carry their name, kind, options and function", async () => {
    expect(charge.name).toBe("charge");
    expect(charge.kind).toBe("task");
    expect(flow.kind).toBe("workflow");
    expect(charge.options).toEqual({ retries: 2, timeout: 1000 });
    expect(charge.repository).toBe("shop");
    expect(await charge.fn(5)).toEqual({ order: 5, ok: true });
  });

  it("refuse to be called outside an execution, at the call site", () => {
    expect(() => charge(1)).toThrow(OutsideExecutionError);
    expect(() => charge(1)).toThrow(/charge\(\) was called outside an execution/);
    expect(() => charge.submit(1)).toThrow(/charge\.submit\(\) was called outside an execution/);
    expect(() => context()).toThrow(/context\(\) was called outside an execution/);
  });

  it("submit a step with the target's options and await its result", async () => {
    const host = new RecordingHost();
    host.outcomes.set("s1", ok({ order: 7, ok: true }));
    const result = await host.run(() => charge(7));
    expect(result).toEqual({ order: 7, ok: true });
    expect(host.requests).toEqual([
      { type: "submit", target: { repository: "shop", target: "charge" }, arguments: [7], options: { retries: { limit: 2, delayMs: 1000, factor: 2, maxDelayMs: 60_000 }, timeoutMs: 1000 } },
      { type: "result", handle: { runId: "r1", stepId: "s1", executionId: "e1" }, wait: true },
    ]);
  });

  it("send per-call options from .with() over the target's own", async () => {
    const host = new RecordingHost();
    host.run(() => charge.with({ timeout: 50, requires: { gpu: "yes" } }).submit(1));
    await Promise.resolve();
    expect(host.requests[0]).toMatchObject({ options: { timeoutMs: 50, requires: { gpu: ["yes"] }, retries: { limit: 2 } } });
  });

  it("return a handle at once from submit; poll gives the fallback until the step is done; cancel asks the server", async () => {
    const host = new RecordingHost();
    const h = host.run(() => charge.submit(3));
    expect(h).toBeInstanceOf(Handle);
    expect(h.knownRef()).toBeUndefined();
    expect(await host.run(() => h.poll("pending"))).toBe("pending");
    host.outcomes.set("s1", ok({ order: 3, ok: true }));
    expect(await host.run(() => h.poll("pending"))).toEqual({ order: 3, ok: true });
    await host.run(() => h.cancel());
    expect(host.requests.map((r) => r.type)).toEqual(["submit", "result", "result", "cancel"]);
    expect(host.requests[1]).toMatchObject({ wait: false });
  });

  it("pass a handle as an argument by reference, once the server has accepted it", async () => {
    const host = new RecordingHost();
    await host.run(async () => {
      const h = charge.submit(1);
      total.submit([h, 2]);
      await new Promise((r) => setTimeout(r, 0));
    });
    expect(host.requests[1]).toMatchObject({ type: "submit", arguments: [[{ [HANDLE_TAG]: { runId: "r1", stepId: "s1", executionId: "e1" } }, 2]] });
  });

  it("decode handles in results into live handles", async () => {
    const host = new RecordingHost();
    const ref: HandleRef = { runId: "r9", stepId: "s9", executionId: "e9" };
    host.outcomes.set("s1", ok({ inner: { [HANDLE_TAG]: ref } }));
    const result = (await host.run(() => flow([1]))) as unknown as { inner: Handle<unknown> };
    expect(result.inner).toBeInstanceOf(Handle);
    expect(result.inner.knownRef()).toEqual(ref);
  });

  it("rethrow a failed step's error with its name, message, stack and class", async () => {
    const host = new RecordingHost();
    host.outcomes.set("s1", { status: "failed", error: { type: "RangeError", message: "too big", stack: "RangeError: too big\n    at remote.ts:1:1", retryable: false } });
    const err = (await host.run(() => charge(1)).then(() => undefined, (e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RangeError);
    expect([err.name, err.message, err.stack]).toEqual(["RangeError", "too big", "RangeError: too big\n    at remote.ts:1:1"]);
  });

  it("throw a CancelledError for a cancelled step", async () => {
    const host = new RecordingHost();
    host.outcomes.set("s1", { status: "cancelled", error: { type: "Cancelled", message: "run cancelled", retryable: false } });
    await expect(host.run(() => charge(1))).rejects.toBeInstanceOf(CancelledError);
  });

  it("refuse an argument that cannot be passed before sending anything", () => {
    const host = new RecordingHost();
    const call = () => host.run(() => total([1, new Map()]));
    expect(call).toThrow(InvalidValueError);
    expect(call).toThrow('task "total": argument 0 [1]: a Map cannot be passed');
    expect(host.requests).toEqual([]);
  });

  it("refuse to call a target that no loaded module exports", () => {
    const stray = task("stray", () => 1);
    expect(() => new RecordingHost().run(() => stray())).toThrow(/belongs to no repository: export it from a module that the agent loads/);
  });

  it("give the execution's context and logger", () => {
    const host = new RecordingHost();
    const c = host.run(() => context());
    expect(c).toMatchObject({ runId: "r1", stepId: "s0", executionId: "e0", attempt: 2, target: { target: "flow" } });
    expect(c.signal).toBe(host.signal);
    c.log.warn("careful", { n: 1 });
    expect(host.logs).toEqual([["warn", "careful", { n: 1 }]]);
  });
});
