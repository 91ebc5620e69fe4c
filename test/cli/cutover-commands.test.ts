import t from 'tap';
import { apiRig, OPERATOR } from '../helpers/api-rig.js';
import { runCli } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The write cutover through the CLI, against the API over in-memory ports (tier 2):
 * `pgshift status` follows a cutover and shows the last write window, `pgshift finalize`
 * needs --confirm and green. The real cutover runs on the lab.
 */
t.test('status during and after a cutover; finalize', async (t) => {
  const { app, store, world } = await apiRig(t);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const env = { PGSHIFT_URL: url, PGSHIFT_TOKEN: OPERATOR };
  const as = { authorization: `Bearer ${OPERATOR}` };

  await t.test('finalize without --confirm: exit 2 before the service is asked', async (t) => {
    const { code, stderr } = await runCli(['finalize', '--pair', 'orders'], { ...env, PGSHIFT_URL: 'http://127.0.0.1:9' });
    t.equal(code, 2);
    t.match(stderr, /finalize closes the way back to blue for good .*: add --confirm to mean it/);
    t.equal(store.intents.size, 0);
  });

  await t.test('finalize before green: exit 1 with the reason', async (t) => {
    const { code, stdout } = await runCli(['finalize', '--confirm'], env);
    t.equal(code, 1, stdout);
    t.match(stdout, /refused: finalize closes the way back from green; the pair is at baseline/);
    t.equal((await store.getPair('orders'))!.stage, 'baseline');
  });

  await t.test('status follows the cutover: direction, step i/n, elapsed, how long writes have been frozen', async (t) => {
    for (const stage of ['baseline', 'reads-10', 'reads-25', 'reads-50']) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/advance', headers: as, payload: { expectedStage: stage } });
      t.equal(res.statusCode, 200, res.body.slice(0, 200));
    }
    world.cutover.hold.add('catch-up blue');
    const started = await runCli(['advance', '--expect', 'reads-100', '--no-wait'], env);
    t.equal(started.code, 0, started.stdout + started.stderr);
    await waitFor('the catch-up', () => world.cutover.log.includes('catch-up blue'));
    const during = await runCli(['status'], env);
    t.equal(during.code, 0);
    t.match(during.stdout, /^pair orders: reads-100 +\(moving to green: cutover\)/);
    t.match(during.stdout, /cutover +blue->green: step 4\/8 catch-up, \d+\.\d s elapsed, writes frozen on blue for \d+\.\d s\n/);
    t.notMatch(during.stdout, /last write window/);
    world.cutover.release('catch-up blue');
    await waitFor('green', async () => (await store.getPair('orders'))!.stage === 'green');

    const after = await runCli(['status'], env);
    t.equal(after.code, 0);
    t.match(after.stdout, /^pair orders: green\n/);
    t.notMatch(after.stdout, /cutover +blue->green: step/);
    t.match(after.stdout, /last write window \(blue->green\): \d+ ms pgshift \(freeze -> writer change submitted\) \+ 5 ms Route 53 \(-> INSYNC\)/);
    t.match(after.stdout, /next-stage +NO +green is the last stage advancing reaches: finalize/);
  });

  await t.test('finalize --confirm at green: done, and status says blue may be retired', async (t) => {
    const { code, stdout } = await runCli(['finalize', '--confirm', '--ignore-rollback-window', '--reason', 'cli test', '--json'], env);
    t.equal(code, 0, stdout);
    t.match(JSON.parse(stdout), { intent: { action: 'finalize', status: 'done', reason: 'cli test', options: { ignoreRollbackWindow: true } }, pair: { stage: 'finalized' } });
    t.ok(world.cutover.closed);
    const status = await runCli(['status'], env);
    t.match(status.stdout, /^pair orders: finalized/);
    t.match(status.stdout, /finalized: the way back is closed: blue is frozen and read-only, and may be retired/);
    const again = await runCli(['finalize', '--confirm'], env);
    t.equal(again.code, 1);
    t.match(again.stdout, /refused: the pair is already finalized/);
    const revert = await runCli(['revert'], env);
    t.equal(revert.code, 1, revert.stdout + revert.stderr);
    t.match(revert.stdout, /refused: the way back was closed when the pair was finalized/);
  });
});

t.test('finalize prints what became of blue', async (t) => {
  const { app, store } = await apiRig(t);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const env = { PGSHIFT_URL: url, PGSHIFT_TOKEN: OPERATOR };
  for (const stage of ['baseline', 'reads-10', 'reads-25', 'reads-50', 'reads-100']) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/advance', headers: { authorization: `Bearer ${OPERATOR}` }, payload: { expectedStage: stage } });
    t.equal(res.statusCode, 200, res.body.slice(0, 200));
  }
  const { code, stdout } = await runCli(['finalize', '--confirm'], env);
  t.equal(code, 0, stdout);
  t.match(stdout, /^finalize of orders: done; now at finalized\nthe way back is closed: blue is frozen and read-only, and may be retired \(pgshift deletes no cluster\)\n$/);
  t.equal((await store.getPair('orders'))!.stage, 'finalized');
});
