/** Assets: those persisted (optionally of one run), and one asset with its files. */
import { getAsset, type AssetDoc } from "../../../projections/index.js";
import { assetRefOf } from "../../scheduler/index.js";
import { envOf, rejected, type Handlers } from "../context.js";

export const assetRoutes = {
  listAssets: async (ctx, r) => {
    const { rt } = await envOf(ctx, r);
    const run = r.query.get("run");
    return [...rt.source.range<AssetDoc>("assets")].map(([, d]) => d).filter((d) => d.persisted && (run === null || d.persisted.runId === run));
  },

  getAsset: async (ctx, r) => {
    const { rt } = await envOf(ctx, r);
    const { assetId } = r.params;
    const found = rt.model.asset(assetId);
    if (!found) throw rejected({ _tag: "UnknownAsset", assetId });
    return { ...found.doc, ref: assetRefOf(found.env, found.doc), local: getAsset(rt.source, assetId) ?? null };
  },
} satisfies Partial<Handlers>;
