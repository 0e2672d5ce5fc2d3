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
