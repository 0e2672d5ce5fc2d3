/** `tributary server`: runs the server until SIGINT / SIGTERM. */
import { parseArgs } from "node:util";
import { TributaryServer } from "../../orchestrator/server.js";

export const run = async (argv: string[]): Promise<number> => {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: "string" },
      nats: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      "heartbeat-ms": { type: "string" },
      "restart-grace-ms": { type: "string" },
      project: { type: "string" },
      "max-blob-bytes": { type: "string" },
      "max-asset-bytes": { type: "string" },
    },
  });
  const server = await TributaryServer.start({
    dataDir: values.data ?? process.env.TRIBUTARY_DATA ?? ".tributary",
    ...(values.nats ? { nats: values.nats } : {}),
    port: values.port === undefined ? 7777 : Number(values.port),
    ...(values.host ? { host: values.host } : {}),
    ...(values["heartbeat-ms"] ? { heartbeatMs: Number(values["heartbeat-ms"]) } : {}),
    ...(values["restart-grace-ms"] ? { restartGraceMs: Number(values["restart-grace-ms"]) } : {}),
    defaultProject: values.project ?? process.env.TRIBUTARY_PROJECT ?? "default",
    ...(values["max-blob-bytes"] ? { maxBlobBytes: Number(values["max-blob-bytes"]) } : {}),
    ...(values["max-asset-bytes"] ? { maxAssetBytes: Number(values["max-asset-bytes"]) } : {}),
  });
  console.log(`tributary server listening on ${server.url} (log: ${server.log.kind}, data: ${server.dataDir})`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await server.close();
  return 0;
};
