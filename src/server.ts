/**
 * `tributary/server`: a Tributary server started in-process — the same
 * server as `tributary server`, for tests, scripts and applications that
 * embed it.
 *
 * @example
 * import { startServer } from "tributary/server";
 *
 * const server = await startServer({ dataDir: "./.tributary", port: 0 });
 * console.log(server.url); // http://127.0.0.1:<a free port>
 * const client = server.client();
 * // … agents connect to server.url …
 * await server.close();
 */
// The one import of the server's implementation outside src/orchestrator and the CLI.
import { DEFAULT_ENV, DEFAULT_PROJECT, TributaryServer, type ServerOptions } from "./orchestrator/server/index.js";
import { Client, type ClientOptions } from "./client/client.js";

export type { ServerOptions } from "./orchestrator/server/index.js";

/** A server running in this process. */
export interface RunningServer {
  /** Its URL, e.g. `http://127.0.0.1:7777`: what agents and clients are given. */
  readonly url: string;
  /** The data directory (the embedded log, projections, task logs, the lock). */
  readonly dataDir: string;
  /** The kind of event log it keeps. */
  readonly log: "embedded" | "jetstream";
  /** A client of this server (default project and `production`, unless given; with `token`, sending it on every request). */
  client(options?: { readonly project?: string; readonly env?: string; readonly ca?: ClientOptions["ca"]; readonly token?: string }): Client;
  /**
   * Stops it: answers requests in flight with 503 (clients retry), closes
   * agents' sockets, flushes the projections, closes the log, releases the
   * data directory's lock.
   */
  close(): Promise<void>;
}

/**
 * Starts a server: on the embedded log in `dataDir` (default
 * `./.tributary`), or on JetStream with `nats`. `port` 0 picks a free one
 * (default 7777); `host` default 127.0.0.1.
 * @throws an error named `DataDirLocked` if another server holds the data
 *   directory (its message names the pid), or the listen error (`EADDRINUSE`, …).
 */
export const startServer = async (options: ServerOptions = {}): Promise<RunningServer> => {
  const server = await TributaryServer.start(options);
  const project = options.defaultProject ?? DEFAULT_PROJECT;
  return {
    url: server.url,
    dataDir: server.dataDir,
    log: server.log.kind,
    client: (o = {}) =>
      new Client({
        url: server.url,
        project: o.project ?? project,
        env: o.env ?? DEFAULT_ENV,
        ...(o.ca === undefined ? {} : { ca: o.ca }),
        ...(o.token === undefined ? {} : { token: o.token }),
      }),
    close: () => server.close(),
  };
};
