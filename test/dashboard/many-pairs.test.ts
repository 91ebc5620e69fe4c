import t from 'tap';
import YAML from 'yaml';
import { hashToken } from '../../src/api/auth.js';
import { buildApp } from '../../src/app.js';
import { systemClock } from '../../src/clock.js';
import { resolveConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { ShiftController } from '../../src/shift/controller.js';
import { desiredWeights, planStages } from '../../src/shift/stages.js';
import { OPERATOR } from '../helpers/api-rig.js';
import { launchBrowser, openPage, seriousViolations, signIn } from '../helpers/browser.js';
import { MINIMAL_ENV, minimalConfigYaml } from '../helpers/config.js';
import { StaticLease, fakeWorld } from '../helpers/fake-world.js';
import { MemorySessionStore } from '../helpers/memory-sessions.js';
import { MemoryShiftStore } from '../helpers/memory-store.js';

/**
 * The pairs page with 200 pairs, in real Chromium, over the real API and controller
 * with in-memory ports (no lab): every pair gets a row, the columns sort, the filter
 * narrows, and the page stays clean under the strict CSP and for axe-core.
 */

const STAGES = ['baseline', 'reads-10', 'reads-25', 'reads-50', 'reads-100', 'green'];
const PAIRS = Array.from({ length: 200 }, (_, i) => ({ id: `pair-${String(i).padStart(3, '0')}`, stage: STAGES[i % STAGES.length]! }));
/** Pairs whose lag signal is over its limit: their rows say so. */
const BREACHED = new Set(['pair-007', 'pair-100']);

t.test('the pairs page with 200 pairs renders, sorts and filters', async (t) => {
  const tokens = `auth:\n  tokens:\n    - { name: alice, role: operator, sha256: ${hashToken(OPERATOR)} }\n`;
  const config = resolveConfig(YAML.parse(minimalConfigYaml({ top: tokens })), MINIMAL_ENV);
  const store = new MemoryShiftStore();
  const plan = planStages([10, 25, 50, 100]);
  const worlds = new Map(PAIRS.map((p) => [p.id, fakeWorld(systemClock)]));
  for (const p of PAIRS) {
    await store.ensurePair(p.id, p.stage, Date.now());
    // Route 53 holding the stage's weights: anything else reads as drift (or an interrupted revert) to the controller.
    worlds.get(p.id)!.traffic.edit(desiredWeights(plan, p.stage)!);
  }
  for (const id of BREACHED) worlds.get(id)!.signals.breach('lag-seconds', 9, 1, Date.now());
  const controller = new ShiftController({
    store,
    lease: new StaticLease(true),
    clock: systemClock,
    log: silentLogger(),
    instanceId: 'dashboard-test',
    pairs: PAIRS.map((p) => ({ id: p.id, plan, bakeSeconds: 0, autoAdvance: false, ttlSeconds: 0, rollbackWindowMs: 0, world: worlds.get(p.id)! })),
    tickMs: 1000,
  });
  await controller.start();
  const app = await buildApp({
    config,
    log: silentLogger(),
    readiness: [],
    shift: { controller, store, signals: (pair) => worlds.get(pair)!.signals },
    sessions: new MemorySessionStore(),
  });
  t.teardown(async () => {
    await app.close();
    await controller.stop();
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });

  const browser = await launchBrowser(t);
  const { page, trouble } = await openPage(browser, url);
  await signIn(page, OPERATOR, 'alice (operator)');
  const rows = page.locator('tbody tr[data-pair]');
  const visibleRows = page.locator('tbody tr[data-pair]:not([hidden])');
  const count = page.locator('#pairs-count');

  // A fresh load with the session cookie: the time from navigation to the table drawn.
  await page.reload();
  await page.getByText('200 of 200 pairs').waitFor();
  const rendered = await page.evaluate(() => performance.getEntriesByName('pgshift:pairs-rendered')[0]?.startTime ?? null);
  t.ok(rendered !== null, 'the page marks its first render');
  t.comment(`200 pairs: table drawn ${Math.round(rendered ?? -1)} ms after navigation`);
  t.equal(await rows.count(), 200, 'one row per pair');

  await t.test('each row shows the pair in brief', async (t) => {
    const breached = page.locator('tr[data-pair="pair-007"]');
    t.match(await breached.textContent(), /1 breached/, 'a breached signal shows in its row');
    t.match(await page.locator('tr[data-pair="pair-001"]').textContent(), /reads-10.*10 % \/ 10 %.*all 1 healthy/, 'stage, reads wanted and seen, signals');
  });

  await t.test('the columns sort', async (t) => {
    const firstPair = () => visibleRows.first().getAttribute('data-pair');
    const lastPair = () => visibleRows.last().getAttribute('data-pair');
    t.equal(await firstPair(), 'pair-000', 'sorted by pair at first');
    const byPair = page.getByRole('button', { name: 'Pair' });
    await byPair.click();
    await page.locator('th[aria-sort="descending"]', { hasText: 'Pair' }).waitFor();
    t.equal(await firstPair(), 'pair-199', 'a second click sorts descending');
    await page.getByRole('button', { name: 'Stage' }).click();
    await page.locator('th[aria-sort="ascending"]', { hasText: 'Stage' }).waitFor();
    t.match(await visibleRows.first().textContent(), /baseline/, 'baseline first');
    t.match(await visibleRows.last().textContent(), /green/, 'green last');
    t.equal(await lastPair().then((id) => PAIRS.find((p) => p.id === id)?.stage), 'green');
    await page.getByRole('button', { name: 'Signals' }).click();
    await page.getByRole('button', { name: 'Signals' }).click();
    t.ok(BREACHED.has((await firstPair())!), 'sorted by signals, descending: a breached pair first');
  });

  await t.test('sorting works from the keyboard', async (t) => {
    await page.getByRole('button', { name: 'Replication lag' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('th[aria-sort="ascending"]', { hasText: 'Replication lag' }).waitFor();
    await page.keyboard.press('Space');
    await page.locator('th[aria-sort="descending"]', { hasText: 'Replication lag' }).waitFor();
    t.pass('Enter and Space sort');
  });

  await t.test('the filter narrows the rows', async (t) => {
    await page.getByLabel('Filter').fill('reads-50');
    const expected = PAIRS.filter((p) => p.stage === 'reads-50').length;
    await page.getByText(`${expected} of 200 pairs`).waitFor();
    t.equal(await visibleRows.count(), expected);
    t.ok((await visibleRows.allTextContents()).every((text) => text.includes('reads-50')), 'every row shown is at reads-50');
    await page.getByLabel('Filter').fill('pair-04');
    await page.getByText('10 of 200 pairs').waitFor();
    await page.getByLabel('Filter').fill('');
    await page.getByText('200 of 200 pairs').waitFor();
    t.equal(await count.textContent(), '200 of 200 pairs');
  });

  await t.test('axe-core finds no serious violation; the CSP blocked nothing', async (t) => {
    t.same(await seriousViolations(page), []);
    t.same(trouble.cspViolations, []);
    t.same(trouble.errors, []);
  });
});
