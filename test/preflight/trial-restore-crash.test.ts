import t from 'tap';
import { startTestLab } from '../helpers/lab.js';
import { labServiceConfig } from '../helpers/lab-service.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/prepare.js';
import { createGeneratedSchema } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';
import { trialDatabases } from './lab-preflight.js';

/**
 * pgshift killed (SIGKILL, a real process) while preflight's trial restore fills its
 * scratch database on green: the database outlives the process, and the next start
 * drops it. Blue holds a schema of thousands of objects, so the restore lasts long
 * enough to be caught in the middle.
 */

async function kill(service: ServiceProcess): Promise<void> {
  service.process.child.kill('SIGKILL');
  const exit = await service.process.exited;
  if (exit.signal !== 'SIGKILL') throw new Error(`${service.id} exited with ${JSON.stringify(exit)}, not by SIGKILL`);
}

t.test('a trial restore cut short by a SIGKILL', async (t) => {
  const lab = await startTestLab(t);
  const objects = await createGeneratedSchema(lab, 800);
  t.comment(`blue's generated schema: ${objects} relations and functions`);
  const config = await labServiceConfig(t, {}, 'info');

  const first = await startServiceProcess(t, lab, config, 'killed');
  void first.api.post('/api/v1/pairs/demo/preflight?phase=prepare').catch(() => {});
  const progress = await first.process.waitForLog((l) => l.msg === 'trial restore progress' && Number(l.done) > 0, 120_000);
  await kill(first);
  t.ok(Number(progress.done) < Number(progress.total), `killed during the restore (${String(progress.done)} of ${String(progress.total)})`);
  const left = await trialDatabases(lab);
  t.equal(left.length, 1, `the kill left the scratch database behind: ${left.join(', ')}`);

  const second = await startServiceProcess(t, lab, config, 'restarted');
  await waitFor('the leftover scratch database to be dropped', async () => (await trialDatabases(lab)).length === 0, 60_000, 200);
  t.pass('the next start dropped it');

  const report = (await second.api.post('/api/v1/pairs/demo/preflight?phase=prepare')).body;
  t.match(report.checks.find((c: { check: string }) => c.check === 'trial-restore'), { outcome: 'passed' }, 'a whole trial of the big schema passes');
  t.same(await trialDatabases(lab), [], 'and leaves nothing');
});
