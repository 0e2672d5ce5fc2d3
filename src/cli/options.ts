/** What the commands share after parsing: the environment they act on. */
import { readFileSync } from "node:fs";
import { checkToken, checkUrl } from "../client/client.js";
import { name } from "./args.js";
import { CliError, CREDENTIALS_REFUSED, type Target } from "./client.js";

/** The server a command talks to (option, else environment variable, else default; see ./table.ts), checked; the CA to trust, read; the token to send, checked (never echoed). */
export const connectionOf = (p: {
  readonly values: { readonly server: string; readonly ca?: string | undefined; readonly token?: string | undefined };
  origin(option: "server" | "ca" | "token"): string;
}): Pick<Target, "server" | "ca" | "token"> => {
  const ca = p.values.ca === undefined ? undefined : pemFile(p.values.ca, p.origin("ca"), "CERTIFICATE");
  return {
    server: checkUrl(p.values.server, p.origin("server")),
    ...(ca === undefined ? {} : { ca }),
    ...(p.values.token === undefined ? {} : { token: tokenOf(p.values.token, p.origin("token")) }),
  };
};

/** The server, project and environment a command acts on, each checked, with how to reach the server ({@link connectionOf}). */
export const targetOf = (p: {
  readonly values: { readonly server: string; readonly project: string; readonly env: string; readonly ca?: string | undefined; readonly token?: string | undefined };
  origin(option: "server" | "project" | "env" | "ca" | "token"): string;
}): Target => ({
  ...connectionOf(p),
  project: name("project", p.values.project, p.origin("project")),
  env: name("env", p.values.env, p.origin("env")),
});

/**
 * `--token` / `TRIBUTARY_TOKEN`, trimmed and checked as the client checks it
 * (the message names where it came from, never the token): a credential
 * refused here exits 4, as the server's 401 does.
 */
export const tokenOf = (raw: string, origin: string): string => {
  try {
    return checkToken(raw, origin);
  } catch (e) {
    throw new CliError((e as Error).message, CREDENTIALS_REFUSED);
  }
};

/**
 * The text of a PEM file an option names. @throws CliError (exit 1) naming
 * the option when the file cannot be read or holds no PEM block of the kind
 * (`CERTIFICATE`, or `PRIVATE KEY` for any key: `EC PRIVATE KEY`, `RSA PRIVATE KEY`…).
 */
export const pemFile = (path: string, option: string, kind: "CERTIFICATE" | "PRIVATE KEY"): string => {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new CliError(`${option} ${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 1);
  }
  const re = kind === "CERTIFICATE" ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/;
  if (!re.test(text)) throw new CliError(`${option} ${path}: not a PEM ${kind === "CERTIFICATE" ? "certificate" : "private key"} (no -----BEGIN ${kind}----- line)`, 1);
  return text;
};

/** The text of a NATS .creds file. */
export const natsCredsFile = (path: string, nats: string | undefined): string => {
  if (nats === undefined) throw new CliError("--nats-creds logs in to --nats: give --nats too", 1);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new CliError(`--nats-creds ${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 1);
  }
  if (!/-----BEGIN NATS USER JWT-----/.test(text) || !/-----BEGIN USER NKEY SEED-----/.test(text)) {
    throw new CliError(`--nats-creds ${path}: not a NATS .creds file (it holds a -----BEGIN NATS USER JWT----- and a -----BEGIN USER NKEY SEED----- block)`, 1);
  }
  return text;
};
