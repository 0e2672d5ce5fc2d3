/**
 * Two runs compared step by step (`runs diff`, `GET …/runs/{run}/compare`,
 * Studio's compare view). Pure.
 *
 * Steps are matched by their **place in the call tree**, not by id: the root
 * with the root, then each caller's calls in call order. A step's place is
 * its caller's place, then `/N:target` for its caller's N-th call (the `N`
 * of its `callId`). The calls of a step are those of its *current* execution:
 * the latest of its executions that made calls (for a step brought into a
 * branch, the execution it was reused from counts first), with the calls it
 * resumed from an abandoned execution (the earlier call at each position it
 * did not call anew: a view does not say how far the resuming execution
 * got, so one that ended before a position still shows the abandoned
 * one's call there). So a production
 * run and its re-run in a branch (the same steps brought in, a caller re-run
 * with new calls) match step by step, and the calls of superseded executions
 * are left out.
 *
 * Each match is one of (when several apply, the first):
 * - `only-in-a` / `only-in-b`: no step at that place in the other run;
 * - `code-changed`: the target and arguments are equal but the current memo
 *   keys are not. Steps do not record their code's hash; the memo key is a
 *   hash of the target, the code hash of its manifest and the arguments, so
 *   with the other two equal it differs exactly when the code hash did. A
 *   step's current key is the one it was scheduled with, until a re-run with
 *   other code records another on its execution (see {@link currentMemoKey});
 *   so a step re-run in a branch whose agent hosts new code, without cascade,
 *   is `code-changed` too;
 * - `arguments-changed`: other arguments (another target at a call index is
 *   another place: `only-in-a` and `only-in-b`; two roots of other targets
 *   are `arguments-changed`);
 * - `result-changed`: another outcome (status class, result or error);
 * - `same`.
 */
import type { ErrorInfo, ResultValue, Value } from "../events/index.js";
import { canonicalJson } from "./dump.js";
import type { RunView } from "./queries.js";
import type { StepDoc } from "./runs.js";

export type ChangeKind = "same" | "result-changed" | "code-changed" | "arguments-changed" | "only-in-a" | "only-in-b";

/** One side of a match. */
export interface ComparedStep {
  readonly stepId: string;
  /** `repository:target`. */
  readonly target: string;
  readonly status: string;
  /** Short text of the arguments (`(3, "x")`). */
  readonly arguments: string;
  /** Short text of the result or error; empty while there is none. */
  readonly outcome: string;
}

export interface StepMatch {
  /** The place in the call tree: `root`, then `/N:target` per call (`root/3:score`). */
  readonly place: string;
  /** Depth in the call tree (the root is 0). */
  readonly depth: number;
  readonly change: ChangeKind;
  /** Every kind that applies (`change` is the first); empty for `same`. */
  readonly changes: readonly ChangeKind[];
  readonly a?: ComparedStep;
  readonly b?: ComparedStep;
}

export interface RunComparison {
  readonly a: { readonly runId: string; readonly status: string };
  readonly b: { readonly runId: string; readonly status: string };
  /** In tree order: a caller, then its calls in call order, depth first. */
  readonly steps: readonly StepMatch[];
  /** How many matches of each kind. */
  readonly counts: Readonly<Record<ChangeKind, number>>;
}

const PREVIEW = 80;

/** `value` as short text: canonical JSON cut at `max` characters. */
export const previewValue = (value: unknown, max = PREVIEW): string => {
  const text = canonicalJson(value);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
};

const argumentsKey = (s: StepDoc): string => (s.argumentsBlob ? `blob:${s.argumentsBlob.sha256}` : canonicalJson(s.arguments));

const resultKey = (r: ResultValue): string => (r.kind === "blob" ? `blob:${r.blob.sha256}` : canonicalJson(r.value));

const errorKey = (e: ErrorInfo): string => `${e.type}: ${e.message}`;

