import t from 'tap';
import { join } from 'node:path';
import { launchBrowser, openPage, seriousViolations, signIn, waitForText } from '../helpers/browser.js';
import { labServiceConfig } from '../helpers/lab-service.js';
import { startTestLab } from '../helpers/lab.js';
import { startServiceProcess } from '../helpers/prepare.js';

/**
 * The pair page's "Rehearsal" section in real Chromium on the lab: a real pgshift
 * process with the RDS stand-in restoring blue's snapshot into staging clusters (real
 * PostgreSQL servers). One rehearsal (they take about a minute): started from the page,
 * watched live, its report read as a person reads it.
 */

/** A rehearsal restores a snapshot, copies, cuts over and back and tears down: generous on a busy machine. */
const REHEARSAL_TIMEOUT_MS = 150_000;
const LINE = '#rehearsal .rehearsal-line';
const IMAGE = join(import.meta.dirname, '..', '..', 'docs', 'images', 'dashboard-rehearsal.png');

t.test('the dashboard rehearses a pair and shows the report', async (t) => {
  const lab = await startTestLab(t);
  const config = await labServiceConfig(t, {}, 'info');
  const service = await startServiceProcess(t, lab, config, 'dashboard-rehearsal');
  const browser = await launchBrowser(t);
  const { page, trouble } = await openPage(browser, `${service.url}/#/pairs/demo`);
  await signIn(page, lab.state.secrets.operatorToken, 'lab-operator (operator)');
  await page.getByRole('heading', { name: 'Pair demo' }).waitFor();
  const section = page.getByRole('region', { name: 'Rehearsal', exact: true });
  const rehearse = section.getByRole('button', { name: 'Rehearse', exact: true });
  const cancel = section.getByRole('button', { name: 'Cancel rehearsal', exact: true });

  await t.test('an operator starts one from its button and its confirmation, and watches its steps live', async (t) => {
    t.equal(await waitForText(page, LINE, /rehearsal/), 'No rehearsal yet.');
    await page.locator('#rehearsal button[data-action="rehearse"]:enabled').waitFor();
    t.ok(await cancel.isDisabled(), 'nothing to cancel yet');
    t.equal(await page.locator('#why-rehearsal-cancel').textContent(), 'no rehearsal is running');
    await page.evaluate('window.__sameDocument = true');

    // The bake and the load's rate, as the API's ranges allow them.
    const bake = section.getByLabel('Bake per read stage (s)');
    t.equal(await bake.inputValue(), '5', 'the default bake');
    t.equal(await section.getByLabel('Writes per second (0: none)').inputValue(), '10', 'the default rate');
    await bake.fill('-1');
    await rehearse.click();
    t.match(await waitForText(page, '#rehearsal .result', /Bake/), /^Bake per read stage \(s\): .+/, 'a bake below 0 is refused before anything is sent');
    t.equal(await page.getByRole('dialog', { name: 'Rehearse?' }).isVisible(), false, 'and no dialog opens');
    await bake.fill('1');

    await rehearse.click();
    const dialog = page.getByRole('dialog', { name: 'Rehearse?' });
    await dialog.waitFor();
    t.match(await dialog.textContent(), /snapshot \(taken first when blue has none\) is restored into new staging clusters.*each read stage \(baked 1 s\).*under 10 writes a second.*The real pair is never touched\. It takes minutes\./, 'the dialog says what it does');
    await dialog.getByRole('button', { name: 'Rehearse', exact: true }).click();
    t.match(await waitForText(page, '#rehearsal .result', /started|refused/), /^Rehearsal r[0-9a-f]+ started\.$/);

    const first = await waitForText(page, LINE, /: running · step: [a-z]+/);
    const step = /step: ([a-z]+)/.exec(first)![1]!;
    t.comment(first);
    const later = await waitForText(page, LINE, new RegExp(`: running · step: (?!${step}\\b)[a-z]+`), REHEARSAL_TIMEOUT_MS);
    t.comment(later);
    t.match(later, /elapsed: \d+/, 'with the time it has been running');
    t.ok(await rehearse.isDisabled(), 'Rehearse is disabled while one runs');
    t.match(await page.locator('#why-rehearse').textContent(), /rehearsal r[0-9a-f]+ is running: one at a time/);
    t.ok(await cancel.isEnabled(), 'and it can be cancelled');
    t.equal(await page.evaluate('window.__sameDocument'), true, 'the step changed without a reload');
  });

  await t.test('a viewer sees the Rehearse button disabled, with the reason', async (t) => {
    const viewer = await openPage(browser, `${service.url}/#/pairs/demo`);
    await signIn(viewer.page, lab.state.secrets.viewerToken, 'lab-viewer (viewer)');
    await viewer.page.locator('#why-rehearse', { hasText: 'viewer: read-only' }).waitFor();
    const region = viewer.page.getByRole('region', { name: 'Rehearsal', exact: true });
    for (const label of ['Rehearse', 'Cancel rehearsal']) t.ok(await region.getByRole('button', { name: label, exact: true }).isDisabled(), `${label} is disabled for a viewer`);
    t.ok(await region.getByLabel('Bake per read stage (s)').isDisabled(), 'and so are its settings');
    t.same(viewer.trouble.cspViolations, [], 'the CSP blocked nothing');
    await viewer.page.context().close();
  });

  await t.test('when it ends, the page shows its report', async (t) => {
    const ended = await waitForText(page, LINE, /: (done|interrupted) /, REHEARSAL_TIMEOUT_MS);
    t.comment(ended);
    t.match(ended, /: done · step: teardown · .*took: \d+/);
    t.match(await section.locator('.outcome').textContent(), /^Outcome: passed \(snapshot .+\)$/, 'the outcome, first');
    // innerText: a row's cells apart by a tab.
    const steps = await section.getByRole('table', { name: /Each step of the rehearsal/ }).locator('tbody tr').allInnerTexts();
    for (const step of ['snapshot', 'staging', 'preflight', 'prepare', 'stages', 'cutover', 'teardown']) {
      t.ok(steps.some((row) => new RegExp(`^${step}\\s+\\d+(\\.\\d)? s\\s+ok$`).test(row)), `${step}: how long it took`);
    }
    t.match(await section.getByRole('heading', { name: 'Initial copy' }).locator('xpath=..').textContent(), /\d+ tables, [\d.]+ [KMG]?B in [\d.]+ s/);
    const stages = await section.getByRole('table', { name: 'The read stages walked' }).locator('tbody tr').allInnerTexts();
    t.same(stages.map((row) => row.split(/\s/)[0]), ['reads-10', 'reads-25', 'reads-50', 'reads-100'], 'every read stage of the plan');
    t.ok(stages.every((row) => /^reads-\d+\s+\d+ ms\s+\d+(\.\d)? s$/.test(row)), `each with its move and its hold: ${stages.join(' | ')}`);
    const windows = section.getByRole('table', { name: /write cutover and the way back/ });
    const directions = await windows.locator('tbody tr').allInnerTexts();
    t.match(directions[0], /^blue -> green\s+\d+ ms\s+\d+ ms/, 'the write window to green');
    t.match(directions[1], /^green -> blue\s+\d+ ms\s+\d+ ms/, 'and back');
    t.match(await section.textContent(), /Write load: \d+(\.\d+)?\/s, \d+ writes acknowledged, \d+ refused, longest gap \d+ ms/);
    t.match(await section.textContent(), /Production estimate.*initial copy about/);
    t.match(await section.getByRole('heading', { name: 'Staging clusters' }).locator('xpath=..').textContent(), /Removed: pgshift-rehearsal-\S+, pgshift-rehearsal-/, 'the staging clusters removed');
    t.ok(await rehearse.isEnabled(), 'Rehearse is offered again');
    t.ok(await cancel.isDisabled(), 'nothing to cancel');
    t.same(await seriousViolations(page), [], 'axe-core: no serious violation with the report on the page');
    await section.screenshot({ path: IMAGE });
    t.same(trouble.cspViolations, [], 'the CSP blocked nothing the page does');
    t.same(trouble.errors, [], 'no script error');
  });
});
