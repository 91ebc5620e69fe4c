import t, { type Test } from 'tap';
import { PgshiftError } from '../../src/errors.js';
import { ShiftController, type ControlledPair } from '../../src/shift/controller.js';
import { planStages } from '../../src/shift/stages.js';
import { silentLogger } from '../../src/log.js';
import { MemoryShiftStore } from '../helpers/memory-store.js';
import { waitFor } from '../helpers/wait.js';
import { FakeClock, StaticLease, fakeWorld, type FakeWorld } from '../helpers/fake-world.js';

/**
 * The `prepare` transition, tick by tick over in-memory ports (STYLE.md tier 2): its
 * steps are journaled, a restart resumes it, a blocker or a revert undoes exactly what
 * it made. The real steps are tested against real servers in test/replication/.
 */

interface Rig {
  clock: FakeClock;
  store: MemoryShiftStore;
  lease: StaticLease;
  world: FakeWorld;
  controller: ShiftController;
  pair: ControlledPair;
}

async function rig(t: Test, instanceId = 'test-1', shared?: Pick<Rig, 'clock' | 'store' | 'lease' | 'world'>): Promise<Rig> {
  const clock = shared?.clock ?? new FakeClock();
  const store = shared?.store ?? new MemoryShiftStore();
  const lease = shared?.lease ?? new StaticLease(true);
  const world = shared?.world ?? fakeWorld(clock);
  const pair: ControlledPair = { id: 'demo', plan: planStages([10, 50, 100]), bakeSeconds: 0, autoAdvance: true, ttlSeconds: 0, rollbackWindowMs: 0, world };
  const controller = new ShiftController({ store, lease, clock, log: silentLogger(), instanceId, pairs: [pair] });
  await controller.prepare();
  t.teardown(() => controller.stop());
  return { clock, store, lease, world, controller, pair };
}

const peek = async (r: Rig) => (await r.store.getPair('demo'))!;
const STEPS = ['green-login', 'preflight', 'roles', 'databases', 'schema', 'subscription', 'initial-copy', 'verify'];
const ALL_MADE = ['green-login', 'roles', 'databases', 'schema', 'subscription', 'initial-copy', 'verify'];

t.test('a new pair starts unprepared and neither advances nor auto-advances until prepared', async (t) => {
  const r = await rig(t);
  await r.controller.tickOnce();
  t.equal((await peek(r)).stage, 'unprepared');
  t.equal(r.world.traffic.applied.length, 0, 'auto-advance did nothing');
  await t.rejects(r.controller.request('demo', 'advance', { actor: 'ops' }), {
    code: 'PGSHIFT_ERR_GUARDS_FAILED',
    details: { guards: [{ name: 'next-stage', detail: /green is not prepared yet: run prepare/ }] },
  });
  const revert = await r.controller.request('demo', 'revert', { actor: 'ops' });
  await r.controller.tickOnce();
  t.match(await r.store.getIntent(revert.id), { status: 'done', result: { note: 'nothing to revert: green is not prepared' } });
});

t.test('prepare runs every step in order, journaled, and lands at baseline', async (t) => {
  const r = await rig(t);
  const intent = await r.controller.request('demo', 'prepare', { actor: 'ops', reason: 'upgrade to 14' });
  await r.controller.tickOnce();
  const pair = await peek(r);
  t.equal(pair.stage, 'baseline');
  t.same(r.world.preparation.log, ALL_MADE.map((s) => `run ${s}`));
  t.same([...r.world.preparation.made].sort(), [...ALL_MADE].sort());
  t.match(pair.lastTransition, { kind: 'prepare', from: 'unprepared', to: 'baseline', outcome: 'finished', stepNames: STEPS });
  t.same(pair.lastTransition!.steps!.map((s) => `${s.name}:${s.status}`), STEPS.map((s) => `${s}:done`));
  t.equal((await r.store.getIntent(intent.id))!.status, 'done');
  t.same(
    r.store.actions('demo'),
    ['prepare-started:info', ...STEPS.slice(0, -1).map(() => 'prepare-step:info'), 'prepare:ok'],
    'the audit log shows each step',
  );
  t.same(r.world.traffic.applied, [], 'preparing moves no traffic');

  const again = await r.controller.request('demo', 'prepare', { actor: 'ops' });
  await r.controller.tickOnce();
  t.match(await r.store.getIntent(again.id), { status: 'done', result: { note: 'green is already prepared (the pair is at baseline)' } });
  t.equal(r.world.preparation.log.length, ALL_MADE.length, 'nothing ran again');
});

