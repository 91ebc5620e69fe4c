import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import YAML from 'yaml';
import { startLab } from '../../src/local/lab-main.js';
import { withClient } from '../../src/postgres/connect.js';
import { writeConfigFile } from '../helpers/config.js';
import { testLabDir } from '../helpers/lab.js';
import { labApi } from '../helpers/lab-service.js';
import { blueTables, catalogOf, createBigTable, rowCounts } from '../helpers/prepare.js';
import { ROOT } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A fresh lab (green empty, as `npm start` makes it) reaches `baseline` only through
 * `prepare`, which the lab's entry point asks the service for over HTTP and follows.
 */
t.test('a fresh lab reaches baseline only through prepare, which npm start runs and prints', async (t) => {
  const dir = await testLabDir(t);
  const doc = YAML.parse(await readFile(join(ROOT, 'config', 'local.yaml'), 'utf8')) as { service: Record<string, unknown> };
  doc.service.logLevel = process.env.PGSHIFT_TEST_LOG ?? 'silent';
  const configPath = await writeConfigFile(t, YAML.stringify(doc));
  const running = await startLab({ configPath, env: process.env, labDir: dir, port: 0, workload: { enabled: false } });
  t.teardown(() => running.close());
  const lab = running.lab!;
  const api = labApi(running.url, lab);

  const before = await waitFor('the demo pair', async () => {
    const answer = await api.get('/api/v1/pairs/demo');
    return answer.status === 200 ? answer.body : undefined;
  }, 30_000, 100);
  t.equal(before.stage, 'unprepared', 'a fresh pair starts unprepared');
  t.equal(before.preparation, null);
  t.same((await catalogOf(lab, 'green')).databases, ['postgres'], 'green is empty');

  const refused = await api.post('/api/v1/pairs/demo/advance', { expectedStage: 'unprepared' });
  t.equal(refused.status, 409, JSON.stringify(refused.body));
  const guards = JSON.stringify(refused.body);
  t.match(guards, /"next-stage"/, 'refused by the next-stage guard');
  t.match(guards, /green is not prepared yet: run prepare/, 'which says to run prepare');

  // A table bigger than the demo's, so that the copy outlasts a poll of the lab's follower
  // (which prints a step only while one runs) on a fast machine too.
  await createBigTable(lab, 300_000);

  // What a person running `npm start` sees, and what the API shows meanwhile.
  const lines: string[] = [];
  const views: any[] = [];
  running.followPreparation((line) => lines.push(line));
  const after = await waitFor(
    'the pair to be prepared',
    async () => {
      const view = (await api.get('/api/v1/pairs/demo')).body;
      if (view.preparation) views.push(view.preparation);
      return view.stage === 'baseline' && view.transition === null ? view : undefined;
    },
    120_000,
    50,
  );
  t.match(after.lastTransition, { kind: 'prepare', outcome: 'finished', from: 'unprepared', to: 'baseline' });
  t.ok(views.length > 0, `the pair view showed the preparation (${views.length} times)`);
  t.match(views[0], { step: String, stepsDone: Number, stepsTotal: Number });
  t.ok(views.some((p) => p.stepsDone > 0), 'steps were counted as they ended');

  await waitFor('the last progress line', () => lines.some((l) => /prepared: demo is at baseline/.test(l)), 15_000, 50);
  const text = lines.join('');
  t.match(text, /being prepared through the service/, 'says green is being prepared');
  t.match(text, /preparing demo: [a-z-]+ \(\d+\/\d+ steps done\)/, 'prints the step under way');
  t.match(text, /prepared: demo is at baseline, green follows blue/);
  t.notMatch(text, /NOT prepared/);

  const tables = await blueTables(lab);
  t.ok(tables.length >= 6, `the demo's tables: ${tables.join(', ')}`);
  t.same(await rowCounts(lab, 'green', tables), await rowCounts(lab, 'blue', tables), 'every table of blue has as many rows on green');

  const id = await withClient(lab.target('blue', 'app'), async (c) =>
    String((await c.query('INSERT INTO orders (customer_id, total_cents) VALUES (1, $1) RETURNING id', [900000101])).rows[0].id),
  );
  const arrived = await waitFor(
    'the new row on green',
    () =>
      withClient(lab.target('green', 'admin'), async (c) => {
        const { rows } = await c.query('SELECT total_cents FROM orders WHERE id = $1', [id]);
        return rows[0] ? Number(rows[0].total_cents) : undefined;
      }),
    20_000,
    100,
  );
  t.equal(arrived, 900000101, 'a row inserted on blue arrives on green');
  t.comment(text);
});
