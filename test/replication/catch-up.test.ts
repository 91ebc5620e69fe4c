import t from 'tap';
import { withClient } from '../../src/postgres/connect.js';
import { demoReplication, startTestLab } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';

interface SequenceRow {
  name: string;
  next: string;
}

t.test('catching up, lag and sequences on the lab', async (t) => {
  const lab = await startTestLab(t);
  const replication = demoReplication(t, lab);
  const onBlue = <T>(sql: string, params: unknown[] = []) =>
    withClient(lab.target('blue', 'admin'), async (c) => (await c.query(sql, params)).rows as T[]);
  const onGreen = <T>(sql: string, params: unknown[] = []) =>
    withClient(lab.target('green', 'admin'), async (c) => (await c.query(sql, params)).rows as T[]);

  await t.test('the fence wait returns only once a row committed just before is on green', async (t) => {
    for (let i = 0; i < 5; i++) {
      const email = `fence-${i}@example.com`;
      await withClient(lab.target('blue', 'app'), (c) => c.query(`INSERT INTO customers (name, email) VALUES ('fence', $1)`, [email]));
      const report = await replication.waitForApplied('blue->green');
      t.equal(report.databases.length, 1);
      t.same(await onGreen('SELECT email FROM customers WHERE email = $1', [email]), [{ email }], `row ${i} is on green`);
    }
  });

  await t.test('the LSN wait returns once the slot confirmed the publisher position', async (t) => {
    await onBlue(`INSERT INTO customers (name, email) VALUES ('lsn', 'lsn@example.com')`);
    const { lsn } = await replication.waitForLsn('blue->green');
    t.match(lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    const [slot] = await onBlue<{ reached: boolean }>(
      `SELECT confirmed_flush_lsn >= $1::pg_lsn AS reached FROM pg_replication_slots WHERE slot_name = 'pgshift_sub_demo'`,
      [lsn],
    );
    t.ok(slot?.reached);
  });

  await t.test('with the subscription disabled, lag grows, the state says why, and the fence wait times out', async (t) => {
    await replication.lag('blue->green');
    await waitFor('lag to read as caught up', async () => (await replication.lag('blue->green')).seconds === 0);

    await replication.setEnabled('blue->green', false);
    await replication.setEnabled('blue->green', false);
    await onBlue(`INSERT INTO customers (name, email) SELECT 'bulk', 'bulk-' || g || '@example.com' FROM generate_series(1, 5000) g`);
    const first = await replication.lag('blue->green');
    t.ok(first.bytes! > 100_000, `bytes rise at once (${first.bytes})`);
    await waitFor('lag in seconds to grow', async () => ((await replication.lag('blue->green')).seconds ?? 0) > 0.3, 10_000, 100);

    const state = await replication.state('blue->green');
    t.notOk(state.healthy);
    t.match(state.problems, [/demo: subscription pgshift_sub is disabled/]);
    t.equal(state.databases[0]!.enabled, false);

    await t.rejects(replication.waitForApplied('blue->green', { timeoutMs: 300 }), {
      code: 'PGSHIFT_ERR_REPLICATION_CATCHUP_TIMEOUT',
      status: 504,
    });
    await t.rejects(replication.waitForLsn('blue->green', { timeoutMs: 300 }), { code: 'PGSHIFT_ERR_REPLICATION_CATCHUP_TIMEOUT' });

    await replication.setEnabled('blue->green', true);
    await replication.waitForApplied('blue->green');
    t.same(await onGreen(`SELECT count(*)::int AS n FROM customers WHERE name = 'bulk'`), [{ n: 5000 }], 'nothing was lost');
    const after = await waitFor('lag to fall back', async () => {
      const lag = await replication.lag('blue->green');
      return lag.seconds === 0 && lag.bytes! < 64 * 1024 ? lag : undefined;
    });
    t.equal(after.seconds, 0);
    await waitFor('the apply worker to run again', async () => (await replication.state('blue->green')).healthy);
  });

  await t.test('every sequence on green ends at or above blue, is_called respected, none moved backwards', async (t) => {
    // A free-standing sequence on both sides, set so that 500 itself comes next.
    for (const on of [onBlue, onGreen]) await on('CREATE SEQUENCE public.batch_seq');
    await onBlue(`SELECT setval('public.batch_seq', 500, false)`);
    await onBlue(`SELECT nextval('invoice_number_seq') FROM generate_series(1, 25)`);
    await onBlue(`INSERT INTO invoices (order_id) SELECT id FROM orders LIMIT 10`);
    await onBlue(`SELECT nextval('orders_id_seq')`);
    await onGreen(`SELECT setval('orders_id_seq', 9000000)`);

    /** What nextval() would return next, per sequence, read from each sequence itself. */
    const nextValues = async (on: typeof onBlue): Promise<SequenceRow[]> => {
      const names = await on<{ name: string; inc: string }>(
        `SELECT format('%I.%I', schemaname, sequencename) AS name, increment_by::text AS inc FROM pg_sequences ORDER BY 1`,
      );
      const rows: SequenceRow[] = [];
      for (const { name, inc } of names) {
        const [s] = await on<{ last_value: string; is_called: boolean }>(`SELECT last_value::text, is_called FROM ${name}`);
        rows.push({ name, next: String(s!.is_called ? BigInt(s!.last_value) + BigInt(inc) : BigInt(s!.last_value)) });
      }
      return rows;
    };
    const before = await nextValues(onGreen);
    const report = await replication.copySequences('blue->green');
    t.equal(report.databases[0]!.alreadyAhead, 1, "green's orders sequence was already ahead");

    const blue = new Map((await nextValues(onBlue)).map((r) => [r.name, BigInt(r.next)]));
    const green = new Map((await nextValues(onGreen)).map((r) => [r.name, BigInt(r.next)]));
    t.same([...green.keys()].sort(), [...blue.keys()].sort());
    t.ok(blue.has('public.invoice_number_seq') && blue.has('public.invoices_id_seq'), 'the free-standing and the identity sequence are included');
    for (const [name, value] of blue) t.ok(green.get(name)! >= value, `${name}: green ${green.get(name)} >= blue ${value}`);
    t.equal(green.get('public.batch_seq'), 500n, 'setval(.., false) copied as such: 500 comes next, not 501');
    t.equal(green.get('public.orders_id_seq'), 9000001n, 'a sequence already ahead is not moved back');
    t.not(before.find((r) => r.name === 'public.invoice_number_seq')?.next, green.get('public.invoice_number_seq')?.toString());

    const [row] = await withClient(lab.target('green', 'admin'), async (c) => {
      await c.query('SET default_transaction_read_only = off');
      return (await c.query(`SELECT nextval('invoice_number_seq')::text AS n`)).rows;
    });
    t.ok(BigInt(row.n) > blue.get('public.invoice_number_seq')! - 1n, 'the next invoice number on green follows blue');

    t.same((await replication.copySequences('blue->green')).databases[0]!.copied, 0, 'copying again changes nothing');
  });

  await t.test('a sequence missing on the target is reported after the others are copied', async (t) => {
    await onBlue('CREATE SEQUENCE public.only_on_blue');
    await onBlue(`SELECT nextval('customers_id_seq') FROM generate_series(1, 3)`);
    await t.rejects(replication.copySequences('blue->green'), {
      code: 'PGSHIFT_ERR_SEQUENCE_MISSING',
      status: 409,
      details: { missing: ['demo: public.only_on_blue'] },
    });
    const [blue] = await onBlue<{ v: string }>(`SELECT last_value::text AS v FROM customers_id_seq`);
    const [green] = await onGreen<{ v: string }>(`SELECT last_value::text AS v FROM customers_id_seq`);
    t.equal(green!.v, blue!.v, 'the sequences both sides have were still copied');
    await onBlue('DROP SEQUENCE public.only_on_blue');
  });

  await t.test('waiting on a direction that is not set up is a coded error, not a timeout', async (t) => {
    await t.rejects(replication.waitForApplied('green->blue', { timeoutMs: 60_000 }), {
      code: 'PGSHIFT_ERR_REPLICATION_NOT_SET_UP',
      status: 409,
    });
    await t.rejects(replication.setEnabled('green->blue', true), { code: 'PGSHIFT_ERR_REPLICATION_NOT_SET_UP' });
    const state = await replication.state('green->blue');
    t.notOk(state.healthy);
    t.match(state.problems, [/does not exist/]);
  });
});
