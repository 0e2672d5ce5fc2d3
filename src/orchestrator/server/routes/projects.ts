/**
 * The projects: `GET /api/projects` lists them (with --auth, a token sees
 * its own project only; the admin every one), and `GET …/projects/{p}/changes`
 * pushes, as Server-Sent Events, each environment of the project as it is
 * made and as its log grows (docs/api.md "Changes"): a `ready` message with
 * every environment the caller sees and its log's last sequence, then
 * `changes` messages naming the environments whose logs moved since the
 * last one (at most one per {@link MIN_GAP_MS}), with the lifecycle events
 * (`EnvironmentCreated`, `…Branched`, `…Rebased`, `…Archived`) among them.
 * A client resumes by comparing the `ready` of its new stream with what it
 * held. A stopping server ends the stream; a revoked token cuts it (api.ts).
 */
import { isReservedProject } from "../../../events/index.js";
import { getEnvironment } from "../../../projections/index.js";
import type { ProjectEnvChange, ProjectRow } from "../../../protocol/api.js";
import type { Env } from "../../environments.js";
import { sees, STREAMED, type Handlers } from "../context.js";
import { event, HEARTBEAT_MS, MIN_GAP_MS, put } from "./changes.js";

const LIFECYCLE = /^Environment[A-Z]/;

export const projectRoutes = {
  listProjects: async (ctx, r) => {
    const own = r.caller?.token?.project;
    const counts = new Map<string, number>(own === undefined ? [] : [[own, 0]]);
    for (const ref of await ctx.log.listEnvs(own)) {
      if (isReservedProject(ref.project) || (own !== undefined && ref.project !== own)) continue;
      // A token counts the environments it covers.
      if (own !== undefined && !sees(ctx, { caller: r.caller, params: { ...r.params, project: own } }, ref.env)) continue;
      counts.set(ref.project, (counts.get(ref.project) ?? 0) + 1);
    }
    return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, envs]): ProjectRow => ({ name, envs }));
  },

  projectChanges: async (ctx, r) => {
    const { project } = r.params;
    const { res } = r;
    const envs = new Map<string, Env>();
    const pending = new Map<string, { lastSeq: number; types: Set<string> }>();
    const stops: (() => void)[] = [];
    let ready = false;
    let lastSent = 0;
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      if (pending.size === 0 || res.writableEnded) return;
      const out: ProjectEnvChange[] = [...pending].map(([name, p]) => ({ name, lastSeq: p.lastSeq, types: [...p.types] }));
      pending.clear();
      lastSent = Date.now();
      event(res, "changes", { envs: out });
    };
    const note = (name: string, seq: number, types: Iterable<string>) => {
      let p = pending.get(name);
      if (!p) pending.set(name, (p = { lastSeq: seq, types: new Set() }));
      p.lastSeq = Math.max(p.lastSeq, seq);
      for (const t of types) if (LIFECYCLE.test(t)) p.types.add(t);
      if (ready && !timer) timer = setTimeout(flush, Math.max(0, lastSent + MIN_GAP_MS - Date.now()));
    };
    const watch = (e: Env) => {
      envs.set(e.ref.env, e);
      stops.push(e.rt.onCommitted((c) => note(e.ref.env, c.seq, c.events.map((x) => x.type))));
    };
    // Listening before the listing, so that an environment made meanwhile is not missed.
    stops.push(
      ctx.envs.onStarted((e) => {
        if (e.ref.project !== project || envs.has(e.ref.env) || !sees(ctx, r, e.ref.env)) return;
        watch(e);
        note(e.ref.env, e.rt.lastSeq, [getEnvironment(e.rt.source)?.branchedFrom ? "EnvironmentBranched" : "EnvironmentCreated"]);
      }),
    );
    let heartbeat: NodeJS.Timeout | undefined;
    let closed = false;
    const end = () => res.end();
    const stopAll = () => {
      closed = true;
      for (const s of stops.splice(0)) s();
      clearTimeout(timer);
      clearInterval(heartbeat);
      ctx.stopping.removeEventListener("abort", end);
    };
    // Registered first: a client gone while the environments start leaves nothing behind.
    // After each wait, a client gone meanwhile (`close` ran stopAll) gets nothing more set up.
    res.on("close", stopAll);
    const gone = () => {
      if (!closed && !res.destroyed) return false;
      stopAll();
      return true;
    };
    try {
      const refs = await ctx.log.listEnvs(project);
      for (const ref of refs) {
        if (gone()) return STREAMED;
        if (envs.has(ref.env) || !sees(ctx, r, ref.env)) continue;
        const e = await ctx.envs.get(project, ref.env);
        if (gone()) return STREAMED;
        if (!envs.has(ref.env)) watch(e);
      }
    } catch (e) {
      stopAll();
      throw e;
    }
    if (gone()) return STREAMED;
    pending.clear(); // what the listing raced with is in `ready`
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" });
    put(res, `retry: 2000\n\n`);
    event(res, "ready", { envs: [...envs.values()].map((e): ProjectEnvChange => ({ name: e.ref.env, lastSeq: e.rt.lastSeq, types: [] })) });
    ready = true;
    heartbeat = setInterval(() => put(res, `: keep-alive\n\n`), HEARTBEAT_MS);
    // A stopping server ends the stream: the client reconnects once it is back.
    ctx.stopping.addEventListener("abort", end, { once: true });
    return STREAMED;
  },
} satisfies Partial<Handlers>;
