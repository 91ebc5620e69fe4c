import t, { type Test } from 'tap';
import type { Lab } from '../../src/local/lab.js';
import type { PairState } from '../../src/shift/state.js';
import { startTestLab } from '../helpers/lab.js';
import { CALM_CANARIES, calm, labApi, labServiceConfig, labServiceEnv, labStateStore, prepareThroughService, standInWeights } from '../helpers/lab-service.js';
import { runTs, type RunningProcess } from '../helpers/process.js';
import { startServiceProcess } from '../helpers/prepare.js';
import { waitFor } from '../helpers/wait.js';

/**
 * pgshift as real processes on one lab: killed in the middle of a transition, and two
 * copies sharing one state store.
 */

interface Service {
  id: string;
  url: string;
  process: RunningProcess;
}

async function startChild(t: Test, lab: Lab, config: string, id: string): Promise<Service> {
  const service = await startServiceProcess(t, lab, config, id);
  await prepareThroughService(service.url, lab);
  return service;
}

async function kill(service: Service): Promise<void> {
  service.process.child.kill('SIGKILL');
  const exit = await service.process.exited;
  if (exit.signal !== 'SIGKILL') throw new Error(`${service.id} exited with ${JSON.stringify(exit)}, not by SIGKILL`);
}

async function call(service: Service, lab: Lab, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const api = labApi(service.url, lab);
  return method === 'GET' ? api.get(path) : api.post(path, body);
}

const readSplit = (percent: number) => ({ blue: 100 - percent, green: percent });

