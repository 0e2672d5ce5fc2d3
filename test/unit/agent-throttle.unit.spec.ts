/** The agent's throttle of progress and metrics: per channel, one message per interval at most, the last always sent. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Throttle } from "../../src/agent/throttle.js";

describe("Throttle", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());
  const make = () => {
    const sent: string[] = [];
    return { sent, t: new Throttle<string>(500, (m) => sent.push(m), () => Date.now()) };
  };

  it("sends the first at once, holds the rest, and sends the last when the interval is up", () => {
    const { sent, t } = make();
    for (const m of ["a1", "a2", "a3"]) t.push("a", m);
    expect(sent).toEqual(["a1"]);
    vi.advanceTimersByTime(499);
    expect(sent).toEqual(["a1"]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual(["a1", "a3"]);
    vi.advanceTimersByTime(5000);
    expect(sent).toEqual(["a1", "a3"]);
  });

  it("channels are throttled apart", () => {
    const { sent, t } = make();
    t.push("progress", "p1");
    t.push("metric:loss", "l1");
    t.push("progress", "p2");
    expect(sent).toEqual(["p1", "l1"]);
    vi.advanceTimersByTime(500);
    expect(sent).toEqual(["p1", "l1", "p2"]);
    expect(t.channels).toBe(2);
  });

  it("after a quiet interval, a message goes at once", () => {
    const { sent, t } = make();
    t.push("a", "a1");
    vi.advanceTimersByTime(600);
    t.push("a", "a2");
    expect(sent).toEqual(["a1", "a2"]);
  });

  it("flush sends what waits at once, and nothing later", () => {
    const { sent, t } = make();
    t.push("a", "a1");
    t.push("a", "a2");
    t.push("b", "b1");
    t.push("b", "b2");
    t.flush();
    expect(sent).toEqual(["a1", "b1", "a2", "b2"]);
    vi.advanceTimersByTime(5000);
    expect(sent).toHaveLength(4);
  });
});
