/**
 * Where bytes persist: the two `EventLog` adapters and the blob stores, with
 * what they share. Everything here does I/O (LMDB, NATS, the file system);
 * the pure catalogue is `../index.js`.
 */
export { EmbeddedEventLog, type EmbeddedEventLogOptions } from "./embedded-log.js";
export { JetStreamEventLog, type JetStreamEventLogOptions } from "./jetstream-log.js";
export { prepareCommit } from "./prepare.js";
export { lmdbFileProblem } from "./lmdb-file.js";
export { verifyLog, type LogVerification } from "./verify.js";
export * from "./blob-store.js";
export { FsBlobStore } from "./blob-store-fs.js";
export { NatsBlobStore } from "./blob-store-nats.js";
