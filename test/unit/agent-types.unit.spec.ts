/**
 * Compile-time checks: `tsc -p .` fails if a line marked @ts-expect-error
 * compiles. The calls are never run (they would need an execution).
 */
import { describe, expect, it } from "vitest";
import { task, workflow, type Handle, type Target } from "../../src/index.js";

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

describe("types", () => {
  it("flow from the function (checked by tsc)", () => {
    expect(typeof typeChecks).toBe("function");
  });
});
