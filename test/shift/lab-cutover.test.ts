import pg from 'pg';
import t from 'tap';
import * as D from '../../src/defaults.js';
import { withClient } from '../../src/postgres/connect.js';
import type { WorkloadSnapshot } from '../../src/local/workload/workload.js';
import { checkLedger, cutoverConfig, replicationSettled, settle, settledAt, startCutoverWorkload } from '../helpers/cutover.js';
import { startTestLab } from '../helpers/lab.js';
import { calm, labApi, startLabService, standInWeights } from '../helpers/lab-service.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The write cutover on the lab's real servers, under the demo application's traffic:
 * writes move to green and back to blue with nothing lost, and a catch-up that cannot
 * finish in time leaves everything where it was.
 */

const failedWrites = (s: WorkloadSnapshot) => s.totals.failedWrites.blue + s.totals.failedWrites.green + s.totals.failedWrites.unknown;
const writesOn = (s: WorkloadSnapshot, side: 'blue' | 'green') => s.totals.writes[side];

t.test('the write cutover on the lab under the demo application', async (t) => {
  const lab = await startTestLab(t);
  const service = await startLabService(t, lab, await cutoverConfig(t, { maxFreezeSeconds: 3 }));
  const api = labApi(service.url, lab);
  const workload = await startCutoverWorkload(t, lab);
  const canLogIn = (side: 'blue' | 'green') =>
    withClient(lab.target(side, 'app'), async (c) => (await c.query('SELECT 1')).rowCount === 1).catch((err: Error) => err.message);
  t.equal((await api.post('/api/v1/pairs/demo/preflight')).body.ok, true, 'preflight finds no blocker');
  await calm(api);
  t.equal((await settle(api, 'advance', { expectedStage: 'baseline' })).status, 'done');
  await replicationSettled(api, 'blue->green');

  await t.test('an extension, a role and a sequence green lacks are refused before anything is frozen', async (t) => {
    const onBlue = (sql: string) => withClient(lab.target('blue', 'admin'), (c) => c.query(sql));
    await onBlue('CREATE EXTENSION pg_trgm');
    await onBlue('CREATE SEQUENCE blue_only_seq');
    await onBlue('CREATE ROLE blue_only_reporter');
    await onBlue('GRANT SELECT ON orders TO blue_only_reporter');
    const cleanUp = async () => {
      await onBlue('DROP EXTENSION IF EXISTS pg_trgm');
      await onBlue('DROP SEQUENCE IF EXISTS blue_only_seq');
      await onBlue('REVOKE ALL ON orders FROM blue_only_reporter').catch(() => undefined);
      await onBlue('DROP ROLE IF EXISTS blue_only_reporter');
    };
    t.teardown(cleanUp);
    const intent = await settle(api, 'advance', { expectedStage: 'reads-100' });
    t.equal(intent.status, 'rejected');
    t.match(intent.result.reason, /refused before anything was frozen/);
    const problems = (intent.result.details.problems as string[]).join('\n');
    t.match(problems, /extension pg_trgm/, 'the extension is named');
    t.match(problems, /blue_only_seq/, 'the sequence is named');
    t.match(problems, /blue_only_reporter/, 'the role is named');
    const refused = ((await api.get('/api/v1/pairs/demo/events?limit=20')).body.events as any[]).find((e) => e.action === 'cutover-refused');
    t.same(refused.details.steps.map((s: { name: string }) => s.name), ['checks'], 'no step after the checks ran: nothing was frozen');
    t.equal(await canLogIn('blue'), true);
    await cleanUp();
    t.equal((await api.post('/api/v1/pairs/demo/preflight')).body.ok, true, 'with the differences gone, preflight passes again');
  });

  await t.test('a catch-up that cannot finish in time: undone, writes go on on blue, the audit log names the step', async (t) => {
    // Green's apply waits behind a lock held on a table the application writes.
    const admin = lab.target('green', 'admin');
    const blocker = new pg.Client({ host: admin.endpoint.host, port: admin.endpoint.port, database: D.LAB_DATABASE, user: admin.login.user, password: admin.login.password });
    await blocker.connect();
    t.teardown(() => blocker.end().catch(() => undefined));
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
    const before = workload.snapshot();
    const intent = await settle(api, 'advance', { expectedStage: 'reads-100' });
    await blocker.query('ROLLBACK');
    t.equal(intent.status, 'rejected', `refused: ${JSON.stringify(intent.result)}`);
    t.match(intent.result.reason, /did not catch up with blue within 3 s of the freeze/);
    const view = await settledAt(api, 'reads-100');
    t.same(standInWeights(lab), { reader: { blue: 0, green: 100 }, writer: { blue: 100, green: 0 } }, 'no record moved');
    t.equal(await canLogIn('blue'), true, 'blue takes logins again');
    t.equal(view.lastTransition.outcome, 'rolled-back');
    const events = (await api.get('/api/v1/pairs/demo/events?limit=30')).body.events as any[];
    const refused = events.find((e) => e.action === 'cutover-refused');
    t.ok(refused, 'the refusal is in the audit log');
    const catchUp = refused.details.steps.find((s: { name: string }) => s.name === 'catch-up');
    t.ok(catchUp && catchUp.ms >= 1_000, `the catch-up step is named with its time: ${JSON.stringify(refused.details.steps)}`);
    await waitFor('writes to go on on blue', () => writesOn(workload.snapshot(), 'blue') > writesOn(before, 'blue') + 20, 30_000, 100);
    await replicationSettled(api, 'blue->green');
  });

  await t.test('reads-100 -> green: writes move to green within a bounded window, blue frozen and following', async (t) => {
    const before = workload.snapshot();
    const intent = await settle(api, 'advance', { expectedStage: 'reads-100' });
    t.equal(intent.status, 'done', JSON.stringify(intent.result));
    const view = await settledAt(api, 'green');
    t.same(standInWeights(lab), { reader: { blue: 0, green: 100 }, writer: { blue: 0, green: 100 } });
    t.ok(view.lastWriteWindow, 'the write window is reported');
    t.comment(`write window: pgshift ${view.lastWriteWindow.pgshiftMs} ms, Route 53 ${view.lastWriteWindow.route53Ms} ms`);
    t.ok(view.lastWriteWindow.pgshiftMs < 10_000, 'writes were frozen for seconds at most');
    t.match(await canLogIn('blue'), /not permitted to log in/, 'blue stays frozen');
    await waitFor('writes on green', () => writesOn(workload.snapshot(), 'green') > writesOn(before, 'green') + 20, 60_000, 100);
    const events = ((await api.get('/api/v1/pairs/demo/events?limit=30')).body.events as any[]).filter((e) => e.details?.transitionId === view.lastTransition.id);
    t.same(
      events.filter((e) => e.action === 'cutover-step').map((e) => e.details.step).reverse(),
      ['checks', 'snapshot', 'freeze', 'catch-up', 'sequences', 'validate', 'switch-replication'],
      'the audit log (and so the event stream) reports each step with its time; the last lands with the cutover',
    );
    t.match(events.find((e) => e.action === 'cutover'), { fromStage: 'reads-100', toStage: 'green', details: { writeWindow: { pgshiftMs: Number } } });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    t.match(metrics, /pgshift_cutover_write_window_seconds\{pair="demo",direction="blue->green",part="pgshift"\}/);
    await replicationSettled(api, 'green->blue');
  });

  await t.test('revert from green: the same cutover run back; blue takes writes again, green reads and follows', async (t) => {
    const before = workload.snapshot();
    const intent = await settle(api, 'revert', { reason: 'test: the way back' });
    t.equal(intent.status, 'done', JSON.stringify(intent.result));
    const view = await settledAt(api, 'baseline');
    t.same(standInWeights(lab), { reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } });
    t.equal(view.lastWriteWindow.direction, 'green->blue');
    t.equal(await canLogIn('green'), true, 'green takes logins for reads again');
    t.equal(await canLogIn('blue'), true);
    await waitFor('writes back on blue', () => writesOn(workload.snapshot(), 'blue') > writesOn(before, 'blue') + 20, 60_000, 100);
    await replicationSettled(api, 'blue->green');
  });

  await t.test('nothing lost: the ledger checks out on both sides, no sequence value issued twice', async (t) => {
    await workload.stop();
    const final = workload.snapshot();
    t.comment(`the application: ${final.totals.writes.blue + final.totals.writes.green} writes, ${failedWrites(final)} failed (${JSON.stringify(final.totals.errorsByKind)}), ${final.totals.retries} retries`);
    const blue = await checkLedger(lab, workload, 'blue');
    t.equal(blue.ok, true, `blue: ${JSON.stringify({ ...blue, differences: blue.differences.slice(0, 3) })}`);
    t.equal(blue.sequenceReuse, 0);
    t.ok(blue.checked.acknowledged > 100, `${blue.checked.acknowledged} acknowledged writes checked`);
    const green = await waitFor('green to hold every write', async () => {
      const report = await checkLedger(lab, workload, 'green');
      return report.ok ? report : undefined;
    }, 30_000, 500);
    t.equal(green.sequenceReuse, 0);
  });

  await t.test('finalize closes the way back: reverse replication and pgshift support gone, blue frozen', async (t) => {
    t.equal((await settle(api, 'advance', { expectedStage: 'baseline' })).status, 'done');
    await replicationSettled(api, 'blue->green');
    t.equal((await settle(api, 'advance', { expectedStage: 'reads-100' })).status, 'done');
    t.equal((await api.post('/api/v1/pairs/demo/finalize', {})).status, 400, 'finalize wants confirm: true');
    const intent = await settle(api, 'finalize', { confirm: true, reason: 'test: upgrade done' });
    t.equal(intent.status, 'done', JSON.stringify(intent.result));
    const view = await settledAt(api, 'finalized');
    t.match(view.retired, /blue .* may be retired/);
    const rows = (side: 'blue' | 'green', sql: string) => withClient(lab.target(side, 'admin'), async (c) => (await c.query(sql)).rows);
    t.same(await rows('blue', 'SELECT subname FROM pg_subscription'), [], 'no subscription on blue');
    t.same(await rows('green', 'SELECT slot_name FROM pg_replication_slots'), [], 'no slot left on green');
    t.same(await rows('green', 'SELECT pubname FROM pg_publication'), [], "no pgshift publication on green");
    t.same(await rows('blue', "SELECT to_regclass('pgshift.heartbeat') AS t"), [{ t: null }], 'no heartbeat table on blue');
    t.match(await canLogIn('blue'), /not permitted to log in/, 'blue stays frozen');
    const revert = await settle(api, 'revert', { reason: 'too late' });
    t.equal(revert.status, 'rejected');
    t.match(revert.result.reason, /way back was closed/);
  });
});
