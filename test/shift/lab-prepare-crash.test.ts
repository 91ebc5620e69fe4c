import t from 'tap';
import type { Lab } from '../../src/local/lab.js';
import { withClient } from '../../src/postgres/connect.js';
import { startTestLab } from '../helpers/lab.js';
import { labServiceConfig, operatorHeaders } from '../helpers/lab-service.js';
import {
  blueTables,
  catalogOf,
  createBigTable,
  preparationAt,
  requestPrepare,
  rowCounts,
  settledIntent,
  startServiceProcess,
  type ServiceProcess,
} from '../helpers/prepare.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `prepare` interrupted in its longest step, the initial copy of a big table: by an
 * operator's revert, and by a SIGKILL of the process running it.
 */

/** Rows enough that green's copy of them lasts several seconds on a busy machine. */
const BIG_ROWS = 1_500_000;

/** Green's copy state of the big table ('r' once copied; null before the subscription knows it). */
async function bigTableCopyState(lab: Lab): Promise<string | null> {
  return withClient(lab.target('green', 'admin', 'demo'), async (c) => {
    const { rows } = await c.query(`SELECT srsubstate FROM pg_subscription_rel WHERE srrelid = 'public.bulk_events'::regclass`);
    return rows[0] ? String(rows[0].srsubstate) : null;
  }).catch(() => null);
}

/** The first `progress` event of the pair's event stream, or null if none comes within `timeoutMs`. */
async function firstProgressEvent(url: string, lab: Lab, timeoutMs: number): Promise<any> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await fetch(`${url}/api/v1/pairs/demo/stream`, { headers: operatorHeaders(lab), signal: abort.signal });
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      const match = /event: progress\ndata: (.*)\n\n/.exec(text);
      if (match) return JSON.parse(match[1]!);
    }
    return null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

async function kill(service: ServiceProcess): Promise<void> {
  service.process.child.kill('SIGKILL');
  const exit = await service.process.exited;
  if (exit.signal !== 'SIGKILL') throw new Error(`${service.id} exited with ${JSON.stringify(exit)}, not by SIGKILL`);
}