/** The status class an outcome compares by: a reused result is a success. */
const outcomeClass = (s: StepDoc): string => (s.status === "reused" ? "succeeded" : s.status);

const outcomeKey = (s: StepDoc): string => {
  const cls = outcomeClass(s);
  if (s.result !== undefined && (cls === "succeeded" || cls === "pending" || cls === "running")) return `${cls}|${resultKey(s.result)}`;
  if (s.error !== undefined) return `${cls}|${errorKey(s.error)}`;
  return cls;
};

const argumentsText = (s: StepDoc): string => {
  if (s.argumentsBlob) return `(blob ${s.argumentsBlob.sha256.slice(0, 12)}, ${s.argumentsBlob.size} B)`;
  const inner = s.arguments.map((v: Value) => canonicalJson(v)).join(", ");
  return inner.length + 2 <= PREVIEW ? `(${inner})` : `(${inner.slice(0, PREVIEW - 3)}…)`;
};

const outcomeText = (s: StepDoc): string => {
  if (s.error !== undefined && s.status !== "succeeded" && s.status !== "reused") return previewValue(errorKey(s.error)).replace(/^"|"$/g, "");
  if (s.result === undefined) return "";
  return s.result.kind === "blob" ? `blob ${s.result.blob.sha256.slice(0, 12)} (${s.result.blob.size} B)` : previewValue(s.result.value);
};

const side = (s: StepDoc): ComparedStep => ({
  stepId: s.stepId,
  target: `${s.target.repository}:${s.target.target}`,
  status: s.status,
  arguments: argumentsText(s),
  outcome: outcomeText(s),
});

/** The N of a `callId` `<executionId>/<N>`; undefined when absent or not a number. */
const callIndex = (s: StepDoc): number | undefined => {
  const n = s.callId === undefined ? NaN : Number(s.callId.slice(s.callId.lastIndexOf("/") + 1));
  return Number.isInteger(n) ? n : undefined;
};

interface Node {
  readonly place: string;
  readonly depth: number;
  /** Its call index (for ordering), 0 for the root. */
  readonly n: number;
  readonly step: StepDoc;
  readonly calls: Node[];
}

/** The call tree of a view, from its root, each node with its place; undefined without a root step. */
export const callTree = (view: RunView): Node | undefined => {
  const byCaller = new Map<string, StepDoc[]>();
  for (const s of view.steps) {
    if (s.parentExecutionId === undefined) continue;
    const list = byCaller.get(s.parentExecutionId) ?? [];
    list.push(s);
    byCaller.set(s.parentExecutionId, list);
  }
  /**
   * The calls of execution `id`: its own, and at each position it did not
   * call anew, the call of the abandoned executions it resumes (nearest
   * first): a resumed call keeps the step of the call it was matched to
   * (`CallResumed`), whose caller is the earlier execution.
   */
  const callsOfExecution = (id: string): StepDoc[] => {
    const at = new Map<number, StepDoc>();
    const seen = new Set<string>();
    for (let x: string | undefined = id; x !== undefined && !seen.has(x); x = view.executions[x]?.resumes) {
      seen.add(x);
      (byCaller.get(x) ?? []).forEach((c, order) => {
        const n = callIndex(c) ?? order + 1;
        if (!at.has(n)) at.set(n, c);
      });
    }
    return [...at.values()];
  };
  /** The calls of the current execution of `s`, in call order. */
  const callsOf = (s: StepDoc): StepDoc[] => {
    const candidates = [...(s.reusedFrom ? [s.reusedFrom.executionId] : []), ...s.executions];
    for (let i = candidates.length - 1; i >= 0; i--) {
      const calls = callsOfExecution(candidates[i]!);
      if (calls.length > 0) return calls;
    }
    return [];
  };
  const seen = new Set<string>();
  const build = (s: StepDoc, place: string, depth: number, n: number): Node => {
    seen.add(s.stepId);
    const calls = callsOf(s)
      .filter((c) => !seen.has(c.stepId)) // a cycle cannot be recorded, but a bad view must not loop
      .map((c, order) => ({ c, n: callIndex(c) ?? order + 1 }))
      .sort((x, y) => x.n - y.n)
      .map(({ c, n: k }) => build(c, `${place}/${k}:${c.target.target}`, depth + 1, k));
    return { place, depth, n, step: s, calls };
  };
  const root = view.steps.find((s) => s.stepId === view.run.rootStepId);
  return root ? build(root, "root", 0, 0) : undefined;
};

