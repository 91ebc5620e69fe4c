import t from 'tap';
import { apiRig, OPERATOR, VIEWER } from '../helpers/api-rig.js';
import { runCli } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `pgshift prepare` against the API over in-memory ports (tier 2): it follows the
 * preparation to its end with a progress line, and says why when it is refused. The
 * real preparation is tested on the lab (test/shift/lab-prepare*.test.ts).
 */
t.test('pgshift prepare', async (t) => {
  const { app, store, world } = await apiRig(t, {}, { prepared: false });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const env = { PGSHIFT_URL: url, PGSHIFT_TOKEN: OPERATOR };

  await t.test('status says green is not prepared and how to prepare it', async (t) => {
    const { code, stdout } = await runCli(['status'], env);
    t.equal(code, 0);
    t.match(stdout, /^pair orders: unprepared/);
    t.match(stdout, /green is not prepared yet: pgshift prepare/);
  });

  await t.test('a viewer may not prepare', async (t) => {
    const { code, stderr } = await runCli(['prepare'], { ...env, PGSHIFT_TOKEN: VIEWER });
    t.equal(code, 3);
    t.match(stderr, /403|stronger role/);
  });

  await t.test('a blocker: exit 1 with the findings, and nothing is left on green', async (t) => {
    world.preflightBlockers = [{ check: 'extensions', database: 'app', object: 'extension some_extension', message: 'Extension incompatible: some_extension v1.3 not compatible with Postgres v14' }];
    const { code, stdout } = await runCli(['prepare'], env);
    t.equal(code, 1);
    t.match(stdout, /refused: preflight found 1 blocker\(s\): Extension incompatible: some_extension v1\.3/);
    t.match(stdout, /  - Extension incompatible: some_extension v1\.3 not compatible with Postgres v14/);
    t.match(stdout, /nothing pgshift made on green is left/);
    t.same([...world.preparation.made], []);
    world.preflightBlockers = [];
  });

  await t.test('follows the preparation with a progress line until green follows blue', async (t) => {
    world.preparation.hold.add('initial-copy');
    const running = runCli(['prepare', '--reason', 'upgrade to 14'], env);
    await waitFor('the initial copy', () => world.preparation.made.has('initial-copy'));
    // Every read of the pair view asks the signals for replication: once the command has
    // read the view during the copy, it has printed the line.
    let views = 0;
    const replication = world.signals.replication.bind(world.signals);
    world.signals.replication = () => {
      views += 1;
      return replication();
    };
    await waitFor('the command to read the view during the copy', () => views > 0);
    world.preparation.hold.clear();
    world.preparation.release();
    const { code, stdout } = await running;
    t.equal(code, 0, stdout);
    t.match(stdout, /preparing orders: initial-copy \(6\/8 steps done\) · 1\/4 tables · 1\.0 kB of 4\.0 kB · 500 B\/s · about 6 s left/);
    t.match(stdout, /prepare of orders: done; green follows blue, the pair is at baseline/);
    t.equal((await store.getPair('orders'))!.stage, 'baseline');
  });

  await t.test('again: already prepared; --no-wait and --json answer at once', async (t) => {
    const again = await runCli(['prepare'], env);
    t.equal(again.code, 0);
    t.match(again.stdout, /prepare of orders: green is already prepared \(the pair is at baseline\)/);
    const queued = await runCli(['prepare', '--no-wait', '--json'], env);
    t.equal(queued.code, 0);
    t.match(JSON.parse(queued.stdout), { intent: { action: 'prepare', status: 'pending' } });
  });
});
