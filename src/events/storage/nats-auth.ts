/**
 * NATS credentials, shared by the JetStream log and the NATS blob store: a
 * user and password in the URL (`nats://user:pass@host:port`), or the text
 * of a `.creds` file (a user JWT and its NKey seed). The URLs handed to the
 * client and named in messages never carry the password.
 */
import { credsAuthenticator, type ConnectionOptions } from "@nats-io/transport-node";

export interface NatsAuthOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`; `nats://user:password@host:port` to log in. */
  readonly servers: string | readonly string[];
  /** The text of a NATS `.creds` file (user JWT and NKey seed). */
  readonly creds?: string | Uint8Array;
}

/** What `connect` is given, and how the servers are named in messages (without passwords). */
export interface NatsAuth {
  readonly options: Pick<ConnectionOptions, "servers" | "user" | "pass" | "authenticator">;
  readonly display: string;
}

/** The URLs split from their credentials; the user and password of the URLs must agree. @throws TypeError for a URL that is not one, or URLs with different users. */
export const natsAuth = (o: NatsAuthOptions): NatsAuth => {
  const list = (typeof o.servers === "string" ? o.servers.split(",") : [...o.servers]).map((s) => s.trim()).filter(Boolean);
  let user: string | undefined;
  let pass: string | undefined;
  const servers = list.map((s) => {
    const at = s.lastIndexOf("@");
    if (at < 0) return s;
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(s)?.[0] ?? "";
    const userinfo = s.slice(scheme.length, at);
    const colon = userinfo.indexOf(":");
    let u: string;
    let p: string;
    try {
      u = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
      p = colon < 0 ? "" : decodeURIComponent(userinfo.slice(colon + 1));
    } catch {
      throw new TypeError(`the NATS URL ${scheme}…@${s.slice(at + 1)}: its user or password is not valid percent-encoding`);
    }
    if (user !== undefined && (user !== u || pass !== p)) throw new TypeError("the NATS URLs carry different users or passwords: give one user and password for all");
    user = u;
    pass = p;
    return `${scheme}${s.slice(at + 1)}`;
  });
  const creds = o.creds === undefined ? undefined : typeof o.creds === "string" ? new TextEncoder().encode(o.creds) : o.creds;
  const display = servers.map((s) => (user === undefined ? s : s.replace(/^([a-z][a-z0-9+.-]*:\/\/)?/i, (m) => `${m}${encodeURIComponent(user!)}@`))).join(",");
  return {
    options: {
      servers: servers.length === 1 ? servers[0]! : servers,
      ...(user === undefined ? {} : { user, pass: pass ?? "" }),
      ...(creds === undefined ? {} : { authenticator: credsAuthenticator(creds) }),
    },
    display,
  };
};

/** A connection error made plain: an authorization failure says so and names the servers (never the password). */
export const describeNatsError = (display: string, cause: unknown, messageOf: (e: unknown) => string): string => {
  const m = messageOf(cause);
  if (/authoriz|authenticat|auth.*violation|user.*expired/i.test(m) || (cause as { code?: unknown })?.code === "AUTHORIZATION_VIOLATION") {
    return `NATS at ${display} refused the credentials (${m}): check the user and password in the URL (nats://user:password@host:port) or the --nats-creds file`;
  }
  return `cannot connect to NATS at ${display}: ${m}`;
};
