/** The run's step graph as SVG: nodes are buttons (click, or Enter on a focused one) that select the step. */
import { useMemo } from "preact/hooks";
import type { RunAnswer } from "../../protocol/api.js";
import { count } from "../format.js";
import { runGraph, type GraphEdge } from "../graph.js";

const pathD = (e: GraphEdge): string => e.points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");

/** `frame`: a later view of the same run whose layout `view` is drawn in (the history view; see `runGraph`). */
export const GraphView = (props: { view: RunAnswer; env: string; selected?: string; onSelect: (stepId: string) => void; now: number; frame?: RunAnswer }) => {
  const g = useMemo(() => runGraph(props.view, props.env, props.now, props.frame), [props.view, props.env, props.now, props.frame]);
  return (
    <div class="graph" aria-label="step graph">
      {/* A graph wider than its box is shrunk to fit, down to 70 % of its size (still readable), then scrolls. */}
      <svg width={g.width} height={g.height} viewBox={`0 0 ${g.width} ${g.height}`} style={{ minWidth: `${Math.round(g.width * 0.7)}px` }} role="group" aria-label={count(g.nodes.length, "step")}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
          </marker>
        </defs>
        {g.edges.map((e, i) => (
          <path key={`${e.from}-${e.to}-${i}`} d={pathD(e)} class={`edge edge-${e.kind}`} marker-end="url(#arrow)">
            <title>{e.kind === "call" ? "calls" : "waits for (a handle passed as an argument)"}</title>
          </path>
        ))}
        {g.nodes.map((n) => {
          const x = n.x - n.width / 2;
          const y = n.y - n.height / 2;
          const select = () => props.onSelect(n.stepId);
          return (
            <g
              key={n.stepId}
              class={`node status-${n.status}${n.earlier ? " earlier" : ""}${props.selected === n.stepId ? " selected" : ""}`}
              data-step={n.stepId}
              data-status={n.status}
              data-earlier={n.earlier ? "" : undefined}
              tabindex={0}
              role="button"
              aria-pressed={props.selected === n.stepId}
              aria-label={`step ${n.label}${n.earlier ? " (earlier)" : ""}: ${n.status}, ${n.attempts} attempt(s)`}
              onClick={select}
              onKeyDown={(e) => {
                if (e.key === "Enter" || e.key === " ") {
                  e.preventDefault();
                  select();
                }
              }}
            >
              <rect x={x} y={y} width={n.width} height={n.height} rx="6" />
              <text x={x + 10} y={y + 18} class="node-label">
                {n.label}
              </text>
              <text x={x + 10} y={y + 34} class="node-info">
                {n.status} · {n.attempts} att.{n.duration ? ` · ${n.duration}` : ""}
              </text>
              {n.markers.length > 0 && (
                <text x={x + 10} y={y + 50} class="node-markers">
                  {n.markers.join(" · ")}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </div>
  );
};
