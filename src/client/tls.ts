/**
 * HTTPS with a private CA: the global `fetch` trusts only the system's
 * CAs and offers no per-request option, so with `ca` the client sends
 * through undici (the library behind Node's `fetch`) with an `Agent` whose
 * TLS connections trust the given certificates. undici is loaded on first use.
 */

/** A PEM certificate (or several), the text or its bytes. */
export type CaOption = string | Uint8Array | readonly (string | Uint8Array)[];

/** A `fetch` whose TLS connections trust `ca` (in addition to nothing else: the CA given is the one trusted). */
export const fetchTrusting = (ca: CaOption): typeof fetch => {
  const list = (Array.isArray(ca) ? ca : [ca]).map((c: string | Uint8Array) => (typeof c === "string" ? c : Buffer.from(c)));
  let loaded: Promise<(input: URL | string, init?: RequestInit) => Promise<Response>> | undefined;
  const send = async (input: URL | string, init?: RequestInit): Promise<Response> => {
    loaded ??= import("undici").then(({ Agent, fetch: undiciFetch }) => {
      const dispatcher = new Agent({ connect: { ca: list } });
      return (i: URL | string, o?: RequestInit) => undiciFetch(i, { ...(o as object), dispatcher } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
    });
    return (await loaded)(input, init);
  };
  return send as typeof fetch;
};

/** The codes of a TLS handshake whose certificate is not trusted (or not for this host). */
const UNTRUSTED = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** The TLS error code of a failed request (its cause, or the cause's cause), if it is a certificate's. */
export const untrustedCode = (e: unknown): string | undefined => {
  for (let c: unknown = e, i = 0; c instanceof Error && i < 4; c = c.cause, i++) {
    const code = (c as NodeJS.ErrnoException).code;
    if (code && UNTRUSTED.has(code)) return code;
  }
  return undefined;
};
