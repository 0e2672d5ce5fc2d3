import { describe, it } from "vitest";
import type { SpecCommand as Command } from "../support/decider-spec.js";
import { SHOP, agentConnected, envEvent, given } from "../support/decider-spec.js";

const BILLING = { repository: "billing", targets: [{ name: "invoice", kind: "task" as const, parameters: [], options: {} }] };
const connect = (agentId = "a1", manifests = [SHOP, BILLING]): Command => ({ type: "ConnectAgent", agentId, tags: { region: ["eu"] }, concurrency: 2, manifests });
const connected = (agentId = "a1", manifests = [SHOP, BILLING]) =>
  envEvent("AgentConnected", { agentId, tags: { region: ["eu"] }, repositories: manifests.map((m) => m.repository), concurrency: 2 });

describe("agents: ConnectAgent", () => {
  it("a new agent is recorded with the manifest of every repository it hosts", () => {
    given()
      .when(connect())
      .then(
        connected(),
        envEvent("ManifestRegistered", { repository: "shop", agentId: "a1", targets: SHOP.targets }),
        envEvent("ManifestRegistered", { repository: "billing", agentId: "a1", targets: BILLING.targets }),
      );
  });

  it("a reconnecting agent with the same manifests records no new manifest", () => {
    given([connected(), ...agentConnected("a1", [SHOP, BILLING]).slice(1)]).when(connect()).then(connected());
  });

  it("a manifest that changed is registered again, and only that one", () => {
    const changed = { ...BILLING, targets: [{ ...BILLING.targets[0]!, codeHash: "v2" }] };
    given(agentConnected("a1", [SHOP, BILLING]))
      .when(connect("a2", [SHOP, changed]))
      .then(connected("a2", [SHOP, changed]), envEvent("ManifestRegistered", { repository: "billing", agentId: "a2", targets: changed.targets }));
  });
});

describe("agents: DisconnectAgent", () => {
  const disconnect: Command = { type: "DisconnectAgent", agentId: "a1", reason: "missed heartbeats" };

  it("a connected agent is recorded as gone, with the reason", () => {
    given(agentConnected()).when(disconnect).then(envEvent("AgentDisconnected", { agentId: "a1", reason: "missed heartbeats" }));
  });

  it("an agent gone already, or never seen, decides nothing", () => {
    given(agentConnected(), envEvent("AgentDisconnected", { agentId: "a1", reason: "closed" })).when(disconnect).nothing();
    given().when(disconnect).nothing();
  });
});

describe("agents: RegisterManifests (a reload)", () => {
  const register = (manifests = [SHOP, BILLING], agentId = "a1"): Command => ({ type: "RegisterManifests", agentId, manifests });

  it("a connected agent's changed manifest is registered again, and only that one", () => {
    const changed = { ...BILLING, targets: [{ ...BILLING.targets[0]!, codeHash: "v2" }] };
    given(agentConnected("a1", [SHOP, BILLING]))
      .when(register([SHOP, changed]))
      .then(envEvent("ManifestRegistered", { repository: "billing", agentId: "a1", targets: changed.targets }));
  });

  it("an unchanged reload, or one by an agent not connected, decides nothing", () => {
    given(agentConnected("a1", [SHOP, BILLING])).when(register()).then();
    given(agentConnected("a1", [SHOP, BILLING])).when(register([SHOP], "a9")).then();
    given([...agentConnected("a1", [SHOP, BILLING]), envEvent("AgentDisconnected", { agentId: "a1", reason: "gone" })])
      .when(register([{ ...SHOP, targets: [] }]))
      .then();
  });
});
