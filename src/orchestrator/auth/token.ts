/**
 * The text of an access token: `trib_<tokenId>_<secret>_<check>`.
 *
 * - `tokenId`: 16 characters of lower-case Crockford base32 (80 random
 *   bits), public: it names the token in `tokens ls` and in events.
 * - `secret`: 52 characters of the same alphabet (256 random bits), shown
 *   once; only `hashOf(secret)` (hex SHA-256) is recorded.
 * - `check`: 6 characters, the first 30 bits of the SHA-256 of
 *   `trib_<tokenId>_<secret>`, so that a mistyped or truncated token is
 *   refused (`malformed`) without a look-up.
 *
 * I/O: randomness and hashing from `node:crypto`.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const ID_CHARS = 16;
const SECRET_CHARS = 52;
const CHECK_CHARS = 6;
const PREFIX = "trib";
const SHAPE = new RegExp(`^${PREFIX}_([${ALPHABET}]{${ID_CHARS}})_([${ALPHABET}]{${SECRET_CHARS}})_([${ALPHABET}]{${CHECK_CHARS}})$`);

/** Base32 of `bytes`, `chars` characters (5 bits each, from the first bit). */
const base32 = (bytes: Uint8Array, chars: number): string => {
  let out = "";
  for (let i = 0; i < chars; i++) {
    let v = 0;
    for (let b = 0; b < 5; b++) {
      const bit = i * 5 + b;
      v = (v << 1) | (((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1);
    }
    out += ALPHABET[v]!;
  }
  return out;
};

const sha256 = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

const checkOf = (tokenId: string, secret: string): string => base32(sha256(`${PREFIX}_${tokenId}_${secret}`), CHECK_CHARS);

/** Hex SHA-256 of a secret: what the log records. */
export const hashOf = (secret: string): string => sha256(secret).toString("hex");

/** Do two hex hashes match? In constant time for hashes of the same length. */
export const sameHash = (a: string, b: string): boolean => {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
};

export interface MintedToken {
  readonly tokenId: string;
  /** The whole text to hand out, once: `trib_<tokenId>_<secret>_<check>`. */
  readonly token: string;
  readonly secret: string;
  readonly hash: string;
}

/** The text of a token made of these parts (with its check). */
export const formatToken = (tokenId: string, secret: string): string => `${PREFIX}_${tokenId}_${secret}_${checkOf(tokenId, secret)}`;

/** A new random token. */
export const mintToken = (): MintedToken => {
  const tokenId = base32(randomBytes(10), ID_CHARS);
  const secret = base32(randomBytes(33), SECRET_CHARS);
  return { tokenId, token: formatToken(tokenId, secret), secret, hash: hashOf(secret) };
};

/** The parts of a token's text, or `undefined` when it is not one (shape or check wrong): refused as malformed. */
export const parseToken = (text: string): { readonly tokenId: string; readonly secret: string } | undefined => {
  const m = SHAPE.exec(text.trim());
  if (!m) return undefined;
  const [, tokenId, secret, check] = m as unknown as [string, string, string, string];
  return sameHash(check, checkOf(tokenId, secret)) ? { tokenId, secret } : undefined;
};

/** Does `secret` hash to `hash` (a token document's)? Constant time. */
export const secretMatches = (secret: string, hash: string): boolean => sameHash(hashOf(secret), hash);
