/**
 * A real headless browser for Studio's tests: Debian's Chromium
 * (`apt-get install -y chromium`, which `.ci/run` does), driven by
 * playwright-core, which downloads no browser of its own. Missing Chromium
 * fails the tests that need it, loudly: it is never a reason to skip them.
 */
import { accessSync, constants } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

/** Where Chromium is looked for: `CHROMIUM_PATH` first, then Debian's and others' usual places. */
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium", "/snap/bin/chromium"];

export class ChromiumMissing extends Error {
  override readonly name = "ChromiumMissing";
}

/** The Chromium executable. @throws ChromiumMissing saying how to install it. */
export const chromiumPath = (): string => {
  const given = process.env["CHROMIUM_PATH"];
  if (given) {
    try {
      accessSync(given, constants.X_OK);
      return given;
    } catch {
      throw new ChromiumMissing(`CHROMIUM_PATH=${given} is not an executable: point it at Chromium, or unset it to use Debian's (apt-get install -y chromium)`);
    }
  }
  const tried = CANDIDATES;
  for (const p of tried) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // try the next one
    }
  }
  throw new ChromiumMissing(
    `Studio's browser tests need Chromium and found none (looked at ${tried.join(", ")}). ` +
      "Install it with `apt-get install -y chromium` (as root; .ci/run does it), or set CHROMIUM_PATH to a Chromium executable.",
  );
};

/** Starts headless Chromium. @throws ChromiumMissing when there is none. */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: chromiumPath(), headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });

/** Gathers into `errors` what a page says is wrong: its console's errors and its uncaught exceptions. */
export const collectErrors = (page: Page, errors: string[]): void => {
  page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
  page.on("pageerror", (e) => void errors.push(`uncaught: ${e.message}`));
};
