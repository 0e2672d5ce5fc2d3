import { describe, expect, it } from "vitest";
import { AbandonedError, CancelledError, TerminalError, TimeoutError } from "../../src/index.js";
import { errorFromInfo, errorFromOutcome, toErrorInfo } from "../../src/agent/errors.js";
import { decodeMessage, encodeMessage } from "../../src/protocol/messages.js";
import type { ErrorInfo } from "../../src/events/index.js";

/** The error as the caller sees it: to info, through msgpack, and back. */
const roundTrip = (err: unknown): Error => {
  const wire = decodeMessage(encodeMessage({ type: "failed", executionId: "e", error: toErrorInfo(err) }));
  return errorFromInfo(wire?.["error"] as ErrorInfo);
};

class PaymentDeclined extends Error {
  override name = "PaymentDeclined";
}
class CardExpired extends PaymentDeclined {
  override name = "CardExpired";
}

describe("errors across a call", () => {
  it("keep name, message and stack, and the standard class", () => {
    const original = new RangeError("order out of range");
    const err = roundTrip(original);
    expect(err).toBeInstanceOf(RangeError);
    expect(err.name).toBe("RangeError");
    expect(err.message).toBe("order out of range");
    expect(err.stack).toBe(original.stack);
  });

  it.each([TypeError, SyntaxError, ReferenceError, EvalError, URIError, Error])("rebuild a %o as its class", (Class) => {
    expect(roundTrip(new Class("x"))).toBeInstanceOf(Class);
  });

  it("rebuild an AggregateError as one (without its errors)", () => {
    const err = roundTrip(new AggregateError([new Error("a")], "several"));
    expect(err).toBeInstanceOf(AggregateError);
    expect(err.message).toBe("several");
  });

  it("keep the name of a custom error (an Error with that name)", () => {
    const err = roundTrip(new PaymentDeclined("declined"));
    expect(err.name).toBe("PaymentDeclined");
    expect(err).toBeInstanceOf(Error);
    expect(err.stack).toContain("PaymentDeclined: declined");
  });

  it("make TerminalError non-retryable, and rebuild it as a TerminalError", () => {
    expect(toErrorInfo(new TerminalError("stop")).retryable).toBe(false);
    expect(toErrorInfo(new RangeError("again")).retryable).toBe(true);
    expect(roundTrip(new TerminalError("stop"))).toBeInstanceOf(TerminalError);
  });

  it("retry only the errors of retryOn, by name or class (subclasses included)", () => {
    const filter = { names: ["RangeError", "PaymentDeclined"], classes: [PaymentDeclined] };
    expect(toErrorInfo(new RangeError("r"), filter).retryable).toBe(true);
    expect(toErrorInfo(new CardExpired("c"), filter).retryable).toBe(true);
    expect(toErrorInfo(new TypeError("t"), filter).retryable).toBe(false);
    expect(toErrorInfo(new CardExpired("c"), { names: ["PaymentDeclined"] }).retryable).toBe(true);
  });

  it("describe a thrown non-error", () => {
    expect(toErrorInfo("boom")).toEqual({ type: "Error", message: "a non-error was thrown: boom", retryable: true });
    expect(toErrorInfo({ code: 7 }).message).toBe('a non-error was thrown: {"code":7}');
  });

  it("make cancelled, timed-out and abandoned outcomes distinct classes", () => {
    const error = { type: "X", message: "m", retryable: false };
    expect(errorFromOutcome({ status: "cancelled", error })).toBeInstanceOf(CancelledError);
    expect(errorFromOutcome({ status: "timed_out", error })).toBeInstanceOf(TimeoutError);
    expect(errorFromOutcome({ status: "abandoned", error })).toBeInstanceOf(AbandonedError);
    expect(errorFromOutcome({ status: "failed", error: { ...error, type: "RangeError" } })).toBeInstanceOf(RangeError);
    expect(new TimeoutError("t").name).toBe("TimeoutError");
  });
});
