/** The Tributary server: start one in-process with `TributaryServer.start(options)`. */
export { TributaryServer, DEFAULT_PROJECT, DEFAULT_ENV, InsecureBind, isLoopback, type ServerOptions } from "./server.js";
