import t, { type Test } from 'tap';
import { ShiftController, type ControlledPair } from '../../src/shift/controller.js';
import { PairRuntime, PairStateWriter } from '../../src/shift/runtime.js';
import { planStages } from '../../src/shift/stages.js';
import { silentLogger } from '../../src/log.js';
import { MemoryShiftStore } from '../helpers/memory-store.js';
import { waitFor } from '../helpers/wait.js';
import { FakeClock, StaticLease, fakeWorld, unavailable, type FakeWorld } from '../helpers/fake-world.js';

const STEPS = [10, 25, 50, 100];

interface Rig {
  clock: FakeClock;
  store: MemoryShiftStore;
  lease: StaticLease;
  world: FakeWorld;
  controller: ShiftController;
  pair: ControlledPair;
}

async function rig(t: Test, overrides: Partial<ControlledPair> = {}): Promise<Rig> {
  const clock = new FakeClock();
  const store = new MemoryShiftStore();
  const lease = new StaticLease(true);
  const world = fakeWorld(clock);
  const pair: ControlledPair = { id: 'demo', plan: planStages(STEPS), bakeSeconds: 60, autoAdvance: false, ttlSeconds: 0, rollbackWindowMs: 0, world, ...overrides };
  const controller = new ShiftController({ store, lease, clock, log: silentLogger(), instanceId: 'test-1', pairs: [pair] });
  // Green prepared already: these tests are about shifting (prepare.test.ts is about preparing).
  await store.ensurePair(pair.id, 'baseline', clock.now());
  await controller.prepare();
  t.teardown(() => controller.stop());
  return { clock, store, lease, world, controller, pair };
}

async function advance(r: Rig, expectedStage?: string) {
  const intent = await r.controller.request('demo', 'advance', { actor: 'ops', expectedStage });
  await r.controller.tickOnce();
  return r.store.getIntent(intent.id);
}

const stage = async (r: Rig) => (await r.store.getPair('demo'))!.stage;
const peek = async (r: Rig) => (await r.store.getPair('demo'))!;

t.test('walks baseline -> reads-10 -> ... -> reads-100, one verified change batch per step', async (t) => {
  const r = await rig(t);
  await r.controller.tickOnce();
  for (const [i, p] of STEPS.entries()) {
    r.clock.advance(60);
    const done = await advance(r);
    t.equal(done?.status, 'done');
    t.equal(await stage(r), `reads-${p}`);
    t.same(r.world.traffic.applied[i]!.weights, { reader: { blue: 100 - p, green: p }, writer: { blue: 100, green: 0 } });
  }
  t.equal(r.world.traffic.applied.length, STEPS.length, 'nothing else was changed');
  t.same(r.store.actions('demo').filter((a) => a.startsWith('advance:')), STEPS.map(() => 'advance:ok'));
});

t.test('refuses an advance whose guards fail, listing them, and changes nothing', async (t) => {
  const r = await rig(t);
  r.world.preflightStatus = { ok: false, blockers: 2, at: r.clock.now() };
  await r.controller.tickOnce();
  await t.rejects(r.controller.request('demo', 'advance', { actor: 'ops' }), {
    code: 'PGSHIFT_ERR_GUARDS_FAILED',
    status: 409,
    details: { guards: [{ name: 'bake-time' }, { name: 'preflight', detail: 'last preflight found 2 blocker(s)' }] },
  });
  t.equal(r.world.traffic.applied.length, 0);
  t.equal(r.store.intents.size, 0, 'no intent recorded');
  t.same(r.store.actions('demo'), ['advance:rejected']);
});

t.test('refuses an advance from another stage than expected', async (t) => {
  const r = await rig(t);
  r.clock.advance(60);
  await r.controller.tickOnce();
  await t.rejects(r.controller.request('demo', 'advance', { actor: 'ops', expectedStage: 'reads-10' }), {
    code: 'PGSHIFT_ERR_STAGE_MISMATCH',
    status: 409,
  });
  t.equal((await advance(r, 'baseline'))?.status, 'done');
});