t.test('a blocker refuses the preparation and undoes what came before it', async (t) => {
  const r = await rig(t);
  r.world.preflightBlockers = [{ check: 'extensions', database: 'demo', object: 'extension some_extension', message: 'Extension incompatible: some_extension v1.3 not compatible with Postgres v14' }];
  const intent = await r.controller.request('demo', 'prepare', { actor: 'ops' });
  await r.controller.tickOnce();
  const pair = await peek(r);
  t.equal(pair.stage, 'unprepared');
  t.equal(pair.transition, null);
  t.match(pair.lastTransition, { kind: 'prepare', outcome: 'rolled-back', abandoned: { intentId: null, reason: /preflight found 1 blocker\(s\): Extension incompatible: some_extension v1.3/ } });
  t.same(r.world.preparation.log, ['run green-login', 'undo green-login']);
  t.same([...r.world.preparation.made], [], 'nothing is left on green');
  t.match(await r.store.getIntent(intent.id), {
    status: 'rejected',
    result: { reason: /Extension incompatible/, details: { code: 'PGSHIFT_ERR_PREFLIGHT_BLOCKED', blockers: [{ check: 'extensions', object: 'extension some_extension' }] } },
  });
  t.ok(r.store.actions('demo').includes('prepare-refused:rejected'));
});

t.test('a step that fails for now is retried on the next tick, not undone', async (t) => {
  const r = await rig(t);
  r.world.preparation.failWith.set('schema', new PgshiftError('PGSHIFT_ERR_PG_CONNECT', 'green is restarting', { status: 503 }));
  await r.controller.request('demo', 'prepare', { actor: 'ops' });
  await r.controller.tickOnce();
  t.match(await peek(r), { stage: 'unprepared', transition: { kind: 'prepare' } });
  await r.controller.tickOnce();
  t.equal((await peek(r)).stage, 'baseline');
  t.same(r.world.preparation.log.filter((l) => l.startsWith('undo')), [], 'nothing undone');
  t.equal(r.world.preparation.log.filter((l) => l === 'run roles').length, 1, 'finished steps are not run again');
});

t.test('a revert during the initial copy gives the preparation up and undoes every step, newest first', async (t) => {
  const r = await rig(t);
  r.world.preparation.hold.add('initial-copy');
  const prepare = await r.controller.request('demo', 'prepare', { actor: 'ops' });
  const running = r.controller.tickOnce();
  await waitFor('the initial copy', () => r.world.preparation.made.has('initial-copy'));
  const view = await r.controller.view('demo');
  t.match(view.preparation, { step: 'initial-copy', stepsDone: 6, stepsTotal: 8, progress: { tablesDone: 1, tablesTotal: 4, bytesDone: 1000, etaSeconds: 6 } });
  t.match(r.controller.preparation('demo'), view.preparation);

  const revert = await r.controller.request('demo', 'revert', { actor: 'alice', reason: 'wrong cluster' });
  await r.controller.tickOnce();
  await running;
  const pair = await peek(r);
  t.equal(pair.stage, 'unprepared');
  t.match(pair.lastTransition, { outcome: 'rolled-back', abandoned: { actor: 'alice', reason: 'wrong cluster', intentId: revert.id } });
  t.same(
    r.world.preparation.log.filter((l) => l.startsWith('undo')),
    ['undo initial-copy', 'undo subscription', 'undo schema', 'undo databases', 'undo roles', 'undo green-login'],
  );
  t.same([...r.world.preparation.made], []);
  t.match(await r.store.getIntent(revert.id), { status: 'done' });
  t.match(await r.store.getIntent(prepare.id), { status: 'failed', result: { reason: 'cancelled: wrong cluster' } });
  t.ok(r.store.actions('demo').includes('prepare-cancelled:info'));
  t.equal(r.controller.preparation('demo'), null);
});

/** A leader that loses its lease during the initial copy (as when it dies): it stops, its journal stays. */
async function interruptedDuringCopy(t: Test): Promise<Rig> {
  const first = await rig(t);
  first.world.preparation.hold.add('initial-copy');
  await first.controller.request('demo', 'prepare', { actor: 'ops' });
  const running = first.controller.tickOnce();
  await waitFor('the initial copy', () => first.world.preparation.made.has('initial-copy'));
  first.lease.lose();
  await running;
  return first;
}

t.test('a process that dies during the preparation leaves a journal the next leader finishes', async (t) => {
  const first = await interruptedDuringCopy(t);
  t.match(await peek(first), { stage: 'unprepared', transition: { kind: 'prepare', committed: true } });
  first.world.preparation.hold.clear();

  const lease = new StaticLease(true);
  const next = await rig(t, 'test-2', { clock: first.clock, store: first.store, lease, world: first.world });
  first.world.preparation.log.length = 0;
  await next.controller.tickOnce();
  t.equal((await peek(next)).stage, 'baseline');
  t.same(first.world.preparation.log, ['run initial-copy', 'run verify'], 'finished steps are not run again');
});

