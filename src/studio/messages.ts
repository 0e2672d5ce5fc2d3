/**
 * The server's messages as Studio shows them. The server writes for the CLI
 * too, and ends many a refusal with what to run next (`: list runs with
 * 'tributary runs ls'`, `: give one with --token or TRIBUTARY_TOKEN`); in a
 * browser that advice is noise, or wrong. The server keeps its messages (CLI
 * users need them); Studio drops the hint, or says what to do here instead.
 */

/** A hint is a clause (after `: ` or `; `), or a parenthesis, that names a CLI command or a CLI option. */
const CLI = /'tributary [^']*'|--token\b|TRIBUTARY_TOKEN/;

/** What Studio says instead of a CLI hint, when there is something to do here. */
const INSTEAD: readonly (readonly [hint: RegExp, studio: string])[] = [[/--token|TRIBUTARY_TOKEN/, "give one in the token field"]];

/** `message` without its trailing CLI advice (or with Studio's instead); a message with none is returned as it is. */
export const forStudio = (message: string): string => {
  let out = message;
  // A parenthesis naming a command: `… connects to p/dev ('tributary agent --env dev MODULE')`.
  out = out.replace(/\s*\('tributary [^']*'\)/g, "");
  // The last clause that gives CLI advice, and whatever follows it.
  const seps = [...out.matchAll(/[:;] /g)].map((m) => m.index!);
  for (const at of seps) {
    const rest = out.slice(at + 2);
    if (!CLI.test(rest)) continue;
    const instead = INSTEAD.find(([hint]) => hint.test(rest))?.[1];
    out = out.slice(0, at) + (instead ? `${out[at]} ${instead}` : "");
    break;
  }
  return out;
};
