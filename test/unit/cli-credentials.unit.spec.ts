import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { duration } from "../../src/cli/args.js";
import { CliError, cliErrorOf, CREDENTIALS_REFUSED } from "../../src/cli/client.js";
import { expiresOf, patternsOf, revokedLine, scopeOf, tokenTable } from "../../src/cli/commands/tokens.js";
import { describeWhoAmI } from "../../src/cli/commands/whoami.js";
import { connectionOf, targetOf } from "../../src/cli/options.js";
import { COMMANDS } from "../../src/cli/table.js";
import { parse } from "../../src/cli/usage.js";
import { checkToken, Client, MAX_TOKEN_LENGTH } from "../../src/client/client.js";
import { ApiError, ForbiddenError, InvalidRequestError, UnauthenticatedError } from "../../src/client/errors.js";
import { describePrincipal } from "../../src/events/principal.js";
import { GRANTS } from "../../src/orchestrator/core/authorize.js";
import type { TokenAnswer } from "../../src/protocol/api.js";
import { CreateTokenBody } from "../../src/protocol/http.js";

/** What a thunk throws. */
const thrown = (f: () => unknown): Error => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw");
};

const SECRET = "trib_0abc_s3cretS3cret_x9";

describe("--expires DURATION", () => {
  it("takes a whole number and a unit s, m, h or d, as milliseconds", () => {
    for (const [raw, n, unitMs] of [
      ["90s", 90, 1000],
      ["30m", 30, 60_000],
      ["12h", 12, 3_600_000],
      ["30d", 30, 86_400_000],
    ] as const) {
      expect(expiresOf(raw), raw).toBe(n * unitMs);
    }
  });

  it("refuses anything else, naming the option and what it got", () => {
    for (const raw of ["", "30", "d", "1.5h", "-3m", "30 days", "3w", "10ms", "1e3s", "30D"]) {
      const e = thrown(() => expiresOf(raw));
      expect(e, raw).toBeInstanceOf(CliError);
      expect((e as CliError).exitCode).toBe(1);
      expect(e.message, raw).toMatch(/^--expires takes a duration, a whole number and a unit s, m, h or d \(90s, 30m, 12h, 30d\), got /);
      expect(e.message).toContain(JSON.stringify(raw));
    }
  });

  it("refuses what the API's expiresInMs would refuse, with its bounds", () => {
    const { minimum, maximum } = CreateTokenBody.properties.expiresInMs;
    expect(expiresOf(`${minimum! / 1000}s`)).toBe(minimum);
    expect(expiresOf(`${maximum! / 86_400_000}d`)).toBe(maximum);
    for (const raw of ["0s", `${maximum! / 86_400_000 + 1}d`, "999999999999999d"]) {
      expect(thrown(() => expiresOf(raw)).message, raw).toMatch(/^--expires takes a duration from 1s to \d+d, got /);
    }
    expect(duration("expires", undefined)).toBeUndefined();
  });
});

describe("--envs PATTERN[,PATTERN]", () => {
  it("takes names and prefixes ending in *, comma-separated, once each", () => {
    expect(patternsOf("dev")).toEqual(["dev"]);
    expect(patternsOf("dev, dev-*,*,dev")).toEqual(["dev", "dev-*", "*"]);
  });

  it("refuses a pattern the server would refuse, with its hint, and an empty one", () => {
    expect(thrown(() => patternsOf("dev/*")).message).toMatch(/^--envs: "dev\/\*": environment names cannot contain '\/'.*dev-\*/);
    expect(thrown(() => patternsOf("dev,,qa")).message).toMatch(/^--envs takes environment patterns separated by commas, got an empty one/);
    expect(thrown(() => patternsOf("d*v")).message).toMatch(/^--envs: "d\*v": /);
  });
});

