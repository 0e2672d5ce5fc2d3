import { describe, expect, it } from "vitest";
import { checkpoint, OutsideExecutionError, stub, task } from "../../src/index.js";
import { targetCore } from "../../src/agent/sdk.js";

const charge = task("charge", async (order: number) => order);

describe("stub()", () => {
  it("names the repository and the target; its kind is the hosting manifest's, unknown here", () => {
    const s = stub<typeof charge>("github.com.acme.payments:charge", { retries: 2 });
    expect(s.name).toBe("charge");
    expect(s.repository).toBe("github.com.acme.payments");
    expect(s.kind).toBeUndefined();
    expect(s.options).toEqual({ retries: 2 });
    expect(s.with({ timeout: 5 }).options).toEqual({ retries: 2, timeout: 5 });
  });

  it("is not a target of the module that exports it", () => {
    expect(targetCore(stub<typeof charge>("payments:charge"))).toBeUndefined();
    expect(targetCore(charge)?.name).toBe("charge");
  });

  it.each(["charge", ":charge", "payments:", "pay ments:charge", "payments:9x", "", 42])("refuses %j, saying what it expects", (ref) => {
    expect(() => stub(ref as string)).toThrow(/^stub\(\): expected "repository:target"/);
  });

  it("refuses an invalid option, naming it", () => {
    expect(() => stub("payments:charge", { timeout: -1 })).toThrow(/timeout/);
  });

  it("calls only inside an execution", async () => {
    const s = stub<typeof charge>("payments:charge");
    expect(() => s(1)).toThrow(OutsideExecutionError);
  });
});

describe("checkpoint()", () => {
  it("works only inside an execution", () => {
    expect(() => checkpoint("progress", 0)).toThrow(OutsideExecutionError);
  });
});
