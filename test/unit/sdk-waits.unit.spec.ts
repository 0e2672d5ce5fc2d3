/** The SDK of waits: types of `select`, refusals outside an execution, and the `recurrent` option. */
import { describe, expect, expectTypeOf, it } from "vitest";
import { parseOptions } from "../../src/agent/options.js";
import { InvalidOptionError, OutsideExecutionError, select, suspend, suspense, type Handle, type Selected } from "../../src/index.js";

describe("waits in the SDK", () => {
  it("select is typed by its handles", () => {
    type Both = Selected<number | string>;
    expectTypeOf<ReturnType<typeof select<[Handle<number>, Handle<string>]>>>().toEqualTypeOf<Promise<Both>>();
    expectTypeOf<Both["value"]>().toEqualTypeOf<number | string>();
    expectTypeOf<Both["remaining"]>().toEqualTypeOf<Handle<number | string>[]>();
  });

  it("suspend, suspense and select outside an execution throw OutsideExecutionError", async () => {
    await expect(suspend(10)).rejects.toBeInstanceOf(OutsideExecutionError);
    expect(() => suspense(10, () => 1)).toThrow(OutsideExecutionError);
    await expect(select([])).rejects.toBeInstanceOf(OutsideExecutionError);
  });

  it("recurrent: true, { delayMs }, or refused naming the field", () => {
    expect(parseOptions({ recurrent: true }, "task t").step.recurrent).toEqual({ delayMs: 0 });
    expect(parseOptions({ recurrent: { delayMs: 250 } }, "task t").step.recurrent).toEqual({ delayMs: 250 });
    expect(parseOptions({ recurrent: false }, "task t").step.recurrent).toBeUndefined();
    expect(() => parseOptions({ recurrent: { delayMs: -1 } }, "task t")).toThrow(/option recurrent.delayMs must be a non-negative number/);
    expect(() => parseOptions({ recurrent: { every: 1 } }, "task t")).toThrow(InvalidOptionError);
    expect(() => parseOptions({ recurrent: 5 }, "task t")).toThrow(/option recurrent must be a boolean or \{ delayMs\? \}/);
  });
});
