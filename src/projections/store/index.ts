/** Projections materialised: the LMDB store, the projector that keeps it up with a log, and time travel. */
export { LmdbProjectionStore } from "./lmdb-store.js";
export { Projector, type ProjectorOptions } from "./projector.js";
export { runAsOf, runAt, stateAsOf, type Point, type RunAt } from "./time-travel.js";
