/**
 * Environment patterns of tokens. A pattern is an exact environment name
 * (`dev`: that environment only), or a prefix followed by `*` (`dev-*`:
 * every environment whose name starts with `dev-`, which `dev` itself does
 * not; `*`: every environment). `*` matches any rest, the empty one
 * included, so `dev*` covers `dev`, `devops` and `dev-alice`. To give `dev`
 * and its `dev-…` environments, give both patterns: `dev,dev-*`.
 *
 * Environment names cannot hold `/` (they are NATS subject tokens), so a
 * pattern like `dev/*` would match nothing: it is refused, with the hint to
 * write `dev-*`. Pure.
 */
import { NAME, NAME_HINT } from "../events/ids.js";

const PREFIX = /^[A-Za-z0-9-]{0,63}$/;

/** Why `pattern` is not a pattern (a hint saying what is), or `undefined` when it is one. */
export const patternRefusal = (pattern: string): string | undefined => {
  if (NAME.test(pattern)) return undefined;
  if (pattern.endsWith("*")) {
    const prefix = pattern.slice(0, -1);
    if (PREFIX.test(prefix) && !prefix.startsWith("-")) return undefined;
    if (prefix.includes("/")) {
      return `environment names cannot contain '/': for the environments whose names start with '${prefix.replace(/\/+$/, "")}-', write '${prefix.replace(/\/+$/, "")}-*'`;
    }
    return "a prefix before '*' uses letters, digits and '-', starting with a letter or digit ('*' alone: every environment)";
  }
  return `give an environment name (${NAME_HINT}) or a prefix ending in '*' (dev-*)`;
};

/** Does `pattern` (a valid one) cover environment `env`? */
export const patternMatches = (pattern: string, env: string): boolean =>
  pattern.endsWith("*") ? env.startsWith(pattern.slice(0, -1)) : pattern === env;

/** Does any of `patterns` cover `env`? */
export const coversEnv = (patterns: readonly string[], env: string): boolean => patterns.some((p) => patternMatches(p, env));

/** Do `patterns` cover every environment of the project (one of them is `*`)? */
export const coversAll = (patterns: readonly string[]): boolean => patterns.includes("*");

/**
 * Does every environment `pattern` covers lie within what `patterns` cover?
 * An exact name: when one of them covers it. A prefix `x*`: when one of them
 * is a prefix `y*` with `x` starting with `y` (an exact name never covers a
 * prefix).
 */
export const patternWithin = (pattern: string, patterns: readonly string[]): boolean => {
  if (!pattern.endsWith("*")) return coversEnv(patterns, pattern);
  const prefix = pattern.slice(0, -1);
  return patterns.some((q) => q.endsWith("*") && prefix.startsWith(q.slice(0, -1)));
};