t.test('prepare interrupted during the initial copy', async (t) => {
  const lab = await startTestLab(t, { green: 'empty' });
  await createBigTable(lab, BIG_ROWS);
  const config = await labServiceConfig(t, { bakeSeconds: 0 }, 'info');
  const tables = await blueTables(lab);

  await t.test('a revert during the copy gives the preparation up and leaves green and blue as they were', async (t) => {
    const greenBefore = await catalogOf(lab, 'green');
    const blueBefore = await catalogOf(lab, 'blue');
    const service = await startServiceProcess(t, lab, config, 'reverted');
    const { api } = service;
    t.equal((await api.get('/api/v1/pairs/demo')).body.stage, 'unprepared');
    const prepare = await requestPrepare(api);
    const streamed = firstProgressEvent(service.url, lab, 30_000);
    const copying = await preparationAt(api, 'initial-copy');
    t.match(copying.preparation, { step: 'initial-copy', stepsTotal: Number });
    t.match(await streamed, { step: String, stepsDone: Number }, 'the event stream sent a progress event');
    t.ok(copying.preparation.stepsDone >= 6, `steps done before the copy: ${copying.preparation.stepsDone}`);

    // While it runs, /metrics has the preparation's gauges.
    const metrics = await waitFor('pgshift_prepare_tables in /metrics', async () => {
      const text = await (await fetch(`${service.url}/metrics`)).text();
      return /^pgshift_prepare_tables\{/m.test(text) ? text : undefined;
    }, 30_000, 100);
    t.match(metrics, /^pgshift_prepare_steps\{[^}]*pair="demo"[^}]*\} \d+/m);
    t.match(metrics, /^pgshift_prepare_bytes\{[^}]*\} \d+/m);

    // Green's worker is copying the big table's rows (a tablesync slot on blue) when the revert comes.
    await waitFor('the copy of the big table to begin', async () => (await bigTableCopyState(lab)) === 'd', 60_000, 50);
    const revert = await api.post('/api/v1/pairs/demo/revert?wait=false', { reason: 'changed my mind' });
    t.equal(revert.status, 202, JSON.stringify(revert.body));
    const reverted = await settledIntent(api, revert.body.intent.id);
    t.equal(reverted.status, 'done', JSON.stringify(reverted.result));
    const prepared = await settledIntent(api, prepare);
    t.equal(prepared.status, 'failed', JSON.stringify(prepared.result));

    const view = (await api.get('/api/v1/pairs/demo')).body;
    t.equal(view.stage, 'unprepared');
    t.equal(view.preparation, null);
    t.match(view.lastTransition, { outcome: 'rolled-back', abandoned: { reason: 'changed my mind', intentId: revert.body.intent.id } });
    t.same(await catalogOf(lab, 'green'), greenBefore, 'green has the databases, roles and subscriptions it had');
    t.same(await catalogOf(lab, 'blue'), blueBefore, "blue has no slot or publication of pgshift's");
    t.same(blueBefore.slots, [], 'no slot before either');
    t.notOk(blueBefore.publications.includes('pgshift_pub'));

    const metricsAfter = await (await fetch(`${service.url}/metrics`)).text();
    t.notMatch(metricsAfter, /^pgshift_prepare_tables\{/m, 'no preparation gauges once it is over');
    service.process.child.kill('SIGTERM');
    t.equal((await service.process.exited).code, 0, 'a graceful stop');
  });

  await t.test('SIGKILL during the copy: the next process resumes it, without duplicates or leftover slots', async (t) => {
    const first = await startServiceProcess(t, lab, config, 'doomed');
    const prepare = await requestPrepare(first.api);
    const copying = await preparationAt(first.api, 'initial-copy');
    const transitionId = copying.transition?.id;
    t.ok(transitionId, 'the view names the transition');
    // Green's worker is copying the big table's rows (a tablesync slot on blue) when pgshift dies.
    await waitFor('the copy of the big table to begin', async () => (await bigTableCopyState(lab)) === 'd', 60_000, 50);
    await kill(first);
    const state = await bigTableCopyState(lab);
    t.ok(state !== null && state !== 'r', `killed while the big table was being copied (srsubstate ${state})`);
    t.match(copying.preparation, { step: 'initial-copy' });

    const second = await startServiceProcess(t, lab, config, 'phoenix');
    const view = await waitFor(
      'the resumed preparation to reach baseline',
      async () => {
        const v = (await second.api.get('/api/v1/pairs/demo')).body;
        return v.stage === 'baseline' && v.transition === null ? v : undefined;
      },
      120_000,
      200,
    );
    t.equal(view.lastTransition.outcome, 'finished');
    t.equal(view.lastTransition.kind, 'prepare');
    t.equal(view.lastTransition.id, transitionId, 'the same transition, resumed');
    const intent = await settledIntent(second.api, prepare);
    t.equal(intent.status, 'done', JSON.stringify(intent.result));

    const blue = await rowCounts(lab, 'blue', tables);
    t.equal(blue['public.bulk_events'], BIG_ROWS, 'the big table is complete on blue');
    t.same(await rowCounts(lab, 'green', tables), blue, 'every table has as many rows on green as on blue');
    const blueCatalog = await catalogOf(lab, 'blue');
    t.same(blueCatalog.slots, ['pgshift_sub_demo'], "one slot, the subscription's; no tablesync slot left");
    t.same(blueCatalog.publications, ['pgshift_pub']);
    t.same((await catalogOf(lab, 'green')).subscriptions, ['pgshift_sub']);
    const syncSlots = await withClient(lab.target('blue', 'admin', 'postgres'), async (c) =>
      (await c.query(`SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'pg\\_%\\_sync\\_%'`)).rows,
    );
    t.same(syncSlots, []);

    const events = (await second.api.get('/api/v1/pairs/demo/events?limit=100')).body.events as any[];
    const ofIt = events.filter((e) => e.details?.transitionId === view.lastTransition.id);
    t.equal(ofIt.filter((e) => e.action === 'prepare-started').length, 1, 'started once');
    t.match(
      ofIt.find((e) => e.action === 'prepare'),
      { outcome: 'ok', fromStage: 'unprepared', toStage: 'baseline' },
      'landed at baseline',
    );
    const stepActors = new Set(ofIt.filter((e) => e.action === 'prepare-step').map((e) => e.actor));
    t.ok(stepActors.has('doomed') && stepActors.has('phoenix'), `steps by both processes: ${[...stepActors].join(', ')}`);
    t.match(
      ofIt.find((e) => e.action === 'prepare-step' && e.details?.step === 'initial-copy'),
      { actor: 'phoenix' },
      'the copy was finished by the second process',
    );
  });
});
