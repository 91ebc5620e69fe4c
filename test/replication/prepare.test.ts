import t from 'tap';
import * as D from '../../src/defaults.js';
import { startTestLab } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { DEMO_TABLES, emptyGreen, labPreparation, readCatalogs, rowsOn, StepRunner, tableCounts } from './prepare-rig.js';

const NOTHING_CREATED = {
  'green-login': { created: false },
  roles: { planned: [], created: [] },
  databases: { created: [], readOnlySet: [] },
  schema: { filled: [], adopted: [D.LAB_DATABASE] },
  'pgshift-tables': { createdOn: [] },
  publication: { created: [] },
  subscription: { created: {}, adopted: [D.LAB_DATABASE] },
  verify: { enabled: [], refreshed: [], databases: [{ database: D.LAB_DATABASE, slot: 'pgshift_sub_demo' }] },
};

t.test('preparing green on the lab', async (t) => {
  const lab = await startTestLab(t);

  await t.test('a green that already replicates from blue goes through every step creating nothing', async (t) => {
    const before = await readCatalogs(lab);
    const runner = new StepRunner(labPreparation(lab));
    await runner.run();
    t.match(Object.fromEntries(runner.details), NOTHING_CREATED);
    t.same(await readCatalogs(lab), before);
    await runner.undo();
    t.same(await readCatalogs(lab), before, 'undoing an adoption removes nothing');
    t.equal((await rowsOn(lab, 'green', 'SELECT 1 FROM pg_subscription')).length, 1, 'the subscription stays');
  });

  await t.test('adopting: a disabled subscription is enabled and one missing a published table is refreshed', async (t) => {
    await rowsOn(lab, 'blue', `CREATE TABLE late (id int PRIMARY KEY)`);
    await rowsOn(lab, 'blue', `INSERT INTO late SELECT generate_series(1, 10)`);
    await rowsOn(lab, 'green', `CREATE TABLE late (id int PRIMARY KEY)`);
    await rowsOn(lab, 'green', `ALTER SUBSCRIPTION ${D.DEFAULT_SUBSCRIPTION} DISABLE`);
    const runner = new StepRunner(labPreparation(lab));
    await runner.run();
    t.match(runner.detail('verify'), { enabled: [D.LAB_DATABASE], refreshed: [D.LAB_DATABASE], databases: [{ tables: 7 }] });
    t.same(await rowsOn(lab, 'green', 'SELECT count(*)::int AS n FROM late'), [{ n: 10 }], 'the new table got its initial copy');
    await runner.undo();
    t.same(await rowsOn(lab, 'green', 'SELECT subenabled FROM pg_subscription'), [{ subenabled: false }], 'undo disables what verify enabled');
    await rowsOn(lab, 'blue', 'DROP TABLE late');
  });

  await emptyGreen(lab);
  const empty = await readCatalogs(lab);
  // A table big enough for the copy to be seen in progress.
  await rowsOn(lab, 'blue', `CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL)`);
  await rowsOn(lab, 'blue', `INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 50000) g`);
  const runner = new StepRunner(labPreparation(lab));

  await t.test('an empty green is prepared: roles, database, schema, data, and progress up to the end', async (t) => {
    t.same(empty.greenRoles.filter((r) => !r.startsWith('pg_')), [D.LAB_ADMIN_ROLE], 'green starts with its admin only');
    await runner.run();
    t.same(await tableCounts(lab, 'green', [...DEMO_TABLES, 'big']), await tableCounts(lab, 'blue', [...DEMO_TABLES, 'big']), 'green holds what blue holds');
    t.match(runner.detail('green-login'), { role: D.LAB_PGSHIFT_ROLE, created: true, attributesFrom: 'blue' });
    t.match(runner.detail('roles'), { created: [D.LAB_APP_ROLE], rolesWithoutPassword: [] });
    t.match(runner.detail('databases'), { created: [D.LAB_DATABASE], readOnlySet: [] });
    t.match(runner.detail('schema'), { filled: [D.LAB_DATABASE], adopted: [] });
    t.match(runner.detail('pgshift-tables'), { createdOn: [D.LAB_DATABASE] });
    t.match(runner.detail('publication'), { created: [D.LAB_DATABASE] });
    t.match(runner.detail('subscription'), { created: { [D.LAB_DATABASE]: { slot: 'pgshift_sub_demo', oid: Number } }, adopted: [] });
    t.match(runner.detail('verify'), { databases: [{ database: D.LAB_DATABASE, tables: 7, slot: 'pgshift_sub_demo' }] });
    t.same(
      await rowsOn(lab, 'green', `SELECT unnest(setconfig) AS s FROM pg_db_role_setting WHERE setrole = 0 AND setdatabase = (SELECT oid FROM pg_database WHERE datname = 'demo')`),
      [{ s: 'default_transaction_read_only=on' }],
      'green is read-only for applications by default',
    );

    const copy = runner.progress.filter((p) => p.tablesTotal > 0);
    t.ok(copy.length >= 2, `progress was read during the copy (${copy.length} readings)`);
    const last = copy[copy.length - 1]!;
    t.match(last, { tablesTotal: 7, tablesDone: 7, etaSeconds: 0 });
    t.ok(last.bytesTotal > 3_000_000, `bytesTotal counts blue's heap (${last.bytesTotal})`);
    t.equal(last.bytesDone, last.bytesTotal);
    t.equal(last.databases[0]!.bytesDone, last.bytesTotal);
    const first = copy[0]!;
    t.ok(first.tablesDone < first.tablesTotal, 'the first reading saw the copy unfinished');
    t.ok(copy.every((p, i) => i === 0 || p.at >= copy[i - 1]!.at));

    // Table by table, each reading agrees with its progress, and none of it is in the progress (which is journaled).
    const readings = runner.tableReadings;
    t.same(readings.map((r) => r.at), runner.progress.map((p) => p.at), 'one table reading with each progress reading');
    readings.forEach((r, i) => {
      const p = runner.progress[i]!;
      t.equal(r.tables.length, p.tablesTotal);
      t.equal(r.tables.filter((x) => x.state === 's' || x.state === 'r').length, p.tablesDone);
      t.equal(r.tables.reduce((n, x) => n + x.bytes, 0), p.bytesTotal, 'blue sizes add up to bytesTotal');
    });
    const bigAt = (r: (typeof readings)[number]) => r.tables.find((x) => x.table === 'public.big')!;
    t.match(bigAt(readings[0]!), { database: D.LAB_DATABASE, state: /^[idf]$/ }, 'the big table was seen before its copy ended');
    t.same(bigAt(readings[readings.length - 1]!).bytes, Number((await rowsOn<{ n: string }>(lab, 'blue', `SELECT pg_relation_size('big') AS n`))[0]!.n), "its bytes are blue's heap");
    t.ok(readings[readings.length - 1]!.tables.every((x) => x.state === 's' || x.state === 'r'), 'every table synchronized at the last reading');
    t.notOk(JSON.stringify(runner.progress).includes('"tables"'), 'the progress carries no table list');

    await rowsOn(lab, 'blue', `INSERT INTO customers (name, email) VALUES ('after', 'after-prepare@example.com')`);
    await waitFor('the new row on green', async () => (await rowsOn(lab, 'green', 'SELECT 1 FROM customers WHERE email = $1', ['after-prepare@example.com'])).length === 1);
    t.pass('green follows blue');
  });

  await t.test('running every step again, resumed or afresh, creates nothing', async (t) => {
    // The initial copy's detail holds how long it took; everything else must come out the same.
    const recorded = () => JSON.stringify([...runner.details].filter(([name]) => name !== 'initial-copy'));
    const details = recorded();
    const catalogs = await readCatalogs(lab);
    await runner.run();
    t.same(recorded(), details, 'a resumed run records the same');
    t.match(runner.detail('initial-copy'), { tables: 7 });
    const again = new StepRunner(labPreparation(lab));
    await again.run();
    t.match(Object.fromEntries(again.details), NOTHING_CREATED);
    t.same(await readCatalogs(lab), catalogs);
  });

  await t.test('undoing everything leaves green as it was, and blue without slot or publication', async (t) => {
    await runner.undo();
    t.same(await readCatalogs(lab), empty);
    await runner.undo();
    t.same(await readCatalogs(lab), empty, 'undo is safe to repeat');
  });
});
