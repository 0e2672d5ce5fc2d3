/** `tributary tokens create | ls | revoke ID`: see TOKENS in ../table.ts. */
import { describePrincipal, TOKEN_ID, TOKEN_ROLES, type TokenRole } from "../../events/index.js";
import { patternRefusal } from "../../protocol/env-patterns.js";
import type { TokenAnswer } from "../../protocol/api.js";
import { CreateTokenBody } from "../../protocol/http.js";
import { toJson } from "../../protocol/json.js";
import { duration, name as checkName } from "../args.js";
import { CliError, clientOf } from "../client.js";
import { connectionOf } from "../options.js";
import { TOKENS } from "../table.js";
import { writeCritical } from "../stdout.js";
import { parse, UsageError, usageOf } from "../usage.js";

const refuse = (message: string): never => {
  throw new CliError(message, 1);
};

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table, before anything is sent.
  const parsed = parse(TOKENS, argv);
  const { values, positionals } = parsed;
  const client = clientOf({ ...connectionOf(parsed), project: checkName("project", values.project, parsed.origin("project")) });
  const [sub, tokenId] = positionals;

  if (sub === "create") {
    const body = {
      role: roleOf(values.role!),
      ...(values.envs === undefined ? {} : { envs: patternsOf(values.envs) }),
      ...(values.name === undefined ? {} : { name: nameOf(values.name) }),
      ...(values.expires === undefined ? {} : { expiresInMs: expiresOf(values.expires) }),
    };
    const created = await client.createToken(body);
    const what = `token ${created.tokenId}${created.name ? ` (${printable(created.name)})` : ""}: ${scopeOf(created)}`;
    const revoke = `tributary tokens revoke ${created.tokenId} --project ${created.project}`;
    // The text alone on stdout (T=$(tributary tokens create …)); what it is on stderr.
    const written = await writeCritical(`${values.json ? toJson(created) : created.token}\n`);
    try {
      if (written.error) {
        // Made, but nobody has its text (a reader that closed stdout early, a full disk…): it can only be revoked.
        const why = (written.error as NodeJS.ErrnoException).code ?? written.error.message;
        console.error(
          `tributary tokens: created ${what}, but its text was not written to stdout (${why}): nobody has it, and the server shows it no more. ` +
            `Revoke it ('${revoke}') and create another`,
        );
        return 1;
      }
      console.error(`created ${what}. Its text, on stdout, is shown this once: keep it secret (revoke it with '${revoke}')`);
      return 0;
    } finally {
      written.done();
    }
  }
  if (sub === "ls") {
    const tokens = await client.listTokens();
    console.log(values.json ? toJson(tokens) : tokenTable(tokens, Date.now()));
    return 0;
  }
  if (sub === "revoke" && tokenId !== undefined) {
    const id = idOf(tokenId);
    // The server answers a token revoked before as it answers one revoked now (unchanged): ask it first which.
    const before = (await client.listTokens()).find((t) => t.tokenId === id)?.revoked;
    const revoked = await client.revokeToken(id, values.reason === undefined ? {} : { reason: values.reason });
    console.log(values.json ? toJson(revoked) : revokedLine(revoked, client.project, before !== undefined));
    return 0;
  }
  throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`, usageOf(TOKENS));
};

/** What `tokens revoke` says: revoked now, or already (when, and why, as it was). */
export const revokedLine = (t: TokenAnswer, project: string, already: boolean): string => {
  if (already && t.revoked) {
    return `token ${t.tokenId} of project ${project} was already revoked at ${new Date(t.revoked.at).toISOString()}${t.revoked.reason ? ` (${printable(t.revoked.reason)})` : ""}: nothing changed`;
  }
  return `revoked token ${t.tokenId} of project ${project}: it is refused from now on, and agents using it stop (the tokens it made are not revoked: see 'tributary tokens ls', column by)`;
};

const roleOf = (raw: string): TokenRole =>
  (TOKEN_ROLES as readonly string[]).includes(raw) ? (raw as TokenRole) : refuse(`--role takes ${TOKEN_ROLES.join(" | ")}, got ${JSON.stringify(raw)}`);

/** `--envs dev,dev-*`: each pattern checked as the server checks it. */
export const patternsOf = (raw: string): string[] => {
  const patterns = raw.split(",").map((p) => p.trim());
  const max = CreateTokenBody.properties.envs.maxItems ?? 64;
  if (patterns.length > max) refuse(`--envs takes at most ${max} patterns, got ${patterns.length}`);
  for (const p of patterns) {
    if (p === "") refuse(`--envs takes environment patterns separated by commas, got an empty one in ${JSON.stringify(raw)}`);
    const why = patternRefusal(p);
    if (why !== undefined) refuse(`--envs: ${JSON.stringify(p)}: ${why}`);
  }
  return [...new Set(patterns)];
};

/** `--expires 30d`, within the bounds of the API's `expiresInMs`. */
export const expiresOf = (raw: string): number => {
  const { minimum, maximum } = CreateTokenBody.properties.expiresInMs;
  return duration("expires", raw, minimum, maximum)!;
};

const nameOf = (raw: string): string => {
  const { minLength = 1, maxLength = 128 } = CreateTokenBody.properties.name;
  return raw.length >= minLength && raw.length <= maxLength ? raw : refuse(`--name takes ${minLength} to ${maxLength} characters, got ${raw.length}`);
};

/** A token id; what is not one is not echoed if it could be a token's text (ids have no `_`, the text has). */
const idOf = (raw: string): string => {
  if (TOKEN_ID.test(raw)) return raw;
  const shown = raw.includes("_") ? "what looks like a token's text (not shown): give its id instead" : `got ${JSON.stringify(raw.slice(0, 80))}`;
  return refuse(`ID takes a token id (1 to 64 lower-case letters and digits, as tokens ls prints it), ${shown}`);
};

/** A name as one line of a terminal: control characters shown as `?`. */
const printable = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");

const when = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace("T", " ");

/** `project p, role submit, environments dev, dev-*, expires 2026-12-31 00:00 UTC`. */
export const scopeOf = (t: TokenAnswer): string =>
  `project ${t.project}, role ${t.role}, environments ${t.envs.join(", ")}, ${t.expiresAt === undefined ? "never expires" : `expires ${when(t.expiresAt)} UTC`}`;

/** `tokens ls`: one row per token, columns aligned; times in UTC. */
export const tokenTable = (tokens: readonly TokenAnswer[], now: number): string => {
  const rows = tokens.map((t) => [
    t.tokenId,
    t.name === undefined ? "-" : printable(t.name),
    t.role,
    t.envs.join(","),
    when(t.createdAt),
    t.expiresAt === undefined ? "never" : `${when(t.expiresAt)}${t.expiresAt <= now ? " (expired)" : ""}`,
    // A principal; shown as it comes if the server answers another form (a bare id).
    typeof t.by === "string" ? printable(t.by) : describePrincipal(t.by),
    t.revoked === undefined ? "-" : `${when(t.revoked.at)}${t.revoked.reason ? `: ${printable(t.revoked.reason)}` : ""}`,
  ]);
  const head = ["id", "name", "role", "envs", "created (UTC)", "expires", "by", "revoked"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
};
