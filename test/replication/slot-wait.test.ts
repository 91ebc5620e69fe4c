import t from 'tap';
import pg from 'pg';
import { clientConfig } from '../../src/postgres/connect.js';
import { startTestLab } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { emptyGreen, labPreparation, readCatalogs, rowsOn, StepRunner } from './prepare-rig.js';

/**
 * Making the subscription's slot waits for every transaction open on blue, which in
 * production may last longer than any statement timeout: the subscription step waits
 * as long as it takes, and a preparation given up meanwhile stops waiting and leaves
 * no slot.
 */
t.test("the subscription's slot waits for blue's open transactions", async (t) => {
  const lab = await startTestLab(t);
  await emptyGreen(lab);
  const empty = await readCatalogs(lab);

  /** A session on blue with a transaction that holds an xid until `end()`. */
  const openTransaction = async () => {
    const client = new pg.Client(clientConfig({ ...lab.target('blue', 'admin'), applicationName: 'long-report' }));
    client.on('error', () => {});
    await client.connect();
    await client.query('BEGIN');
    await client.query(`SELECT txid_current()`);
    return { end: async () => void (await client.query('COMMIT').then(() => client.end())) };
  };
  const slotMakerWaiting = () =>
    rowsOn<{ n: string }>(lab, 'blue', `SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE '%pg_create_logical_replication_slot%' AND state = 'active' AND pid <> pg_backend_pid()`).then(
      (rows) => Number(rows[0]!.n) > 0,
    );

  await t.test('waits until the transaction ends, then the preparation goes on', async (t) => {
    const tx = await openTransaction();
    const runner = new StepRunner(labPreparation(lab));
    const running = runner.run({ until: 'subscription' });
    await waitFor('the slot maker to wait for the open transaction', slotMakerWaiting, 60_000);
    t.same(await rowsOn(lab, 'green', `SELECT subname FROM pg_subscription`, [], 'postgres'), [], 'no subscription while the slot is being made');
    await tx.end();
    await running;
    const slots = (await rowsOn<{ slot_name: string }>(lab, 'blue', 'SELECT slot_name FROM pg_replication_slots')).map((r) => r.slot_name);
    t.ok(slots.includes('pgshift_sub_demo'), `the slot was made once the transaction ended (${slots.join(', ')})`);
    await runner.undo();
    t.same(await readCatalogs(lab), empty);
  });

  await t.test('given up while it waits: it stops waiting and the undo leaves no slot', async (t) => {
    const tx = await openTransaction();
    t.teardown(() => tx.end());
    const runner = new StepRunner(labPreparation(lab));
    const cancel = new AbortController();
    const reason = new Error('preparation cancelled');
    const running = runner.run({ until: 'subscription', signal: cancel.signal });
    await waitFor('the slot maker to wait for the open transaction', slotMakerWaiting, 60_000);
    cancel.abort(reason);
    await t.rejects(running, reason);
    await waitFor('the slot maker to be gone', async () => !(await slotMakerWaiting()));
    await runner.undo();
    t.same(await readCatalogs(lab), empty, 'no slot, no publication, green as it was');
  });
});
