import t from 'tap';
import pg from 'pg';
import { PgLeaderLease } from '../../src/store/lease.js';
import { startScratchServer } from '../clusters/helpers.js';
import { testLogger } from '../helpers/lab.js';
import { connectionUrl } from '../../src/postgres/connect.js';
import { waitFor } from '../helpers/wait.js';

t.test('the leader lease', async (t) => {
  const scratch = await startScratchServer(t, 14);
  const url = connectionUrl(scratch.admin());
  const make = () => new PgLeaderLease({ connectionString: url, log: testLogger(), confirmTimeoutMs: 1_000 });
  const a = make();
  const b = make();
  t.teardown(async () => {
    await a.release();
    await b.release();
  });

  await t.test('is held by one process at a time', async (t) => {
    t.equal(await a.tryAcquire(), true);
    t.equal(await b.tryAcquire(), false);
    t.equal(await a.tryAcquire(), true, 'holding it again is a confirmation');
    t.equal(await a.confirm(), true);
    t.equal(await b.confirm(), false);
  });

  await t.test('passes on when the holder releases it, telling the other at once', async (t) => {
    const told = new Promise<void>((resolve) => b.once('released', resolve));
    await a.release();
    t.equal(a.held, false);
    await told;
    t.pass('the waiting process heard of the release');
    t.equal(await b.tryAcquire(), true);
    t.equal(await a.tryAcquire(), false);
  });

  await t.test('is lost at once when its session dies, and taken by the other', async (t) => {
    let lost = '';
    b.on('lost', (reason) => (lost = reason));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgshift-lease' AND pid <> pg_backend_pid()`);
    await admin.end();
    await waitFor('b to notice', () => (b.held ? undefined : true), 5_000);
    t.match(lost, /lease session/);
    t.equal(await b.confirm(), false);
    // Its own session may have been ended by the same statement: a round or two to notice and reconnect.
    t.equal(await waitFor('a to take over', async () => (await a.tryAcquire()) || undefined, 10_000), true, 'the other takes over');
  });

  await t.test('is lost when the state database goes away', async (t) => {
    await scratch.server.stop('immediate');
    t.equal(await a.confirm(), false);
    t.equal(a.held, false);
    t.equal(await a.tryAcquire(), false, 'cannot lead without the database');
    await scratch.server.start();
    t.equal(await a.tryAcquire(), true, 'leads again once it is back');
  });
});