t.test('from reads-100 an advance is the write cutover to green; at green the guard points at finalize', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  // (Ticks until each request is carried out: this test is about the end of the plan, not the drains on the way.)
  for (let i = 0; i < STEPS.length; i++) {
    const intent = await r.controller.request('demo', 'advance', { actor: 'ops' });
    for (let round = 0; round < 3 && (await r.store.getIntent(intent.id))!.status === 'pending'; round++) await r.controller.tickOnce();
  }
  for (let round = 0; round < 3 && (await peek(r)).drain; round++) await r.controller.tickOnce();
  t.equal(await stage(r), 'reads-100');
  const view = await r.controller.view('demo');
  t.match(view.guards.find((g) => g.name === 'next-stage'), { ok: true, detail: /next stage: green, by the write cutover/ });

  const intent = await r.controller.request('demo', 'advance', { actor: 'ops', expectedStage: 'reads-100' });
  for (let round = 0; round < 3 && (await r.store.getIntent(intent.id))!.status === 'pending'; round++) await r.controller.tickOnce();
  t.equal((await r.store.getIntent(intent.id))!.status, 'done');
  t.equal(await stage(r), 'green');
  t.match((await peek(r)).lastTransition, { kind: 'cutover', from: 'reads-100', to: 'green' });

  const applied = r.world.traffic.applied.length;
  await t.rejects(r.controller.request('demo', 'advance', { actor: 'ops' }), {
    code: 'PGSHIFT_ERR_GUARDS_FAILED',
    status: 409,
    details: { guards: [{ name: 'next-stage', detail: /green is the last stage advancing reaches: finalize closes the way back \(POST \/api\/v1\/pairs\/:pair\/finalize\)/ }] },
  });
  t.equal(r.world.traffic.applied.length, applied, 'nothing moved');
  t.equal(await stage(r), 'green');
});

t.test('advancing reads ends no session on blue: it still takes every write', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  for (const p of STEPS) {
    t.equal((await advance(r))?.status, 'done', `advanced to reads-${p} in one tick`);
    t.equal((await peek(r)).drain, null, `no drain due at reads-${p}`);
  }
  await r.controller.tickOnce();
  t.same(r.world.drained, [], 'nobody was drained');
});

t.test('a breach for N samples sends reads back to blue, drains green after the TTL and halts', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  for (let i = 0; i < 3; i++) await advance(r);
  t.equal(await stage(r), 'reads-50');

  const breachAt = r.clock.now();
  r.world.signals.breach('lag-seconds', 12.4, 2, breachAt);
  await r.controller.tickOnce();
  t.equal(await stage(r), 'reads-50', 'two breaches are not enough');

  r.world.signals.breach('lag-seconds', 12.4, 3, breachAt);
  await r.controller.tickOnce();
  const pair = (await r.store.getPair('demo'))!;
  t.equal(pair.stage, 'baseline');
  t.ok(pair.halted);
  t.match(pair.haltReason, /lag-seconds 12.4 s > 5 s for 3 samples/);
  t.same(r.world.traffic.weights, { reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } });
  const event = r.store.events.find((e) => e.action === 'auto-revert')!;
  t.match(event.details, { triggers: [{ signal: 'lag-seconds', value: 12.4, limit: 5, consecutiveBreaches: 3 }], breachToSubmitMs: 0 });
  t.same(r.world.drained, [], 'green is drained one TTL later, by a tick');
  await r.controller.tickOnce();
  t.same(r.world.drained, ['green']);
  t.ok(r.store.events.some((e) => e.action === 'drain' && e.outcome === 'ok'));

  r.world.signals.heal(r.clock.now());
  await t.rejects(r.controller.request('demo', 'advance', { actor: 'ops' }), { code: 'PGSHIFT_ERR_GUARDS_FAILED', details: { guards: [{ name: 'not-halted' }] } });
  await r.controller.request('demo', 'resume', { actor: 'ops' });
  await r.controller.tickOnce();
  t.equal((await advance(r))?.status, 'done', 'advances again after resume');
});

