import { request } from 'node:http';
import t, { type Test } from 'tap';
import YAML from 'yaml';
import { startTestLab } from '../helpers/lab.js';
import { CALM_CANARIES, calm, labServiceConfigText, labStateStore, operatorHeaders, prepareThroughService, standInWeights } from '../helpers/lab-service.js';
import { writeConfigFile } from '../helpers/config.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/prepare.js';
import { waitFor } from '../helpers/wait.js';

/**
 * SIGTERM as ECS sends it, to real pgshift processes sharing one state store: the
 * standby leads within the design's 2 s, a transition in flight is never left half
 * done, and an open event stream does not hold the stop past the stop timeout.
 */

const STOP_TIMEOUT_SECONDS = 10;
/** What the design promises between the leader's SIGTERM and the standby leading. */
const TAKEOVER_MS = 2_000;

async function leaderOf(service: ServiceProcess): Promise<{ self: boolean; holder: string | null }> {
  return (await service.api.get('/api/v1/pairs')).body.leader;
}

/** Which of `services` leads, once every one of them names the same leader. */
async function settledLeader(services: ServiceProcess[]): Promise<{ leader: ServiceProcess; others: ServiceProcess[] }> {
  return waitFor('one leader named by all', async () => {
    const views = await Promise.all(services.map(leaderOf));
    if (views.filter((v) => v.self).length !== 1 || new Set(views.map((v) => v.holder)).size !== 1) return undefined;
    const leader = services[views.findIndex((v) => v.self)]!;
    return { leader, others: services.filter((s) => s !== leader) };
  }, 30_000, 100);
}

/** When (epoch ms, from its log) `service` became the leader. */
async function becameLeaderAt(service: ServiceProcess): Promise<number> {
  const line = await service.process.waitForLog((l) => l.msg === 'became the leader', 30_000);
  return Number(line.time);
}

async function stopped(t: Test, service: ServiceProcess, sentAt: number): Promise<number> {
  const exit = await service.process.exited;
  const ms = Date.now() - sentAt;
  t.equal(exit.code, 0, exit.code === 0 ? `${service.id} stopped cleanly` : `${service.id} failed to stop: ${service.process.stderr().slice(-1000)}`);
  t.ok(ms < STOP_TIMEOUT_SECONDS * 1000, `${service.id} exited ${ms} ms after SIGTERM, within the ${STOP_TIMEOUT_SECONDS} s stop timeout`);
  return ms;
}

/** The messages a stopped process logged, in order, from its "stopping" line on. */
function stopPhases(service: ServiceProcess): string[] {
  const lines = service.process
    .stdout()
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { msg: string }];
      } catch {
        return [];
      }
    })
    .map((l) => l.msg);
  return lines.slice(lines.indexOf('stopping'));
}

