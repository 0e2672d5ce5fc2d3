/** `runs diff`: a run comparison (`GET …/runs/{run}/compare`) as a table. */
import type { CompareAnswer } from "../protocol/api.js";

type Match = CompareAnswer["steps"][number];

const cut = (text: string, max = 40): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** What changed between the two sides of a match, in words. */
const whatChanged = (m: Match): string => {
  const parts: string[] = [];
  for (const kind of m.changes) {
    if (kind === "only-in-a") parts.push(`only in A: ${m.a!.target}${cut(m.a!.arguments)}`);
    else if (kind === "only-in-b") parts.push(`only in B: ${m.b!.target}${cut(m.b!.arguments)}`);
    else if (kind === "code-changed") parts.push("code (another memo key for the same arguments)");
    else if (kind === "arguments-changed") parts.push(`arguments ${cut(m.a!.arguments)} → ${cut(m.b!.arguments)}`);
    else if (kind === "result-changed") parts.push(`${m.a!.status} ${cut(m.a!.outcome)} → ${m.b!.status} ${cut(m.b!.outcome)}`);
  }
  return parts.join("; ");
};

const sideText = (s: Match["a"]): string => (s ? `${s.stepId} ${s.status}` : "-");

export const renderDiff = (c: CompareAnswer): string => {
  const rows = c.steps.map((m) => [`${"  ".repeat(m.depth)}${m.place.slice(m.place.lastIndexOf("/") + 1)}`, m.change, sideText(m.a), sideText(m.b), whatChanged(m)]);
  const head = ["place", "change", "A step", "B step", "what changed"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd();
  const counts = Object.entries(c.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
  return [
    `A: ${c.envs.a}/${c.a.runId} (${c.a.status})`,
    `B: ${c.envs.b}/${c.b.runId} (${c.b.status})`,
    "",
    line(head),
    ...rows.map(line),
    "",
    counts,
  ].join("\n");
};
