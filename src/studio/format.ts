/** How values, times and durations read in Studio. Pure (unit-tested in test/unit/studio-format.unit.spec.ts). */
import { ASSET_TAG, HANDLE_TAG } from "../protocol/constants.js";

/**
 * A value of arguments or results as indented text: JSON, with `12n` for a
 * bigint, an ISO date, `<bytes: N>`, and handles and assets by what they
 * point at.
 */
export const showValue = (v: unknown, indent = 2): string => {
  const seen = new WeakSet<object>();
  const go = (x: unknown, depth: number): string => {
    const pad = " ".repeat(indent * (depth + 1));
    const end = " ".repeat(indent * depth);
    if (x === undefined) return "undefined";
    if (x === null || typeof x === "number" || typeof x === "boolean" || typeof x === "string") return JSON.stringify(x);
    if (typeof x === "bigint") return `${x}n`;
    if (x instanceof Date) return Number.isNaN(x.getTime()) ? "Invalid Date" : x.toISOString();
    if (x instanceof Uint8Array) return `<bytes: ${x.length}>`;
    if (typeof x !== "object") return String(x);
    if (seen.has(x)) return "<cycle>";
    seen.add(x);
    if (Array.isArray(x)) {
      if (x.length === 0) return "[]";
      return `[\n${x.map((e) => pad + go(e, depth + 1)).join(",\n")}\n${end}]`;
    }
    const o = x as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === HANDLE_TAG) {
      const h = o[HANDLE_TAG] as { runId?: string; stepId?: string };
      return `<handle: step ${h.stepId ?? "?"} of run ${h.runId ?? "?"}>`;
    }
    if (keys.length === 1 && keys[0] === ASSET_TAG) {
      const a = o[ASSET_TAG] as { assetId?: string; name?: string; entries?: unknown[] };
      return `<asset ${a.name ? `${a.name} ` : ""}${a.assetId ?? "?"}: ${a.entries?.length ?? 0} file(s)>`;
    }
    if (keys.length === 0) return "{}";
    return `{\n${keys.map((k) => `${pad}${JSON.stringify(k)}: ${go(o[k], depth + 1)}`).join(",\n")}\n${end}}`;
  };
  return go(v, 0);
};

/** A duration in ms as `850 ms`, `1.2 s`, `3 min 4 s`, `2 h 5 min`. */
export const showDuration = (ms: number): string => {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
};

/** From `from` to `to` (or to `now` while it runs), or `-`. */
export const durationOf = (from: number | undefined, to: number | undefined, now?: number): string =>
  from === undefined ? "-" : to === undefined ? (now === undefined ? "-" : `${showDuration(now - from)}…`) : showDuration(to - from);

/** An epoch-ms time as local `YYYY-MM-DD HH:MM:SS`. */
export const showTime = (ms: number | undefined): string => {
  if (ms === undefined) return "-";
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};

/** An epoch-ms time as local `HH:MM:SS.mmm` (times within a run). */
export const showClock = (ms: number | undefined): string => {
  if (ms === undefined) return "-";
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
};

/** `repository:target` → the target's name. */
export const targetName = (t: { readonly repository: string; readonly target: string }): string => t.target;
export const targetText = (t: { readonly repository: string; readonly target: string }): string => `${t.repository}:${t.target}`;

/** A count and its noun, plural unless one: `1 step`, `2 steps`, `0 executions`. */
export const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? "" : "s"}`;

/**
 * An error's stack without its first line when that line only repeats the
 * error (`Error: message`, `TypeError: message`: V8 starts a stack so), which
 * is shown above it already; undefined when nothing is left.
 */
export const stackBelow = (error: { readonly type: string; readonly message: string; readonly stack?: string }): string | undefined => {
  if (!error.stack) return undefined;
  const [head = "", ...rest] = error.stack.split("\n");
  const h = head.trim();
  const repeats = h === error.message || h === `${error.type}: ${error.message}` || (/^\w*Error: /.test(h) && h.slice(h.indexOf(": ") + 2) === error.message);
  const out = (repeats ? rest.join("\n") : error.stack).replace(/^\n+/, "");
  return out.trim() ? out : undefined;
};
