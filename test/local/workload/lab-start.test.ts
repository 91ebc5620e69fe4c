import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import YAML from 'yaml';
import { labBanner } from '../../../src/local/banner.js';
import { startLab } from '../../../src/local/lab-main.js';
import { workloadBannerLines } from '../../../src/local/workload/lab-hook.js';
import type { WorkloadSnapshot } from '../../../src/local/workload/workload.js';
import { withClient } from '../../../src/postgres/connect.js';
import { writeConfigFile } from '../../helpers/config.js';
import { testLabDir } from '../../helpers/lab.js';
import { labApi } from '../../helpers/lab-service.js';
import { ROOT } from '../../helpers/process.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * `npm start` as the lab's entry point runs it (lab-main.ts, in this process): the demo
 * application runs by default and feeds the pair's app signal; the flag turns both off.
 */
t.test('npm start runs the demo application by default; --no-workload turns it and its signal off', async (t) => {
  const dir = await testLabDir(t);
  const doc = YAML.parse(await readFile(join(ROOT, 'config', 'local.yaml'), 'utf8')) as { service: Record<string, unknown> };
  doc.service.logLevel = process.env.PGSHIFT_TEST_LOG ?? 'silent';
  const configPath = await writeConfigFile(t, YAML.stringify(doc));

  const running = await startLab({ configPath, env: process.env, labDir: dir, port: 0, workload: { rate: 5 } });
  t.teardown(() => running.close());
  const workload = running.workload!;
  t.ok(workload, 'the demo application runs');
  const stats = await waitFor(
    "the app's numbers: reads and writes on blue, counts pushed",
    async () => {
      const s = (await (await fetch(workload.url!)).json()) as WorkloadSnapshot;
      return s.totals.reads.blue > 0 && s.totals.writes.blue > 0 && s.pushes.sent > 0 ? s : undefined;
    },
    30_000,
    200,
  );
  t.match(stats.settings, { rate: 5 }, 'the flag is over lab.workload.rate');
  t.equal(stats.pushes.failed, 0);
  const api = labApi(running.url, running.lab!);
  await waitFor('a healthy app signal', async () => {
    const signals = (await api.get('/api/v1/pairs/demo/signals')).body.signals as any[];
    return signals.find((s) => s.name === 'app.error_rate')?.assessment?.status === 'healthy';
  }, 30_000, 200);
  const banner = await labBanner(running.lab!, running.url, workloadBannerLines(workload, dir));
  t.match(banner, /demo app +5 writes\/s/);
  t.match(banner, workload.url!, 'the banner says where its numbers are');
  t.notMatch(banner, running.lab!.state.secrets.appPassword, 'no password on the screen');

  // With the app on, the demo pair's rehearsals run a second instance of it as their write load, through the staging names.
  const started = await api.post('/api/v1/pairs/demo/rehearsals', { bakeSeconds: 1, writeRate: 5 });
  t.equal(started.status, 202, JSON.stringify(started.body));
  const rehearsal = await waitFor(
    'the rehearsal to finish',
    async () => {
      const { body } = await api.get(`/api/v1/pairs/demo/rehearsals/${started.body.id}`);
      return body.status === 'running' ? undefined : body;
    },
    180_000,
    250,
  );
  const load = rehearsal.report?.writeLoad;
  t.comment(`rehearsal ${rehearsal.status}, ${rehearsal.report?.outcome}; load ${JSON.stringify(load)}`);
  t.match(load, { kind: 'demo-app', ratePerSecond: 5, ledger: { checkedOn: 'blue', missing: 0 } }, JSON.stringify(rehearsal.report?.findings));
  t.ok(load.ledger.acknowledged > 0, 'the demo application wrote through the staging names');
  await running.close();

  const off = await startLab({ configPath, env: process.env, labDir: dir, port: 0, workload: { enabled: false } });
  t.teardown(() => off.close());
  t.equal(off.workload, null, 'no demo application');
  const signals = (await labApi(off.url, off.lab!).get('/api/v1/pairs/demo/signals')).body.signals as any[];
  t.notOk(signals.some((s) => s.name === 'app.error_rate'), 'and no app signal that nothing would feed');
  t.match(await labBanner(off.lab!, off.url, workloadBannerLines(off.workload, dir)), /demo app +off/);

  // A lab folder seeded before the app existed: its demo database lacks the ledger's
  // columns (green, never prepared here, has no demo database at all).
  await withClient(off.lab!.target('blue', 'admin'), (c) =>
    c.query('ALTER TABLE orders DROP COLUMN request_id, DROP COLUMN paid_request, DROP COLUMN shipped_request; ALTER TABLE invoices DROP COLUMN request_id'),
  );
  await off.close();
  const old = await startLab({ configPath, env: process.env, labDir: dir, port: 0 });
  t.teardown(() => old.close());
  t.equal(old.workload, null, 'on a lab older than the app, the app does not run');
  const oldSignals = (await labApi(old.url, old.lab!).get('/api/v1/pairs/demo/signals')).body.signals as any[];
  t.notOk(oldSignals.some((s) => s.name === 'app.error_rate'), 'nor its signal');
  await old.close();
});

t.test('a bad lab.workload key stops the start before the lab starts, naming the key', async (t) => {
  const dir = await testLabDir(t);
  const doc = YAML.parse(await readFile(join(ROOT, 'config', 'local.yaml'), 'utf8')) as { lab: Record<string, unknown> };
  doc.lab.workload = { rate: 'fast', readShare: 1, colour: 'green' };
  const configPath = await writeConfigFile(t, YAML.stringify(doc));
  await t.rejects(startLab({ configPath, env: process.env, labDir: dir, port: 0 }), {
    code: 'PGSHIFT_ERR_CONFIG_INVALID',
    problems: [/^lab\.workload\.colour: unknown key$/, /^lab\.workload\.rate: /, /^lab\.workload\.readShare: /],
  });
  t.same(await readdir(dir), [], 'nothing started');
});