describe("--token and TRIBUTARY_TOKEN", () => {
  const saved = process.env.TRIBUTARY_TOKEN;
  afterEach(() => {
    if (saved === undefined) delete process.env.TRIBUTARY_TOKEN;
    else process.env.TRIBUTARY_TOKEN = saved;
  });

  it("every command that talks to a server takes them", () => {
    for (const c of Object.values(COMMANDS)) {
      if (c.name === "server" || c.name === "demo") continue;
      expect((c.options as Record<string, { env?: string }>).token?.env, c.name).toBe("TRIBUTARY_TOKEN");
    }
  });

  it("the option wins over the variable, which is read when the option is absent", () => {
    process.env.TRIBUTARY_TOKEN = "from-the-environment";
    const fromEnv = parse(COMMANDS.runs, ["ls"]);
    expect(targetOf(fromEnv).token).toBe("from-the-environment");
    expect(fromEnv.origin("token")).toBe("TRIBUTARY_TOKEN");
    const given = parse(COMMANDS.runs, ["ls", "--token", "from-the-flag"]);
    expect(targetOf(given).token).toBe("from-the-flag");
    delete process.env.TRIBUTARY_TOKEN;
    expect(targetOf(parse(COMMANDS.runs, ["ls"]))).not.toHaveProperty("token");
    expect(connectionOf(parse(COMMANDS.tokens, ["ls", "--token", "t"])).token).toBe("t");
  });

  it("a paste's surrounding whitespace is trimmed, for the CLI and the client", () => {
    process.env.TRIBUTARY_TOKEN = ` ${SECRET}\n`;
    expect(targetOf(parse(COMMANDS.runs, ["ls"])).token).toBe(SECRET);
    expect(targetOf(parse(COMMANDS.runs, ["ls", "--token", `\t${SECRET}  `])).token).toBe(SECRET);
    expect(checkToken(` ${SECRET} `)).toBe(SECRET);
  });

  it("every credential problem found locally exits 4, says which, names where it came from and never echoes the value", () => {
    const cases: [string, RegExp][] = [
      ["", /: no token: it is empty/],
      ["   ", /: no token: it is empty/],
      [`Bearer ${SECRET}`, /: give the token alone, without 'Bearer '/],
      [` bearer ${SECRET}`, /: give the token alone, without 'Bearer '/],
      ["a".repeat(MAX_TOKEN_LENGTH + 1), new RegExp(`: too long: ${MAX_TOKEN_LENGTH + 1} characters, at most ${MAX_TOKEN_LENGTH}`)],
      [`${SECRET} x`, /: it has spaces, control or non-ASCII characters inside/],
      [`${SECRET}\u00e9`, /: it has spaces, control or non-ASCII characters inside/],
    ];
    for (const [raw, said] of cases) {
      const flag = thrown(() => targetOf(parse(COMMANDS.runs, ["ls", `--token=${raw}`])));
      expect(flag, JSON.stringify(raw.slice(0, 20))).toBeInstanceOf(CliError);
      expect((flag as CliError).exitCode).toBe(CREDENTIALS_REFUSED);
      expect(flag.message).toMatch(new RegExp(`^--token${said.source}`));
      process.env.TRIBUTARY_TOKEN = raw;
      // `tributary agent` reads it through the same path.
      const env = thrown(() => targetOf(parse(COMMANDS.agent, ["flows.ts"])));
      expect((env as CliError).exitCode).toBe(CREDENTIALS_REFUSED);
      expect(env.message).toMatch(new RegExp(`^TRIBUTARY_TOKEN${said.source}`));
      for (const m of [flag.message, env.message]) {
        expect(m).not.toContain("s3cret");
        if (raw.length > 100) expect(m).not.toContain("a".repeat(100));
      }
    }
    // A token of plain text just over the limit is not said to hold spaces.
    expect(thrown(() => checkToken("x".repeat(MAX_TOKEN_LENGTH + 1))).message).not.toMatch(/spaces/);
    expect(checkToken("x".repeat(MAX_TOKEN_LENGTH))).toHaveLength(MAX_TOKEN_LENGTH);
  });

  it("the client refuses such a token too, and keeps a good one out of sight", () => {
    for (const bad of [`${SECRET} x`, `Bearer ${SECRET}`, "", "x".repeat(MAX_TOKEN_LENGTH + 1)]) {
      const e = thrown(() => new Client({ token: bad }));
      expect(e).toBeInstanceOf(InvalidRequestError);
      expect(e.message).toMatch(/^token: /);
      expect(e.message).not.toContain("s3cret");
    }
    const client = new Client({ token: ` ${SECRET}\n` });
    expect(inspect(client, { depth: 10, showHidden: true })).not.toContain("s3cret");
    expect(JSON.stringify(client)).not.toContain("s3cret");
    expect(inspect(client.withEnv("dev"), { depth: 10, showHidden: true })).not.toContain("s3cret");
  });
});

