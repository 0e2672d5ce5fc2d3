import { describe, it } from "vitest";
import type { ProposedBase } from "../../src/orchestrator/core/commands.js";
import { envEvent, environmentCreated, given, type Loose } from "../support/decider-spec.js";

/** An environment found as a base: not archived unless told, with these bases of its own. */
const found = (env: string, bases: readonly string[] = [], archived = false): Loose<ProposedBase> => ({ env, found: { archived, bases } });

describe("environments: CreateEnvironment and BranchEnvironment", () => {
  it("a new environment's first event names its project, and its base when it has one", () => {
    given().when({ type: "CreateEnvironment", project: "p", env: "production" }).then(envEvent("EnvironmentCreated", { project: "p", env: "production" }));
    given()
      .when({ type: "CreateEnvironment", project: "p", env: "staging", base: found("production") })
      .then(envEvent("EnvironmentCreated", { project: "p", env: "staging", base: "production" }));
  });

  it("a base that does not exist, or is archived, is refused, naming it with its project", () => {
    given().when({ type: "CreateEnvironment", project: "p", env: "staging", base: { env: "nowhere" } }).rejected("UnknownEnvironment", { env: "p/nowhere" });
    given()
      .when({ type: "CreateEnvironment", project: "p", env: "staging", base: found("retired", [], true) })
      .rejected("ArchivedBase", { env: "p/retired", as: "base" });
  });

  it("a branch's first event names its parent and the parent's sequence it was branched at", () => {
    given()
      .when({ type: "BranchEnvironment", project: "p", env: "dev", parent: { env: "production", lastSeq: 42 }, at: 42 })
      .then(envEvent("EnvironmentBranched", { project: "p", env: "dev", parent: "production", at: 42 }));
  });

  it("a branch of a parent that does not exist, or at a point outside the parent's log, is refused", () => {
    given().when({ type: "BranchEnvironment", project: "p", env: "dev", parent: { env: "nowhere" }, at: 0 }).rejected("UnknownEnvironment", { env: "p/nowhere" });
    for (const at of [0, 43, 1.5]) {
      given()
        .when({ type: "BranchEnvironment", project: "p", env: "dev", parent: { env: "production", lastSeq: 42 }, at })
        .rejected("InvalidArgument", { message: `branch point ${at} is outside production's log (1 to 42)` });
    }
  });

  it("creating or branching an environment that exists is refused, naming it", () => {
    given(environmentCreated()).when({ type: "CreateEnvironment", project: "p", env: "production" }).rejected("EnvironmentExists", { env: "production" });
    given(environmentCreated())
      .when({ type: "BranchEnvironment", project: "p", env: "production", parent: { env: "main", lastSeq: 1 }, at: 1 })
      .rejected("EnvironmentExists", { env: "production" });
  });
});

describe("environments: RebaseEnvironment", () => {
  it("a new base, or none, is recorded", () => {
    given(environmentCreated("dev", "production")).when({ type: "RebaseEnvironment", base: null }).then(envEvent("EnvironmentRebased", { base: null }));
    given(environmentCreated("dev")).when({ type: "RebaseEnvironment", base: found("staging", ["production"]) }).then(envEvent("EnvironmentRebased", { base: "staging" }));
  });

  it("rebasing to the base it has, or to none when it has none, decides nothing", () => {
    given(environmentCreated("dev", "production")).when({ type: "RebaseEnvironment", base: found("production") }).nothing();
    given(environmentCreated("dev")).when({ type: "RebaseEnvironment", base: null }).nothing();
  });

  it("a base that does not exist, or is archived (even the one it has), is refused", () => {
    given(environmentCreated("dev")).when({ type: "RebaseEnvironment", base: { env: "nowhere" } }).rejected("UnknownEnvironment", { env: "p/nowhere" });
    given(environmentCreated("dev", "old")).when({ type: "RebaseEnvironment", base: found("old", [], true) }).rejected("ArchivedBase", { env: "p/old", as: "base" });
  });

  it("a base whose chain of bases leads back to the environment is refused, naming the cycle", () => {
    given(environmentCreated("production"))
      .when({ type: "RebaseEnvironment", base: found("dev", ["staging", "production", "dev"]) })
      .rejected("EnvironmentCycle", { path: ["production", "dev", "staging", "production"] });
    given(environmentCreated("dev")).when({ type: "RebaseEnvironment", base: found("dev", ["production"]) }).rejected("EnvironmentCycle", { path: ["dev", "dev"] });
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

describe("environments: PauseEnvironment and ResumeEnvironment", () => {
  it("pausing is recorded (with its reason), and resuming a paused environment", () => {
    given(environmentCreated()).when({ type: "PauseEnvironment" }).then(envEvent("EnvironmentPaused", {}));
    given(environmentCreated()).when({ type: "PauseEnvironment", reason: "maintenance" }).then(envEvent("EnvironmentPaused", { reason: "maintenance" }));
    given(environmentCreated(), envEvent("EnvironmentPaused", {})).when({ type: "ResumeEnvironment" }).then(envEvent("EnvironmentResumed", {}));
  });

  it("pausing a paused environment, or resuming one not paused, decides nothing; paused again after a resume, it is recorded again", () => {
    given(environmentCreated(), envEvent("EnvironmentPaused", {})).when({ type: "PauseEnvironment" }).nothing();
    given(environmentCreated()).when({ type: "ResumeEnvironment" }).nothing();
    given(environmentCreated(), envEvent("EnvironmentPaused", {}), envEvent("EnvironmentResumed", {})).when({ type: "PauseEnvironment" }).then(envEvent("EnvironmentPaused", {}));
  });

  it("an environment that does not exist is refused", () => {
    given().when({ type: "PauseEnvironment" }).rejected("UnknownEnvironment", { env: "" });
    given().when({ type: "ResumeEnvironment" }).rejected("UnknownEnvironment", { env: "" });
  });
});
