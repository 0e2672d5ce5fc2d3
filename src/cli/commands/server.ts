/** `tributary server`: runs the server until SIGINT / SIGTERM. Its options: SERVER in ../table.ts. */
import { createSecureContext } from "node:tls";
import { AdminTokenRefused } from "../../orchestrator/auth/admin.js";
import { DataDirLocked } from "../../orchestrator/data-lock.js";
import { InsecureBind, TributaryServer, type ServerOptions } from "../../orchestrator/server/index.js";
import { name, natsUrls, wholeNumber } from "../args.js";
import { CliError } from "../client.js";
import { SERVER } from "../table.js";
import { parse } from "../usage.js";
import { natsCredsFile, pemFile } from "../options.js";

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table.
  const parsed = parse(SERVER, argv);
  const { values } = parsed;
  const port = wholeNumber("port", values.port, 0, 65535)!;
  const heartbeatMs = wholeNumber("heartbeat-ms", values["heartbeat-ms"], 10, 3_600_000);
  const restartGraceMs = wholeNumber("restart-grace-ms", values["restart-grace-ms"], 0, 86_400_000);
  const maxBlobBytes = wholeNumber("max-blob-bytes", values["max-blob-bytes"], 1);
  const maxAssetBytes = wholeNumber("max-asset-bytes", values["max-asset-bytes"], 1);
  const nats = natsUrls(values.nats);
  const natsCreds = values["nats-creds"] === undefined ? undefined : natsCredsFile(values["nats-creds"], nats);
  const tls = tlsOf(values["tls-cert"], values["tls-key"]);
  const project = name("project", values.project, parsed.origin("project"));

  const server = await startServer({
    dataDir: values.data,
    ...(nats ? { nats } : {}),
    ...(natsCreds === undefined ? {} : { natsCreds }),
    ...(tls ? { tls } : {}),
    port,
    ...(values.host ? { host: values.host } : {}),
    ...(values.insecure ? { insecure: true } : {}),
    ...(values.auth ? { auth: true } : {}),
    ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
    ...(restartGraceMs === undefined ? {} : { restartGraceMs }),
    defaultProject: project,
    ...(maxBlobBytes === undefined ? {} : { maxBlobBytes }),
    ...(maxAssetBytes === undefined ? {} : { maxAssetBytes }),
  });
  console.log(`tributary server listening on ${server.url} (log: ${server.log.kind}, data: ${server.dataDir}${server.access.enabled ? ", auth: on" : ""})`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  // A second signal, or a close that hangs (a log that does not answer), exits at once; the lock goes either way.
  const now = (code: number, why: string) => {
    console.error(`tributary server: ${why}`);
    server.lock.release();
    process.exit(code);
  };
  process.once("SIGINT", () => now(130, "exiting at once"));
  process.once("SIGTERM", () => now(143, "exiting at once"));
  const hard = setTimeout(() => now(1, `did not stop within ${STOP_WITHIN_MS} ms: exiting`), STOP_WITHIN_MS);
  console.error("tributary server: stopping (again to exit at once)");
  await server.close();
  clearTimeout(hard);
  console.error("tributary server: stopped");
  // Nothing of the server is left; a stray handle (a user's module, a socket) must not keep the process up.
  setTimeout(() => process.exit(0), 50).unref();
  return 0;
};

/** The certificate and key of --tls-cert and --tls-key: both or neither, each a PEM file, and a pair that Node's TLS accepts. */
const tlsOf = (certPath: string | undefined, keyPath: string | undefined): { cert: string; key: string } | undefined => {
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined) throw new CliError("--tls-key needs --tls-cert: give both (the PEM certificate and its private key) or neither", 1);
  if (keyPath === undefined) throw new CliError("--tls-cert needs --tls-key: give both (the PEM certificate and its private key) or neither", 1);
  const cert = pemFile(certPath, "--tls-cert", "CERTIFICATE");
  const key = pemFile(keyPath, "--tls-key", "PRIVATE KEY");
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw new CliError(`--tls-cert ${certPath} and --tls-key ${keyPath} cannot be used: ${(e as Error).message} (is the key the certificate's?)`, 1);
  }
  return { cert, key };
};

/** How long a stop may take before the process exits anyway. */
const STOP_WITHIN_MS = 1800;

const startServer = async (options: ServerOptions): Promise<TributaryServer> => {
  try {
    return await TributaryServer.start(options);
  } catch (e) {
    if (e instanceof DataDirLocked || e instanceof InsecureBind || e instanceof AdminTokenRefused) throw new CliError(e.message, 1);
    const code = (e as NodeJS.ErrnoException).code;
    const where = `${options.host ?? "127.0.0.1"}:${options.port ?? 7777}`;
    if (code === "EADDRINUSE") throw new CliError(`${where} is in use (another server?): stop it, or choose another --port`, 1);
    if (code === "EACCES") throw new CliError(`${where} may not be listened on by this user: choose a --port above 1024`, 1);
    if (code === "ENOTFOUND" || code === "EADDRNOTAVAIL" || code === "EAI_AGAIN") {
      throw new CliError(`--host ${JSON.stringify(options.host ?? "")} is not an address of this machine (${code}): use 127.0.0.1, 0.0.0.0 or one of its addresses`, 1);
    }
    throw e;
  }
};