describe("401 and 403 in the CLI", () => {
  const RUNS = "GET /api/projects/p/envs/e/runs";

  it("exit 4, with the server's message and what to do", () => {
    const missing = cliErrorOf(new UnauthenticatedError("that is not a Tributary token", RUNS, "malformed"))!;
    expect(missing.exitCode).toBe(CREDENTIALS_REFUSED);
    expect(missing.message).toBe("that is not a Tributary token (give a valid token with --token TOKEN or TRIBUTARY_TOKEN)");
    // The server's message says it already: not twice.
    const said = "no token: give one with --token or TRIBUTARY_TOKEN";
    expect(cliErrorOf(new UnauthenticatedError(said, "GET /api/whoami", "missing"))!.message).toBe(said);

    const forbidden = cliErrorOf(new ForbiddenError("the token's role read does not grant submit", "POST /api/projects/p/envs/e/runs", "submit", "role"))!;
    expect(forbidden.exitCode).toBe(CREDENTIALS_REFUSED);
    expect(forbidden.message).toContain("the token's role read does not grant submit");
    expect(forbidden.message).toContain(`ask an admin for a token with role ${GRANTS.submit.join(" or ")}`);
    // Another refusal stays exit 1.
    expect(cliErrorOf(new ApiError("unknown run", 404, "GET /api/x"))!.exitCode).toBe(1);
  });

  it("an expired or revoked token: ask an admin for a new one", () => {
    for (const reason of ["expired", "revoked"] as const) {
      const e = cliErrorOf(new UnauthenticatedError(`the token has ${reason}`, RUNS, reason))!;
      expect(e.exitCode).toBe(CREDENTIALS_REFUSED);
      expect(e.message).toMatch(new RegExp(`^the token has ${reason} \\(ask an admin for a new token`));
    }
  });

  it("a 403's hint fits what the token lacks, naming the environment or project of the request", () => {
    const hint = (lacks: ForbiddenError["lacks"], request: string, permission: ForbiddenError["permission"] = "read") =>
      cliErrorOf(new ForbiddenError("refused", request, permission, lacks))!;
    const env = hint("environment", "GET /api/projects/p/envs/staging-2/runs?limit=5");
    expect(env.exitCode).toBe(CREDENTIALS_REFUSED);
    expect(env.message).toBe("refused (use a token whose --envs cover staging-2, or ask an admin of the project)");
    expect(hint("project", "GET /api/projects/billing/envs/e/runs").message).toBe("refused (use a token of project billing)");
    expect(hint("expiry", "POST /api/projects/p/tokens", "admin").message).toBe("refused (give a shorter --expires (at most the token's own))");
    expect(hint("environment", "POST /api/projects/p/tokens", "admin").message).toBe("refused (give --envs within your token's (see tributary whoami))");
    expect(hint("role", "POST /api/projects/p/tokens", "admin").message).toContain("ask an admin for a token with role admin");
    // A server that says nothing of what is lacking: the role hint, as before.
    expect(hint(undefined, RUNS, "submit").message).toContain(`ask an admin for a token with role ${GRANTS.submit.join(" or ")}`);
  });
});

describe("tokens revoke, as printed", () => {
  const t: TokenAnswer = {
    tokenId: "c3",
    project: "p",
    envs: ["*"],
    role: "admin",
    createdAt: Date.UTC(2026, 0, 1),
    revoked: { at: Date.UTC(2026, 0, 2, 3, 4, 5), reason: "leaked" },
  };

  it("revoked now: refused from now on, and what it made is not", () => {
    const line = revokedLine(t, "p", false);
    expect(line).toMatch(/^revoked token c3 of project p: it is refused from now on/);
    expect(line).toContain("the tokens it made are not revoked");
  });

  it("revoked before: when, and why, and that nothing changed", () => {
    expect(revokedLine(t, "p", true)).toBe(`token c3 of project p was already revoked at ${new Date(t.revoked!.at).toISOString()} (leaked): nothing changed`);
  });
});

describe("tokens ls and whoami, as printed", () => {
  const tokens: TokenAnswer[] = [
    { tokenId: "a1", name: "ci", project: "p", envs: ["dev", "dev-*"], role: "submit", createdAt: Date.UTC(2026, 0, 2, 3, 4), by: { kind: "admin" } },
    {
      tokenId: "b2",
      project: "p",
      envs: ["*"],
      role: "agent",
      createdAt: Date.UTC(2026, 0, 3),
      expiresAt: Date.UTC(2026, 0, 4),
      by: { kind: "token", tokenId: "a1", name: "ci" },
      revoked: { at: Date.UTC(2026, 0, 3, 12), reason: "left\nthe team" },
    },
  ];

  it("a table with one row per token, its columns aligned, no secret and no control character", () => {
    const lines = tokenTable(tokens, Date.UTC(2026, 0, 5)).split("\n");
    expect(lines[0]!.split(/\s{2,}/)).toEqual(["id", "name", "role", "envs", "created (UTC)", "expires", "by", "revoked"]);
    expect(lines).toHaveLength(3);
    const col = (name: string) => lines[0]!.indexOf(name);
    for (const [i, t] of tokens.entries()) {
      const row = lines[i + 1]!;
      expect(row.startsWith(t.tokenId)).toBe(true);
      expect(row.slice(col("role"))).toMatch(new RegExp(`^${t.role}`));
      expect(row.slice(col("by"))).toMatch(new RegExp(`^${describePrincipal(t.by).replace(/[()]/g, "\\$&")}`));
      expect(row).toContain(t.envs.join(","));
    }
    expect(lines[2]).toContain("(expired)");
    expect(lines[2]).toContain("left?the team");
    expect(lines[1]!.slice(col("revoked")).trim()).toBe("-");
  });

  it("whoami says whether the server checks credentials, and the token's scope", () => {
    expect(describeWhoAmI({ auth: false }, "http://h:1", true)).toMatch(/checks no credentials .*the token given is not looked at$/);
    expect(describeWhoAmI({ auth: true, principal: { kind: "admin" } }, "http://h:1", true)).toContain("you are admin");
    const t = tokens[0]!;
    const said = describeWhoAmI({ auth: true, principal: { kind: "token", tokenId: t.tokenId, name: t.name! }, token: t }, "http://h:1", true);
    expect(said).toContain(`you are ${describePrincipal({ kind: "token", tokenId: t.tokenId, name: t.name! })}: ${scopeOf(t)}`);
    expect(scopeOf(t)).toContain("environments dev, dev-*");
  });
});
