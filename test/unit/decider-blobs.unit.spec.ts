/** Blobs uploaded through an environment: `RecordBlob` makes a key visible there, once. */
import { describe, expect, it } from "vitest";
import { attributed, envEvent, given, runEvent } from "../support/decider-spec.js";

const hex = (c: string) => c.repeat(64);
const KEY = `sha256:${hex("a")}`;
const record = (key = KEY, size = 12) => ({ type: "RecordBlob" as const, key, size });
const created = envEvent("EnvironmentCreated", { project: "shop", env: "dev" });

describe("blobs: RecordBlob", () => {
  it("records the first upload of a key the environment does not see, attributed to the uploader, and the model sees it then", () => {
    const agent = { kind: "agent", agentId: "a1", tokenId: "t1" } as const;
    const m = given(created).by(agent).when(record()).then(...attributed(agent, envEvent("BlobStored", { key: KEY, size: 12 })));
    expect(m.blobRef(KEY)).toMatchObject({ env: "dev", ref: { key: KEY, use: "upload" } });
    expect(m.blobRef(KEY)?.ref.runId).toBeUndefined();
  });

  it("decides nothing for a key the environment sees already: uploaded, referred to by its log, or inherited", () => {
    given(created, envEvent("BlobStored", { key: KEY, size: 12 })).when(record()).nothing();
    const result = { kind: "blob", blob: { key: KEY, size: 12, sha256: hex("a") } } as const;
    given(created, runEvent("ExecutionSucceeded", "r1", { executionId: "x1", stepId: "s1", result })).when(record()).nothing();
    given(created).inheriting("production", envEvent("EnvironmentCreated", { project: "shop", env: "production" }), envEvent("BlobStored", { key: KEY, size: 12 })).when(record()).nothing();
    // Another key is still new.
    given(created, envEvent("BlobStored", { key: KEY, size: 12 })).when(record(`sha256:${hex("b")}`, 3)).then(envEvent("BlobStored", { key: `sha256:${hex("b")}`, size: 3 }));
  });

  it("refuses what is not a blob key or a size, naming the field", () => {
    given(created).when(record("sha256:ABC")).rejected("InvalidArgument", { message: expect.stringMatching(/^key: "sha256:ABC" is not a blob key/) });
    given(created).when(record(KEY, -1)).rejected("InvalidArgument", { message: expect.stringMatching(/^size: -1/) });
  });
});
