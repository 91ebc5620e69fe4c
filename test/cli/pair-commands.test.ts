import t from 'tap';
import { apiRig, OPERATOR, VIEWER } from '../helpers/api-rig.js';
import { runCli } from '../helpers/process.js';

t.test('status, advance, revert, pause, resume and events through the API', async (t) => {
  const { app, store, world } = await apiRig(t);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const env = { PGSHIFT_URL: url, PGSHIFT_TOKEN: OPERATOR };

  await t.test('status: stage, weights and what an advance needs', async (t) => {
    const { code, stdout } = await runCli(['status'], env);
    t.equal(code, 0);
    t.match(stdout, /^pair orders: baseline/);
    t.match(stdout, /reader +wants blue 100 \/ green 0; Route 53 has blue 100 \/ green 0/);
    t.match(stdout, /GUARD +OK +DETAIL/);
    t.match(stdout, /preflight +yes/);
  });

  await t.test('advance refused: exit 1 and each failing guard; nothing moves', async (t) => {
    world.preflightStatus = { ok: false, blockers: 2, at: Date.now() };
    const stale = await runCli(['advance', '--expect', 'reads-10'], env);
    t.equal(stale.code, 1);
    t.match(stale.stdout, /refused: the pair is at baseline, not reads-10/);
    const guarded = await runCli(['advance', '--expect', 'baseline'], env);
    t.equal(guarded.code, 1);
    t.match(guarded.stdout, /refused: cannot advance orders from baseline/);
    t.match(guarded.stdout, /  - preflight: .*2 blocker/);
    t.equal((await store.getPair('orders'))!.stage, 'baseline');
    t.match(world.traffic.weights, { reader: { blue: 100, green: 0 } });
    world.preflightStatus = { ok: true, blockers: 0, at: Date.now() };
  });

  await t.test('advance: done, with the new stage; the stand-in world holds the weights', async (t) => {
    const { code, stdout } = await runCli(['advance', '--expect', 'baseline', '--reason', 'cli test'], env);
    t.equal(code, 0, stdout);
    t.match(stdout, 'advance of orders: done; now at reads-10');
    t.equal((await store.getPair('orders'))!.stage, 'reads-10');
    t.match(world.traffic.weights, { reader: { blue: 90, green: 10 } });
  });

  await t.test('pause, resume and revert', async (t) => {
    const paused = await runCli(['pause', '--reason', 'lunch'], env);
    t.equal(paused.code, 0);
    t.match(paused.stdout, 'now at reads-10 (paused)');
    t.equal((await store.getPair('orders'))!.paused, true);
    t.equal((await runCli(['resume'], env)).code, 0);
    t.equal((await store.getPair('orders'))!.paused, false);
    const reverted = await runCli(['revert', '--json'], env);
    t.equal(reverted.code, 0);
    t.match(JSON.parse(reverted.stdout), { intent: { action: 'revert', status: 'done' }, pair: { stage: 'baseline' } });
  });

  await t.test('events: the audit log, newest first, as a table or JSON', async (t) => {
    const table = await runCli(['events', '--limit', '50'], env);
    t.equal(table.code, 0);
    t.match(table.stdout, /ID +AT +WHO +WHAT +OUTCOME +DETAIL/);
    t.match(table.stdout, /alice +revert +ok/);
    t.match(table.stdout, /alice +advance +rejected/);
    const bad = await runCli(['events', '--limit', 'abc'], { ...env, PGSHIFT_URL: 'http://127.0.0.1:9' });
    t.equal(bad.code, 2, 'a bad option is a usage error, found before the service is asked');
    t.match(bad.stderr, '--limit: must be a positive whole number, got "abc"');
    const badPair = await runCli(['status', '--pair', 'Orders'], { ...env, PGSHIFT_URL: 'http://127.0.0.1:9' });
    t.equal(badPair.code, 2, 'a pair id against the id rule is a usage error, found before the service is asked');
    t.match(badPair.stderr, '--pair: "Orders" is not a pair id');
    const json = JSON.parse((await runCli(['events', '--json'], env)).stdout);
    // The revert's drain of green (TTL 0 here) may already have followed it.
    t.ok(json.events.slice(0, 2).some((e: { action: string }) => e.action === 'revert'), 'the revert is the newest action');
    t.ok(json.events.every((e: { id: number }, i: number, all: { id: number }[]) => i === 0 || all[i - 1]!.id > e.id), 'newest first');
  });

  await t.test('a viewer may read but not act; a bad token is an error', async (t) => {
    t.equal((await runCli(['status'], { ...env, PGSHIFT_TOKEN: VIEWER })).code, 0);
    const forbidden = await runCli(['pause'], { ...env, PGSHIFT_TOKEN: VIEWER });
    t.equal(forbidden.code, 3);
    t.match(forbidden.stderr, /operator role/);
    const wrong = await runCli(['status'], { ...env, PGSHIFT_TOKEN: 'nope' });
    t.equal(wrong.code, 3);
    t.match(wrong.stderr, /401|token/i);
    t.equal((await store.getPair('orders'))!.paused, false);
  });
});
