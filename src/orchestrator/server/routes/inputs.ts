/** Inputs asked by prompts: listed, shown, and answered (the answer checked against the input's schema). */
import type { InputDoc } from "../../../projections/index.js";
import type { Value } from "../../../events/index.js";
import { validateValue } from "../../../protocol/json-schema.js";
import { envOf, rejected, type Handlers } from "../context.js";
import { HttpError } from "../http-io.js";

export const inputRoutes = {
  listInputs: async (ctx, r) => {
    const { rt } = await envOf(ctx, r);
    const status = r.query.get("status");
    const run = r.query.get("run");
    return [...rt.source.range<InputDoc>("inputs", { reverse: true })]
      .map(([, d]) => d)
      .filter((d) => (status === null || d.status === status) && (run === null || d.runId === run));
  },

  getInput: async (ctx, r) => {
    const { rt } = await envOf(ctx, r);
    const input = rt.model.input(r.params.inputId);
    if (!input) throw rejected({ _tag: "UnknownInput", inputId: r.params.inputId });
    return input;
  },

  answerInput: async (ctx, r) => {
    const { rt } = await envOf(ctx, r);
    const { inputId } = r.params;
    const input = rt.model.input(inputId);
    if (!input) throw rejected({ _tag: "UnknownInput", inputId });
    const value = (r.body as { value: Value }).value;
    const bad = validateValue(input.schema, value);
    if (bad) throw new HttpError(400, `the answer does not fit the schema of input ${inputId}: ${bad}`);
    const x = await rt.execute({ type: "AnswerInput", inputId, value }, { by: r.principal });
    if (!x.ok) throw rejected(x.rejection);
    return { inputId, answered: true, ...(x.events.length === 0 ? { already: true } : { seq: x.seq }) };
  },
} satisfies Partial<Handlers>;
