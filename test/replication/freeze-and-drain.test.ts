import t from 'tap';
import * as D from '../../src/defaults.js';
import { withClient } from '../../src/postgres/connect.js';
import { PostgresReplication } from '../../src/replication/postgres-replication.js';
import { startTestLab, testLogger } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { backendPid, openAppSession } from './app-session.js';

t.test('freezing and draining application sessions on the lab', async (t) => {
  const lab = await startTestLab(t);
  const log = testLogger();
  const make = (appRoles?: string[]) => {
    const r = new PostgresReplication({
      pairId: 'demo',
      databases: [D.LAB_DATABASE],
      ...(appRoles ? { appRoles } : {}),
      publication: D.DEFAULT_PUBLICATION,
      subscription: D.DEFAULT_SUBSCRIPTION,
      targets: lab.replicationTargets(),
      log,
    });
    t.teardown(() => r.close());
    return r;
  };
  const replication = make();
  const blueApp = lab.target('blue', 'app');
  const canLogin = (role: string) =>
    withClient(lab.target('blue', 'admin'), async (c) => (await c.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [role])).rows[0]?.rolcanlogin);
  const greenHas = (email: string) =>
    withClient(lab.target('green', 'admin'), async (c) => (await c.query('SELECT 1 FROM customers WHERE email = $1', [email])).rowCount === 1);

  await t.test('a freeze refuses new and already open application sessions; pgshift and replication keep working', async (t) => {
    const open = await openAppSession(t, blueApp);
    await open.query(`INSERT INTO customers (name, email) VALUES ('before', 'before-freeze@example.com')`);
    const ours = await openAppSession(t, lab.target('blue', 'pgshift'), 'pgshift');
    const walsender = await withClient(lab.target('blue', 'admin'), async (c) =>
      (await c.query('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', ['pgshift_sub_demo'])).rows[0]?.active_pid,
    );

    const report = await replication.freeze('blue');
    t.same(report.newlyFrozen, ['app'], 'the application role, found without configuration');
    t.same(report.frozenRoles, ['app']);
    t.equal(report.sessionsTerminated, 1, 'the open application session was ended and waited for');
    t.equal(await canLogin('app'), false);

    await t.rejects(openAppSession(t, blueApp), /not permitted to log in/, 'a new session is refused');
    await t.rejects(
      open.query(`INSERT INTO customers (name, email) VALUES ('during', 'open-session@example.com')`),
      /terminat|Connection terminated|not queryable/i,
      'the session that was open before cannot write either',
    );

    t.equal((await ours.query('SELECT 1 AS one')).rows[0].one, 1, "pgshift's own session is untouched");
    await withClient(lab.target('blue', 'admin'), (c) =>
      c.query(`INSERT INTO customers (name, email) VALUES ('admin', 'written-while-frozen@example.com')`),
    );
    await replication.waitForApplied('blue->green');
    t.ok(await greenHas('written-while-frozen@example.com'), 'a row written on the frozen side still replicates');
    const state = await replication.state('blue->green');
    t.ok(state.healthy, `replication stays healthy: ${state.problems.join('; ')}`);
    t.equal(
      await withClient(lab.target('blue', 'admin'), async (c) =>
        (await c.query('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', ['pgshift_sub_demo'])).rows[0]?.active_pid,
      ),
      walsender,
      'the walsender was not terminated',
    );

    const again = await replication.freeze('blue');
    t.same(again.newlyFrozen, [], 'freezing twice changes nothing');
    t.same(again.frozenRoles, ['app'], 'and still reports what is frozen');
    t.same(await replication.frozenRoles('blue'), ['app']);
  });

  await t.test('a freeze is remembered on the frozen side, so another process unfreezes exactly those roles', async (t) => {
    const restarted = make();
    const report = await restarted.unfreeze('blue');
    t.same(report.restoredRoles, ['app']);
    t.equal(await canLogin('app'), true);
    t.same(await restarted.frozenRoles('blue'), []);
    t.same((await restarted.unfreeze('blue')).restoredRoles, [], 'unfreezing twice does nothing');

    const app = await openAppSession(t, blueApp);
    await app.query(`INSERT INTO customers (name, email) VALUES ('after', 'after-unfreeze@example.com')`);
    t.pass('the application writes again');
  });

  await t.test('a role that could not log in before the freeze is not given LOGIN by the unfreeze', async (t) => {
    await withClient(lab.target('blue', 'admin'), (c) => c.query(`CREATE ROLE reporting NOLOGIN`));
    const configured = make(['app', 'reporting', 'no_such_role']);
    const report = await configured.freeze('blue');
    t.same(report.newlyFrozen, ['app']);
    t.same(report.alreadyNoLogin, ['reporting']);
    t.same(report.missingRoles, ['no_such_role']);
    t.same((await configured.unfreeze('blue')).restoredRoles, ['app']);
    t.equal(await canLogin('reporting'), false);
    t.equal(await canLogin('app'), true);
  });

  await t.test('a login role that can write, through a group, is frozen though appRoles does not list it; one that only reads is not', async (t) => {
    const admin = (sql: string) => withClient(lab.target('blue', 'admin'), (c) => c.query(sql));
    await admin(`CREATE ROLE order_writers NOLOGIN`);
    await admin(`GRANT INSERT ON orders TO order_writers`);
    await admin(`CREATE ROLE batch_job LOGIN IN ROLE order_writers`);
    await admin(`CREATE ROLE dashboards LOGIN`);
    await admin(`GRANT SELECT ON orders TO dashboards`);
    t.teardown(async () => {
      await admin(`DROP ROLE IF EXISTS batch_job`);
      await admin(`REVOKE ALL ON orders FROM dashboards`);
      await admin(`DROP ROLE IF EXISTS dashboards`);
      await admin(`REVOKE ALL ON orders FROM order_writers`);
      await admin(`DROP ROLE IF EXISTS order_writers`);
    });
    const configured = make(['app']);
    const report = await configured.freeze('blue');
    t.same(report.newlyFrozen, ['app', 'batch_job']);
    t.equal(await canLogin('batch_job'), false, 'the unlisted writer cannot log in during the freeze');
    t.equal(await canLogin('dashboards'), true, 'a reader is left alone');
    t.same((await configured.unfreeze('blue')).restoredRoles, ['app', 'batch_job']);
    t.equal(await canLogin('batch_job'), true);
  });

  await t.test('configured roles whose freeze would stop pgshift or replication are refused, and nothing is frozen', async (t) => {
    for (const role of ['pgshift', 'postgres']) {
      await t.rejects(make(['app', role]).freeze('blue'), { code: 'PGSHIFT_ERR_FREEZE_ROLE_NOT_FREEZABLE', status: 409 });
    }
    t.equal(await canLogin('app'), true);
  });

  await t.test("the database's read-only default is not a freeze: a session turns it off and writes", async (t) => {
    const app = await openAppSession(t, lab.target('green', 'app'));
    await t.rejects(
      app.query(`INSERT INTO customers (id, name, email) VALUES (-1, 'x', 'readonly@example.com')`),
      /read-only transaction/,
      "green's demo database is read-only by default",
    );
    await app.query('SET default_transaction_read_only = off');
    await app.query('BEGIN');
    const inserted = await app.query(`INSERT INTO customers (id, name, email) VALUES (-1, 'x', 'readonly@example.com') RETURNING id`);
    await app.query('ROLLBACK');
    t.equal(inserted.rowCount, 1, 'the write went through, so only NOLOGIN and ending sessions freeze writes');
  });

  await t.test("draining ends application sessions and spares pgshift's, the admin's and replication's", async (t) => {
    const apps = [await openAppSession(t, blueApp), await openAppSession(t, blueApp)];
    const appPids = await Promise.all(apps.map(backendPid));
    const tool = await openAppSession(t, blueApp, 'pgshift-tool');
    const ours = await openAppSession(t, lab.target('blue', 'pgshift'), 'pgshift');
    const admin = await openAppSession(t, lab.target('blue', 'admin'), 'psql');
    const walsenders = () =>
      withClient(lab.target('blue', 'admin'), async (c) =>
        (await c.query(`SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender' ORDER BY pid`)).rows.map((r) => r.pid),
      );
    const before = await walsenders();

    const report = await replication.drain('blue');
    t.equal(report.sessionsTerminated, 2);
    t.same(report.roles, ['app']);
    await waitFor('drained sessions to end', () =>
      withClient(lab.target('blue', 'admin'), async (c) =>
        (await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1)', [appPids])).rows[0].n === 0,
      ),
    );
    for (const app of apps) await t.rejects(app.query('SELECT 1'), 'an application session is gone');
    for (const [name, client] of [
      ['an application session named pgshift*', tool],
      ["pgshift's session", ours],
      ["the admin's session", admin],
    ] as const) {
      t.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1, `${name} survives`);
    }
    t.same(await walsenders(), before, 'replication is untouched');
    t.equal(await canLogin('app'), true, 'draining is not freezing: the pools reconnect');
  });

  await t.test('draining can be limited to sessions connected for longer than a while', async (t) => {
    const old = await openAppSession(t, blueApp);
    const oldStart = await withClient(lab.target('blue', 'admin'), async (c) =>
      (await c.query('SELECT backend_start FROM pg_stat_activity WHERE pid = $1', [await backendPid(old)])).rows[0].backend_start as Date,
    );
    // The younger session must start measurably later than the old one.
    await waitFor('time to pass', () => Date.now() - oldStart.getTime() > 600, 5_000, 50);
    const young = await openAppSession(t, blueApp);
    const report = await replication.drain('blue', { connectedLongerThanSeconds: 0.5 });
    t.equal(report.sessionsTerminated, 1, 'only the older session');
    t.equal((await young.query('SELECT 1 AS one')).rows[0].one, 1, 'the younger one stays');
  });
});
