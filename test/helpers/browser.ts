import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Test } from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DASHBOARD_DIR } from '../../src/api/routes/dashboard.js';

/**
 * Real Chromium for the dashboard's tests: Debian's package (.ci/run installs it), driven
 * by playwright-core, nothing downloaded. As root (CI) Chromium needs --no-sandbox.
 */
export const CHROMIUM = process.env.PGSHIFT_CHROMIUM ?? '/usr/bin/chromium';

/** Generous: two test files share two cores with PostgreSQL servers and the service. */
export const UI_TIMEOUT_MS = 30_000;

export async function launchBrowser(t: Test): Promise<Browser> {
  if (!existsSync(join(DASHBOARD_DIR, 'index.html'))) throw new Error(`no dashboard in ${DASHBOARD_DIR}: run npm run build:dashboard first`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  return browser;
}

/** What a page reported that a person would not see: script errors and anything the CSP blocked. */
export interface PageTrouble {
  errors: string[];
  cspViolations: string[];
}

/**
 * A new page (its own cookies) at `url`, 1280 wide; collects uncaught errors and CSP
 * violations, so a test can assert the page ran clean under the strict policy.
 */
export async function openPage(browser: Browser, url: string, options: { bearer?: string } = {}): Promise<{ page: Page; trouble: PageTrouble }> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    ...(options.bearer ? { extraHTTPHeaders: { authorization: `Bearer ${options.bearer}` } } : {}),
  });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  const trouble: PageTrouble = { errors: [], cspViolations: [] };
  page.on('pageerror', (err) => trouble.errors.push(err.message));
  await page.exposeFunction('__pgshiftCsp', (text: string) => trouble.cspViolations.push(text));
  // Browser code is given as text: the tests are type-checked against node, not the DOM.
  await page.addInitScript({
    content: "document.addEventListener('securitypolicyviolation', (e) => window.__pgshiftCsp(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));",
  });
  await page.goto(url);
  return { page, trouble };
}

/** Signs in through the form, as a person would, and waits until the page says who they are. */
export async function signIn(page: Page, token: string, who: string): Promise<void> {
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(who).waitFor();
}

/**
 * Waits until the text of the first element matching `selector` matches `pattern`, as
 * the page updates itself (no reload); returns that text.
 */
export async function waitForText(page: Page, selector: string, pattern: RegExp, timeoutMs = UI_TIMEOUT_MS): Promise<string> {
  // A function, not text: the page's CSP refuses to evaluate strings (no 'unsafe-eval').
  const handle = await page.waitForFunction(
    ([sel, source, flags]) => {
      const doc = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document;
      const text = doc.querySelector(sel)?.textContent ?? '';
      return new RegExp(source, flags).test(text) ? text : false;
    },
    [selector, pattern.source, pattern.flags] as const,
    { timeout: timeoutMs },
  );
  return (await handle.jsonValue()) as string;
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page as it is now (injected by evaluation: the CSP refuses script tags). */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate<{ id: string; impact: string | null; help: string; targets: string[] }[]>(
    'axe.run().then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)).slice(0, 5) })))',
  );
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`);
}
