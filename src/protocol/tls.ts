/**
 * TLS failures that are the certificate's (not trusted, expired, not for
 * this host), told apart from a server that cannot be reached, so that the
 * client and the agent say what to do: give the CA (`ca`, `--ca`).
 */

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
