import t from 'tap';
import { withClient } from '../../src/postgres/connect.js';
import { demoReplication, startTestLab } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { openAppSession } from './app-session.js';

t.test('switching the direction of replication on the lab, as a cutover does', async (t) => {
  const lab = await startTestLab(t);
  const replication = demoReplication(t, lab);
  const rows = <T>(server: 'blue' | 'green', sql: string, params: unknown[] = []) =>
    withClient(lab.target(server, 'admin'), async (c) => (await c.query(sql, params)).rows as T[]);
  const slots = (server: 'blue' | 'green') => rows<{ slot_name: string }>(server, 'SELECT slot_name FROM pg_replication_slots ORDER BY 1');

  await t.test('setting up a direction adopts what exists', async (t) => {
    const report = await replication.setUp('blue->green', { copyData: true });
    t.match(report.databases[0], { database: 'demo', subscriptionCreated: false, publicationCreated: false, schemaCopied: false, slot: 'pgshift_sub_demo' });
    t.ok((await replication.state('blue->green')).healthy);
  });

  await t.test('the reverse direction is refused while the forward one is enabled', async (t) => {
    await t.rejects(replication.setUp('green->blue', { copyData: false }), { code: 'PGSHIFT_ERR_REPLICATION_BOTH_WAYS', status: 409 });
    t.same(await slots('green'), [], 'nothing was created on green');
  });

  await t.test('forward stopped and reverse started: rows written on green reach blue, none is lost', async (t) => {
    await replication.freeze('blue');
    await replication.waitForApplied('blue->green');
    await replication.copySequences('blue->green');

    const dropped = await replication.drop('blue->green');
    t.same(dropped.databases, [{ database: 'demo', subscriptionDropped: true, slotDropped: true }]);
    t.same(await slots('blue'), [], "blue's slot is gone, so blue keeps no WAL for it");
    t.same((await replication.drop('blue->green')).databases, [{ database: 'demo', subscriptionDropped: false, slotDropped: false }], 'dropping again is safe');
    t.match((await replication.state('blue->green')).problems, [/does not exist/]);

    const setUp = await replication.setUp('green->blue', { copyData: false });
    t.match(setUp.databases[0], { subscriptionCreated: true, publicationCreated: true, slot: 'pgshift_sub_demo' });
    await waitFor('reverse replication to run', async () => (await replication.state('green->blue')).healthy);
    t.same(
      await rows('blue', `SELECT unnest(setconfig) AS s FROM pg_db_role_setting WHERE setrole = 0 AND setdatabase = (SELECT oid FROM pg_database WHERE datname = 'demo')`),
      [{ s: 'default_transaction_read_only=on' }],
      'blue is read-only by default now that it receives',
    );

    await replication.setReadOnlyDefault('green', false);
    await replication.setReadOnlyDefault('green', false);
    const app = await openAppSession(t, lab.target('green', 'app'));
    const [inserted] = (
      await app.query(`INSERT INTO customers (name, email) VALUES ('on green', 'written-on-green@example.com') RETURNING id`)
    ).rows;
    t.ok(Number(inserted.id) > 2000, 'the copied sequence hands out ids past blue, so no key collides');
    await replication.waitForApplied('green->blue');
    t.same(
      await rows('blue', 'SELECT id::int FROM customers WHERE email = $1', ['written-on-green@example.com']),
      [{ id: Number(inserted.id) }],
      'the row written on green is on blue',
    );
    await replication.lag('green->blue');
    const lag = await waitFor('reverse lag to read as caught up', async () => {
      const reading = await replication.lag('green->blue');
      return reading.seconds === 0 ? reading : undefined;
    });
    t.equal(lag.databases[0]!.error, undefined, 'lag of the reverse direction is measured like the forward one');
  });

  await t.test('a slot the publisher cannot drop while unreachable is reported, and the drop can be repeated', async (t) => {
    await lab.servers.green.stop();
    t.teardown(() => lab.servers.green.start());
    await t.rejects(replication.drop('green->blue'), { code: 'PGSHIFT_ERR_REPLICATION_SLOT_LEFT', status: 502 });
    t.same(
      await rows('blue', `SELECT subname FROM pg_subscription`),
      [],
      "blue's subscription is gone even though green did not answer",
    );
    await lab.servers.green.start();
    t.same((await replication.drop('green->blue')).databases, [{ database: 'demo', subscriptionDropped: false, slotDropped: true }]);
    t.same(await slots('green'), []);
  });

  await t.test('unfreezing blue restores what the freeze took', async (t) => {
    t.same((await replication.unfreeze('blue')).restoredRoles, ['app']);
  });
});
