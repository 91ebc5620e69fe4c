import t from 'tap';
import * as D from '../../src/defaults.js';
import { withClient } from '../../src/postgres/connect.js';
import { freezePostmaster, startTestLab } from '../helpers/lab.js';
import { calm, haltedByAutoRevert, labApi, labServiceConfig, startLabService, standInWeights, type LabApi } from '../helpers/lab-service.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The revert fast path on the lab's real servers: reads go back to blue from what the
 * controller holds in memory, before it reads the state store or Route 53, so neither a
 * stopped state database nor a Route 53 that lists slowly holds the revert up.
 */

const ALL_BLUE = { reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } };

async function advance(api: LabApi, from: string): Promise<void> {
  const res = await api.post('/api/v1/pairs/demo/advance', { expectedStage: from });
  if (res.status !== 200) throw new Error(`advance from ${from} refused: ${JSON.stringify(res.body)}`);
}

t.test('the revert fast path on the lab', async (t) => {
  const lab = await startTestLab(t);
  const config = await labServiceConfig(t, { bakeSeconds: 0, signals: { sampleSeconds: 1 } });
  const service = await startLabService(t, lab, config);
  const api = labApi(service.url, lab);
  const green = lab.target('green', 'admin');
  const subscription = (enable: boolean) => withClient(green, (c) => c.query(`ALTER SUBSCRIPTION ${D.DEFAULT_SUBSCRIPTION} ${enable ? 'ENABLE' : 'DISABLE'}`));
  t.teardown(() => subscription(true).catch(() => undefined));
  await api.post('/api/v1/pairs/demo/preflight');
  await calm(api);

  await t.test('Route 53 answering list calls slowly does not hold the revert up', async (t) => {
    const listDelayMs = 10_000;
    const route53 = lab.route53!;
    await advance(api, 'baseline');
    route53.standIn.faults.set({ delayMs: { ListResourceRecordSets: listDelayMs } });
    t.teardown(() => route53.standIn.faults.set({ delayMs: {} }));
    await subscription(false);
    await waitFor('reads back on blue', () => standInWeights(lab).reader.green === 0, 30_000, 20);
    route53.standIn.faults.set({ delayMs: {} });
    const event = await waitFor(
      'the auto-revert recorded',
      async () => ((await api.get('/api/v1/pairs/demo/events?limit=10')).body.events as any[]).find((e) => e.action === 'auto-revert'),
      30_000,
      100,
    );
    t.ok(event.details.breachToSubmitMs < listDelayMs, `submitted ${event.details.breachToSubmitMs} ms after the breach, with every listing taking ${listDelayMs} ms`);
    t.same(standInWeights(lab), ALL_BLUE);
    await subscription(true);
    t.equal((await api.post('/api/v1/pairs/demo/resume', { reason: 'test' })).status, 200);
    await calm(api);
  });

  await t.test('a green whose postmaster takes no new connection reverts reads, though its open sessions still answer', async (t) => {
    await advance(api, 'baseline');
    const resume = await freezePostmaster(t, lab, 'green');
    const { pair } = await haltedByAutoRevert(api);
    t.match(pair.haltReason, /probe\.error_rate:green/, `the halt names the refused connections: ${pair.haltReason}`);
    t.same(standInWeights(lab), ALL_BLUE);
    resume();
    t.equal((await api.post('/api/v1/pairs/demo/resume', { reason: 'test' })).status, 200);
    await calm(api);
  });

  await t.test('a stopped state database does not hold the revert up; the record follows when it is back', async (t) => {
    await advance(api, 'baseline');
    await lab.servers.state.stop();
    let stateUp = false;
    t.teardown(async () => {
      if (!stateUp) await lab.servers.state.start();
    });
    await subscription(false);
    await waitFor('reads back on blue with the state database stopped', () => standInWeights(lab).reader.green === 0, 30_000, 20);
    t.same(standInWeights(lab), ALL_BLUE, 'the revert reached Route 53');
    await lab.servers.state.start();
    stateUp = true;
    const pair = await waitFor(
      'the revert written down once the state database is back',
      async () => {
        const res = await api.get('/api/v1/pairs/demo');
        return res.status === 200 && res.body.stage === 'baseline' && res.body.halted && res.body.transition === null ? res.body : undefined;
      },
      60_000,
      200,
    );
    t.match(pair.haltReason, /replication/);
    t.match(pair.lastTransition, { kind: 'auto-revert', from: 'reads-10', to: 'baseline' });
    t.same(standInWeights(lab), ALL_BLUE);
  });
});
