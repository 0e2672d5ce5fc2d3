/**
 * docs/cli.md against the CLI's table (src/cli/table.ts): its reference
 * section is the `--help` of every command, generated; the test
 * test/unit/cli-table.unit.spec.ts fails when it is out of date.
 *
 * Regenerate it: `npm run docs:cli` (this file, run with `--write`).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { COMMANDS } from "../../src/cli/table.js";
import { usageOf } from "../../src/cli/usage.js";
import { USAGE } from "../../src/cli/main.js";

export const CLI_MD = resolve(import.meta.dirname, "../../docs/cli.md");

const BEGIN = "<!-- reference: generated from src/cli/table.ts by `npm run docs:cli`; do not edit -->";
const END = "<!-- end of reference -->";

/** The reference section: `tributary --help`, then each command's. */
export const reference = (): string =>
  [
    BEGIN,
    "",
    "```text",
    `$ tributary --help`,
    USAGE,
    "```",
    ...Object.values(COMMANDS).flatMap((c) => ["", "```text", `$ tributary ${c.name} --help`, usageOf(c), "```"]),
    "",
    END,
  ].join("\n");

/** docs/cli.md with its reference section as the table makes it now. */
export const withReference = (md: string): string => {
  const from = md.indexOf(BEGIN);
  const to = md.indexOf(END);
  if (from < 0 || to < from) throw new Error(`docs/cli.md has no reference section (${BEGIN} … ${END})`);
  return md.slice(0, from) + reference() + md.slice(to + END.length);
};

if (process.argv.includes("--write")) {
  const md = readFileSync(CLI_MD, "utf8");
  const next = withReference(md);
  writeFileSync(CLI_MD, next);
  console.log(next === md ? "docs/cli.md is up to date" : "docs/cli.md: reference regenerated");
}
