import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Lab } from '../../src/local/lab.js';
import { withClient } from '../../src/postgres/connect.js';
import { BACK_CRASHES, checkLedger, cutoverConfig, FORWARD_CRASHES, guardsHold, replicationSettled, settle, settledAt, STAGE_WEIGHTS, startCutoverWorkload } from '../helpers/cutover.js';
import { startTestLab } from '../helpers/lab.js';
import { labApi, prepareThroughService, standInWeights, type LabApi } from '../helpers/lab-service.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/prepare.js';
import { waitFor } from '../helpers/wait.js';

/**
 * pgshift killed with SIGKILL right after each step of the write cutover was journaled
 * (the crash hook, not a sleep), in both directions, under the demo application's
 * writes: the next process finishes the cutover when its writer change was journaled
 * and rolls it back otherwise; Route 53 then holds the stage's weights, only the side
 * taking writes lets the application log in, and the ledger finds nothing lost.
 */

/** A pgshift process whose crash hook reads `crashFile`. */
async function startProcess(t: Test, lab: Lab, config: string, crashFile: string, id: string): Promise<{ url: string; exited: ServiceProcess['process']['exited'] }> {
  const service = await startServiceProcess(t, lab, config, id, { PGSHIFT_TEST_CRASH_FILE: crashFile });
  return { url: service.url, exited: service.process.exited };
}

async function canLogIn(lab: Lab, side: 'blue' | 'green'): Promise<boolean> {
  return withClient(lab.target(side, 'app'), async () => true).catch(() => false);
}

t.test('SIGKILL after every step of the write cutover, both ways', async (t) => {
  // Processes outlive the case that started them: stopped when the whole test ends.
  const outer = t;
  const lab = await startTestLab(t);
  const config = await cutoverConfig(t, {}, 'info');
  const crashFile = join(lab.dir, 'crash-at');
  const workload = await startCutoverWorkload(t, lab, 20);
  let n = 0;
  let service = await startProcess(t, lab, config, crashFile, `crash-${n++}`);
  let api: LabApi = labApi(service.url, lab);
  await prepareThroughService(service.url, lab);
  t.equal((await api.post('/api/v1/pairs/demo/preflight')).body.ok, true);
  t.equal((await settle(api, 'advance', { expectedStage: 'baseline' })).status, 'done');

  /** Arms the hook, asks for `action`, waits for the process to die, starts the next and waits until the pair settles. */
  const crashDuring = async (t: Test, action: string, point: string, landing: string): Promise<void> => {
    if (action === 'advance') await guardsHold(api);
    else await replicationSettled(api, 'green->blue');
    await writeFile(crashFile, point);
    const answer = await api.post(`/api/v1/pairs/demo/${action}?wait=false`, { reason: `crash test: ${point}` });
    t.equal(answer.status, 202, `${action} accepted`);
    // A refusal would leave the process running: say so rather than wait for a death that does not come.
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    void service.exited.then((e) => (exit = e));
    const settledFirst = await waitFor(
      `the process to die after ${point}`,
      async () => {
        if (exit) return 'died';
        const { body } = await api.get(`/api/v1/pairs/demo/intents/${answer.body.intent.id}`);
        return body.intent.status === 'pending' ? undefined : body.intent;
      },
      120_000,
      100,
    );
    if (settledFirst !== 'died') throw new Error(`${action} settled ${settledFirst.status} without reaching ${point}: ${JSON.stringify(settledFirst.result)}`);
    exit = await service.exited;
    t.equal(exit.signal, 'SIGKILL', `killed right after ${point}`);
    service = await startProcess(outer, lab, config, crashFile, `crash-${n++}`);
    api = labApi(service.url, lab);
    await settledAt(api, landing);
    t.same(standInWeights(lab), STAGE_WEIGHTS[landing], `after ${point}: Route 53 holds ${landing}'s weights`);
    const writer = landing === 'green' ? 'green' : 'blue';
    t.equal(await canLogIn(lab, writer), true, `after ${point}: the application logs in on ${writer}`);
    if (landing === 'green') t.equal(await canLogIn(lab, 'blue'), false, `after ${point}: blue stays frozen`);
  };

  for (const [point, landing] of FORWARD_CRASHES) {
    await t.test(`cutover to green, killed after ${point}`, async (t) => {
      await crashDuring(t, 'advance', point, landing);
      if (landing === 'green') {
        t.equal((await settle(api, 'revert', { reason: 'back for the next case' })).status, 'done');
        t.equal((await settle(api, 'advance', { expectedStage: 'baseline' })).status, 'done');
      }
    });
  }

  t.equal((await settle(api, 'advance', { expectedStage: 'reads-100' })).status, 'done', 'at green for the way back');
  for (const [point, landing] of BACK_CRASHES) {
    await t.test(`revert from green, killed after ${point}`, async (t) => {
      await crashDuring(t, 'revert', point, landing);
      if (landing === 'baseline') {
        t.equal((await settle(api, 'advance', { expectedStage: 'baseline' })).status, 'done');
        t.equal((await settle(api, 'advance', { expectedStage: 'reads-100' })).status, 'done');
      }
    });
  }

  await t.test('two processes: the leader dies in the middle of a cutover, the standby finishes it', async (t) => {
    await replicationSettled(api, 'green->blue');
    t.equal((await settle(api, 'revert', { reason: 'to reads-100 for the two-process case' })).status, 'done');
    t.equal((await settle(api, 'advance', { expectedStage: 'baseline' })).status, 'done');
    const leader = service;
    const standby = await startProcess(outer, lab, config, crashFile, 'standby');
    await guardsHold(api);
    await writeFile(crashFile, 'flip-writer:noted');
    t.equal((await api.post('/api/v1/pairs/demo/advance?wait=false', { reason: 'two processes' })).status, 202);
    t.equal((await leader.exited).signal, 'SIGKILL', 'the leader died after journaling the writer change');
    service = standby;
    api = labApi(standby.url, lab);
    const view = await settledAt(api, 'green');
    t.equal(view.leader.holder, 'standby', 'the standby leads now');
    t.equal(view.lastTransition.outcome, 'finished', 'and finished the cutover the leader began');
    t.same(standInWeights(lab), STAGE_WEIGHTS.green);
    t.equal(await canLogIn(lab, 'blue'), false, 'blue frozen');
    t.equal(await canLogIn(lab, 'green'), true, 'green takes writes');
  });

  await t.test('nothing lost over every crash: the ledger on the side taking writes and on the other', async (t) => {
    await workload.stop();
    const final = workload.snapshot();
    t.comment(`the application: ${final.totals.writes.blue + final.totals.writes.green} writes, failures ${JSON.stringify(final.totals.errorsByKind)}, ${final.totals.retries} retries`);
    const green = await checkLedger(lab, workload, 'green');
    t.equal(green.ok, true, `green: ${JSON.stringify({ ...green, differences: green.differences.slice(0, 3) })}`);
    t.equal(green.sequenceReuse, 0, 'no sequence value issued twice');
    const blue = await waitFor('blue to hold every write', async () => {
      const report = await checkLedger(lab, workload, 'blue');
      return report.ok ? report : undefined;
    }, 30_000, 500);
    t.ok(blue.checked.acknowledged > 0);
  });
});
