/**
 * A run's steps as a list, for runs too big for the graph (`GRAPH_LIMIT`
 * steps and more: dagre's layout grows faster than the steps — about half
 * a second for 1,000 and seconds past 3,000 — and thousands of SVG nodes are
 * no picture anyway). The same facts as a node (target and arguments,
 * status, attempts, duration, markers, caller), one row per step in
 * scheduling order, windowed: only the rows in view are in the DOM, so a
 * run of 10,000 steps opens and scrolls as fast as one of ten. Rows are
 * buttons (click, or Tab and Enter) that select the step.
 */
import type { RunAnswer } from "../../protocol/api.js";
import { stepFacts } from "../graph.js";
import { useWindow } from "./virtual.js";

/** Runs with this many steps or more are shown as a list, not a graph. */
export const GRAPH_LIMIT = 500;
const ROW = 26;

export const StepList = (props: { view: RunAnswer; env: string; selected?: string; onSelect: (stepId: string) => void; now: number }) => {
  const { view } = props;
  const steps = view.steps;
  const { ref, window: w } = useWindow<HTMLDivElement>(steps.length, ROW);
  const rows = [];
  for (let i = w.first; i < w.last; i++) {
    const step = steps[i]!;
    const f = stepFacts(step, view, props.env, props.now);
    const parent = step.parentExecutionId ? view.executions[step.parentExecutionId]?.stepId : undefined;
    const select = () => props.onSelect(step.stepId);
    rows.push(
      <div
        key={step.stepId}
        class={`step-row status-${step.status}${f.markers.includes("earlier") ? " earlier" : ""}${props.selected === step.stepId ? " selected" : ""}`}
        style={{ top: `${i * ROW}px`, height: `${ROW}px` }}
        data-step={step.stepId}
        data-status={step.status}
        tabindex={0}
        role="button"
        aria-pressed={props.selected === step.stepId}
        aria-label={`step ${f.label}: ${step.status}, ${step.executions.length} attempt(s)`}
        onClick={select}
        onKeyDown={(e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            select();
          }
        }}
      >
        <span class="sl-label">{f.label}</span>
        <span class="sl-status">{step.status}</span>
        <span class="sl-att">{step.executions.length} att.</span>
        <span class="sl-dur">{f.duration}</span>
        <span class="sl-markers">{f.markers.join(" · ")}</span>
        <span class="sl-caller muted">{parent ? `← ${parent}` : "root"}</span>
      </div>,
    );
  }
  return (
    <div class="step-list-box">
      <p class="muted legend">
        {steps.length} steps: shown as a list (a graph is drawn below {GRAPH_LIMIT} steps). Only the rows in view are drawn.
      </p>
      <div class="step-list" ref={ref} role="group" aria-label={`${steps.length} steps`} data-steps={steps.length}>
        <div class="step-list-inner" style={{ height: `${steps.length * ROW}px` }}>
          {rows}
        </div>
      </div>
    </div>
  );
};
