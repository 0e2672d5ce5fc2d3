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
import { earlierSteps, stepRunTime } from "../protocol/run-tree.js";
import { durationOf } from "./format.js";

type Step = RunAnswer["steps"][number];

export interface GraphNode {
  readonly stepId: string;
  readonly label: string;
  readonly status: Step["status"];
  readonly attempts: number;
  readonly duration: string;
  /** cached, memo, deferred, from ENV (a result inherited from another environment), stale, earlier. */
  readonly markers: readonly string[];
  /** Called by an execution its caller has since replaced (a retry, a re-run), or under such a step: drawn dimmed. */
  readonly earlier: boolean;
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
  if (earlierOf(view).has(step.stepId)) m.push("earlier");
  return m;
};

const earlier = new WeakMap<RunAnswer, ReadonlySet<string>>();
/**
 * The steps of a caller's earlier execution (`runs show` marks them
 * `(earlier)`: `earlierSteps`), and the steps they called in turn.
 */
export const earlierOf = (view: RunAnswer): ReadonlySet<string> => {
  let set = earlier.get(view);
  if (set) return set;
  const out = earlierSteps(view);
  // A step's caller: by its execution here, or by the one it reused (a branch's step brought in from its parent).
  const stepOf = new Map<string, string>();
  for (const s of view.steps) if (s.reusedFrom) stepOf.set(s.reusedFrom.executionId, s.stepId);
  for (const x of Object.values(view.executions)) stepOf.set(x.executionId, x.stepId);
  let grew = out.size > 0;
  while (grew) {
    grew = false;
    for (const s of view.steps) {
      const caller = s.parentExecutionId ? stepOf.get(s.parentExecutionId) : undefined;
      if (caller && out.has(caller) && !out.has(s.stepId)) {
        out.add(s.stepId);
        grew = true;
      }
    }
  }
  earlier.set(view, (set = out));
  return set;
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
  // Its latest execution's run time, as `runs show` says it (`stepRunTime`): not the waits between attempts or re-runs.
  const t = stepRunTime(view, step);
  const duration = step.executions.length ? (t.from === undefined ? "" : durationOf(t.from, t.to, now)) : "";
  return { label, duration, markers: markersOf(step, view, env) };
};

type Node = Omit<GraphNode, "x" | "y">;
type Edge = Omit<GraphEdge, "points">;

/** The nodes (with the sizes they need) and edges of a view, not laid out. */
const structureOf = (view: RunAnswer, env: string, now?: number): { nodes: Map<string, Node>; edges: Edge[] } => {
  const known = new Set<string>(view.steps.map((s) => s.stepId));
  const nodes = new Map<string, Node>();
  for (const step of view.steps) {
    const { label, duration, markers } = stepFacts(step, view, env, now);
    const line2 = `${step.status} · ${step.executions.length} att.${duration ? ` · ${duration}` : ""}`;
    // In steps of 40 px: a node whose status or duration text grows a little keeps its size, so the cached layout holds.
    const width = Math.ceil((Math.max(140, Math.ceil(Math.max(label.length * 1.1, line2.length, markers.join(" · ").length) * CHAR_WIDTH) + 20)) / 40) * 40;
    nodes.set(step.stepId, { stepId: step.stepId, label, status: step.status, attempts: step.executions.length, duration, markers, earlier: markers.includes("earlier"), width, height: NODE_HEIGHT });
  }
  const edges: Edge[] = [];
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
  return { nodes, edges };
};

const edgeKey = (e: Edge): string => `${e.from}>${e.to}:${e.kind}`;

/**
 * The layout of a structure, from the cache when it was laid out before:
 * it depends on the structure (nodes, edges) and the nodes' sizes, so a
 * refresh that only changed statuses reuses it, as long as no node outgrew
 * the size it was laid out with (the nodes keep those sizes).
 */
