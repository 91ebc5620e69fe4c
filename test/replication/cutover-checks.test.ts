import t from 'tap';
import { withClient } from '../../src/postgres/connect.js';
import type { Side } from '../../src/shift/model.js';
import { demoReplication, startTestLab } from '../helpers/lab.js';

t.test('the checks a cutover runs around the freeze, on the lab', async (t) => {
  const lab = await startTestLab(t);
  const replication = demoReplication(t, lab);
  // The admin's sessions run with default_transaction_read_only off, so they write on green too.
  const sql = <T>(side: Side, text: string, params: unknown[] = []) =>
    withClient(lab.target(side, 'admin'), async (c) => (await c.query(text, params)).rows as T[]);
  const parityProblems = async () => (await replication.parity('blue->green')).problems;

  await t.test('parity finds nothing on a freshly prepared green, in either direction', async (t) => {
    t.same(await parityProblems(), []);
    t.same((await replication.parity('green->blue')).problems, [], "green has no publication yet: its user tables are compared");
  });

  await t.test('an extension installed on blue only is reported with what to do', async (t) => {
    await sql('blue', 'CREATE EXTENSION pg_trgm');
    t.teardown(() => sql('blue', 'DROP EXTENSION pg_trgm'));
    t.same(await parityProblems(), [
      {
        kind: 'extension',
        database: 'demo',
        object: 'pg_trgm',
        message: 'extension pg_trgm is installed in demo on blue but not on green: create it on green (CREATE EXTENSION pg_trgm) before the cutover',
      },
    ]);
  });

  await t.test('a sequence made on blue only is reported', async (t) => {
    await sql('blue', 'CREATE SEQUENCE public.parity_only_on_blue');
    t.teardown(() => sql('blue', 'DROP SEQUENCE public.parity_only_on_blue'));
    t.match(await parityProblems(), [{ kind: 'sequence', database: 'demo', object: 'public.parity_only_on_blue', message: /sequence public.parity_only_on_blue exists in demo on blue but not on green/ }]);
  });

  await t.test('a table and the role owning it on blue only, and an application role missing on green, are reported', async (t) => {
    // Never written to, so the publication (FOR ALL TABLES) sends green nothing it would choke on.
    await sql('blue', `CREATE ROLE parity_owner NOLOGIN; CREATE TABLE public.parity_owned (id int PRIMARY KEY); ALTER TABLE public.parity_owned OWNER TO parity_owner`);
    await sql('blue', `CREATE ROLE parity_app LOGIN PASSWORD 'parity'`);
    t.teardown(() => sql('blue', 'DROP TABLE public.parity_owned; DROP ROLE parity_owner; DROP ROLE parity_app'));
    const problems = await parityProblems();
    t.match(problems, [
      { kind: 'table', database: 'demo', object: 'public.parity_owned', message: /table public.parity_owned is replicated from demo on blue but does not exist on green/ },
      { kind: 'role', database: null, object: 'parity_app', message: /application role parity_app exists on blue but not on green/ },
      { kind: 'role', database: null, object: 'parity_owner', message: /role parity_owner owns or has privileges on tables in demo on blue but does not exist on green/ },
    ]);
    t.equal(problems.length, 3);
  });

  await t.test('validation agrees once green has caught up, counting every table', async (t) => {
    await replication.waitForApplied('blue->green');
    const report = await replication.validate('blue->green', { budgetMs: 10_000, exactRowLimit: 1_000_000 });
    t.ok(report.ok);
    t.same(report.mismatches, []);
    const tables = report.databases[0]!.tables;
    t.same(tables.map((v) => v.table), ['public.customers', 'public.invoices', 'public.order_lines', 'public.orders', 'public.products'], "pgshift's own tables are left out");
    t.ok(tables.every((v) => v.method === 'count' && v.ok && v.from === v.to));
    t.equal(tables.find((v) => v.table === 'public.order_lines')?.from, '10000');

    const reverse = await replication.validate('green->blue', { budgetMs: 10_000, exactRowLimit: 1_000_000 });
    t.ok(reverse.ok, 'green, without a publication, validates its user tables against blue');
    t.equal(reverse.databases[0]!.tables.length, 5);
  });

  await t.test('larger tables compare their largest key, and those without a single-column key stay unchecked', async (t) => {
    const report = await replication.validate('blue->green', { budgetMs: 10_000, exactRowLimit: 0 });
    t.ok(report.ok);
    const byTable = new Map(report.databases[0]!.tables.map((v) => [v.table, v]));
    t.match(byTable.get('public.orders'), { method: 'max-key', from: '5000', to: '5000', ok: true });
    t.match(byTable.get('public.products'), { method: 'max-key', ok: true }, 'a text key too');
    t.match(byTable.get('public.order_lines'), { method: 'unchecked', from: null, to: null, ok: true });
  });

  await t.test('a row green has and blue has not is a mismatch, not an error', async (t) => {
    await replication.waitForApplied('blue->green');
    const [{ n }] = (await sql<{ n: string }>('blue', 'SELECT count(*)::text AS n FROM customers')) as [{ n: string }];
    await sql('green', `INSERT INTO customers (id, name, email) VALUES (10000000, 'green only', 'green-only@example.com')`);
    t.teardown(() => sql('green', 'DELETE FROM customers WHERE id = 10000000'));

    const counted = await replication.validate('blue->green', { budgetMs: 10_000, exactRowLimit: 1_000_000 });
    t.notOk(counted.ok);
    t.same(counted.mismatches, [`demo: public.customers has ${n} rows on blue and ${BigInt(n) + 1n} on green`]);
    t.match(counted.databases[0]!.tables.find((v) => v.table === 'public.customers'), { method: 'count', ok: false });

    const keyed = await replication.validate('blue->green', { budgetMs: 10_000, exactRowLimit: 0 });
    t.match(keyed.mismatches, [/^demo: public.customers has largest id \d+ on blue and 10000000 on green$/]);
  });

  await t.test('validation that runs out of its budget fails with a coded error instead of waiting', async (t) => {
    await t.rejects(replication.validate('blue->green', { budgetMs: 1, exactRowLimit: 1_000_000 }), {
      code: 'PGSHIFT_ERR_VALIDATION_TIMEOUT',
      status: 504,
      details: { budgetMs: 1 },
    });

    await withClient(lab.target('green', 'admin'), async (locker) => {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      await t.rejects(replication.validate('blue->green', { budgetMs: 800, exactRowLimit: 1_000_000 }), {
        code: 'PGSHIFT_ERR_VALIDATION_TIMEOUT',
        details: { budgetMs: 800, done: [] },
      });
      const took = Date.now() - started;
      t.ok(took < 3_000, `gave up after ${took} ms on a table it could not read`);
      await locker.query('ROLLBACK');
    });
  });

  await t.test('sequences are copied a margin past blue, descending ones downwards, and never back', async (t) => {
    const created = ['public.margin_unused', 'public.margin_down'];
    for (const side of ['blue', 'green'] as const) {
      await sql(side, 'CREATE SEQUENCE public.margin_unused; CREATE SEQUENCE public.margin_down INCREMENT -5');
      // Hundreds of sequences: more than one read batch of the old reader.
      await sql(side, `DO $$ BEGIN FOR i IN 1..300 LOOP EXECUTE format('CREATE SEQUENCE public.%I', 'margin_many_' || i); END LOOP; END $$`);
    }
    t.teardown(async () => {
      for (const side of ['blue', 'green'] as const) {
        await sql(side, `DROP SEQUENCE ${created.join(', ')}`);
        await sql(side, `DO $$ BEGIN FOR i IN 1..300 LOOP EXECUTE format('DROP SEQUENCE public.%I', 'margin_many_' || i); END LOOP; END $$`);
      }
    });
    await sql('blue', `SELECT setval('public.margin_unused', 500, false)`);
    await sql('blue', `SELECT nextval('public.margin_down') FROM generate_series(1, 3)`);
    await sql('blue', `SELECT nextval('public.margin_many_300') FROM generate_series(1, 7)`);
    await sql('blue', `SELECT nextval('customers_id_seq')`);

    const nextValues = async (side: Side) => {
      const rows = await sql<{ name: string; last_value: string; is_called: boolean; increment: string }>(
        side,
        `SELECT format('%I.%I', n.nspname, c.relname) AS name, s.seqincrement::text AS increment,
                (xpath('/row/last_value/text()', x))[1]::text AS last_value, (xpath('/row/is_called/text()', x))[1]::text = 'true' AS is_called
           FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
                LATERAL query_to_xml(format('SELECT last_value, is_called FROM %I.%I', n.nspname, c.relname), false, true, '') x
          WHERE n.nspname = 'public'`,
      );
      return new Map(rows.map((r) => [r.name, { next: r.is_called ? BigInt(r.last_value) + BigInt(r.increment) : BigInt(r.last_value), increment: BigInt(r.increment) }]));
    };

    await t.rejects(replication.copySequences('blue->green', { margin: -1 }), { code: 'PGSHIFT_ERR_SEQUENCE_MARGIN', status: 400 });

    const report = await replication.copySequences('blue->green', { margin: 10 });
    const blue = await nextValues('blue');
    const green = await nextValues('green');
    t.equal(report.databases[0]!.copied + report.databases[0]!.alreadyAhead, blue.size, 'every sequence was looked at');
    const offMargin = [...blue].filter(([name, { next, increment }]) => green.get(name)?.next !== next + 10n * increment).map(([name]) => name);
    t.same(offMargin, [], "every sequence on green hands out blue's next value plus 10 increments");
    t.equal(green.get('public.margin_unused')?.next, 510n, 'setval(.., false) on blue: 500 was next there');
    t.equal(green.get('public.margin_down')?.next, -66n, 'descending: -1, -6, -11 taken on blue, -16 next, 10 steps of -5 further');
    t.equal(green.get('public.margin_many_300')?.next, 18n);

    const again = await replication.copySequences('blue->green', { margin: 10 });
    t.same(again.databases[0], { database: 'demo', copied: 0, alreadyAhead: blue.size }, 'copying again changes nothing');
    const smaller = await replication.copySequences('blue->green');
    t.equal(smaller.databases[0]!.copied, 0, 'a smaller margin moves nothing back');
    t.same(await nextValues('green'), green);
  });
});