t.test('pgshift processes on the lab', async (t) => {
  const lab = await startTestLab(t);
  const store = labStateStore(t, lab);
  // Leadership and journals are under test here, not the canaries.
  const config = await labServiceConfig(t, { bakeSeconds: 0, signals: CALM_CANARIES }, 'info');
  const route53 = lab.route53!.standIn;
  const pair = async (): Promise<PairState> => (await store.getPair('demo'))!;

  await t.test('a cluster RDS does not know stops the start with a clear error, exit 1', async (t) => {
    const wrong = await labServiceConfig(t, { bakeSeconds: 0, blue: { rdsClusterId: 'demo-blu' } }, 'info');
    const child = runTs('src/server.ts', ['--config', wrong, '--port', '0'], labServiceEnv(lab, 'mistyped'));
    const exit = await child.exited;
    t.equal(exit.code, 1);
    t.match(child.stderr(), /pgshift failed to start: .*demo-blu/);
    t.notMatch(child.stderr(), /^\s+at /m, 'no stack trace');
  });

  await t.test('SIGKILL after the change was submitted: the restarted service finishes the transition', async (t) => {
    const first = await startChild(t, lab, config, 'doomed');
    t.equal((await call(first, lab, 'POST', '/api/v1/pairs/demo/preflight')).status, 200);
    await calm(labApi(first.url, lab));
    // Route 53 takes 8 s to reach INSYNC, so the kill lands while pgshift waits for it.
    route53.faults.set({ insyncDelayMs: 8_000 });
    const accepted = await call(first, lab, 'POST', '/api/v1/pairs/demo/advance?wait=false', { expectedStage: 'baseline' });
    t.equal(accepted.status, 202);
    const inFlight = await waitFor('the transition to be journaled with its change id', async () => {
      const state = await pair();
      return state.transition?.committed && state.transition.steps?.[0]?.detail?.changeId ? state : undefined;
    });
    await kill(first);
    t.equal((await pair()).transition?.id, inFlight.transition!.id, 'the kill left the transition in flight');
    t.equal((await pair()).stage, 'baseline');

    route53.faults.reset();
    const second = await startChild(t, lab, config, 'phoenix');
    const done = await waitFor(
      'the restarted service to settle the transition',
      async () => {
        const state = await pair();
        return state.transition === null ? state : undefined;
      },
      60_000,
      200,
    );
    t.equal(done.stage, 'reads-10', 'the submitted change was carried through');
    t.same(standInWeights(lab), { reader: readSplit(10), writer: readSplit(0) }, 'the records match the stored stage');
    const events = (await call(second, lab, 'GET', '/api/v1/pairs/demo/events?limit=10')).body.events as any[];
    t.match(events.find((e) => e.action === 'advance' && e.outcome === 'ok'), { actor: 'lab-operator', fromStage: 'baseline', toStage: 'reads-10' });
    second.process.child.kill('SIGTERM');
    t.equal((await second.process.exited).code, 0, 'a graceful stop');
  });

  await t.test('SIGKILL before the change was accepted: the restarted service rolls the transition back', async (t) => {
    const first = await startChild(t, lab, config, 'doomed-again');
    await calm(labApi(first.url, lab));
    // Every ChangeResourceRecordSets is throttled: the change never gets through.
    route53.faults.set({ throttleRate: 1, operations: ['ChangeResourceRecordSets'] });
    const accepted = await call(first, lab, 'POST', '/api/v1/pairs/demo/advance?wait=false', { expectedStage: 'reads-10' });
    t.equal(accepted.status, 202);
    await waitFor('the transition to be journaled', async () => ((await pair()).transition ? true : undefined));
    await kill(first);
    const left = await pair();
    t.equal(left.transition?.to, 'reads-25', 'the kill left the transition in flight');
    t.notOk(left.transition?.steps?.[0]?.detail?.changeId, 'no change had been accepted');
    t.notOk(left.transition?.committed, 'not past its point of no return');

    route53.faults.reset();
    await startChild(t, lab, config, 'phoenix-again');
    const done = await waitFor('the transition to be settled', async () => ((await pair()).transition === null ? pair() : undefined), 60_000, 200);
    t.equal(done.stage, 'reads-10', 'rolled back to where it was');
    t.same(standInWeights(lab), { reader: readSplit(10), writer: readSplit(0) }, 'the records match the stored stage');
  });

  await t.test('two processes on one state store: only the leader moves weights; the other takes over when it dies', async (t) => {
    const alpha = await startChild(t, lab, config, 'alpha');
    const beta = await startChild(t, lab, config, 'beta');
    const leaderOf = async (s: Service) => (await call(s, lab, 'GET', '/api/v1/pairs')).body.leader;
    const [a, b] = await waitFor('one leader', async () => {
      const views = [await leaderOf(alpha), await leaderOf(beta)];
      return views.filter((v) => v.self).length === 1 && views.every((v) => v.holder) ? views : undefined;
    });
    t.equal(a.holder, b.holder, 'both name the same leader');
    const leader = a.self ? alpha : beta;
    const follower = a.self ? beta : alpha;

    await Promise.all([calm(labApi(leader.url, lab)), calm(labApi(follower.url, lab))]);
    route53.clearRequests();
    const viaFollower = await call(follower, lab, 'POST', '/api/v1/pairs/demo/advance', { expectedStage: 'reads-10' });
    t.equal(viaFollower.status, 200, `an advance sent to the follower is carried out by the leader: ${JSON.stringify(viaFollower.body.error ?? '')}`);
    t.equal(viaFollower.body.pair.stage, 'reads-25');
    t.same(standInWeights(lab), { reader: readSplit(25), writer: readSplit(0) });
    const changes = route53.requests('ChangeResourceRecordSets');
    t.ok(changes.length >= 1);
    t.ok(
      changes.every((c) => c.comment?.endsWith(`by ${leader.id}`)),
      `every change came from ${leader.id}: ${changes.map((c) => c.comment).join(' | ')}`,
    );

    const killedAt = Date.now();
    await kill(leader);
    await waitFor('the follower to take the lease', async () => (await leaderOf(follower)).self === true, 15_000, 100);
    const takeoverMs = Date.now() - killedAt;
    t.ok(takeoverMs < 10_000, `taken over ${takeoverMs} ms after the leader died`);

    await calm(labApi(follower.url, lab));
    route53.clearRequests();
    const after = await call(follower, lab, 'POST', '/api/v1/pairs/demo/advance', { expectedStage: 'reads-25' });
    t.equal(after.status, 200);
    t.equal(after.body.pair.stage, 'reads-50');
    t.same(standInWeights(lab), { reader: readSplit(50), writer: readSplit(0) });
    t.ok(route53.requests('ChangeResourceRecordSets').every((c) => c.comment?.endsWith(`by ${follower.id}`)), 'now the new leader changes the weights');
  });
});
