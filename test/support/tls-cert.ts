/**
 * A self-signed certificate for 127.0.0.1, made by the `openssl` CLI for the
 * TLS tests. Never skipped: without openssl the tests fail and say how to
 * install it.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface SelfSigned {
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: string;
  readonly key: string;
}

/** Writes `cert.pem` and `key.pem` (EC P-256, one day, CN and subjectAltName 127.0.0.1) into `dir`. */
export const makeSelfSigned = (dir: string): SelfSigned => {
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  const r = spawnSync(
    "openssl",
    [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
      "-keyout", keyPath, "-out", certPath,
    ],
    { encoding: "utf8" },
  );
  if (r.error) throw new Error(`the TLS tests need the openssl CLI (${r.error.message}): apt-get install -y openssl`);
  if (r.status !== 0) throw new Error(`openssl could not make a self-signed certificate (exit ${r.status}): ${r.stderr}`);
  return { certPath, keyPath, cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") };
};