t.test('a broken replication reverts at once, without waiting for consecutive samples', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  await advance(r);
  r.world.signals.statuses = [{ ...r.world.signals.statuses[0]!, name: 'replication-health', state: 'breached', immediate: true, reverts: true, consecutiveBreaches: 1, summary: 'subscription disabled' }];
  await r.controller.tickOnce();
  t.equal(await stage(r), 'baseline');
  t.ok((await r.store.getPair('demo'))!.halted);
});

t.test('the revert goes out before any store or Route 53 read, and is recorded once the store is back', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  await advance(r);
  await advance(r);
  r.store.failing = 'state database down';
  r.world.traffic.failObserve = unavailable('ListResourceRecordSets throttled');
  r.world.traffic.calls.length = 0;
  r.world.signals.breach('lag-seconds', 30, 3, r.clock.now());
  t.same(r.world.traffic.calls, ['submit'], 'the change batch went out from memory, synchronously with the sample');
  await waitFor('the urgent change', () => r.world.traffic.applied.at(-1)?.urgent);
  t.same(r.world.traffic.weights.reader, { blue: 100, green: 0 }, 'reads are back on blue');
  t.equal(r.store.pairs.get('demo')!.stage, 'reads-25', 'nothing recorded while the store is down');
  r.store.failing = null;
  r.world.traffic.failObserve = null;
  await r.controller.tickOnce();
  const pair = await peek(r);
  t.equal(pair.stage, 'baseline', 'the bookkeeping is retried until stored');
  t.ok(pair.halted);
  t.equal(pair.transition, null);
  t.equal(r.world.traffic.applied.filter((a) => a.urgent).length, 1, 'one revert, not one per retry');
});

t.test('a store failure after the change went out is retried until stored, never an unhandled rejection', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => void process.off('unhandledRejection', onUnhandled));
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  const intent = await r.controller.request('demo', 'advance', { actor: 'ops' });
  const realUpdate = r.store.updatePair.bind(r.store);
  let failures = 0;
  r.store.updatePair = async (...args) => {
    // The journal goes in; every write after the change went out fails until the store is back.
    if (r.world.traffic.applied.length > 0) {
      failures += 1;
      throw unavailable('state database down');
    }
    return realUpdate(...args);
  };
  const tick = r.controller.tickOnce();
  await waitFor('the store to fail a few times', () => failures >= 3);
  t.same(unhandled, [], 'no unhandled rejection');
  t.equal(r.store.pairs.get('demo')!.stage, 'baseline', 'not recorded yet');
  r.store.updatePair = realUpdate;
  await tick;
  t.same(unhandled, []);
  const pair = await peek(r);
  t.equal(pair.stage, 'reads-10', 'past its point of no return: finished once the store takes it');
  t.equal(pair.transition, null);
  t.equal((await r.store.getIntent(intent.id))!.status, 'done');
});

t.test('a drain due survives a restart: the next leader carries it out', async (t) => {
  const r = await rig(t, { bakeSeconds: 0, ttlSeconds: 30 });
  await r.controller.tickOnce();
  await advance(r);
  await r.controller.request('demo', 'revert', { actor: 'ops' });
  await r.controller.tickOnce();
  t.match((await peek(r)).drain, { side: 'green', dueAt: r.clock.now() + 30_000 });
  await r.controller.stop();
  const next = new ShiftController({ store: r.store, lease: r.lease, clock: r.clock, log: silentLogger(), instanceId: 'test-2', pairs: [r.pair] });
  await next.prepare();
  t.teardown(() => next.stop());
  r.clock.advance(29);
  await next.tickOnce();
  t.same(r.world.drained, [], 'not before the TTL');
  r.clock.advance(1);
  await next.tickOnce();
  t.same(r.world.drained, ['green']);
  t.equal((await peek(r)).drain, null);
});

t.test('an operator revert goes back to baseline and overtakes a queued advance', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  await advance(r);
  await advance(r);
  const queued = await r.controller.request('demo', 'advance', { actor: 'ops' });
  const revert = await r.controller.request('demo', 'revert', { actor: 'ops', reason: 'app errors' });
  await r.controller.tickOnce();
  t.equal(await stage(r), 'baseline');
  t.equal((await r.store.getIntent(queued.id))!.status, 'rejected');
  t.equal((await r.store.getIntent(revert.id))!.status, 'done');
  t.notOk((await r.store.getPair('demo'))!.halted, 'an operator revert does not halt');
  await r.controller.tickOnce();
  t.same(r.world.drained, ['green']);
});

