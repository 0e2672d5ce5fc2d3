/**
 * Compile-time checks: `tsc -p .` fails if a line marked @ts-expect-error
 * compiles. The calls are never run (they would need an execution).
 */
import { describe, expect, it } from "vitest";
import { checkpoint, stub, task, workflow, type Checkpoint, type Handle, type Target } from "../../src/index.js";

const charge = task("charge", { retries: 2 }, async (order: number) => ({ order, ok: true }));
const add = task("add", async (a: number, b = 1) => a + b);
const flow = workflow("flow", async (orders: number[], note?: string) => orders.length + (note ?? "").length);

async function typeChecks(): Promise<void> {
  const r: { order: number; ok: boolean } = await charge(5);
  // @ts-expect-error a string is not a number
  await charge("x");
  // @ts-expect-error the argument is missing
  await charge();
  // @ts-expect-error too many arguments
  await charge(1, 2);
  // @ts-expect-error the result is not a string
  const s: string = await charge(1);

  const sum: number = await add(1);
  await add(1, 2);
  // @ts-expect-error b is a number (inferred from its default)
  await add(1, "2");

  const h: Handle<{ order: number; ok: boolean }> = charge.submit(1);
  const polled: { order: number; ok: boolean } | null = await h.poll(null);
  // @ts-expect-error submit checks arguments too
  charge.submit("1");
  // @ts-expect-error .with() keeps the types
  await charge.with({ timeout: 10 })("1");
  // @ts-expect-error unknown option
  charge.with({ timeOut: 10 });

  const n: number = await flow([1, 2]);
  await flow([1], "note");
  // @ts-expect-error number[] expected
  await flow(["a"]);

  const t: Target<[number], { order: number; ok: boolean }> = charge;
  void [r, s, sum, polled, n, t];
}

// Stubs: typed from a target's type (in real code `import type`), no code loaded.
async function stubChecks(): Promise<void> {
  const remote = stub<typeof charge>("payments:charge");
  const r: { order: number; ok: boolean } = await remote(5);
  // @ts-expect-error a string is not a number
  await remote("x");
  // @ts-expect-error the result is not a string
  const s: string = await remote(1);
  const h: Handle<{ order: number; ok: boolean }> = remote.with({ timeout: 10 }).submit(1);
  // @ts-expect-error .with() keeps the types
  await remote.with({ timeout: 10 })("1");
  // @ts-expect-error unknown option
  stub<typeof charge>("payments:charge", { timeOut: 10 });
  const k: undefined = remote.kind;
  const remoteFlow = stub<typeof flow>("other:flow");
  const n: number = await remoteFlow([1], "x");
  // A function's type works too.
  const fn = stub<(a: string) => Promise<boolean>>("other:fn");
  const b: boolean = await fn("a");
  // @ts-expect-error without a type, a stub cannot be called
  await stub("other:fn")();
  void [r, s, h, k, n, b];
}

async function checkpointChecks(): Promise<void> {
  const cp: Checkpoint<{ next: number }> = checkpoint("progress", { next: 1 });
  const v: { next: number } = await cp.get();
  await cp.set({ next: 2 });
  // @ts-expect-error the value's type is the initial's
  await cp.set("x");
  const count = checkpoint("count", 0);
  const c: number = await count.get();
  void [v, c];
}

describe("types", () => {
  it("flow from the function (checked by tsc)", () => {
    expect(typeof typeChecks).toBe("function");
    expect(typeof stubChecks).toBe("function");
    expect(typeof checkpointChecks).toBe("function");
  });
});
