/**
 * Compile-time checks of `tributary/client`: `tsc -p .` fails if a line
 * marked @ts-expect-error compiles. A run's outcome, polled or awaited, and
 * a re-run's carry the workflow's result type, as `result()` does. The calls
 * are never run (they would need a server).
 */
import { describe, expect, it } from "vitest";
import { Client, type ErrorInfo, type Value } from "../../src/client/index.js";
import { workflow } from "../../src/index.js";

const crawl = workflow("crawl", async (urls: string[], tag: string) => ({ total: urls.length, tag }));

async function typeChecks(client: Client): Promise<void> {
  const run = await client.submit<typeof crawl>("flows:crawl", [["https://example.org"], "x"]);
  const total: number = (await run.result()).total;

  const o = await run.outcome();
  // @ts-expect-error the value is there only once the outcome is known to have succeeded
  void o.value;
  if (o.status === "succeeded") {
    const t: number = o.value.total;
    // @ts-expect-error the workflow's result has no such field
    void o.value.count;
    void t;
  } else {
    const e: ErrorInfo = o.error;
    const status: "failed" | "cancelled" | "timed_out" | "abandoned" = o.status;
    void [e, status];
  }

  const polled = await client.run<typeof crawl>(run.runId).poll();
  const tag: string | undefined = polled?.status === "succeeded" ? polled.value.tag : undefined;
  // @ts-expect-error tag is a string
  const wrong: number | undefined = polled?.status === "succeeded" ? polled.value.tag : undefined;

  // With cascade the re-run gives the run's outcome; a step alone gives the type it is told, else any Value.
  const cascaded: number = (await (await run.rerun("1", { cascade: true })).result()).total;
  const step: number = await (await run.rerun<number>("2")).result();
  const untypedStep: Value = await (await run.rerun("2")).result();
  // @ts-expect-error a step's result is not known to be the run's
  void (await (await run.rerun("2")).result()).total;

  // Untyped: any Value, as the API's JSON carries.
  const any: Value = await client.run("R").result();
  const anyOutcome = await client.run("R").outcome();
  const v: Value | undefined = anyOutcome.status === "succeeded" ? anyOutcome.value : undefined;
  void [total, tag, wrong, cascaded, step, untypedStep, any, v];
}

describe("types of tributary/client", () => {
  it("outcomes carry the workflow's result type (checked by tsc)", () => {
    expect(typeof typeChecks).toBe("function");
  });
});
