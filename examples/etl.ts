/**
 * The example repository of the environments walk-through (docs/environments.md):
 * a daily pipeline that extracts, cleans, scores and reports on a day of orders.
 * `etl-v2.ts` is the same repository with a new scoring formula.
 *
 *     tributary agent examples/etl.ts
 *     tributary submit etl:daily --arg '"2026-11-21"' --wait
 */
import { context, task, workflow } from "../src/index.js";

export const repository = "etl";

export interface Order {
  readonly id: number;
  readonly amount: number;
  readonly country: string;
}

/** The day's orders (made up from the date, so that the example needs nothing outside). */
export const extract = task("extract", (day: string): Order[] => {
  const seed = [...day].reduce((n, c) => n + c.charCodeAt(0), 0);
  return Array.from({ length: 8 }, (_, i) => ({ id: seed * 10 + i, amount: ((seed * (i + 3)) % 97) + 1, country: i % 3 ? "FR" : "DE" }));
});

/** Drops the orders too small to count. */
export const clean = task("clean", (orders: Order[]) => orders.filter((o) => o.amount >= 10));

/** Scores each order. */
export const score = task("score", (orders: Order[]) => orders.map((o) => ({ id: o.id, score: o.amount })));

/** The report: how many orders, the total score, the best one. */
export const report = task("report", (scores: { id: number; score: number }[]) => {
  context().log.info("reporting", { orders: scores.length });
  const best = scores.reduce((a, b) => (b.score > a.score ? b : a));
  return { orders: scores.length, total: scores.reduce((n, s) => n + s.score, 0), best: best.id };
});

export const daily = workflow("daily", async (day: string) => report(await score(await clean(await extract(day)))));
