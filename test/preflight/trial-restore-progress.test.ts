import t from 'tap';
import { describePreparation } from '../../src/cli/commands/prepare.js';
import { startTestLab } from '../helpers/lab.js';
import { labServiceConfig } from '../helpers/lab-service.js';
import { requestPrepare, settledIntent, startServiceProcess } from '../helpers/prepare.js';
import { createGeneratedSchema } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';
import { sql, trialDatabases } from './lab-preflight.js';

/**
 * `prepare` on a green that cannot take blue's schema: its preflight step shows the
 * trial restore's progress in the pair view (as the initial copy's is shown), then the
 * object 14 refuses gives the preparation up, and the scratch database is gone.
 */
t.test('prepare runs the trial restore first, with progress, and is refused by what it finds', async (t) => {
  const lab = await startTestLab(t, { green: 'empty' });
  await createGeneratedSchema(lab, 600);
  await sql(lab, 'blue', `CREATE VIEW gen.red_products AS SELECT sku FROM public.products WHERE attributes @ 'color=>red'::hstore`);
  const service = await startServiceProcess(t, lab, await labServiceConfig(t, { bakeSeconds: 0 }, 'info'), 'preparing');

  const intent = await requestPrepare(service.api);
  const view = await waitFor(
    'the trial restore to report progress',
    async () => {
      const body = (await service.api.get('/api/v1/pairs/demo')).body;
      return (body.preparation?.progress?.objects?.done ?? 0) > 0 ? body : undefined;
    },
    120_000,
    50,
  );
  t.match(view.preparation, { step: 'preflight', progress: { objects: { database: 'demo', done: Number, total: Number } } });
  t.match(describePreparation('demo', view.preparation, view.stage), /^preparing demo: preflight \(\d+\/\d+ steps done\) · trial restore of demo: \d+\/\d+ objects$/);

  const settled = await settledIntent(service.api, intent);
  t.equal(settled.status, 'rejected', 'preflight refused the preparation');
  t.match(JSON.stringify(settled.result), /view gen\.red_products does not restore on green/);
  t.same(await trialDatabases(lab), [], 'no scratch database left');
});
