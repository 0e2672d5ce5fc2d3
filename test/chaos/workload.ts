/**
 * The chaos workload as data: seeded random submissions of the `chaos:*`
 * workflows, and the result each must have, computed here from its
 * arguments alone — independently of the code the agents run.
 */
import { createHash } from "node:crypto";

/** A small seeded generator (mulberry32): the same seed gives the same campaign. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** In [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
}

export type Kind = "fan_out" | "chain" | "retries" | "cached" | "parent" | "assets" | "long_chain";
export const KINDS: readonly Kind[] = ["fan_out", "chain", "retries", "cached", "parent", "assets", "long_chain"];

export interface Submission {
  /** Unique per submission; also its idempotency key. */
  readonly tag: string;
  readonly kind: Kind;
  readonly target: string;
  readonly arguments: unknown[];
  readonly expected: unknown;
  /** Runs this submission makes: itself, plus its child runs. */
  readonly runs: number;
}

const sumSquares = (xs: readonly number[]) => xs.reduce((a, x) => a + (x * x + 1), 0);
const chainOf = (n: number, x0: number) => {
  let x = x0;
  for (let i = 0; i < n; i++) x = (x * 7 + i) % 1009;
  return x;
};
const text = (tag: string, n: number) => {
  let s = "";
  for (let i = 0; i < n; i++) s += `${tag} line ${i}\n`;
  return s;
};

/** The i-th submission of a campaign: a random kind with small random arguments. */
export const makeSubmission = (rng: Rng, prefix: string, i: number): Submission => {
  const tag = `${prefix}${i}`;
  // The first submissions cover every kind once; then kinds are drawn at random.
  const kind = i < KINDS.length ? KINDS[i]! : rng.pick(KINDS);
  const xs = (lo: number, hi: number) => Array.from({ length: rng.int(lo, hi) }, () => rng.int(0, 60));
  switch (kind) {
    case "fan_out": {
      const v = xs(4, 12);
      return { tag, kind, target: "chaos:fan_out", arguments: [tag, v], expected: sumSquares(v), runs: 1 };
    }
    case "chain": {
      const n = rng.int(3, 10);
      const x0 = rng.int(0, 1000);
      return { tag, kind, target: "chaos:chain", arguments: [tag, n, x0], expected: chainOf(n, x0), runs: 1 };
    }
    case "long_chain": {
      // Long enough (a few seconds) to live through several kills.
      const n = rng.int(20, 30);
      const x0 = rng.int(0, 1000);
      return { tag, kind, target: "chaos:chain", arguments: [tag, n, x0], expected: chainOf(n, x0), runs: 1 };
    }
    case "retries": {
      const v = xs(2, 5);
      return { tag, kind, target: "chaos:retries", arguments: [tag, v], expected: v.reduce((a, x) => a + 3 * x, 0), runs: 1 };
    }
    case "cached": {
      // A small pool of arguments, so that runs hit each other's cached results.
      const v = Array.from({ length: rng.int(2, 4) }, () => rng.int(1, 6));
      return { tag, kind, target: "chaos:cached", arguments: [tag, v], expected: v.reduce((a, x) => a + x ** 3, 0), runs: 1 };
    }
    case "parent": {
      const v = xs(3, 6);
      const n = rng.int(2, 6);
      const x0 = rng.int(0, 1000);
      return { tag, kind, target: "chaos:parent", arguments: [tag, v, n, x0], expected: { fan: sumSquares(v), chain: chainOf(n, x0) }, runs: 3 };
    }
    case "assets": {
      const n = rng.int(5, 200);
      const bytes = Buffer.from(text(tag, n));
      return { tag, kind, target: "chaos:assets", arguments: [tag, n], expected: { size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") }, runs: 1 };
    }
  }
};
