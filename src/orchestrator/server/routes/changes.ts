/**
 * `GET …/envs/{env}/changes`: the environment's acknowledged commits, pushed
 * as Server-Sent Events (docs/api.md "Changes"). The first message,
 * `ready`, gives the log's last sequence; each `changes` message (its `id`
 * the last sequence it covers) says which runs and steps the commits since
 * the previous one touched and which event types they held. Commits are
 * coalesced: at most one message per {@link MIN_GAP_MS} per client, a burst
 * is one message. `?after=SEQ` or `Last-Event-ID` resumes: the commits after
 * SEQ are read back from the log first (more than {@link MAX_BACKLOG}
 * behind, or ahead of this log: a `reset` message, reload everything). A comment every
 * {@link HEARTBEAT_MS} keeps proxies from closing an idle stream. A stopping
 * server ends the stream; a revoked token cuts it (api.ts `endWithCredential`).
 */
import type { ServerResponse } from "node:http";
import type { Commit } from "../../../events/index.js";
import type { ChangesMessage } from "../../../protocol/api.js";
import { HttpError } from "../http-io.js";
import { envOf, STREAMED, type Handlers } from "../context.js";

export const MIN_GAP_MS = 100;
export const HEARTBEAT_MS = 15_000;
export const MAX_BACKLOG = 10_000;
/** A run's step ids listed in one message, at most; past it `moreSteps` counts the rest. */
export const MAX_STEPS = 500;

/** What commits since the last message touched. */
class Batch {
  from = 0;
  seq = 0;
  readonly types = new Set<string>();
  readonly runs = new Map<string, Set<string>>();

  add(c: Commit): void {
    if (this.from === 0 || c.seq < this.from) this.from = c.seq;
    if (c.seq > this.seq) this.seq = c.seq;
    for (const e of c.events) {
      this.types.add(e.type);
      if (e.runId === undefined) continue;
      let steps = this.runs.get(e.runId);
      if (!steps) this.runs.set(e.runId, (steps = new Set()));
      const d = e.data as { stepId?: unknown; rootStepId?: unknown };
      const step = typeof d.stepId === "string" ? d.stepId : typeof d.rootStepId === "string" ? d.rootStepId : undefined;
      if (step !== undefined) steps.add(step);
    }
  }

  get empty(): boolean {
    return this.from === 0;
  }

  message(): ChangesMessage {
    return {
      from: this.from,
      seq: this.seq,
      types: [...this.types],
      runs: [...this.runs].map(([runId, set]) => {
        const steps = [...set];
        return { runId, steps: steps.slice(0, MAX_STEPS), ...(steps.length > MAX_STEPS ? { moreSteps: steps.length - MAX_STEPS } : {}) };
      }),
    };
  }
}

/** Writes unless the stream has ended (a write after the end would be an error event on the response). */
export const put = (res: ServerResponse, text: string): void => {
  if (!res.writableEnded && !res.destroyed) res.write(text);
};

export const event = (res: ServerResponse, name: string, data: unknown, id?: number): void =>
  put(res, `${id === undefined ? "" : `id: ${id}\n`}event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);

/** The sequence to resume after: `?after=` first, else `Last-Event-ID`; none: only what comes. */
const resumeAfter = (query: URLSearchParams, lastEventId: string | string[] | undefined): number | undefined => {
  const q = query.get("after");
  if (q !== null) return Number(q);
  if (lastEventId === undefined) return undefined;
  const text = Array.isArray(lastEventId) ? lastEventId[0]! : lastEventId;
  if (!/^(?:0|[1-9][0-9]{0,15})$/.test(text)) throw new HttpError(400, `header Last-Event-ID must be a log sequence (a whole number), not ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
};

export const changeRoutes = {
  envChanges: async (ctx, r) => {
    const env = await envOf(ctx, r);
    const after = resumeAfter(r.query, r.req.headers["last-event-id"]);
    const { res } = r;
    const start = env.rt.lastSeq;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" });
    put(res, `retry: 2000\n\n`);
    event(res, "ready", { seq: start });
    let batch = new Batch();
    let lastSent = 0;
    let timer: NodeJS.Timeout | undefined;
    let replaying = after !== undefined && after < start;
    const flush = () => {
      timer = undefined;
      if (batch.empty || replaying || res.writableEnded) return;
      const m = batch.message();
      batch = new Batch();
      lastSent = Date.now();
      event(res, "changes", m, m.seq);
    };
    const schedule = () => {
      if (timer || replaying) return;
      timer = setTimeout(flush, Math.max(0, lastSent + MIN_GAP_MS - Date.now()));
    };
    const stopLive = env.rt.onCommitted((c) => {
      if (c.seq <= start) return;
      batch.add(c);
      schedule();
    });
    const heartbeat = setInterval(() => put(res, `: keep-alive\n\n`), HEARTBEAT_MS);
    // A stopping server ends the stream: the client reconnects (with Last-Event-ID) once it is back.
    const end = () => res.end();
    ctx.stopping.addEventListener("abort", end, { once: true });
    res.on("close", () => {
      stopLive();
      clearInterval(heartbeat);
      clearTimeout(timer);
      ctx.stopping.removeEventListener("abort", end);
    });
    // Ahead of this log (another server's, or one rebuilt shorter): what the client holds is not this log's.
    if (after !== undefined && after > start) event(res, "reset", { seq: start, reason: `this log ends at ${start}, before ${after}: reload` }, start);
    if (replaying && after !== undefined) {
      if (start - after > MAX_BACKLOG) {
        event(res, "reset", { seq: start, reason: `more than ${MAX_BACKLOG} commits since ${after}: reload` }, start);
      } else {
        try {
          for await (const c of ctx.log.read(env.ref, { from: after + 1, to: start })) {
            if (res.destroyed) break;
            batch.add(c);
          }
        } catch (e) {
          event(res, "reset", { seq: start, reason: `the log could not be read back (${(e as Error).message}): reload` }, start);
          batch = new Batch();
        }
      }
      replaying = false;
      schedule();
    }
    return STREAMED;
  },
} satisfies Partial<Handlers>;
