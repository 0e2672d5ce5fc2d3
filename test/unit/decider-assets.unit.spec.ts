import { describe, it } from "vitest";
import type { SpecCommand as Command } from "../support/decider-spec.js";
import {
  agentConnected,
  environmentCreated,
  executionAssigned,
  executionSucceeded,
  given,
  runEvent,
  runSubmitted,
} from "../support/decider-spec.js";

const X = "R1-1-1";
const SHA = "a".repeat(64);
const running = [environmentCreated("dev"), agentConnected(), runSubmitted("R1"), executionAssigned(X)];
/** The asset id of request 1 of execution X. */
const A1 = `${X}-a1`;
const persist = (requestId = 1, paths = ["out/report.csv"], extra: Partial<Extract<Command, { type: "PersistAsset" }>> = {}): Command => ({
  type: "PersistAsset",
  executionId: X,
  agentId: "a1",
  requestId,
  entries: paths.map((path) => ({ path, size: 10, sha256: SHA })),
  ...extra,
});
const persisted = (assetId = A1, executionId = X) =>
  runEvent("AssetPersisted", "R1", {
    assetId,
    executionId,
    stepId: "1",
    entries: [{ path: "out/report.csv", size: 10, sha256: SHA, blobKey: `sha256:${SHA}` }],
  });
const restore = (assetId = A1, extra: Partial<Extract<Command, { type: "RestoreAsset" }>> = {}): Command => ({
  type: "RestoreAsset",
  executionId: X,
  agentId: "a1",
  assetId,
  ...extra,
});

describe("assets: PersistAsset", () => {
  it("files an execution persisted are recorded with their blob keys, name and metadata", () => {
    given(...running)
      .when(persist(1, ["out/report.csv", "b"], { name: "report", metadata: { rows: 3 } }))
      .then(
        runEvent("AssetPersisted", "R1", {
          assetId: A1,
          executionId: X,
          stepId: "1",
          name: "report",
          metadata: { rows: 3 },
          entries: [
            { path: "out/report.csv", size: 10, sha256: SHA, blobKey: `sha256:${SHA}` },
            { path: "b", size: 10, sha256: SHA, blobKey: `sha256:${SHA}` },
          ],
        }),
      );
  });

  it("the asset's id is made of the execution's id and the request's: a re-sent persist decides nothing, another request is another asset", () => {
    given(...running, persisted()).when(persist()).nothing();
    given(...running, persisted())
      .when(persist(7))
      .then(runEvent("AssetPersisted", "R1", { assetId: `${X}-a7`, executionId: X, stepId: "1", entries: [{ path: "out/report.csv", size: 10, sha256: SHA, blobKey: `sha256:${SHA}` }] }));
  });

  it.each(["", "/etc/passwd", "../up", "a/../../b", "a//b", "./a", "a/.", "a\\b", "nul\0", "x".repeat(4097)])(
    "a path that could leave the working directory (%j) is refused",
    (bad) => {
      given(...running)
        .when(persist(1, ["ok.txt", bad]))
        .rejected("InvalidArgument", { message: `asset path ${JSON.stringify(bad)} is not a relative path inside the working directory` });
    },
  );

  it("only the agent running the execution may persist for it, while it runs", () => {
    given(...running).when(persist(1, ["a"], { agentId: "a2" })).rejected("NotAssigned", { executionId: X, agentId: "a2" });
    given(...running, executionSucceeded(X)).when(persist()).rejected("NotAssigned", { executionId: X, agentId: "a1" });
    given(...running).when(persist(1, ["a"], { executionId: "R1-1-9" })).rejected("UnknownExecution", { executionId: "R1-1-9" });
  });
});

describe("assets: RestoreAsset", () => {
  it("an asset persisted here is restored into the execution's directory", () => {
    given(...running, persisted())
      .when(restore(A1, { to: "inputs" }))
      .then(runEvent("AssetRestored", "R1", { assetId: A1, executionId: X, stepId: "1", to: "inputs" }));
  });

  it("an asset of an environment this one inherits from is restored naming that environment", () => {
    given(...running)
      .inheriting("production", runSubmitted("P1"), runEvent("AssetPersisted", "P1", { assetId: "A7", executionId: "P1-1-1", stepId: "1", entries: [] }))
      .when(restore("A7"))
      .then(runEvent("AssetRestored", "R1", { assetId: "A7", executionId: X, stepId: "1", fromEnv: "production" }));
  });

  it("a restore re-sent after a reconnect adds nothing", () => {
    given(...running, persisted(), runEvent("AssetRestored", "R1", { assetId: A1, executionId: X, stepId: "1" })).when(restore()).nothing();
  });

  it("an unknown asset is refused, as is a restore for an execution not running on the agent", () => {
    given(...running).when(restore("A404")).rejected("UnknownAsset", { assetId: "A404" });
    given(...running, persisted()).when(restore(A1, { agentId: "a2" })).rejected("NotAssigned", { executionId: X, agentId: "a2" });
    given(...running, persisted()).when(restore(A1, { executionId: "R1-1-9" })).rejected("UnknownExecution", { executionId: "R1-1-9" });
  });
});