t.test('weights someone else changed pause the pair and are not overwritten', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  await advance(r);
  r.world.traffic.edit({ reader: { blue: 70, green: 30 }, writer: { blue: 100, green: 0 } });
  await r.controller.tickOnce();
  const pair = (await r.store.getPair('demo'))!;
  t.ok(pair.paused);
  t.equal(pair.stage, 'reads-10');
  t.same(r.world.traffic.weights.reader, { blue: 70, green: 30 }, 'left as found');
  t.ok(r.store.events.some((e) => e.action === 'drift-paused'));
  await t.rejects(r.controller.request('demo', 'advance', { actor: 'ops' }), { code: 'PGSHIFT_ERR_GUARDS_FAILED', details: { guards: [{ name: 'weights-verified' }] } });
  await r.controller.request('demo', 'revert', { actor: 'ops' });
  await r.controller.tickOnce();
  t.equal(await stage(r), 'baseline');
  t.same(r.world.traffic.weights.reader, { blue: 100, green: 0 }, 'an explicit revert may overwrite');
});

t.test('reads found all on blue during a read stage are adopted as an interrupted revert', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  await advance(r);
  r.world.traffic.edit({ reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } });
  await r.controller.tickOnce();
  const pair = (await r.store.getPair('demo'))!;
  t.equal(pair.stage, 'baseline');
  t.ok(pair.halted);
});

t.test('an advance interrupted before its change was submitted is rolled back', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  await advance(r);
  r.world.traffic.failNext = unavailable('throttled past every retry');
  const intent = await r.controller.request('demo', 'advance', { actor: 'ops' });
  await r.controller.tickOnce();
  let pair = (await r.store.getPair('demo'))!;
  t.equal(pair.transition?.to, 'reads-25', 'the transition is journaled');
  t.equal(pair.transition?.steps?.[0]?.detail?.changeId, undefined);
  t.notOk(pair.transition?.committed, 'not past its point of no return');
  await r.controller.tickOnce();
  pair = (await r.store.getPair('demo'))!;
  t.equal(pair.stage, 'reads-10');
  t.equal(pair.transition, null);
  t.same(r.world.traffic.weights.reader, { blue: 90, green: 10 });
  t.equal((await r.store.getIntent(intent.id))!.status, 'failed');
  t.ok(r.store.events.some((e) => e.action === 'advance-rolled-back'));
});

t.test('an advance interrupted after its change was submitted is finished', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  await advance(r);
  r.world.traffic.failAfterSubmit = unavailable('INSYNC not reached in time');
  const intent = await r.controller.request('demo', 'advance', { actor: 'ops' });
  await r.controller.tickOnce();
  const journaled = (await r.store.getPair('demo'))!.transition;
  t.ok(journaled?.steps?.[0]?.detail?.changeId, 'the change id is journaled');
  t.ok(journaled?.committed, 'past its point of no return');
  await r.controller.tickOnce();
  const pair = (await r.store.getPair('demo'))!;
  t.equal(pair.stage, 'reads-25');
  t.same(r.world.traffic.weights.reader, { blue: 75, green: 25 });
  t.equal((await r.store.getIntent(intent.id))!.status, 'done');
});

t.test('only the leader acts; intents wait for one', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  r.lease.holding = false;
  await r.controller.tickOnce();
  const intent = await r.controller.request('demo', 'advance', { actor: 'ops' });
  await r.controller.tickOnce();
  t.equal(r.world.traffic.applied.length, 0);
  t.equal((await r.store.getIntent(intent.id))!.status, 'pending');
  r.lease.holding = true;
  await r.controller.tickOnce();
  t.equal(await stage(r), 'reads-10');
  t.same(await r.controller.leader(), { self: true, instance: 'test-1', holder: 'test-1', since: r.clock.now(), seenAt: r.clock.now() });
});

