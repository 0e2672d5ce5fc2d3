/**
 * A NATS operator, a system account, an account with JetStream and a user
 * of it, made for the tests with the NKeys library: the nats-server
 * configuration that trusts them (operator mode, accounts preloaded in
 * memory) and the user's `.creds` file, as `nsc` would write them. The JWTs
 * are the NATS JWT v2 claims, signed with ed25519 NKeys.
 */
import { randomBytes } from "node:crypto";
import { createAccount, createOperator, createUser, type KeyPair } from "@nats-io/nkeys";

export interface OperatorSetup {
  /** The nats-server configuration (for `startNatsServer({ config })`). */
  readonly config: string;
  /** The text of the user's `.creds` file. */
  readonly creds: string;
}

const b64url = (b: Uint8Array | string): string => Buffer.from(b).toString("base64url");

const jwt = (issuer: KeyPair, subject: KeyPair, name: string, nats: object): string => {
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const claims = { jti: randomBytes(20).toString("hex").toUpperCase(), iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), sub: subject.getPublicKey(), name, nats };
  const body = b64url(JSON.stringify(claims));
  return `${header}.${body}.${b64url(issuer.sign(new TextEncoder().encode(`${header}.${body}`)))}`;
};

const UNLIMITED = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };

export const makeOperatorSetup = (): OperatorSetup => {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const user = createUser();
  const operatorJwt = jwt(operator, operator, "tributary-test-operator", { type: "operator", version: 2 });
  const systemJwt = jwt(operator, system, "SYS", { type: "account", version: 2, limits: UNLIMITED });
  const accountJwt = jwt(operator, account, "tributary", {
    type: "account",
    version: 2,
    limits: { ...UNLIMITED, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
  });
  const userJwt = jwt(account, user, "tributary-server", { type: "user", version: 2, pub: {}, sub: {}, subs: -1, data: -1, payload: -1 });
  const config =
    `operator: ${operatorJwt}\nsystem_account: ${system.getPublicKey()}\nresolver: MEMORY\n` +
    `resolver_preload: {\n  ${system.getPublicKey()}: ${systemJwt}\n  ${account.getPublicKey()}: ${accountJwt}\n}\n`;
  const creds =
    `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n` +
    `-----BEGIN USER NKEY SEED-----\n${new TextDecoder().decode(user.getSeed())}\n------END USER NKEY SEED------\n`;
  return { config, creds };
};