const placedFor = (nodes: ReadonlyMap<string, Node>, edges: readonly Edge[]): Placed => {
  const key = `${[...nodes.keys()].join(",")}|${edges.map(edgeKey).join(",")}`;
  let placed = layouts.get(key);
  if (placed && [...nodes.values()].some((n) => n.width > placed!.widths.get(n.stepId)!)) placed = undefined;
  if (!placed) {
    made++;
    const g = new Graph({ multigraph: true });
    g.setGraph({ rankdir: "LR", nodesep: 14, ranksep: 44, marginx: 12, marginy: 12 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of nodes.values()) g.setNode(n.stepId, { width: n.width, height: NODE_HEIGHT });
    // Given last to first: dagre's first ordering follows each node's edges as given, and stacks them bottom-up,
    // so given in reverse the first call is drawn on top (test/unit/studio.unit.spec.ts; crossing reduction may still swap some).
    for (let i = edges.length - 1; i >= 0; i--) g.setEdge(edges[i]!.from, edges[i]!.to, { weight: edges[i]!.kind === "call" ? 2 : 1 }, `e${i}`);
    layout(g);
    const graph = g.graph() as { width?: number; height?: number };
    placed = {
      at: new Map([...nodes.keys()].map((id) => [id, g.node(id) as { x: number; y: number }])),
      widths: new Map([...nodes.values()].map((n) => [n.stepId, n.width])),
      points: edges.map((e, i) => (g.edge({ v: e.from, w: e.to, name: `e${i}` }) as { points?: { x: number; y: number }[] }).points ?? []),
      edgeIndex: new Map(edges.map((e, i) => [edgeKey(e), i])),
      width: graph.width ?? 0,
      height: graph.height ?? 0,
    };
    layouts.delete(key);
    layouts.set(key, placed);
    // The last few layouts (the run shown, and one or two seen before it).
    while (layouts.size > 4) layouts.delete(layouts.keys().next().value!);
  }
  return placed;
};

/**
 * Lays out the run's steps; `env` is the environment the run is viewed in;
 * `now` times what still runs.
 *
 * With `frame` (the history view: the run as of its latest commit, while
 * `view` is the run as of an earlier one), `view` is drawn in the frame's
 * layout: each step where it stands in the frame, each edge along the
 * frame's, so moving through the history lays nothing out (steps and edges
 * only ever appear) and nothing jumps. Only if `view` does not fit the frame
 * (a step or edge the frame lacks, a node wider than the frame's) is it laid
 * out alone.
 */
export const runGraph = (view: RunAnswer, env: string, now?: number, frame?: RunAnswer): RunGraph => {
  const own = structureOf(view, env, now);
  let p: Placed | undefined;
  if (frame && frame !== view) {
    const f = frameStructure(frame, env);
    const fp = placedFor(f.nodes, f.edges);
    const fits = [...own.nodes.values()].every((n) => n.width <= (fp.widths.get(n.stepId) ?? -1)) && own.edges.every((e) => fp.edgeIndex.has(edgeKey(e)));
    if (fits) p = fp;
  }
  p ??= placedFor(own.nodes, own.edges);
  const q = p;
  return {
    nodes: [...own.nodes.values()].map((n) => ({ ...n, width: q.widths.get(n.stepId)!, x: q.at.get(n.stepId)!.x, y: q.at.get(n.stepId)!.y })),
    edges: own.edges.map((e) => ({ ...e, points: q.points[q.edgeIndex.get(edgeKey(e))!] ?? [] })),
    width: q.width,
    height: q.height,
  };
};

/** The frame's structure, kept for the last frame seen (the history view passes the same one at every point). */
let lastFrame: { view: RunAnswer; env: string; s: ReturnType<typeof structureOf> } | undefined;
const frameStructure = (frame: RunAnswer, env: string): ReturnType<typeof structureOf> => {
  if (lastFrame?.view !== frame || lastFrame.env !== env) lastFrame = { view: frame, env, s: structureOf(frame, env) };
  return lastFrame.s;
};

interface Placed {
  readonly at: ReadonlyMap<string, { readonly x: number; readonly y: number }>;
  readonly widths: ReadonlyMap<string, number>;
  readonly points: readonly (readonly { readonly x: number; readonly y: number }[])[];
  /** Each edge's index in `points`, by `from>to:kind`. */
  readonly edgeIndex: ReadonlyMap<string, number>;
  readonly width: number;
  readonly height: number;
}
/** Layouts by the structure they were made for (see `runGraph`). */
const layouts = new Map<string, Placed>();

let made = 0;
/** How many layouts were computed so far (the tests: a refresh with the same structure lays out nothing). */
export const layoutsMade = (): number => made;
