import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Lab } from '../../src/local/lab.js';
import { withClient } from '../../src/postgres/connect.js';
import { cutoverConfig, guardsHold, settle, settledAt, STAGE_WEIGHTS } from '../helpers/cutover.js';
import { startTestLab } from '../helpers/lab.js';
import { prepareThroughService, standInWeights } from '../helpers/lab-service.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/prepare.js';
import { waitFor } from '../helpers/wait.js';

/**
 * SIGTERM (as ECS stops a task) to the leader in the middle of a write cutover, sent by
 * the process itself right after a step's journal write (the crash hook with
 * `:SIGTERM`), while a standby runs: the leader ends the step it is in, starts no
 * other, releases the lease and exits 0; the standby leads within 2 s of the release
 * and settles the cutover from the journal (rolled back: the flip had not come), or
 * the leader lands it itself when the step in flight was the last (the writer flip);
 * either way Route 53, the stored stage and the logins agree.
 */

const TAKEOVER_MS = 2_000;
const STOP_TIMEOUT_MS = 30_000;

/** A pgshift process whose crash hook reads `crashFile`. */
function start(t: Test, lab: Lab, config: string, crashFile: string, id: string): Promise<ServiceProcess> {
  return startServiceProcess(t, lab, config, id, { PGSHIFT_TEST_CRASH_FILE: crashFile });
}

async function canLogIn(lab: Lab, side: 'blue' | 'green'): Promise<boolean> {
  return withClient(lab.target(side, 'app'), async () => true).catch(() => false);
}

async function leads(service: ServiceProcess): Promise<boolean> {
  return (await service.api.get('/api/v1/pairs')).body.leader.self === true;
}

t.test('SIGTERM to the leader in the middle of a write cutover', async (t) => {
  const outer = t;
  const lab = await startTestLab(t);
  // A busy machine lags seconds behind; the stop is under test here, not the cutover's lag limit.
  const config = await cutoverConfig(t, { maxLagSeconds: 60 }, 'info');
  const crashFile = join(lab.dir, 'stop-at');
  let leader = await start(t, lab, config, crashFile, 'first');
  await prepareThroughService(leader.url, lab);
  t.equal((await leader.api.post('/api/v1/pairs/demo/preflight')).body.ok, true);
  t.equal((await settle(leader.api, 'advance', { expectedStage: 'baseline' })).status, 'done');

  /** `handsOver`: the step in flight is not the cutover's last, so the standby settles the rest; otherwise the leader lands it before it stops. */
  const stopDuring = async (t: Test, point: string, landing: string, outcome: string, handsOver: boolean, n: number) => {
    const standby = await start(outer, lab, config, crashFile, `standby-${n}`);
    await waitFor('the leader to lead and the standby to follow', async () => (await leads(leader)) && !(await leads(standby)), 30_000, 100);
    await guardsHold(leader.api);
    await writeFile(crashFile, `${point}:SIGTERM`);
    const answer = await leader.api.post('/api/v1/pairs/demo/advance?wait=false', { reason: `SIGTERM after ${point}` });
    t.equal(answer.status, 202);
    // A refusal would leave the leader running: say so rather than wait for a stop that does not come.
    let exited = false;
    void leader.process.exited.then(() => (exited = true));
    const first = await waitFor(
      `the leader to stop after ${point}`,
      async () => {
        if (exited) return 'stopped';
        const { body } = await leader.api.get(`/api/v1/pairs/demo/intents/${answer.body.intent.id}`);
        return body.intent.status === 'pending' ? undefined : body.intent;
      },
      120_000,
      100,
    );
    if (first !== 'stopped') throw new Error(`the advance settled ${first.status} without reaching ${point}: ${JSON.stringify(first.result)}`);
    const exit = await leader.process.exited;
    t.equal(exit.code, 0, `the leader stopped cleanly after ${point}: ${exit.code === 0 ? '' : leader.process.stderr().slice(-1000)}`);
    const signalled = Number((await leader.process.waitForLog((l) => l.msg === 'stopping', 1_000)).time);
    const stoppedAt = Number((await leader.process.waitForLog((l) => l.msg === 'stopped', 1_000)).time);
    t.ok(stoppedAt - signalled < STOP_TIMEOUT_MS, `stopped ${stoppedAt - signalled} ms after SIGTERM`);
    const releasedAt = Number((await leader.process.waitForLog((l) => l.msg === 'stopping: leader lease released', 1_000)).time);
    const ledAt = Number((await standby.process.waitForLog((l) => l.msg === 'became the leader', 30_000)).time);
    t.ok(ledAt - releasedAt < TAKEOVER_MS, `${standby.id} led ${ledAt - releasedAt} ms after the lease was released`);
    t.comment(`after ${point}: SIGTERM to stopped ${stoppedAt - signalled} ms, takeover ${ledAt - releasedAt} ms after the release`);
    if (handsOver) {
      t.ok(leader.process.stdout().includes('stopping: the rest is left to the next leader'), 'the leader ended the step it was in and left the rest to the journal');
    } else {
      t.ok(leader.process.stdout().includes(`now at ${landing}`), 'the step in flight was the last: the leader landed the cutover before it stopped');
    }

    const view = await settledAt(standby.api, landing);
    t.equal(view.leader.holder, standby.id, 'the standby leads');
    t.equal(view.lastTransition.outcome, outcome, `the cutover ${outcome === 'finished' ? 'finished' : 'rolled back'}`);
    t.same(standInWeights(lab), STAGE_WEIGHTS[landing], `Route 53 holds ${landing}'s weights`);
    const writer = landing === 'green' ? 'green' : 'blue';
    t.equal(await canLogIn(lab, writer), true, `the application logs in on ${writer}`);
    if (landing === 'green') t.equal(await canLogIn(lab, 'blue'), false, 'blue stays frozen');
    leader = standby;
  };

  await t.test('writes frozen, before the writer flip: handed over and rolled back', (t) => stopDuring(t, 'freeze:done', 'reads-100', 'rolled-back', true, 1));
  await t.test('in the writer flip, the last step: finished by the leader before it stops', (t) => stopDuring(t, 'flip-writer:noted', 'green', 'finished', false, 2));
});
