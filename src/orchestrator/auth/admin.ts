/**
 * The bootstrap admin credential of a server started with `--auth`: the one
 * that may do everything, from which the first tokens are made.
 *
 * - `TRIBUTARY_ADMIN_TOKEN` (or the `adminToken` option) set: that text. It
 *   is not written anywhere; the server keeps only its hash.
 * - Unset, first start: a new token is generated, said once through the
 *   notice, and written to `<data>/admin-token` with mode 0600. Later starts
 *   read it from there (and say where it is, not what it is).
 *
 * I/O: the file and the hashing.
 */
import { chmodSync, closeSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { hashOf, mintToken } from "./token.js";

export const ADMIN_TOKEN_FILE = "admin-token";
/** Shortest admin text accepted from the environment: guessing it must be out of reach. */
export const MIN_ADMIN_TOKEN_CHARS = 24;

/** The bootstrap credential: only its hash, and where it came from. */
export interface AdminCredential {
  /** Hex SHA-256 of the whole text. */
  readonly hash: string;
  readonly source: "environment" | "generated" | "file";
  /** The file that holds it (generated or file). */
  readonly file?: string;
}

/** Why `text` is refused as an admin credential, or `undefined`. */
export const adminTokenProblem = (text: string): string | undefined => {
  if (text.length < MIN_ADMIN_TOKEN_CHARS) return `it is ${text.length} characters; give at least ${MIN_ADMIN_TOKEN_CHARS} (e.g. the output of 'openssl rand -hex 32')`;
  if (text.length > 1024) return "it is over 1024 characters";
  if (!/^[\x21-\x7e]+$/.test(text)) return "it may hold only printable ASCII characters, no spaces";
  return undefined;
};

/** Refused admin credential (exit 1 in the CLI). */
export class AdminTokenRefused extends Error {
  override readonly name = "AdminTokenRefused";
}

/**
 * The admin credential for a server on `dataDir`: `given` (the option or
 * `TRIBUTARY_ADMIN_TOKEN`), else the file, else a new one (said through `say`, once).
 */
export const adminCredential = (dataDir: string, given: string | undefined, say: (message: string) => void): AdminCredential => {
  if (given !== undefined) {
    const problem = adminTokenProblem(given);
    if (problem) throw new AdminTokenRefused(`TRIBUTARY_ADMIN_TOKEN is refused: ${problem}`);
    say(`auth: the admin token is the one given (TRIBUTARY_ADMIN_TOKEN); ${ADMIN_TOKEN_FILE} in the data directory, if any, is not used`);
    return { hash: hashOf(given), source: "environment" };
  }
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  let text: string | undefined;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new AdminTokenRefused(`cannot read ${file}: ${(e as Error).message}`);
  }
  if (text !== undefined) {
    const problem = adminTokenProblem(text);
    if (problem) throw new AdminTokenRefused(`${file} does not hold an admin token: ${problem}. Delete it to have a new one made, or set TRIBUTARY_ADMIN_TOKEN`);
    if ((statSync(file).mode & 0o077) !== 0) {
      chmodSync(file, 0o600);
      say(`warning: ${file} was readable by other users: its mode is now 0600`);
    }
    say(`auth: the admin token is in ${file}`);
    return { hash: hashOf(text), source: "file", file };
  }
  const minted = mintToken().token;
  // `wx`: two servers cannot both make one (the data directory's lock already keeps a second out).
  const fd = openSync(file, "wx", 0o600);
  try {
    writeSync(fd, `${minted}\n`);
  } finally {
    closeSync(fd);
  }
  say(`auth: a new admin token, shown this once and kept in ${file} (mode 0600):\n${minted}`);
  return { hash: hashOf(minted), source: "generated", file };
};
