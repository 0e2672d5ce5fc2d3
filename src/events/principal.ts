/**
 * Who caused a fact (issue 10): the bootstrap admin, a token (its public id
 * and name, never its secret), or an agent (for what agents do, with the
 * token it connected with). Recorded on the events a request causes; absent
 * on events of a server without `--auth` and on logs older than it.
 */
export type Principal =
  | { readonly kind: "admin" }
  | { readonly kind: "token"; readonly tokenId: string; readonly name?: string }
  | { readonly kind: "agent"; readonly agentId: string; readonly tokenId?: string };

/** How a principal is shown: `admin`, `token 1a2b… (ci)`, `agent a-1`. */
export const describePrincipal = (p: Principal | undefined): string => {
  if (!p) return "-";
  if (p.kind === "admin") return "admin";
  if (p.kind === "token") return `token ${p.tokenId}${p.name ? ` (${p.name})` : ""}`;
  return `agent ${p.agentId}`;
};
