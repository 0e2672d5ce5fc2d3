import { describe, it } from "vitest";
import { envEvent, environmentCreated, given } from "../support/decider-spec.js";

describe("environments: CreateEnvironment and BranchEnvironment", () => {
  it("a new environment's first event names its project, and its base when it has one", () => {
    given().when({ type: "CreateEnvironment", project: "p", env: "production" }).then(envEvent("EnvironmentCreated", { project: "p", env: "production" }));
    given()
      .when({ type: "CreateEnvironment", project: "p", env: "staging", base: "production" })
      .then(envEvent("EnvironmentCreated", { project: "p", env: "staging", base: "production" }));
  });

  it("a branch's first event names its parent and the parent's sequence it was branched at", () => {
    given()
      .when({ type: "BranchEnvironment", project: "p", env: "dev", parent: "production", at: 42 })
      .then(envEvent("EnvironmentBranched", { project: "p", env: "dev", parent: "production", at: 42 }));
  });

  it("creating or branching an environment that exists is refused, naming it", () => {
    given(environmentCreated()).when({ type: "CreateEnvironment", project: "p", env: "production" }).rejected("EnvironmentExists", { env: "production" });
    given(environmentCreated()).when({ type: "BranchEnvironment", project: "p", env: "production", parent: "main", at: 1 }).rejected("EnvironmentExists", { env: "production" });
  });
});

describe("environments: RebaseEnvironment", () => {
  it("a new base, or none, is recorded", () => {
    given(environmentCreated("dev", "production")).when({ type: "RebaseEnvironment", base: null }).then(envEvent("EnvironmentRebased", { base: null }));
    given(environmentCreated("dev")).when({ type: "RebaseEnvironment", base: "staging" }).then(envEvent("EnvironmentRebased", { base: "staging" }));
  });

  it("rebasing to the base it has, or to none when it has none, decides nothing", () => {
    given(environmentCreated("dev", "production")).when({ type: "RebaseEnvironment", base: "production" }).nothing();
    given(environmentCreated("dev")).when({ type: "RebaseEnvironment", base: null }).nothing();
  });

  it("rebasing before the environment exists is refused", () => {
    given().when({ type: "RebaseEnvironment", base: null }).rejected("UnknownEnvironment", { env: "" });
  });
});

describe("environments: ArchiveEnvironment", () => {
  it("archiving is recorded, with the reason when one is given", () => {
    given(environmentCreated()).when({ type: "ArchiveEnvironment" }).then(envEvent("EnvironmentArchived", {}));
    given(environmentCreated()).when({ type: "ArchiveEnvironment", reason: "replaced" }).then(envEvent("EnvironmentArchived", { reason: "replaced" }));
  });

  it("archiving twice decides nothing; archiving before the environment exists is refused", () => {
    given(environmentCreated(), envEvent("EnvironmentArchived", {})).when({ type: "ArchiveEnvironment" }).nothing();
    given().when({ type: "ArchiveEnvironment" }).rejected("UnknownEnvironment", { env: "" });
  });
});
