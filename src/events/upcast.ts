/**
 * Upcasters: old schema versions of events, read from old logs, are turned
 * into the current version here and nowhere else. A shipped version is never
 * edited; a change adds a version to `CURRENT_VERSION` in `types.ts` and a
 * step to `STEPS` below. Each step validates its input, so a malformed old
 * event is reported as such. Pure.
 */
import type { EventType } from "./types.js";
import { CURRENT_VERSION } from "./types.js";
import { bool, obj, opt, str, type Check } from "./validate.js";

interface Step {
  /** The shape of the version this step reads. */
  readonly check: Check;
  /** Data of version `from` to data of version `from + 1`. */
  readonly up: (data: Record<string, unknown>) => Record<string, unknown>;
}

/** `STEPS[type][from]` upcasts `from` to `from + 1`. */
const STEPS: Partial<Record<EventType, Readonly<Record<number, Step>>>> = {
  ExecutionFailed: {
    // v1 (before 0.1): the error was a bare message with an optional flag.
    1: {
      check: obj({ executionId: str, stepId: str, message: str, retryable: opt(bool) }),
      up: ({ message, retryable, ...rest }) => ({
        ...rest,
        error: { type: "Error", message, retryable: retryable ?? true },
      }),
    },
  },
};

/**
 * Brings `data` of version `v` of `type` to the current version.
 * Returns the new data, or a message saying why it cannot.
 */
export const upcast = (
  type: EventType,
  v: number,
  data: unknown,
): { ok: true; data: unknown } | { ok: false; reason: string } => {
  const current = CURRENT_VERSION[type];
  if (v > current) {
    return { ok: false, reason: `${type} v${v} is newer than this build knows (v${current}): upgrade Tributary` };
  }
  if (v < 1) return { ok: false, reason: `${type} has invalid version ${v}` };
  let d = data;
  for (let from = v; from < current; from++) {
    const step = STEPS[type]?.[from];
    if (!step) return { ok: false, reason: `no upcaster for ${type} v${from}` };
    const bad = step.check(d, `${type}@v${from}.data`);
    if (bad) return { ok: false, reason: bad };
    d = step.up(d as Record<string, unknown>);
  }
  return { ok: true, data: d };
};
