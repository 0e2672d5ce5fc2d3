/**
 * The graph of a run's steps: one node per step, an edge from each caller
 * to each step it called (`call`), and one from a step to each step whose
 * handle it was given as an argument (`wait`). Laid out left to right by dagre
 * (@dagrejs/dagre). Pure apart from the layout library: no DOM, so the unit
 * tests run it in Node (test/unit/studio-graph.unit.spec.ts).
 */
import { Graph, layout } from "@dagrejs/dagre";
import type { RunAnswer } from "../protocol/api.js";
import { HANDLE_TAG } from "../protocol/constants.js";
import { durationOf } from "./format.js";

type Step = RunAnswer["steps"][number];

export interface GraphNode {
  readonly stepId: string;
  readonly label: string;
  readonly status: Step["status"];
  readonly attempts: number;
  readonly duration: string;
  /** cached, memo, deferred, from ENV (a result inherited from another environment), stale. */
  readonly markers: readonly string[];
  /** Centre, and size. */
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: "call" | "wait";
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface RunGraph {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  readonly width: number;
  readonly height: number;
}

export const NODE_HEIGHT = 58;
const CHAR_WIDTH = 7.4;

/** A step's arguments in a few characters: `101`, `"a", 2`, `[3 items]`. */
export const argsPreview = (args: readonly unknown[], max = 24): string => {
  const one = (v: unknown): string =>
    typeof v === "string" ? JSON.stringify(v) : typeof v === "bigint" ? `${v}n` : v === null || typeof v !== "object" ? String(v) : Array.isArray(v) ? `[${v.length} items]` : v instanceof Date ? v.toISOString() : "{…}";
  const text = args.map(one).join(", ");
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
};

/** What sets a step apart besides its status. */
export const markersOf = (step: Step, view: RunAnswer, env: string): string[] => {
  const m: string[] = [];
  // Only while the step's result is the reused one: re-run here, its result is its own execution's.
  const from = step.resultReused ? step.reusedFrom : undefined;
  if (from) {
    m.push(from.runId === view.run.runId && step.memoKey !== undefined ? "memo" : "cached");
    if (from.env !== env) m.push(`from ${from.env}`);
  }
  if (step.status === "deferred" || step.deferredTo) m.push("deferred");
  if (view.stale.includes(step.stepId)) m.push("stale");
  return m;
};

/** The step ids of the handles found anywhere in `value` (arguments may nest them). */
export const handlesIn = (value: unknown, runId: string, out = new Set<string>()): Set<string> => {
  if (typeof value !== "object" || value === null) return out;
  if (Array.isArray(value)) {
    for (const v of value) handlesIn(v, runId, out);
    return out;
  }
  const o = value as Record<string, unknown>;
  const h = o[HANDLE_TAG] as { runId?: unknown; stepId?: unknown } | undefined;
  if (h && Object.keys(o).length === 1) {
    if (h.runId === runId && typeof h.stepId === "string") out.add(h.stepId);
    return out;
  }
  for (const v of Object.values(o)) handlesIn(v, runId, out);
  return out;
};

/** What a node (or a row of the step list) shows of a step besides its status: `charge(102)`, how long it took, its markers. */
export const stepFacts = (step: Step, view: RunAnswer, env: string, now?: number): { label: string; duration: string; markers: string[] } => {
  const label = `${step.target.target}(${step.argumentsBlob ? "…" : argsPreview(step.arguments)})`;
  const last = step.executions.length ? view.executions[step.executions[step.executions.length - 1]!] : undefined;
  const first = step.executions.length ? view.executions[step.executions[0]!] : undefined;
  const duration = first ? durationOf(first.startedAt ?? first.createdAt, last?.finishedAt ?? step.finishedAt, now) : "";
  return { label, duration, markers: markersOf(step, view, env) };
};

/** Lays out the run's steps; `env` is the environment the run is viewed in; `now` times what still runs. */
export const runGraph = (view: RunAnswer, env: string, now?: number): RunGraph => {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 14, ranksep: 44, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const known = new Set<string>(view.steps.map((s) => s.stepId));
  const nodes = new Map<string, Omit<GraphNode, "x" | "y">>();
  for (const step of view.steps) {
    const { label, duration, markers } = stepFacts(step, view, env, now);
    const line2 = `${step.status} · ${step.executions.length} att.${duration ? ` · ${duration}` : ""}`;
    // In steps of 40 px: a node whose status or duration text grows a little keeps its size, so the cached layout holds.
    const width = Math.ceil((Math.max(140, Math.ceil(Math.max(label.length * 1.1, line2.length, markers.join(" · ").length) * CHAR_WIDTH) + 20)) / 40) * 40;
    const node = { stepId: step.stepId, label, status: step.status, attempts: step.executions.length, duration, markers, width, height: NODE_HEIGHT };
    nodes.set(step.stepId, node);
    g.setNode(step.stepId, { width, height: NODE_HEIGHT });
  }
  const edges: Omit<GraphEdge, "points">[] = [];
  // A step reused (in a branch, from its parent environment) has no execution here: its callees name the one it reused.
  const reusedBy = new Map<string, string>();
  for (const step of view.steps) if (step.reusedFrom) reusedBy.set(step.reusedFrom.executionId, step.stepId);
  for (const step of view.steps) {
    const parent = step.parentExecutionId ? (view.executions[step.parentExecutionId]?.stepId ?? reusedBy.get(step.parentExecutionId)) : undefined;
    if (parent && known.has(parent)) edges.push({ from: parent, to: step.stepId, kind: "call" });
    for (const waited of handlesIn(step.arguments, view.run.runId)) {
      if (known.has(waited) && waited !== step.stepId) edges.push({ from: waited, to: step.stepId, kind: "wait" });
    }
  }
  // The layout depends on the structure (nodes, edges) and the nodes' sizes: a refresh that only changed statuses
  // reuses it, as long as no node outgrew the size it was laid out with (the nodes keep those sizes).
  const key = `${[...nodes.keys()].join(",")}|${edges.map((e) => `${e.from}>${e.to}:${e.kind}`).join(",")}`;
  let placed = layouts.get(key);
  if (placed && [...nodes.values()].some((n) => n.width > placed!.widths.get(n.stepId)!)) placed = undefined;
  if (!placed) {
    made++;
    edges.forEach((e, i) => g.setEdge(e.from, e.to, { weight: e.kind === "call" ? 2 : 1 }, `e${i}`));
    layout(g);
    const graph = g.graph() as { width?: number; height?: number };
    placed = {
      at: new Map([...nodes.keys()].map((id) => [id, g.node(id) as { x: number; y: number }])),
      widths: new Map([...nodes.values()].map((n) => [n.stepId, n.width])),
      points: edges.map((e, i) => (g.edge({ v: e.from, w: e.to, name: `e${i}` }) as { points?: { x: number; y: number }[] }).points ?? []),
      width: graph.width ?? 0,
      height: graph.height ?? 0,
    };
    layouts.delete(key);
    layouts.set(key, placed);
    // The last few layouts (the run shown, and one or two seen before it).
    while (layouts.size > 4) layouts.delete(layouts.keys().next().value!);
  }
  const p = placed;
  return {
    nodes: [...nodes.values()].map((n) => ({ ...n, width: p.widths.get(n.stepId)!, x: p.at.get(n.stepId)!.x, y: p.at.get(n.stepId)!.y })),
    edges: edges.map((e, i) => ({ ...e, points: p.points[i]! })),
    width: p.width,
    height: p.height,
  };
};

interface Placed {
  readonly at: ReadonlyMap<string, { readonly x: number; readonly y: number }>;
  readonly widths: ReadonlyMap<string, number>;
  readonly points: readonly (readonly { readonly x: number; readonly y: number }[])[];
  readonly width: number;
  readonly height: number;
}
/** Layouts by the structure they were made for (see `runGraph`). */
const layouts = new Map<string, Placed>();

let made = 0;
/** How many layouts were computed so far (the tests: a refresh with the same structure lays out nothing). */
export const layoutsMade = (): number => made;
