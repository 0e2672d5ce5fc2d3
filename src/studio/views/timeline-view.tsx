/**
 * The run's executions on a time axis (`timeline.ts`): hatched while they
 * waited, solid while they ran. Rows link to their step (click, or Tab to
 * one and Enter); only those in view are drawn. The bars fit the box's
 * width (a phone's too), down to a floor under which the box scrolls.
 */
import { useEffect, useState } from "preact/hooks";
import type { RunAnswer } from "../../protocol/api.js";
import { showDuration } from "../format.js";
import { navigate } from "../hooks.js";
import { fitLabel, MIN_BAR, timelineOf } from "../timeline.js";
import { useWindow } from "./virtual.js";

const ROW = 20;

/** Label and bar widths for a box `width` px wide. */
const columns = (width: number): { label: number; bars: number } => {
  const label = width < 520 ? 120 : 170;
  return { label, bars: Math.max(160, Math.min(560, width - label - 40)) };
};

export const TimelineView = ({ view, now, href }: { view: RunAnswer; now: number; href: (stepId: string, executionId: string) => string }) => {
  const t = timelineOf(view, now);
  // Windowed: only the rows in view are drawn (a run of 10,000 executions has as many rows).
  const { ref, window: win } = useWindow<HTMLDivElement>(t.rows.length, ROW);
  const [boxWidth, setBoxWidth] = useState(800);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setBoxWidth(el.clientWidth || 800);
    measure();
    const r = new ResizeObserver(measure);
    r.observe(el);
    return () => r.disconnect();
  }, []);
  const { label: LABEL, bars: BARS } = columns(boxWidth);
  const x = (ms: number) => LABEL + (ms / t.span) * BARS;
  const w = (a: number, b: number, least = 1) => Math.max(least, ((b - a) / t.span) * BARS);
  const height = t.rows.length * ROW + 24;
  return (
    <div class="timeline scroll" ref={ref}>
      <svg width={LABEL + BARS + 30} height={height} role="group" aria-label="timeline of executions">
        <defs>
          <pattern id="queued" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
            <rect width="3" height="6" class="queued-stripe" />
          </pattern>
        </defs>
        {t.rows.slice(win.first, win.last).map((r, j) => {
          const i = win.first + j;
          const y = i * ROW + 4;
          const title = `${r.label}: waited ${showDuration(r.queued.to - r.queued.from)}${r.ran ? `, ran ${showDuration(r.ran.to - r.ran.from)}` : ""} (${r.status})`;
          return (
            <g
              key={r.executionId}
              role="link"
              tabindex={0}
              aria-label={title}
              data-execution={r.executionId}
              class={`tl-row status-${r.status}`}
              onClick={() => navigate(href(r.stepId, r.executionId))}
              onKeyDown={(e) => {
                if (e.key === "Enter" || e.key === " ") {
                  e.preventDefault();
                  navigate(href(r.stepId, r.executionId));
                }
              }}
            >
              <title>{title}</title>
              <text x={4} y={y + 13} class="tl-label">
                {fitLabel(r.label, LABEL - 10)}
              </text>
              <rect x={x(r.queued.from)} y={y + 3} width={w(r.queued.from, r.queued.to)} height={ROW - 8} fill="url(#queued)" class="tl-queued" />
              {r.ran && <rect x={x(r.ran.from)} y={y + 2} width={w(r.ran.from, r.ran.to, MIN_BAR)} height={ROW - 6} class="tl-ran" />}
            </g>
          );
        })}
        <text x={LABEL} y={height - 4} class="tl-axis">
          0
        </text>
        <text x={LABEL + BARS} y={height - 4} class="tl-axis" text-anchor="end">
          {showDuration(t.span)}
        </text>
      </svg>
    </div>
  );
};
