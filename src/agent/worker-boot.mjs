// Entry of the agent's worker threads, in plain JavaScript so that it loads
// without a TypeScript loader. Loader hooks of the parent thread (tsx via
// --import) do not reach worker threads on Node 20, so this registers tsx in
// the worker itself (registering it twice is harmless) before importing the
// worker code (src/agent/worker.ts) and the user's modules.
import { workerData } from "node:worker_threads";

if (workerData.tributaryRegisterTsx) {
  const { register } = await import("tsx/esm/api");
  register();
}
await import(workerData.tributaryEntry);
