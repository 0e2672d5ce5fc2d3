/**
 * Prompts: the inputs task code asked people for, and their answers. Pure.
 *
 * - `inputs`, keyed by input id: the prompt (title, schema, the call that
 *   made it), pending or answered (the value, when, by whom).
 * - `input-index`, keyed `call:<callId>` (the input a call made) and
 *   `key:<runId>/<key>` (the latest input of the run with that memo key).
 */
import type { ExecutionId, Principal, RunId, StepId, Value } from "../events/index.js";
import { eventsOfTypes, type Projection } from "./projection.js";

export interface InputDoc {
  readonly inputId: string;
  readonly runId: RunId;
  readonly executionId: ExecutionId;
  readonly stepId: StepId;
  readonly callId: string;
  readonly title: string;
  readonly schema: Value;
  readonly key: string;
  readonly status: "pending" | "answered";
  readonly requestedAt: number;
  readonly requestedSeq: number;
  readonly value?: Value;
  readonly answeredAt?: number;
  readonly answeredBy?: Principal;
}

/** An entry of `input-index`: the input a call made, or the latest of a run with a key. */
export interface InputIndexDoc {
  readonly inputId: string;
}

const isInputEvent = eventsOfTypes(["InputRequested", "InputAnswered"]);

export const inputsProjection: Projection<InputDoc> = {
  name: "inputs",
  version: 1,
  keysOf: (e) => (isInputEvent(e) ? [e.data.inputId] : []),
  evolve(doc, e, _key, ctx) {
    if (!isInputEvent(e)) return doc;
    if (e.type === "InputRequested") {
      const d = e.data;
      return {
        inputId: d.inputId,
        runId: e.runId,
        executionId: d.executionId,
        stepId: d.stepId,
        callId: d.callId,
        title: d.title,
        schema: d.schema,
        key: d.key,
        status: "pending",
        requestedAt: e.at,
        requestedSeq: ctx.seq,
      };
    }
    if (!doc) return doc;
    return { ...doc, status: "answered", value: e.data.value, answeredAt: e.at, ...(e.by === undefined ? {} : { answeredBy: e.by }) };
  },
};

export const inputIndexProjection: Projection<InputIndexDoc> = {
  name: "input-index",
  version: 1,
  keysOf: (e) => (e.type === "InputRequested" ? [`call:${e.data.callId}`, `key:${e.runId}/${e.data.key}`] : []),
  evolve: (doc, e) => (e.type === "InputRequested" ? { inputId: e.data.inputId } : doc),
};

export const getInput = (src: { get<D>(p: string, k: string): D | undefined }, inputId: string): InputDoc | undefined => src.get<InputDoc>("inputs", inputId);