t.test('SIGTERM to pgshift processes sharing one state store', async (t) => {
  const lab = await startTestLab(t);
  const store = labStateStore(t, lab);
  const doc = YAML.parse(await labServiceConfigText({ bakeSeconds: 0, signals: CALM_CANARIES }, 'info')) as { service: Record<string, unknown> };
  doc.service.stopTimeoutSeconds = STOP_TIMEOUT_SECONDS;
  const config = await writeConfigFile(t, YAML.stringify(doc));
  const route53 = lab.route53!.standIn;
  const start = (id: string) => startServiceProcess(t, lab, config, id);

  const alpha = await start('alpha');
  await prepareThroughService(alpha.url, lab);
  const beta = await start('beta');
  let standby: ServiceProcess;

  await t.test('an idle leader: the standby leads within 2 s', async (t) => {
    const { leader, others } = await settledLeader([alpha, beta]);
    standby = others[0]!;
    const sentAt = Date.now();
    leader.process.child.kill('SIGTERM');
    const takeoverMs = (await becameLeaderAt(standby)) - sentAt;
    t.ok(takeoverMs < TAKEOVER_MS, `${standby.id} led ${takeoverMs} ms after the leader's SIGTERM`);
    t.comment(`takeover after SIGTERM to an idle leader: ${takeoverMs} ms`);
    await waitFor('the standby to say it leads', async () => (await leaderOf(standby)).self, 30_000, 100);
    const ready = await fetch(`${standby.url}/readyz`);
    t.equal(ready.status, 200);
    t.match(((await ready.json()) as { checks: unknown }).checks, [{ name: 'running', ok: true }, { name: 'state-store', ok: true }, { name: 'leadership', ok: true, detail: `leader (${standby.id})` }]);
    await stopped(t, leader, sentAt);
    const phases = stopPhases(leader);
    const order = ['stopping: /readyz answers 503', 'stopping: leader lease released', 'stopping: closing the HTTP server and its connections', 'stopped'];
    t.same(
      phases.filter((m) => order.includes(m)),
      order,
      `each phase logged, in order: ${phases.join(' | ')}`,
    );
  });

  await t.test('a leader in the middle of an advance ends the step, then hands over', async (t) => {
    const leader = standby;
    const next = await start('gamma');
    await settledLeader([leader, next]);
    await calm(leader.api);
    // Route 53 takes 3 s to reach INSYNC: the SIGTERM lands while the step waits for it.
    route53.faults.set({ insyncDelayMs: 3_000 });
    t.teardown(() => route53.faults.reset());
    const before = (await store.getPair('demo'))!.stage;
    t.equal(before, 'baseline');
    const accepted = await leader.api.post('/api/v1/pairs/demo/advance?wait=false', { expectedStage: 'baseline' });
    t.equal(accepted.status, 202);
    await waitFor('the change to be journaled', async () => {
      const state = await store.getPair('demo');
      return state?.transition?.steps?.[0]?.detail?.changeId ? state : undefined;
    }, 30_000, 20);
    const sentAt = Date.now();
    leader.process.child.kill('SIGTERM');
    // Readiness goes first, while the step still runs.
    const notReady = await waitFor('the stopping leader to answer 503 on /readyz', async () => {
      const res = await fetch(`${leader.url}/readyz`).catch(() => null);
      return res?.status === 503 ? ((await res.json()) as { checks: unknown }) : undefined;
    }, 10_000, 20);
    t.match(notReady.checks, [{ name: 'running', ok: false, detail: 'stopping' }]);
    // Measured from the release, which the leader logs once its session has ended: the NOTIFY may wake the standby a moment before.
    const releasedAt = Number((await leader.process.waitForLog((l) => l.msg === 'stopping: leader lease released', 30_000)).time);
    const takeoverMs = (await becameLeaderAt(next)) - releasedAt;
    t.ok(takeoverMs < TAKEOVER_MS, `${next.id} led ${takeoverMs} ms after the lease was released`);
    t.comment(`takeover after the step in flight ended: ${takeoverMs} ms (SIGTERM to takeover ${releasedAt + takeoverMs - sentAt} ms)`);
    await stopped(t, leader, sentAt);
    t.ok(stopPhases(leader).includes('stopping: finishing the step in flight'));

    const settled = await waitFor('the pair to settle', async () => {
      const state = await store.getPair('demo');
      return state && state.transition === null ? state : undefined;
    }, 30_000, 100);
    t.equal(settled.stage, 'reads-10', 'the advance landed');
    t.equal(settled.lastTransition?.outcome, 'finished');
    t.same(standInWeights(lab), { reader: { blue: 90, green: 10 }, writer: { blue: 100, green: 0 } }, 'Route 53 holds the stored stage');
    standby = next;
  });

  await t.test('an open event stream does not hold the stop', async (t) => {
    const service = standby;
    const url = new URL('/api/v1/pairs/demo/stream', service.url);
    const streamEnded = new Promise<number>((resolve, reject) => {
      const req = request(url, { headers: operatorHeaders(lab) }, (res) => {
        t.equal(res.statusCode, 200);
        res.once('data', () => {
          const sentAt = Date.now();
          service.process.child.kill('SIGTERM');
          res.resume();
          res.on('close', () => resolve(sentAt));
        });
      });
      req.on('error', reject);
      req.end();
    });
    const sentAt = await streamEnded;
    const ms = await stopped(t, service, sentAt);
    t.comment(`stopped with an event stream open in ${ms} ms`);
  });
});
