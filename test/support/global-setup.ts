/**
 * vitest global setup: one real `nats-server -js` for the whole run. Tests
 * get its URL with `inject("natsUrl")` and isolate themselves by project
 * name.
 */
import type { TestProject } from "vitest/node";
import { startNatsServer } from "./nats-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Client URL of the nats-server started for this test run. */
    natsUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startNatsServer();
  project.provide("natsUrl", server.url);
  return () => server.stop();
}
