import t from 'tap';
import * as D from '../../src/defaults.js';
import { ident, withClient } from '../../src/postgres/connect.js';
import { startTestLab } from '../helpers/lab.js';
import { emptyGreen, labPreparation, readCatalogs, rowsOn, StepRunner } from './prepare-rig.js';

t.test('preparing green, interrupted or refused, is undone to the green it found', async (t) => {
  const lab = await startTestLab(t);
  await emptyGreen(lab);
  const empty = await readCatalogs(lab);
  await rowsOn(lab, 'blue', `CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL)`);
  await rowsOn(lab, 'blue', `INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 200000) g`);

  await t.test('aborted during the initial copy, the undo works from what was recorded and leaves no slot', async (t) => {
    const runner = new StepRunner(labPreparation(lab));
    const cancel = new AbortController();
    const reason = new Error('preparation cancelled');
    await t.rejects(
      runner.run({
        signal: cancel.signal,
        onProgress: (p) => {
          if (p.tablesDone < p.tablesTotal) cancel.abort(reason);
        },
      }),
      reason,
      "the step stops with the signal's reason",
    );
    t.equal(runner.started[runner.started.length - 1], 'initial-copy');
    t.ok(runner.progress.length >= 1);
    const slots = await rowsOn<{ slot_name: string }>(lab, 'blue', 'SELECT slot_name FROM pg_replication_slots');
    t.ok(slots.length >= 1, `blue holds slots while the copy runs (${slots.map((s) => s.slot_name).join(', ')})`);
    await runner.undo();
    t.same(await readCatalogs(lab), empty, 'green as it was; blue without slot or publication');
  });

  await t.test('a green table that already holds rows makes the subscription step fail for good', async (t) => {
    const runner = new StepRunner(labPreparation(lab));
    await runner.run({ until: 'publication' });
    await rowsOn(lab, 'green', `INSERT INTO products (sku, title, price_cents) VALUES ('GREEN-1', 'written on green', 1)`);
    const subscription = labPreparation(lab).find((s) => s.name === 'subscription')!;
    const note = async () => {};
    await t.rejects(
      subscription.run({ detail: {}, note, signal: new AbortController().signal, progress: () => {} }),
      {
        code: 'PGSHIFT_ERR_GREEN_TABLES_NOT_EMPTY',
        message: /public\.products/,
        details: { final: true, database: D.LAB_DATABASE, tables: ['public.products'] },
      },
    );
    t.same((await rowsOn(lab, 'green', 'SELECT subname FROM pg_subscription')).length, 0, 'no subscription was made');
    t.same((await rowsOn(lab, 'blue', 'SELECT slot_name FROM pg_replication_slots')).length, 0, 'no slot either');
    await runner.undo();
    t.same(await readCatalogs(lab), empty);
  });

  await t.test("a pgshift role on green that refuses the configured password is a final error naming it", async (t) => {
    await withClient(lab.target('green', 'admin', 'postgres'), (c) =>
      c.query(`CREATE ROLE ${ident(D.LAB_PGSHIFT_ROLE)} LOGIN PASSWORD 'not-the-configured-one'`),
    );
    t.teardown(() => withClient(lab.target('green', 'admin', 'postgres'), (c) => c.query(`DROP ROLE IF EXISTS ${ident(D.LAB_PGSHIFT_ROLE)}`)));
    const runner = new StepRunner(labPreparation(lab));
    const err = await runner.run({ until: 'green-login' }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string; details?: { final?: boolean; role?: string } },
    );
    t.match(err, { code: 'PGSHIFT_ERR_GREEN_LOGIN', message: /role pgshift exists on green/, details: { final: true, role: D.LAB_PGSHIFT_ROLE } });
    t.notMatch(err?.message ?? '', new RegExp(lab.state.secrets.pgshiftPassword), 'the password is not in the message');
    t.same(runner.detail('green-login'), {}, 'nothing was noted: the role is not ours');
    await runner.undo();
    t.same(
      (await rowsOn(lab, 'green', 'SELECT rolname FROM pg_roles WHERE rolname = $1', [D.LAB_PGSHIFT_ROLE], 'postgres')).length,
      1,
      "undo leaves someone else's role alone",
    );
  });
});