t.test('auto-advance moves on after the bake time when every guard holds', async (t) => {
  const r = await rig(t, { bakeSeconds: 60, autoAdvance: true });
  await r.controller.tickOnce();
  t.equal(await stage(r), 'baseline');
  r.clock.advance(61);
  await r.controller.tickOnce();
  t.equal(await stage(r), 'reads-10');
  await r.controller.tickOnce();
  t.equal(await stage(r), 'reads-10', 'bakes again at the new stage');
  await r.controller.request('demo', 'pause', { actor: 'ops' });
  await r.controller.tickOnce();
  r.clock.advance(61);
  await r.controller.tickOnce();
  t.equal(await stage(r), 'reads-10', 'a paused pair does not auto-advance');
});

t.test('a restart after a revert went out but before it was recorded does not finish the advance it overtook', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  await advance(r);
  // What the store holds when the process died: an advance past its point of no return,
  // while Route 53 already holds the revert's weights.
  const pair = r.store.pairs.get('demo')!;
  r.store.pairs.set('demo', {
    ...pair,
    transition: { id: 't', kind: 'advance', from: 'reads-10', to: 'reads-25', weights: { reader: { blue: 75, green: 25 }, writer: { blue: 100, green: 0 } }, startedAt: r.clock.now(), actor: 'ops', reason: null, intentId: null, committed: true },
  });
  r.world.traffic.edit({ reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } });
  r.clock.advance(1);
  const changes = r.world.traffic.applied.length;
  await r.controller.tickOnce();
  const after = await peek(r);
  t.equal(after.stage, 'baseline');
  t.ok(after.halted);
  t.equal(after.transition, null);
  t.equal(r.world.traffic.applied.length, changes, 'nothing sent reads back to green');
  t.equal(after.drain?.side, 'green', 'green is drained one TTL later');
});

t.test('a revert that comes while an advance is being journaled keeps reads on blue', async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  await advance(r);
  const realUpdate = r.store.updatePair.bind(r.store);
  r.store.updatePair = async (...args) => {
    const saved = await realUpdate(...args);
    // The advance is journaled, its step not started: the fast path finds nothing to abort yet.
    if (saved.transition?.kind === 'advance') {
      r.store.updatePair = realUpdate;
      r.world.signals.breach('lag-seconds', 30, 3, r.clock.now());
    }
    return saved;
  };
  const intent = await r.controller.request('demo', 'advance', { actor: 'ops' });
  await r.controller.tickOnce();
  await r.controller.tickOnce(); // waits for the revert's bookkeeping, queued behind the advance
  t.same(
    r.world.traffic.applied.map((a) => a.weights.reader.green),
    [10, 0],
    'the advance never went out after the revert',
  );
  t.same(r.world.traffic.weights.reader, { blue: 100, green: 0 });
  t.match(await peek(r), { stage: 'baseline', halted: true, transition: null });
  t.match(await r.store.getIntent(intent.id), { status: 'failed' }, 'the overtaken advance is not left pending');
});

t.test("a process that lost the lease does not save over the transition another one journaled", async (t) => {
  const r = await rig(t, { bakeSeconds: 0 });
  await r.controller.tickOnce();
  const stale = new PairRuntime(r.pair);
  stale.state = await peek(r);
  const theirs = { ...stale.state, transition: null };
  // Meanwhile the new leader journaled a transition of its own.
  const now = await r.store.updatePair('demo', stale.state.version, {
    transition: { id: 'theirs', kind: 'advance', from: 'baseline', to: 'reads-10', weights: r.pair.plan[2]!.weights, startedAt: 1, actor: 'test-2', reason: null, intentId: null },
  }, r.clock.now());
  const writer = new PairStateWriter(r.store, r.clock, silentLogger(), new AbortController().signal);
  await t.rejects(writer.save(stale, { stage: 'reads-10', transition: null }, undefined, { retry: true, transition: theirs.transition }), { code: 'PGSHIFT_ERR_OVERTAKEN' });
  t.same(await peek(r), now, 'the store is as the new leader left it');
});
