/**
 * What every Studio browser test file needs, once: Studio built into a temp
 * directory (so a concurrent `npm run build` cannot pull dist/studio/ from
 * under it), one headless Chromium for the file (started on first use, so a
 * file's tests that need no browser still run without one), browser
 * contexts at 1280×800, pages that keep their console errors, screenshots
 * under .scratch/studio/, and optionally a harness (a real server serving
 * that build, agents on demand). Call `useStudio()` at the top of a file or
 * a describe: it registers the beforeAll / afterAll that make and clean all
 * of it; the file's own hooks, registered after, run after it (and their
 * afterAll before it).
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, BrowserContextOptions, Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { buildStudio } from "../../scripts/build-studio.mjs";
import { ROOT, startHarness, type Harness } from "../e2e/support.js";
import { collectErrors, launchChromium } from "./browser.js";

export interface StudioFixture {
  /** The directory Studio was built into (a server's `studioDir`). */
  readonly dir: string;
  /** Where this file's screenshots go. */
  readonly shots: string;
  /** The harness serving this build (only with the `harness` option). */
  readonly h: Harness;
  /** The file's one browser, started by the first call. */
  browser(): Promise<Browser>;
  /**
   * A new context at 1280×800 (closed after the file); with `token`, the tab holds it as Studio's stored token.
   * Other options go to Playwright's `newContext` (a phone's viewport, `isMobile`, `colorScheme`).
   */
  context(options?: { token?: string } & BrowserContextOptions): Promise<BrowserContext>;
  /** A page of `context` (default timeout `timeout`, 10 s) whose console errors and uncaught exceptions go to `errors`. */
  page(context: BrowserContext, errors: string[], timeout?: number): Promise<Page>;
  /** A screenshot of `page` as `<shots>/<name>.png` (the full page unless `fullPage: false`); its path. */
  shot(page: Page, name: string, options?: { fullPage?: boolean }): Promise<string>;
}

export interface StudioFixtureOptions {
  /** A name for the temp directory. */
  name?: string;
  /** Screenshots go to .scratch/studio/<shots> (default: .scratch/studio). */
  shots?: string;
  /** Start a harness (embedded log) serving the build, with these options. */
  harness?: { adminToken?: string; heartbeatMs?: number };
}

export const useStudio = (options: StudioFixtureOptions = {}): StudioFixture => {
  const shots = join(ROOT, ".scratch/studio", options.shots ?? "");
  let dir: string | undefined;
  let harness: Harness | undefined;
  let launched: Promise<Browser> | undefined;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `trib-${options.name ?? "studio"}-`));
    await buildStudio({ outDir: dir });
    await mkdir(shots, { recursive: true });
    if (options.harness) harness = await startHarness("embedded", { ...options.harness, server: { studioDir: dir } });
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await (await launched?.catch(() => undefined))?.close();
    await harness?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const fixture: StudioFixture = {
    get dir() {
      if (!dir) throw new Error("Studio is not built yet: use the fixture from a test or a hook after useStudio()'s beforeAll");
      return dir;
    },
    shots,
    get h() {
      if (!harness) throw new Error(options.harness ? "the harness is not started yet" : "useStudio() was called without the `harness` option");
      return harness;
    },
    browser: () => (launched ??= launchChromium()),
    async context({ token, ...o } = {}) {
      const context = await (await fixture.browser()).newContext({ viewport: { width: 1280, height: 800 }, ...o });
      contexts.push(context);
      if (token !== undefined) await context.addInitScript(`sessionStorage.setItem("tributary.token", ${JSON.stringify(token)})`);
      return context;
    },
    async page(context, errors, timeout = 10_000) {
      const page = await context.newPage();
      page.setDefaultTimeout(timeout);
      collectErrors(page, errors);
      return page;
    },
    async shot(page, name, o = {}) {
      const path = join(shots, `${name}.png`);
      await page.screenshot({ path, fullPage: o.fullPage ?? true });
      return path;
    },
  };
  return fixture;
};
