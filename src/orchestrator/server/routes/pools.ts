/** `…/pools`: pools of agents the server starts (issue 12): listed with their agents now, created, deleted. */
import { statSync } from "node:fs";
import { getPool, listPools, type PoolDoc } from "../../../projections/index.js";
import { envOf, rejected, type Handlers } from "../context.js";
import { HttpError } from "../http-io.js";

export const poolRoutes = {
  listPools: async (ctx, r) => {
    const env = await envOf(ctx, r);
    return { pools: listPools(env.rt.source).map((p) => ({ ...p, agents: env.pools?.agents(p.name) ?? [], logDir: env.pools?.logDir(p.name) })) };
  },

  createPool: async (ctx, r) => {
    const env = await envOf(ctx, r);
    const b = r.body as { name: string; launcher: "process"; modules: string[]; max?: number; tags?: Record<string, string[]> };
    // The server starts the agents: their modules must be files on its machine.
    b.modules.forEach((path, i) => {
      let file = false;
      try {
        file = statSync(path).isFile();
      } catch {
        file = false;
      }
      if (!file) throw new HttpError(400, `body.modules[${i}]: ${path} is not a file on the server's machine: give the absolute path of a module there`);
    });
    const x = await env.rt.execute(
      { type: "CreatePool", name: b.name, launcher: b.launcher, modules: b.modules, max: b.max ?? 1, tags: b.tags ?? {} },
      { by: r.principal },
    );
    if (!x.ok) throw rejected(x.rejection);
    const pool = getPool(env.rt.source, b.name) as PoolDoc;
    return { ...pool, created: x.events.length > 0, logDir: env.pools?.logDir(pool.name) };
  },

  deletePool: async (ctx, r) => {
    const env = await envOf(ctx, r);
    const name = r.params.pool;
    const x = await env.rt.execute({ type: "DeletePool", name }, { by: r.principal });
    if (!x.ok) throw rejected(x.rejection);
    // Its agents are told to stop now rather than at the next pass.
    env.pools?.tick();
    return { name, deleted: true };
  },
} satisfies Partial<Handlers>;