t.test('a revert asked for while nobody runs the preparation undoes it from the journal', async (t) => {
  const first = await interruptedDuringCopy(t);
  await first.controller.stop();

  const next = await rig(t, 'test-2', { clock: first.clock, store: first.store, lease: new StaticLease(true), world: first.world });
  const revert = await next.controller.request('demo', 'revert', { actor: 'bob' });
  await next.controller.tickOnce();
  t.match(await peek(next), { stage: 'unprepared', transition: null, lastTransition: { outcome: 'rolled-back', abandoned: { actor: 'bob' } } });
  t.same([...first.world.preparation.made], []);
  t.match(await next.store.getIntent(revert.id), { status: 'done' });
});

t.test('a step that keeps failing is tried again at once, then with growing pauses', async (t) => {
  const r = await rig(t);
  const down = () => new PgshiftError('PGSHIFT_ERR_PG_CONNECT', 'green is down', { status: 503 });
  r.world.preparation.failWith.set('roles', down());
  await r.controller.request('demo', 'prepare', { actor: 'ops' });
  await r.controller.tickOnce();
  r.world.preparation.failWith.set('roles', down());
  await r.controller.tickOnce();
  const tries = () => r.world.preparation.log.filter((l) => l === 'run roles').length;
  t.equal(tries(), 2, 'the first retry is at once');
  await r.controller.tickOnce();
  t.equal(tries(), 2, 'the next waits');
  r.clock.advance(1);
  await r.controller.tickOnce();
  t.equal(tries(), 3, 'and goes once the pause is over');
  t.equal((await peek(r)).stage, 'baseline');
});

t.test('a second prepare while one is under way is refused, so a revert that gives the first up is not undone', async (t) => {
  const r = await rig(t);
  await r.controller.request('demo', 'prepare', { actor: 'ops' });
  await t.rejects(r.controller.request('demo', 'prepare', { actor: 'bob' }), { code: 'PGSHIFT_ERR_ALREADY_PREPARING', status: 409 });
  r.world.preparation.hold.add('initial-copy');
  const running = r.controller.tickOnce();
  await waitFor('the initial copy', () => r.world.preparation.made.has('initial-copy'));
  await t.rejects(r.controller.request('demo', 'prepare', { actor: 'bob' }), { code: 'PGSHIFT_ERR_ALREADY_PREPARING' });
  await r.controller.request('demo', 'revert', { actor: 'alice' });
  await r.controller.tickOnce();
  await running;
  await r.controller.tickOnce();
  t.match(await peek(r), { stage: 'unprepared', transition: null });
  t.same([...r.world.preparation.made], [], 'nothing started again after the revert');
});

t.test('stopping (SIGTERM) ends the step in flight, starts no other, and the next leader carries on from the journal', async (t) => {
  const r = await rig(t);
  r.world.preparation.hold.add('schema');
  const intent = await r.controller.request('demo', 'prepare', { actor: 'ops' });
  void r.controller.tickOnce();
  await waitFor('the schema step', () => r.world.preparation.made.has('schema'));
  const stopped = r.controller.stop(60_000);
  r.world.preparation.release();
  await stopped;
  const left = await peek(r);
  t.equal(left.stage, 'unprepared');
  t.match(left.transition, { kind: 'prepare' }, 'the transition stays in the journal');
  t.same(
    left.transition!.steps!.map((s) => `${s.name}:${s.status}`),
    ['green-login:done', 'preflight:done', 'roles:done', 'databases:done', 'schema:done'],
    'the step in flight ran to its end, and no other started',
  );
  t.notOk(r.world.preparation.log.includes('run subscription'));
  t.same(r.world.preparation.log.filter((l) => l.startsWith('undo')), [], 'nothing undone');

  const next = await rig(t, 'test-2', { clock: r.clock, store: r.store, lease: new StaticLease(true), world: r.world });
  await next.controller.tickOnce();
  t.equal((await peek(next)).stage, 'baseline', 'the next leader finished it');
  t.equal(r.world.preparation.log.filter((l) => l === 'run schema').length, 1, 'no step ran twice');
  t.equal((await r.store.getIntent(intent.id))!.status, 'done');
});

t.test('a step that outlasts the stop budget is aborted as a crash would be, and resumed by the next leader', async (t) => {
  const r = await rig(t);
  r.world.preparation.hold.add('initial-copy');
  await r.controller.request('demo', 'prepare', { actor: 'ops' });
  void r.controller.tickOnce();
  await waitFor('the initial copy', () => r.world.preparation.made.has('initial-copy'));
  await r.controller.stop(50);
  const left = await peek(r);
  t.match(left.transition?.steps?.find((s) => s.name === 'initial-copy'), { status: 'started' }, 'cut short, as journaled');
  r.world.preparation.hold.delete('initial-copy');
  const next = await rig(t, 'test-2', { clock: r.clock, store: r.store, lease: new StaticLease(true), world: r.world });
  await next.controller.tickOnce();
  t.equal((await peek(next)).stage, 'baseline');
});
