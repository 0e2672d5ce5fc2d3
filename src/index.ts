/**
 * Tributary's package root: what workflow code imports — the SDK, its
 * errors, and `startAgent` to host repositories from a program.
 *
 * @example
 * import { task, workflow, context, persist, restore } from "tributary";
 */
export * from "./agent/index.js";
