/**
 * The decider of assets: files an execution persisted (their blobs already
 * stored), and assets restored into an execution's working directory. Both
 * come from the agent running the execution, while it runs.
 */
import * as E from "fp-ts/lib/Either.js";
import type { AgentId, ExecutionId } from "../../../events/index.js";
import { isFinished, type ExecutionDoc } from "../../../projections/index.js";
import { accept, none, reject, type Handler, type Handlers } from "../decision.js";
import { runEvent } from "../event.js";
import type { Model } from "../model.js";
import type { Rejection } from "../rejections.js";
import { assetIdOf } from "./ids.js";

/** A relative, `/`-separated path with no empty, `.` or `..` segment: it cannot leave the directory it is joined to. */
export const isSafeAssetPath = (p: string): boolean =>
  p.length > 0 && p.length <= 4096 && !p.startsWith("/") && !p.includes("\\") && !p.includes("\0") &&
  p.split("/").every((seg) => seg !== "" && seg !== "." && seg !== "..");

/** An asset's files, once (a request recorded already decides nothing), if every path stays inside the directory. */
export const persistAsset: Handler<"PersistAsset"> = (cmd, m, ctx) => {
  const own = runningOn(m, cmd.executionId, cmd.agentId);
  if (E.isLeft(own)) return own;
  const x = own.right;
  const assetId = assetIdOf(x.executionId, cmd.requestId);
  if (m.asset(assetId)) return none;
  const bad = cmd.entries.map((e) => e.path).find((p) => !isSafeAssetPath(p));
  if (bad !== undefined) {
    return reject({ _tag: "InvalidArgument", message: `asset path ${JSON.stringify(bad)} is not a relative path inside the working directory` });
  }
  return accept([
    runEvent(ctx, "AssetPersisted", x.runId, {
      assetId,
      executionId: x.executionId,
      stepId: x.stepId,
      ...(cmd.name === undefined ? {} : { name: cmd.name }),
      ...(cmd.metadata === undefined ? {} : { metadata: cmd.metadata }),
      entries: cmd.entries.map((e) => ({ path: e.path, size: e.size, sha256: e.sha256, blobKey: `sha256:${e.sha256}` })),
    }),
  ]);
};

/**
 * An asset known here or in an environment this one inherits from (then
 * named in `fromEnv`), restored once per execution: a restore re-sent after
 * a reconnect adds nothing.
 */
export const restoreAsset: Handler<"RestoreAsset"> = (cmd, m, ctx) => {
  const own = runningOn(m, cmd.executionId, cmd.agentId);
  if (E.isLeft(own)) return own;
  const x = own.right;
  const found = m.asset(cmd.assetId);
  if (!found) return reject({ _tag: "UnknownAsset", assetId: cmd.assetId });
  if (x.assetsRestored.includes(cmd.assetId)) return none;
  const here = m.environment()?.env;
  return accept([
    runEvent(ctx, "AssetRestored", x.runId, {
      assetId: cmd.assetId,
      executionId: x.executionId,
      stepId: x.stepId,
      ...(found.env !== here ? { fromEnv: found.env } : {}),
      ...(cmd.to === undefined ? {} : { to: cmd.to }),
    }),
  ]);
};

/** The execution, if it is running on (assigned to, and not ended) this agent (the checkpoints decider asks too). */
export const runningOn = (m: Model, executionId: ExecutionId, agentId: AgentId): E.Either<Rejection, ExecutionDoc> => {
  const x = m.execution(executionId);
  if (!x) return E.left({ _tag: "UnknownExecution", executionId });
  if (x.agentId !== agentId || isFinished(x.status)) return E.left({ _tag: "NotAssigned", executionId, agentId });
  return E.right(x);
};

export const assets: Handlers<"PersistAsset" | "RestoreAsset"> = {
  PersistAsset: persistAsset,
  RestoreAsset: restoreAsset,
};
