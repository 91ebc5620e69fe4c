import t from 'tap';
import * as D from '../../src/defaults.js';
import { withClient } from '../../src/postgres/connect.js';
import { demoReplication, replicateDemo, startTestLab } from '../helpers/lab.js';
import { calm, CALM_CANARIES, haltedByAutoRevert, labApi, labServiceConfig, startLabService } from '../helpers/lab-service.js';
import { guardsHold, startCutoverWorkload } from '../helpers/cutover.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Schema changes made on blue during a shift, on the lab: reported as drift naming the
 * objects, blocking advancing, repaired by schema/sync; replication broken by one
 * reverts reads with the drift named.
 */
t.test('schema drift on the lab', async (top) => {
  const t = top;
  const lab = await startTestLab(t);
  const config = await labServiceConfig(t, {
    bakeSeconds: 0,
    signals: { sampleSeconds: 1, schemaDrift: { sampleSeconds: 2 }, ...CALM_CANARIES },
  });
  const onBlue = (sql: string) => withClient(lab.target('blue', 'admin', D.LAB_DATABASE), (c) => c.query(sql));
  const driftSignal = async (api: ReturnType<typeof labApi>) =>
    ((await api.get('/api/v1/pairs/demo')).body.signals as { name: string; state: string; value: number | null; summary: string }[]).find((s) => s.name === D.SCHEMA_DRIFT_SIGNAL);

  let service = await startLabService(t, lab, config);
  let api = labApi(service.url, lab);

  await t.test('a prepared pair has no drift: both majors read alike', async (t) => {
    const signal = await waitFor('a drift reading', async () => {
      const s = await driftSignal(api);
      return s && s.value !== null ? s : undefined;
    });
    t.equal(signal.value, 0, signal.summary);
    t.equal(signal.state, 'healthy');
  });

  await t.test('a table created on blue: pgshift starts again, reports it, refuses to advance; schema/sync repairs green', async (t) => {
    await onBlue('CREATE TABLE t (id int PRIMARY KEY, x int)');
    await onBlue('INSERT INTO t SELECT g, g FROM generate_series(1, 50) g');
    await service.close();
    // What set-up runs when it adopts replication: a refresh would fail on the table green lacks.
    await replicateDemo(lab);
    // Outlives this subtest: the next one uses it.
    service = await startLabService(top, lab, config);
    api = labApi(service.url, lab);

    const signal = await waitFor('the drift to be reported', async () => {
      const s = await driftSignal(api);
      return s?.state === 'breached' ? s : undefined;
    });
    t.match(signal.summary, /table public\.t: on blue, missing on green/, signal.summary);

    const refused = await api.post('/api/v1/pairs/demo/advance', { expectedStage: 'baseline' });
    t.equal(refused.status, 409, 'advance is refused');
    t.match(JSON.stringify(refused.body.error), /public\.t/, 'naming the table');

    const dry = await api.post('/api/v1/pairs/demo/schema/sync', {});
    t.equal(dry.status, 200);
    t.equal(dry.body.applied, false, 'a dry run by default');
    t.match(dry.body.databases[0].statements.join('\n'), /CREATE TABLE IF NOT EXISTS public\.t \(id integer NOT NULL, x integer, CONSTRAINT t_pkey PRIMARY KEY \(id\)\)/);
    t.same(await withClient(lab.target('green', 'admin', D.LAB_DATABASE), async (c) => (await c.query(`SELECT to_regclass('public.t') AS t`)).rows[0].t), null, 'nothing made on green');

    const applied = await api.post('/api/v1/pairs/demo/schema/sync', { apply: true });
    t.equal(applied.status, 200, JSON.stringify(applied.body));
    t.equal(applied.body.databases[0].refreshed, true);
    await waitFor('the new table\'s rows on green', async () =>
      withClient(lab.target('green', 'admin', D.LAB_DATABASE), async (c) => Number((await c.query('SELECT count(*) AS n FROM t')).rows[0].n) === 50),
    );
    await waitFor('the drift to clear', async () => (await driftSignal(api))?.state === 'healthy', 30_000);
    const again = await api.post('/api/v1/pairs/demo/schema/sync', { apply: true });
    t.same(again.body.databases[0].statements, [], 'a second sync has nothing left to do');

    const events = (await api.get('/api/v1/pairs/demo/events?limit=50')).body.events as { action: string; reason: string }[];
    t.ok(events.some((e) => e.action === 'schema-drift' && /public\.t/.test(e.reason)), 'the drift is an audit event');
    t.ok(events.some((e) => e.action === 'schema-drift-cleared'), 'and so is its end');
    t.ok(events.some((e) => e.action === 'schema-sync'), 'and the sync');

    // The refresh restarts the subscription's apply worker and copies the new table: replication is healthy again a moment later.
    await guardsHold(api);
    const advanced = await api.post('/api/v1/pairs/demo/advance', { expectedStage: 'baseline' });
    t.equal(advanced.status, 200, JSON.stringify(advanced.body.error ?? ''));
  });

  await t.test('at reads-50 with the demo application running, its migration adds a column and writes to it: drift reported, reads revert naming it', async (t) => {
    for (const [from, to] of [['reads-10', 'reads-25'], ['reads-25', 'reads-50']]) {
      await guardsHold(api);
      const res = await api.post('/api/v1/pairs/demo/advance', { expectedStage: from });
      t.equal(res.status, 200, `advance to ${to}: ${JSON.stringify(res.body.error ?? '')}`);
    }
    const workload = await startCutoverWorkload(t, lab);
    await waitFor('the demo application writing', async () => workload.snapshot().totals.writes.blue > 20 || undefined, 30_000);
    await withClient(lab.target('blue', 'app', D.LAB_DATABASE), async (c) => {
      await c.query('ALTER TABLE orders ADD COLUMN note text');
      await c.query(`UPDATE orders SET note = 'migrated' WHERE id = (SELECT max(id) FROM orders)`);
    });
    const { event } = await haltedByAutoRevert(api);
    t.ok(event, 'the audit log has the auto-revert');
    t.match(event.reason, /schema drift: column public\.orders\.note text: on blue, missing on green/, event.reason);
    const signal = await waitFor('the drift signal within a drift sample', async () => {
      const s = await driftSignal(api);
      return s?.state === 'breached' ? s : undefined;
    }, 10_000);
    t.match(signal.summary, /column public\.orders\.note text: on blue, missing on green/);
    await waitFor('the drift in /metrics', async () =>
      /pgshift_schema_drift_objects\{pair="demo"\} [1-9]/.test(await (await fetch(`${service.url}/metrics`)).text()),
    10_000);

    const applied = await api.post('/api/v1/pairs/demo/schema/sync', { apply: true });
    t.match(applied.body.databases[0].statements, ['ALTER TABLE public.orders ADD COLUMN IF NOT EXISTS note text;']);
    await waitFor('the stopped apply to go on with the new column', async () =>
      withClient(lab.target('green', 'admin', D.LAB_DATABASE), async (c) => (await c.query(`SELECT count(*)::int AS n FROM orders WHERE note = 'migrated'`)).rows[0].n === 1),
    60_000);
  });

  await t.test("the cutover's checks, which run before any write is frozen, refuse a difference found going to green, never going back", async (t) => {
    await onBlue('CREATE INDEX t_x ON t (x)');
    const replication = demoReplication(t, lab);
    const forward = await replication.parity('blue->green');
    t.match(forward.problems, [{ kind: 'schema', object: 'index public.t.t_x', message: /index public\.t\.t_x: on blue, missing on green/ }]);
    const plan = await api.post('/api/v1/pairs/demo/schema/sync', {});
    t.same(plan.body.databases[0].statements, ['CREATE INDEX IF NOT EXISTS t_x ON public.t USING btree (x);'], 'schema/sync would make the index');
    const back = await replication.parity('green->blue');
    t.notOk(back.problems.some((p) => p.kind === 'schema'), 'the way back to blue is not held up by it');
  });

  await t.test('with ddl: block, an application role\'s migration is refused while the shift is under way; pgshift\'s own DDL works; at baseline the fence is gone', async (t) => {
    await api.post('/api/v1/pairs/demo/schema/sync', { apply: true });
    await service.close();
    const blocking = await labServiceConfig(t, {
      bakeSeconds: 0,
      ddl: 'block',
      signals: { sampleSeconds: 1, schemaDrift: { sampleSeconds: 2 }, ...CALM_CANARIES },
    });
    service = await startLabService(top, lab, blocking);
    api = labApi(service.url, lab);
    const resumed = await api.post('/api/v1/pairs/demo/resume', { reason: 'test: green repaired' });
    t.equal(resumed.status, 200);
    await calm(api);
    for (const [from, to] of [['baseline', 'reads-10'], ['reads-10', 'reads-25'], ['reads-25', 'reads-50']]) {
      const res = await api.post('/api/v1/pairs/demo/advance', { expectedStage: from });
      t.equal(res.status, 200, `advance to ${to}: ${JSON.stringify(res.body.error ?? '')}`);
    }
    const asApp = (sql: string) => withClient(lab.target('blue', 'app', D.LAB_DATABASE), (c) => c.query(sql));
    const fence = () =>
      withClient(lab.target('blue', 'admin', D.LAB_DATABASE), async (c) => (await c.query(`SELECT evtname FROM pg_event_trigger WHERE evtname ~ '^pgshift_ddl_fence'`)).rows.length);
    await waitFor('the fence on blue', async () => (await fence()) === 1);
    await t.rejects(asApp('CREATE TABLE app_migration (x int)'), { message: /pgshift: DDL is blocked here while pair demo shifts.*set ddl: watch.*revert the shift/ }, 'the migration is refused with the message');
    t.equal(await withClient(lab.target('green', 'admin', D.LAB_DATABASE), async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_event_trigger`)).rows[0].n), 0, 'green, which takes no writes, is not fenced');
    await withClient(lab.target('blue', 'pgshift', D.LAB_DATABASE), (c) => c.query('CREATE TABLE IF NOT EXISTS pgshift.heartbeat (source text PRIMARY KEY, token text NOT NULL, written_at timestamptz NOT NULL DEFAULT clock_timestamp())'));
    t.pass("pgshift's own DDL still works");

    const reverted = await api.post('/api/v1/pairs/demo/revert', { reason: 'test: back to baseline' });
    t.equal(reverted.body.pair.stage, 'baseline');
    await waitFor('the fence to go', async () => (await fence()) === 0);
    await asApp('CREATE TABLE app_migration (x int)');
    await asApp('DROP TABLE app_migration');
    t.pass('at baseline the application may change the schema again');
  });
});
