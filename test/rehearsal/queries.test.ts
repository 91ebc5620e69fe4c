import t from 'tap';
import { Lab } from '../../src/local/lab.js';
import { withClient } from '../../src/postgres/connect.js';
import { compareQueries, isOrdered, median, queryFindings } from '../../src/rehearsal/queries.js';
import { testLabDir, testLogger } from '../helpers/lab.js';

t.test('ordering and the median', async (t) => {
  t.ok(isOrdered('SELECT * FROM t ORDER  BY id'));
  t.ok(isOrdered('select 1 order\nby 1'));
  t.notOk(isOrdered('SELECT * FROM t'));
  t.equal(median([5, 1, 3]), 3);
  t.equal(median([4, 1, 3, 2]), 2.5);
});

t.test('queries compared on a 13 and a 14 server', async (t) => {
  const lab = await Lab.start({ dir: await testLabDir(t), log: testLogger() });
  t.teardown(() => lab.stop());
  const target = (side: 'blue' | 'green') => lab.target(side, 'admin', 'postgres');
  // The same rows on both sides; the index that makes the lookup fast only on blue.
  for (const side of ['blue', 'green'] as const) {
    await withClient(target(side), async (c) => {
      await c.query('CREATE TABLE accounts (id bigint, owner text)');
      await c.query(`INSERT INTO accounts SELECT g, 'owner ' || g FROM generate_series(1, 300000) g`);
      if (side === 'blue') await c.query('CREATE INDEX accounts_id ON accounts (id)');
      await c.query('ANALYZE accounts');
    });
  }
  const results = await compareQueries(
    [
      { name: 'owners by id', sql: 'SELECT owner FROM accounts WHERE id = ANY($1::bigint[]) ORDER BY id', params: ['{7,70,700}'] },
      // PostgreSQL 14 made EXTRACT return numeric where 13 returned double precision: the printed value changes.
      { name: 'epoch of a timestamp', sql: `SELECT extract(epoch FROM timestamp '2021-06-01 12:00:00.5') AS epoch` },
      { name: 'sneaky write', sql: `INSERT INTO accounts VALUES (0, 'intruder') RETURNING id` },
      { name: 'unordered', sql: `SELECT g FROM generate_series(1, 3) g` },
    ],
    { target: (side) => target(side), defaultDatabase: 'postgres', runs: 3, slowerFactor: 2, slowerMarginMs: 2 },
  );
  const byName = new Map(results.map((r) => [r.name, r]));

  const slow = byName.get('owners by id')!;
  t.equal(slow.verdict, 'slower', slow.message);
  t.equal(slow.blue.rows, 3);
  t.match(slow.blue.plan, /Index/, 'blue\'s plan uses the index');
  t.match(slow.green.plan, /Seq Scan/, 'green\'s plan scans');
  t.ok(slow.green.medianMs > slow.blue.medianMs, 'measured slower');

  const epoch = byName.get('epoch of a timestamp')!;
  t.equal(epoch.verdict, 'rows-differ');
  t.match(epoch.message, /"epoch of a timestamp" returns different rows on green/);
  t.match(epoch.message, /1622548800\.5\b/);
  t.match(epoch.message, /1622548800\.500000/);

  const write = byName.get('sneaky write')!;
  t.equal(write.verdict, 'error');
  t.match(write.message, /read-only transaction/);
  for (const side of ['blue', 'green'] as const) {
    const written = await withClient(target(side), async (c) => (await c.query(`SELECT count(*)::int AS n FROM accounts WHERE id = 0`)).rows[0].n);
    t.equal(written, 0, `nothing was written on ${side}`);
  }
  t.equal(byName.get('unordered')!.verdict, 'same');

  // As the rehearsal's report has them: the slower query a warning with both plans, the others blockers.
  const findings = queryFindings(results);
  t.equal(findings.length, 3, 'no finding for the query that returns the same rows');
  const slower = findings.find((f) => f.severity === 'warning')!;
  t.match(slower, { source: 'queries', message: /"owners by id"/ });
  t.match(slower.remediation, /plan on blue:\n[^]*Index[^]*\nplan on green:\n[^]*Seq Scan/);
  t.match(findings.filter((f) => f.severity === 'blocker').map((f) => f.message), [/"epoch of a timestamp" returns different rows/, /"sneaky write"/]);
});
