/**
 * Command-line values at the edge: each option is checked before anything
 * is sent or started, and refused (exit 1) with a message that names the
 * option, what it takes and what it got.
 */
import { describeInvalidName, parseEnvName, parseProjectName, parseRunId } from "../events/ids.js";
import { CliError } from "./client.js";

const refuse = (message: string): never => {
  throw new CliError(message, 1);
};

/** A whole number within `[min, max]`, or `undefined` when the option is absent. */
export const wholeNumber = (option: string, raw: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined => {
  if (raw === undefined) return undefined;
  const n = /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of ${min} or more` : `from ${min} to ${max}`;
    refuse(`--${option} takes a whole number ${range}, got ${JSON.stringify(raw)}`);
  }
  return n;
};

/** One or more `nats://host:port` URLs, comma-separated. */
export const natsUrls = (raw: string | undefined): string | undefined => {
  if (raw === undefined) return undefined;
  for (const part of raw.split(",")) {
    let ok = false;
    try {
      const u = new URL(part.trim());
      ok = ["nats:", "tls:", "ws:", "wss:"].includes(u.protocol) && u.hostname !== "";
    } catch {
      ok = false;
    }
    if (!ok) refuse(`--nats takes nats://host:port URLs, comma-separated, got ${JSON.stringify(part)}`);
  }
  return raw;
};

/** A project or environment name, checked as the server checks it. */
export const name = (what: "project" | "env", raw: string, from: string): string => {
  const parsed = what === "project" ? parseProjectName(raw) : parseEnvName(raw);
  if (parsed._tag === "Left") refuse(`${from}: ${describeInvalidName(parsed.left)}`);
  return raw;
};

/** A run id as the CLI is given it. */
export const runId = (raw: string): string => {
  const parsed = parseRunId(raw);
  if (parsed._tag === "Left") refuse(describeInvalidName(parsed.left));
  return raw;
};

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration as `90s`, `30m`, `12h` or `30d`, in ms within `[minMs, maxMs]`; `undefined` when the option is absent. */
export const duration = (option: string, raw: string | undefined, minMs = 1000, maxMs = Number.MAX_SAFE_INTEGER): number | undefined => {
  if (raw === undefined) return undefined;
  const m = /^(\d{1,15})([smhd])$/.exec(raw.trim());
  if (!m) return refuse(`--${option} takes a duration, a whole number and a unit s, m, h or d (90s, 30m, 12h, 30d), got ${JSON.stringify(raw)}`);
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(ms) || ms < minMs || ms > maxMs) refuse(`--${option} takes a duration from ${showMs(minMs)} to ${showMs(maxMs)}, got ${JSON.stringify(raw)}`);
  return ms;
};

/** `90s`, `30m`, `12h`, `30d`: the largest unit that divides it (else ms). */
const showMs = (ms: number): string => {
  for (const [unit, size] of Object.entries(UNIT_MS).reverse()) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
};

/** Milliseconds as a whole number (`5000`) or a duration (`5s`, `2m`), within `[minMs, maxMs]`; `undefined` when the option is absent. */
export const milliseconds = (option: string, raw: string | undefined, minMs = 0, maxMs = 86_400_000): number | undefined => {
  if (raw === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(raw)) return wholeNumber(option, raw, minMs, maxMs);
  if (/^\s*\d+[smhd]\s*$/.test(raw)) return duration(option, raw, minMs, maxMs);
  return refuse(`--${option} takes milliseconds (5000) or a duration with a unit s, m, h or d (5s, 2m), got ${JSON.stringify(raw)}`);
};
