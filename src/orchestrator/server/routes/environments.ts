/** The environments of a project: list, create or branch, set a base, archive, and verify an environment's log. */
import { logRef } from "../../../events/index.js";
import { verifyLog } from "../../../events/storage/index.js";
import { getEnvironment } from "../../../projections/index.js";
import { allowed, rejected, sees, type Handlers } from "../context.js";
import { isoTimeOf } from "../../../protocol/http.js";
import { HttpError } from "../http-io.js";

export const environmentRoutes = {
  listEnvs: async (ctx, r0) => {
    const { project } = r0.params;
    const refs = await ctx.log.listEnvs(project);
    const out = [];
    for (const r of refs) {
      if (!sees(ctx, r0, r.env)) continue; // a token lists the environments it covers
      const e = await ctx.envs.get(r.project, r.env);
      out.push({ name: r.env, lastSeq: e.rt.lastSeq, ...(getEnvironment(e.rt.source) ?? {}) });
    }
    return out;
  },

  createEnv: async (ctx, r) => {
    const { params: { project }, body, principal } = r;
    const { name, base, from, at, atTime } = (body ?? {}) as Record<string, unknown>;
    if (typeof name !== "string") throw new HttpError(400, 'give the environment\'s name as {"name": "..."}');
    // An admin of the new environment, who may read what it inherits or branches from.
    allowed(ctx, r, "admin", name);
    if (typeof from === "string") allowed(ctx, r, "read", from);
    if (typeof base === "string") allowed(ctx, r, "read", base);
    const ref = logRef(project, name);
    if (await ctx.log.hasEnv(ref)) throw rejected({ _tag: "EnvironmentExists", env: `${project}/${name}` });
    if (from !== undefined) {
      if (typeof from !== "string") throw new HttpError(400, "from must be an environment name");
      if (at !== undefined && !Number.isSafeInteger(at)) throw new HttpError(400, "at must be a log sequence number");
      const time = atTime === undefined ? undefined : isoTimeOf(String(atTime));
      if (atTime !== undefined && time === undefined) throw new HttpError(400, `atTime ${JSON.stringify(atTime)} is not an ISO date that exists (2026-12-01T10:00:00Z)`);
      const e = await ctx.envs.branch(project, name, from, at as number | undefined, time, principal);
      return { name, ...getEnvironment(e.rt.source) };
    }
    if (base !== undefined && typeof base !== "string") throw new HttpError(400, "base must be an environment name");
    const e = await ctx.envs.get(project, name, { ...(typeof base === "string" ? { base } : {}), by: principal });
    return { name, ...getEnvironment(e.rt.source) };
  },

  updateEnv: async (ctx, r) => {
    const { params: { project, env }, body, principal } = r;
    const { base } = (body ?? {}) as { base?: unknown };
    if (typeof base === "string") allowed(ctx, r, "read", base);
    if (base !== null && typeof base !== "string") throw new HttpError(400, 'give the new base as {"base": "name"} or {"base": null}');
    await ctx.envs.rebase(project, env, base, principal);
    return { name: env, ...getEnvironment((await ctx.envs.get(project, env)).rt.source) };
  },

  archiveEnv: async (ctx, { params: { project, env }, principal }) => {
    await ctx.envs.archive(project, env, principal);
    return { name: env, ...getEnvironment((await ctx.envs.get(project, env)).rt.source) };
  },

  pauseEnv: async (ctx, { params: { project, env }, body, principal }) => {
    const { reason } = (body ?? {}) as { reason?: string };
    await ctx.envs.pause(project, env, true, reason, principal);
    return { name: env, ...getEnvironment((await ctx.envs.get(project, env)).rt.source) };
  },

  resumeEnv: async (ctx, { params: { project, env }, principal }) => {
    await ctx.envs.pause(project, env, false, undefined, principal);
    return { name: env, ...getEnvironment((await ctx.envs.get(project, env)).rt.source) };
  },

  // Straight from the log: the environment's orchestrator may not start on a log that does not decode.
  verifyLog: async (ctx, { params: { project, env } }) => {
    const ref = logRef(project, env);
    if (!(await ctx.log.hasEnv(ref))) throw rejected({ _tag: "UnknownEnvironment", env: `${project}/${env}` });
    return { project, env, log: ctx.log.kind, ...(await verifyLog(ctx.log, ref)) };
  },
} satisfies Partial<Handlers>;
