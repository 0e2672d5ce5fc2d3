/**
 * The example repository of the README and the demo: a workflow that charges
 * orders in parallel (one charge fails once and is retried), then has them
 * summarised by a task that itself calls a task.
 *
 *     tributary agent examples/orders.ts
 *     tributary submit orders:process_orders --arg '[101, 102, 103]' --wait
 */
import { context, task, workflow } from "../src/index.js";

export interface Charge {
  readonly order: number;
  readonly amount: number;
}

/** Charges one order. Order 102's first attempt fails: the gateway is "busy", and the retry succeeds. */
export const charge = task("charge", { retries: { limit: 2, delay: 200 } }, async (order: number): Promise<Charge> => {
  const { attempt, log } = context();
  log.info("charging", { order, attempt });
  if (order === 102 && attempt === 1) throw new Error(`payment gateway busy for order ${order}`);
  return { order, amount: (order % 100) * 10 };
});

/** Formats an amount of cents. */
export const formatTotal = task("format_total", (cents: number): string => `${(cents / 100).toFixed(2)} EUR`);

/** Totals the charges; calls another task to format the total. */
export const summarize = task("summarize", async (charges: Charge[]) => {
  const cents = charges.reduce((sum, c) => sum + c.amount, 0);
  return { orders: charges.length, total: await formatTotal(cents) };
});

/** Charges every order in parallel, then summarises. */
export const processOrders = workflow("process_orders", async (orders: number[]) => {
  const handles = orders.map((order) => charge.submit(order));
  const charges = await Promise.all(handles.map((h) => h.result()));
  return summarize(charges);
});
