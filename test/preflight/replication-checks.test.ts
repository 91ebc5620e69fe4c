import t from 'tap';
import { startTestLab } from '../helpers/lab.js';
import { findingsOf, preflightOf, restartWithSettings, sql } from './lab-preflight.js';

/**
 * What logical replication needs and does not carry, made for real on the lab: tables
 * without a key, unlogged tables, large objects, materialized views, foreign tables,
 * partitioned tables, and the server settings on both sides (wal_level, slots, senders,
 * workers). Tables created here on blue are published (FOR ALL TABLES) but never
 * written, so the running subscription is not disturbed.
 */
t.test('logical replication prerequisites', async (t) => {
  const lab = await startTestLab(t);

  await t.test('a table without primary key: UPDATE already fails on blue, preflight blocks and says how to fix it', async (t) => {
    await sql(lab, 'blue', 'CREATE TABLE no_key (a integer, b text); INSERT INTO no_key VALUES (1, $$x$$)');
    t.teardown(() => sql(lab, 'blue', 'DROP TABLE IF EXISTS no_key'));
    await t.rejects(sql(lab, 'blue', 'UPDATE no_key SET b = $$y$$'), /does not have a replica identity/, 'the condition is real');

    const [finding, ...more] = findingsOf(await preflightOf(lab), 'replica-identity');
    t.same(more, []);
    t.match(finding, {
      severity: 'blocker',
      object: 'table public.no_key',
      message: /no primary key \(replica identity DEFAULT\): it is in publication pgshift_pub, so every UPDATE and DELETE on it fails on blue/,
    });
    t.match(finding!.remediation, 'ALTER TABLE public.no_key ADD PRIMARY KEY (<key columns>);');
    t.match(finding!.remediation, 'ALTER TABLE public.no_key REPLICA IDENTITY FULL;');

    await sql(lab, 'blue', 'ALTER TABLE public.no_key REPLICA IDENTITY FULL');
    t.same(findingsOf(await preflightOf(lab), 'replica-identity'), []);
    await sql(lab, 'blue', 'UPDATE no_key SET b = $$y$$');
  });

  await t.test('a table whose unique index can serve as replica identity gets that as its fix', async (t) => {
    await sql(lab, 'blue', 'CREATE TABLE keyed_by_index (code text NOT NULL, v text); CREATE UNIQUE INDEX keyed_by_index_code ON keyed_by_index (code)');
    t.teardown(() => sql(lab, 'blue', 'DROP TABLE IF EXISTS keyed_by_index'));
    const [finding] = findingsOf(await preflightOf(lab), 'replica-identity');
    t.match(finding!.remediation, /^ALTER TABLE public\.keyed_by_index REPLICA IDENTITY USING INDEX keyed_by_index_code;/);
    await sql(lab, 'blue', finding!.remediation.split('\n')[0]!);
    t.same(findingsOf(await preflightOf(lab), 'replica-identity'), []);
  });

  await t.test('an unlogged table is a warning', async (t) => {
    await sql(lab, 'blue', 'CREATE UNLOGGED TABLE scratch_cache (k text PRIMARY KEY, v text)');
    t.teardown(() => sql(lab, 'blue', 'DROP TABLE IF EXISTS scratch_cache'));
    t.match(findingsOf(await preflightOf(lab), 'unlogged-tables'), [
      { severity: 'warning', object: 'table public.scratch_cache', remediation: /^ALTER TABLE public\.scratch_cache SET LOGGED;/ },
    ]);
  });

  await t.test('large objects are a blocker that names the columns referring to them', async (t) => {
    await sql(lab, 'blue', `CREATE TABLE documents (id integer PRIMARY KEY, body oid);
                            INSERT INTO documents VALUES (1, lo_from_bytea(0, 'hello'))`);
    t.teardown(() => sql(lab, 'blue', 'SELECT lo_unlink(oid) FROM pg_largeobject_metadata; DROP TABLE IF EXISTS documents'));
    t.match(findingsOf(await preflightOf(lab), 'large-objects'), [
      {
        severity: 'blocker',
        object: 'large objects (1)',
        message: /demo holds 1 large object\(s\): logical replication does not copy large objects.*public\.documents\.body/,
        remediation: /lo_get\(body\)/,
      },
    ]);
    await sql(lab, 'blue', 'SELECT lo_unlink(body) FROM documents');
    t.same(findingsOf(await preflightOf(lab), 'large-objects'), []);
  });

  await t.test('materialized views: missing on green, never refreshed on green, refreshed', async (t) => {
    const define = `CREATE MATERIALIZED VIEW order_totals AS SELECT customer_id, sum(total_cents) AS total FROM orders GROUP BY customer_id`;
    await sql(lab, 'blue', define);
    t.teardown(async () => {
      await sql(lab, 'blue', 'DROP MATERIALIZED VIEW IF EXISTS order_totals');
      await sql(lab, 'green', 'DROP MATERIALIZED VIEW IF EXISTS order_totals');
    });
    const [missing] = findingsOf(await preflightOf(lab), 'materialized-views');
    t.match(missing, { severity: 'blocker', object: 'materialized view public.order_totals', message: /does not exist on green/ });

    await sql(lab, 'green', `${define} WITH NO DATA`);
    await t.rejects(sql(lab, 'green', 'SELECT count(*) FROM order_totals'), /has not been populated/, 'reads on green fail for real');
    const [unpopulated] = findingsOf(await preflightOf(lab), 'materialized-views');
    t.match(unpopulated, { severity: 'blocker', message: /never been refreshed/, remediation: /REFRESH MATERIALIZED VIEW public\.order_totals;/ });

    await sql(lab, 'green', unpopulated!.remediation);
    t.match(findingsOf(await preflightOf(lab), 'materialized-views'), [{ severity: 'info', message: /is not replicated/ }]);

    // The remediation for a missing view re-creates it from blue's definition, valid on green.
    await sql(lab, 'green', 'DROP MATERIALIZED VIEW order_totals');
    await sql(lab, 'green', missing!.remediation);
    t.match(findingsOf(await preflightOf(lab), 'materialized-views'), [{ severity: 'info' }]);
  });

  await t.test('foreign tables: a blocker while green lacks them, info once it has them', async (t) => {
    const fdw = `CREATE EXTENSION IF NOT EXISTS postgres_fdw;
                 CREATE SERVER elsewhere FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', dbname 'postgres');
                 CREATE FOREIGN TABLE remote_things (id integer) SERVER elsewhere`;
    await sql(lab, 'blue', fdw);
    t.teardown(async () => {
      await sql(lab, 'blue', 'DROP EXTENSION IF EXISTS postgres_fdw CASCADE');
      await sql(lab, 'green', 'DROP EXTENSION IF EXISTS postgres_fdw CASCADE');
    });
    t.match(findingsOf(await preflightOf(lab), 'foreign-tables'), [
      { severity: 'blocker', object: 'foreign table public.remote_things', message: /server elsewhere\) does not exist on green/ },
    ]);
    await sql(lab, 'green', fdw);
    t.match(findingsOf(await preflightOf(lab), 'foreign-tables'), [{ severity: 'info', message: /is not replicated/ }]);
  });

  await t.test('a partitioned table is published leaf by leaf, and its partitions must exist on green', async (t) => {
    await sql(lab, 'blue', `CREATE TABLE events (id integer, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
                            CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
                            CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`);
    t.teardown(() => sql(lab, 'blue', 'DROP TABLE IF EXISTS events'));
    const report = await preflightOf(lab);
    t.match(findingsOf(report, 'partitioned-tables'), [
      { severity: 'info', object: 'table public.events', message: /\(2 leaf partitions\) is published partition by partition/ },
    ]);
    t.same(
      findingsOf(report, 'table-parity').map((f) => [f.severity, f.object]),
      [
        ['blocker', 'table public.events_2024'],
        ['blocker', 'table public.events_2025'],
      ],
    );
  });

  await t.test('too few replication slots on green for the reverse replication at cutover', async (t) => {
    const [rows] = await sql(lab, 'green', `SELECT current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots) AS free`);
    const free = rows!.rows[0].free as number;
    await sql(lab, 'green', `SELECT pg_create_physical_replication_slot('pgshift_test_fill_' || g) FROM generate_series(1, ${free}) g`);
    t.teardown(() =>
      sql(lab, 'green', `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'pgshift_test_fill_%'`),
    );
    t.match(findingsOf(await preflightOf(lab), 'replication-capacity'), [
      {
        severity: 'blocker',
        database: null,
        object: 'setting green.max_replication_slots',
        message: /green: max_replication_slots = \d+, \d+ in use, pgshift needs 1 more \(one slot per database for the reverse replication/,
        remediation: /^-- on green\nALTER SYSTEM SET max_replication_slots = \d+;  -- then restart the server$/,
      },
    ]);
  });

  await t.test('wal_level below logical on green, and no logical replication workers there', async (t) => {
    await restartWithSettings(lab, 'green', { wal_level: 'replica', max_logical_replication_workers: '0' });
    t.teardown(async () => {
      await lab.servers.green.stop();
      await lab.servers.green.start();
    });
    const report = await preflightOf(lab);
    t.match(findingsOf(report, 'wal-level'), [
      {
        severity: 'blocker',
        object: 'setting green.wal_level',
        message: /green's wal_level is replica: the reverse replication green -> blue/,
        remediation: "-- on green\nALTER SYSTEM SET wal_level = 'logical';  -- then restart the server",
      },
    ]);
    t.match(
      findingsOf(report, 'replication-capacity').map((f) => f.object),
      ['setting green.max_logical_replication_workers'],
    );
    t.equal(report.ok, false);
  });

  await t.test('the lab with its own settings passes both settings checks again', async (t) => {
    const report = await preflightOf(lab);
    t.same(findingsOf(report, 'wal-level'), []);
    t.same(findingsOf(report, 'replication-capacity'), []);
  });
});