/**
 * The memo key a step's result answers to now: the one it was scheduled with,
 * replaced by each re-run's own (`ExecutionCreated.memoKey`, kept on the
 * execution's document; a re-run that records none ran the scheduled code
 * again). A retry keeps the key of the execution it retries. Undefined when
 * the step has no memo key (and its re-runs recorded none).
 */
export const currentMemoKey = (view: RunView, s: StepDoc): string | undefined => {
  let key = s.memoKey;
  for (const id of s.executions) {
    const x = view.executions[id];
    if (x?.memoKey !== undefined) key = x.memoKey;
    else if (x?.reason === "rerun") key = s.memoKey;
  }
  return key;
};

const kindsOf = (a: StepDoc, b: StepDoc, va: RunView, vb: RunView): ChangeKind[] => {
  const kinds: ChangeKind[] = [];
  const sameTarget = a.target.repository === b.target.repository && a.target.target === b.target.target;
  const sameArgs = sameTarget && argumentsKey(a) === argumentsKey(b);
  const ka = currentMemoKey(va, a);
  const kb = currentMemoKey(vb, b);
  if (sameArgs && ka !== undefined && kb !== undefined && ka !== kb) kinds.push("code-changed");
  if (!sameArgs) kinds.push("arguments-changed");
  if (outcomeKey(a) !== outcomeKey(b)) kinds.push("result-changed");
  return kinds;
};

/** Compare run `a` with run `b` (see the module's comment). */
export const compareRuns = (a: RunView, b: RunView): RunComparison => {
  const steps: StepMatch[] = [];
  const only = (node: Node, kind: "only-in-a" | "only-in-b"): void => {
    steps.push({ place: node.place, depth: node.depth, change: kind, changes: [kind], [kind === "only-in-a" ? "a" : "b"]: side(node.step) });
    for (const c of node.calls) only(c, kind);
  };
  const merge = (x: Node | undefined, y: Node | undefined): void => {
    if (x && !y) return only(x, "only-in-a");
    if (y && !x) return only(y, "only-in-b");
    if (!x || !y) return;
    const kinds = kindsOf(x.step, y.step, a, b);
    steps.push({ place: x.place, depth: x.depth, change: kinds[0] ?? "same", changes: kinds, a: side(x.step), b: side(y.step) });
    const ys = new Map(y.calls.map((c) => [c.place, c]));
    const xs = new Set(x.calls.map((c) => c.place));
    const places = [...x.calls, ...y.calls.filter((c) => !xs.has(c.place))].sort((p, q) => p.n - q.n);
    const xm = new Map(x.calls.map((c) => [c.place, c]));
    const done = new Set<string>();
    for (const c of places) {
      if (done.has(c.place)) continue;
      done.add(c.place);
      merge(xm.get(c.place), ys.get(c.place));
    }
  };
  merge(callTree(a), callTree(b));
  const counts: Record<ChangeKind, number> = {
    same: 0,
    "result-changed": 0,
    "code-changed": 0,
    "arguments-changed": 0,
    "only-in-a": 0,
    "only-in-b": 0,
  };
  for (const m of steps) counts[m.change] += 1;
  return { a: { runId: a.run.runId, status: a.run.status }, b: { runId: b.run.runId, status: b.run.status }, steps, counts };
};
