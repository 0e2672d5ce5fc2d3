/** The decider of agents: connected (with the manifests of what they host), disconnected. */
import type { TargetManifest } from "../../../events/index.js";
import { accept, none, type Handler, type Handlers } from "../decision.js";
import { envEvent } from "../event.js";
import type { Model } from "../model.js";

/** The agent, and each manifest it brings that is not registered exactly so already (no new event per reconnect). */
export const connectAgent: Handler<"ConnectAgent"> = (cmd, m, ctx) => {
  const { agentId } = cmd;
  return accept([
    envEvent(ctx, "AgentConnected", {
      agentId,
      tags: cmd.tags,
      repositories: cmd.manifests.map((x) => x.repository),
      concurrency: cmd.concurrency,
    }),
    ...cmd.manifests
      .filter((x) => !sameManifest(m, x.repository, x.targets))
      .map((x) => envEvent(ctx, "ManifestRegistered", { repository: x.repository, agentId, targets: x.targets })),
  ]);
};

/** A connected agent went away; one unknown or gone already decides nothing. */
export const disconnectAgent: Handler<"DisconnectAgent"> = (cmd, m, ctx) => {
  const a = m.agent(cmd.agentId);
  if (!a || a.status === "disconnected") return none;
  return accept([envEvent(ctx, "AgentDisconnected", { agentId: cmd.agentId, reason: cmd.reason })]);
};

/**
 * A connected agent's modules were reloaded: each manifest that is not
 * registered exactly so already (an unchanged reload decides nothing). An
 * agent not connected decides nothing: its next hello brings the manifests.
 */
export const registerManifests: Handler<"RegisterManifests"> = (cmd, m, ctx) => {
  const a = m.agent(cmd.agentId);
  if (!a || a.status === "disconnected") return none;
  return accept(
    cmd.manifests
      .filter((x) => !sameManifest(m, x.repository, x.targets))
      .map((x) => envEvent(ctx, "ManifestRegistered", { repository: x.repository, agentId: cmd.agentId, targets: x.targets })),
  );
};

/** Is the registered manifest of `repository` already exactly this one? */
const sameManifest = (m: Model, repository: string, targets: readonly TargetManifest[]): boolean => {
  const current = m.manifest(repository);
  return current !== undefined && JSON.stringify(current.targets) === JSON.stringify(targets);
};

export const agents: Handlers<"ConnectAgent" | "DisconnectAgent" | "RegisterManifests"> = {
  ConnectAgent: connectAgent,
  DisconnectAgent: disconnectAgent,
  RegisterManifests: registerManifests,
};
