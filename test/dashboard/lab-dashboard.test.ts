import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { Page } from 'playwright-core';
import * as D from '../../src/defaults.js';
import { parseWorkloadSettings } from '../../src/local/workload/config.js';
import { startLabWorkload } from '../../src/local/workload/lab.js';
import { withClient } from '../../src/postgres/connect.js';
import { launchBrowser, openPage, seriousViolations, signIn, waitForText } from '../helpers/browser.js';
import { CALM_CANARIES, calm, labApi, labServiceConfig, startLabService } from '../helpers/lab-service.js';
import { guardsHold, replicationSettled, settle } from '../helpers/cutover.js';
import { startTestLab, testLogger } from '../helpers/lab.js';
import { ROOT } from '../helpers/process.js';

/**
 * The dashboard in real Chromium on the lab: real PostgreSQL 13 and 14, the Route 53
 * stand-in, pgshift, and the demo application writing and reading through the pair's
 * names and pushing its error rate. What is asserted is what a person sees.
 */

const IMAGES = join(ROOT, 'docs', 'images');
const ACTIONS = ['Advance', 'Cut over', 'Revert', 'Pause', 'Resume', 'Finalize'];

/** Presses a pair page's button and confirms in its dialog; returns the outcome line the page shows. */
async function act(page: Page, label: string): Promise<string> {
  await page.locator('.actions').getByRole('button', { name: label, exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await dialog.getByLabel(/Reason/).fill(`browser test: ${label}`);
  await dialog.getByRole('button', { name: label, exact: true }).click();
  return waitForText(page, '.result', /done|refused|under way/, 60_000);
}

const seenGreen = (page: Page, record: 'reader' | 'writer') => page.locator(`tr[data-record="${record}"] .seen-green`);

t.test('the dashboard on the lab', async (t) => {
  const lab = await startTestLab(t);
  const config = await labServiceConfig(t, {
    bakeSeconds: 0,
    signals: { sampleSeconds: 1, ...CALM_CANARIES, app: { enabled: true, maxErrorRate: 0.5, windowSeconds: 30 } },
    cutover: { maxFreezeSeconds: 10, maxLagSeconds: 5 },
  });
  const service = await startLabService(t, lab, config);
  const api = labApi(service.url, lab);
  const workload = await startLabWorkload({
    lab,
    serviceUrl: service.url,
    log: testLogger(),
    ledgerFile: join(lab.dir, 'dashboard-ledger.jsonl'),
    settings: parseWorkloadSettings({ rate: 20, readShare: 0.5, push: true, pushIntervalMs: 1000 }),
  });
  t.teardown(() => workload.stop());
  const green = lab.target('green', 'admin');
  const subscription = (enable: boolean) => withClient(green, (c) => c.query(`ALTER SUBSCRIPTION ${D.DEFAULT_SUBSCRIPTION} ${enable ? 'ENABLE' : 'DISABLE'}`));
  t.teardown(() => subscription(true).catch(() => undefined));
  await api.post('/api/v1/pairs/demo/preflight');
  await calm(api);
  await mkdir(IMAGES, { recursive: true });

  const browser = await launchBrowser(t);
  const { page, trouble } = await openPage(browser, service.url);

  await t.test('signing in shows who you are, and the pairs page lists the demo pair', async (t) => {
    await page.getByRole('heading', { name: 'Sign in to pgshift' }).waitFor();
    await signIn(page, lab.state.secrets.operatorToken, 'lab-operator (operator)');
    const row = page.locator('tr[data-pair="demo"]');
    await row.waitFor();
    t.match(await waitForText(page, 'tr[data-pair="demo"]', /healthy/), /demo.*baseline.*ok.*0 % \/ 0 %.*all \d+ healthy/, 'stage, state, weights and signals in the row');
    const rendered = await page.evaluate(() => performance.getEntriesByName('pgshift:pairs-rendered')[0]?.startTime ?? null);
    await page.reload();
    await row.waitFor();
    const firstRender = await page.evaluate(() => performance.getEntriesByName('pgshift:pairs-rendered')[0]?.startTime ?? null);
    t.ok(rendered !== null && firstRender !== null, 'the page marks its first render');
    t.comment(`pairs page on the lab: table drawn ${Math.round(firstRender ?? -1)} ms after navigation (signed-in reload)`);
    await waitForText(page, 'tr[data-pair="demo"]', /healthy/);
    t.same(await seriousViolations(page), [], 'axe-core: no serious violation on the pairs page');
  });

  await t.test('advancing with the button and its confirmation moves the weights seen, without a reload', async (t) => {
    await page.getByRole('link', { name: 'demo' }).click();
    await page.getByRole('heading', { name: 'Pair demo' }).waitFor();
    await page.getByRole('status').filter({ hasText: /^live$/ }).waitFor();
    const started = Date.now();
    await page.getByRole('figure', { name: 'Replication lag, seconds' }).waitFor();
    await page.evaluate('window.__sameDocument = true');
    t.equal(await seenGreen(page, 'reader').textContent(), '0 %');
    await guardsHold(api);
    await page.locator('.actions button[data-action="advance"]:enabled').waitFor();
    t.match(await page.locator('.next').textContent(), /Next advance: reads on green 0 % -> 10 %/, 'what the next advance does');
    t.match(await act(page, 'Advance'), /advance: done, the pair is at reads-10/);
    await waitForText(page, 'tr[data-record="reader"] .seen-green', /^10 %$/, 60_000);
    t.comment(`weights seen on the page ${Date.now() - started} ms after the pair page opened`);
    t.equal(await page.evaluate('window.__sameDocument'), true, 'the same document: no reload');
    t.match(await page.locator('.ladder [aria-current="step"]').textContent(), /reads-10/, 'the ladder marks reads-10');
    t.match(await page.locator('#audit').textContent(), /lab-operator.*advance baseline -> reads-10.*browser test: Advance/, 'the audit log says who, what and why');
    // Let the charts gather some of the stage before the picture.
    await waitForText(page, '#charts', /Now: pair \d/);
    await page.screenshot({ path: join(IMAGES, 'dashboard-pair.png'), fullPage: true });
    t.same(await seriousViolations(page), [], 'axe-core: no serious violation on the pair page');

    await page.getByRole('link', { name: 'Pairs' }).click();
    const row = page.locator('tr[data-pair="demo"]');
    await waitForText(page, 'tr[data-pair="demo"]', /reads-10.*10 % \/ 10 %/);
    t.match(await row.textContent(), /reads-10/, 'the pairs page shows the new stage');
    await page.screenshot({ path: join(IMAGES, 'dashboard-pairs.png') });
    await page.getByRole('link', { name: 'demo' }).click();
    await page.getByRole('status').filter({ hasText: /^live$/ }).waitFor();
  });

  await t.test('broken replication: the page shows the pair halted and why within seconds', async (t) => {
    const broken = Date.now();
    await subscription(false);
    const banner = page.locator('.banner');
    await waitForText(page, '.banner', /Halted: auto-revert: .*replication/);
    const seconds = (Date.now() - broken) / 1000;
    t.ok(seconds < 15, `halted on the page ${seconds.toFixed(1)} s after the subscription was disabled`);
    t.match(await banner.textContent(), /Halted: auto-revert: /);
    t.comment(await banner.textContent());
    await waitForText(page, 'tr[data-record="reader"] .seen-green', /^0 %$/);
    t.match(await page.locator('.ladder [aria-current="step"]').textContent(), /baseline/);
    t.match(await page.locator('#why-advance').textContent(), /halted: auto-revert/, 'advance disabled, with the halt as its reason');
    t.ok(await page.locator('.actions').getByRole('button', { name: 'Advance', exact: true }).isDisabled());

    await subscription(true);
    // By keyboard alone: the button, then the dialog, whose focus starts in the reason field; Enter confirms.
    await page.locator('.actions button[data-action="resume"]:enabled').focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Resume?' }).waitFor();
    await page.keyboard.type('replication enabled again');
    await page.keyboard.press('Enter');
    t.match(await waitForText(page, '.result', /done|refused/, 60_000), /resume: done/);
    await banner.waitFor({ state: 'hidden' });
  });

  await t.test('the write cutover from the page: its button, then the write window', async (t) => {
    for (const stage of ['baseline', 'reads-10', 'reads-25', 'reads-50']) {
      const intent = await settle(api, 'advance', { expectedStage: stage });
      t.equal(intent.status, 'done', `advanced from ${stage} through the API`);
    }
    await waitForText(page, '.ladder [aria-current="step"]', /reads-100/);
    t.match(await page.locator('#why-advance').textContent(), /use "Cut over"/, 'advance points at the cutover');
    await replicationSettled(api, 'blue->green');
    await guardsHold(api);
    await page.locator('.actions button[data-action="cutover"]:enabled').waitFor();
    t.match(await act(page, 'Cut over'), /cutover: (done, the pair is at green|accepted, still under way)/);
    const window = await waitForText(page, '#cutover .body', /Last write window \(blue->green/, 120_000);
    t.match(window, /pgshift \d+ ms \+ Route 53 \d+ ms/, 'both parts of the write window');
    t.comment(window);
    await waitForText(page, 'tr[data-record="writer"] .seen-green', /^100 %$/, 60_000);
    t.equal(await page.locator('.actions button[data-action="finalize"]').isEnabled(), true, 'finalize is offered at green');
    t.equal(await page.locator('.actions button[data-action="revert"]').isEnabled(), true, 'and the way back');
  });

  await t.test('a viewer sees every button disabled; the API refuses forged requests', async (t) => {
    const viewer = await openPage(browser, `${service.url}/#/pairs/demo`);
    await signIn(viewer.page, lab.state.secrets.viewerToken, 'lab-viewer (viewer)');
    await viewer.page.getByRole('heading', { name: 'Pair demo' }).waitFor();
    // A fresh load with the session cookie: the time from navigation to the pair drawn.
    await viewer.page.reload();
    await viewer.page.locator('#why-pause', { hasText: 'viewer: read-only' }).waitFor();
    const pairRendered = await viewer.page.evaluate(() => performance.getEntriesByName('pgshift:pair-rendered')[0]?.startTime ?? null);
    t.ok(pairRendered !== null, 'the pair page marks its first render');
    t.comment(`pair page on the lab: drawn ${Math.round(pairRendered ?? -1)} ms after navigation (signed-in reload)`);
    for (const label of ACTIONS) {
      const button = viewer.page.locator('.actions').getByRole('button', { name: label, exact: true });
      t.ok(await button.isDisabled(), `${label} is disabled for a viewer`);
    }
    t.equal(await viewer.page.locator('.action-bar .why', { hasText: 'viewer: read-only' }).count(), ACTIONS.length, 'each says why');

    const forge = (p: Page, headers: Record<string, string>) =>
      p.evaluate(async (h) => {
        const res = await fetch('/api/v1/pairs/demo/pause', { method: 'POST', headers: { 'content-type': 'application/json', ...h }, body: '{}' });
        return { status: res.status, body: (await res.json()) as { error: { code: string } } };
      }, headers);
    const noCsrf = await forge(page, {});
    t.equal(noCsrf.status, 403, 'the operator session without the CSRF header is refused');
    t.equal(noCsrf.body.error.code, 'PGSHIFT_ERR_CSRF');
    const csrf = await viewer.page.evaluate(async () => ((await (await fetch('/api/v1/session')).json()) as { csrfToken: string }).csrfToken);
    const asViewer = await forge(viewer.page, { 'x-pgshift-csrf': csrf });
    t.equal(asViewer.status, 403, "the viewer's own session, CSRF header and all, is refused too");
    t.equal(((await api.get('/api/v1/pairs/demo')).body as { paused: boolean }).paused, false, 'nothing paused the pair');
    t.same(viewer.trouble.cspViolations, []);
    await viewer.page.context().close();
  });

  await t.test('signing out ends the session', async (t) => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to pgshift' }).waitFor();
    t.equal(await page.evaluate(async () => (await fetch('/api/v1/session')).status), 401);
    t.same(trouble.cspViolations, [], 'the CSP blocked nothing the page does');
    t.same(trouble.errors, [], 'no script error');
  });

  await t.test('the page says "disconnected" when the stream drops', async (t) => {
    const watcher = await openPage(browser, `${service.url}/#/pairs/demo`);
    await signIn(watcher.page, lab.state.secrets.viewerToken, 'lab-viewer (viewer)');
    const status = watcher.page.locator('.live');
    await watcher.page.getByRole('status').filter({ hasText: /^live$/ }).waitFor();
    await service.close();
    await watcher.page.getByRole('status').filter({ hasText: /disconnected/ }).waitFor();
    t.match(await status.textContent(), /disconnected/);
  });
});
