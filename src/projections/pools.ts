/**
 * The pools of an environment (`PoolCreated` / `PoolDeleted`): agents the
 * server starts itself. Pure.
 */
import type { Principal } from "../events/index.js";
import type { DocSource, Projection } from "./projection.js";

export interface PoolDoc {
  readonly name: string;
  readonly launcher: "process";
  readonly modules: readonly string[];
  readonly max: number;
  readonly tags: { readonly [tag: string]: readonly string[] };
  readonly createdAt: number;
  readonly createdBy?: Principal;
}

/** Pool name → the pool; a deleted pool's document goes (a pool of the same name may be created again). */
export const poolsProjection: Projection<PoolDoc> = {
  name: "pools",
  version: 1,
  keysOf: (e) => (e.type === "PoolCreated" || e.type === "PoolDeleted" ? [e.data.name] : []),
  evolve(doc, e) {
    if (e.type === "PoolCreated") {
      const d = e.data;
      return { name: d.name, launcher: d.launcher, modules: d.modules, max: d.max, tags: d.tags, createdAt: e.at, ...(e.by === undefined ? {} : { createdBy: e.by }) };
    }
    if (e.type === "PoolDeleted") return undefined;
    return doc;
  },
};

export const getPool = (src: DocSource, name: string): PoolDoc | undefined => src.get<PoolDoc>("pools", name);

export const listPools = (src: DocSource): PoolDoc[] => [...src.range<PoolDoc>("pools")].map(([, d]) => d);
