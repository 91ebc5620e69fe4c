import t, { type Test } from 'tap';
import { PgshiftError } from '../../src/errors.js';
import { ShiftController, type ControlledPair } from '../../src/shift/controller.js';
import { planStages } from '../../src/shift/stages.js';
import type { Intent, IntentAction } from '../../src/shift/state.js';
import type { RequestOptions } from '../../src/shift/intents.js';
import type { Weights } from '../../src/shift/model.js';
import type { SubmittedChange } from '../../src/shift/ports.js';
import { silentLogger } from '../../src/log.js';
import { MemoryShiftStore } from '../helpers/memory-store.js';
import { waitFor } from '../helpers/wait.js';
import { FakeClock, StaticLease, fakeWorld, unavailable, type FakeWorld } from '../helpers/fake-world.js';

/**
 * The write cutover, tick by tick over in-memory ports (STYLE.md tier 2): forward from
 * the last read stage to green, back from green to baseline (a revert), refusals and
 * timeouts undone newest first, crashes on either side of the writer flip, and
 * finalize. The real steps run against the lab's servers in test/replication/ and the
 * lab tests.
 */

interface Shared {
  clock: FakeClock;
  store: MemoryShiftStore;
  world: FakeWorld;
}

interface Rig extends Shared {
  lease: StaticLease;
  controller: ShiftController;
  pair: ControlledPair;
}

interface RigOptions {
  steps?: number[];
  instanceId?: string;
  shared?: Shared;
  rollbackWindowMs?: number;
}

async function rig(t: Test, options: RigOptions = {}): Promise<Rig> {
  const clock = options.shared?.clock ?? new FakeClock();
  const store = options.shared?.store ?? new MemoryShiftStore();
  const world = options.shared?.world ?? fakeWorld(clock);
  const lease = new StaticLease(true);
  const pair: ControlledPair = {
    id: 'demo',
    plan: planStages(options.steps ?? [100]),
    bakeSeconds: 0,
    autoAdvance: false,
    ttlSeconds: 0,
    rollbackWindowMs: options.rollbackWindowMs ?? 0,
    world,
  };
  const controller = new ShiftController({ store, lease, clock, log: silentLogger(), instanceId: options.instanceId ?? 'test-1', pairs: [pair] });
  if (!options.shared) {
    // Green prepared already: preparing is prepare.test.ts's business.
    await store.ensurePair(pair.id, 'baseline', clock.now());
    tapTimeline(world);
  }
  await controller.prepare();
  t.teardown(() => controller.stop());
  return { clock, store, world, lease, controller, pair };
}

/** Route 53's submissions and INSYNC waits go into the cutover's log, so one list shows the order of everything. */
function tapTimeline(world: FakeWorld): void {
  const { traffic, cutover } = world;
  const submit = traffic.submit.bind(traffic);
  const insync = traffic.waitInsync.bind(traffic);
  traffic.submit = async (weights, options) => {
    const change = await submit(weights, options);
    cutover.log.push(`submit ${describe(weights)}`);
    return change;
  };
  traffic.waitInsync = async (change: SubmittedChange) => {
    const done = await insync(change);
    cutover.log.push('insync');
    return done;
  };
}

const describe = (w: Weights) => `reader ${w.reader.green}, writer ${w.writer.green}`;

const ALL_GREEN: Weights = { reader: { blue: 0, green: 100 }, writer: { blue: 0, green: 100 } };
const ALL_BLUE: Weights = { reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } };
const READS_BACK: Weights = { reader: { blue: 100, green: 0 }, writer: { blue: 0, green: 100 } };
const FORWARD_STEPS = ['checks', 'snapshot', 'freeze', 'catch-up', 'sequences', 'validate', 'switch-replication', 'flip-writer'];
const BACK_STEPS = ['checks', 'reads-back', 'snapshot', 'freeze', 'catch-up', 'sequences', 'validate', 'switch-replication', 'flip-writer', 'reopen-reads'];

const peek = async (r: Rig) => (await r.store.getPair('demo'))!;

/** Ticks until the loop has answered the intent (a drain due comes first), at most a few rounds. */
async function settle(r: Rig, id: string): Promise<Intent> {
  for (let round = 0; round < 5; round++) {
    await r.controller.tickOnce();
    const intent = (await r.store.getIntent(id))!;
    if (intent.status !== 'pending') return intent;
  }
  return (await r.store.getIntent(id))!;
}

async function ask(r: Rig, action: IntentAction, options: Partial<RequestOptions> = {}): Promise<Intent> {
  const intent = await r.controller.request('demo', action, { actor: 'ops', ...options });
  return settle(r, intent.id);
}

/** baseline -> each read step -> the last one (reads-100), every intent done. */
async function walkToReads100(t: Test, r: Rig): Promise<void> {
  await r.controller.tickOnce();
  for (const p of r.pair.plan.filter((e) => e.kind === 'reads')) {
    const done = await ask(r, 'advance');
    t.equal(done.status, 'done', `advanced to ${p.stage}`);
  }
  t.equal((await peek(r)).stage, 'reads-100');
  // Any drain a read step left due runs now, so that the next tick is the one that acts on the next intent.
  for (let round = 0; round < 3 && (await peek(r)).drain; round++) await r.controller.tickOnce();
}

/** The cutover's log and Route 53's changes from now on. */
function mark(r: Rig): { log: () => string[]; applied: () => Weights[]; actions: () => string[] } {
  const logAt = r.world.cutover.log.length;
  const appliedAt = r.world.traffic.applied.length;
  const eventsAt = r.store.events.length;
  return {
    log: () => r.world.cutover.log.slice(logAt),
    applied: () => r.world.traffic.applied.slice(appliedAt).map((a) => a.weights),
    actions: () => r.store.events.slice(eventsAt).map((e) => `${e.action}:${e.outcome}`),
  };
}

const events = (r: Rig, action: string) => r.store.events.filter((e) => e.action === action);

t.test('cuts writes over to green and back: every step in order, one writer change each way, drains after', async (t) => {
  const r = await rig(t, { steps: [10, 100] });
  await walkToReads100(t, r);

  // Forward. The freeze lasts as long as the catch-up: held, while 1.5 s pass.
  const forward = mark(r);
  r.world.cutover.hold.add('catch-up blue');
  const intent = await r.controller.request('demo', 'advance', { actor: 'ops', reason: 'to 14' });
  const running = r.controller.tickOnce();
  await waitFor('the catch-up', () => r.world.cutover.log.includes('catch-up blue'));
  t.same([...r.world.cutover.frozen], ['blue'], 'blue is frozen while green catches up');
  const during = await r.controller.view('demo');
  t.match(during.cutover, { direction: 'blue->green', step: 'catch-up', stepsDone: 3, stepsTotal: FORWARD_STEPS.length, steps: FORWARD_STEPS, frozenAt: r.clock.now(), committed: false });
  t.match(r.controller.cutover('demo').current, { direction: 'blue->green', step: 'catch-up' }, 'the metrics read the same without a query');
  r.clock.advance(1.5);
  r.world.cutover.release('catch-up blue');
  await running;

  t.equal((await r.store.getIntent(intent.id))!.status, 'done');
  t.same(forward.log(), [
    'parity blue',
    'snapshot blue',
    'freeze blue',
    'catch-up blue',
    'sequences blue',
    'validate blue',
    'replicate-from green',
    'submit reader 100, writer 100',
    'open-writes green',
    'insync',
  ], 'parity before the freeze; writes open on green right after the writer change was submitted, before INSYNC');
  t.same(forward.applied(), [ALL_GREEN], 'the writer moved to green in one change');
  t.ok(r.world.traffic.applied.at(-1)!.urgent, 'the flip goes first in line for the request budget');
  let pair = await peek(r);
  t.match(pair, { stage: 'green', transition: null, drain: { side: 'blue', reason: /cutover to green/ } });
  t.match(pair.lastTransition, { kind: 'cutover', from: 'reads-100', to: 'green', outcome: 'finished', committed: true, stepNames: FORWARD_STEPS });
  t.same(pair.lastTransition!.steps!.map((s) => s.status), FORWARD_STEPS.map(() => 'done'));
  t.equal(r.world.cutover.writable, 'green');
  t.equal(r.world.cutover.publisher, 'green', 'replication runs green -> blue');
  t.same([...r.world.cutover.frozen], ['blue'], 'blue stays frozen');
  t.same(forward.actions(), ['cutover-started:info', ...FORWARD_STEPS.slice(0, -1).map(() => 'cutover-step:info'), 'cutover:ok']);
  t.same(events(r, 'cutover-step').map((e) => (e.details as { step: string }).step), FORWARD_STEPS.slice(0, -1));
  t.match(events(r, 'cutover')[0]!.details, { writeWindow: { pgshiftMs: 1500, route53Ms: 5 } });
  const after = await r.controller.view('demo');
  t.equal(after.cutover, null);
  t.match(after.lastWriteWindow, { direction: 'blue->green', pgshiftMs: 1500, route53Ms: 5 });
  t.equal(after.retired, null);
  t.match(r.controller.cutover('demo'), { current: null, lastWriteWindow: { pgshiftMs: 1500 } });

  // Blue's leftover sessions end one TTL later (0 here), on the next tick.
  const drainedBefore = r.world.drained.length;
  await r.controller.tickOnce();
  t.same(r.world.drained.slice(drainedBefore), ['blue']);
  t.equal((await peek(r)).drain, null);

  // Back: reads to blue first, then the writer, with nothing lost.
  const back = mark(r);
  const revert = await ask(r, 'revert', { reason: 'green is slow' });
  t.equal(revert.status, 'done');
  t.same(back.log(), [
    'parity green',
    'unfreeze blue',
    'submit reader 0, writer 100',
    'insync',
    'snapshot green',
    'freeze green',
    'catch-up green',
    'sequences green',
    'validate green',
    'replicate-from blue',
    'submit reader 0, writer 0',
    'open-writes blue',
    'insync',
    'unfreeze green',
  ], 'blue opens for reads before they go back to it; green opens for reads again at the end');
  t.same(back.applied(), [READS_BACK, ALL_BLUE], 'reads went back first, then the writer');
  pair = await peek(r);
  t.match(pair, { stage: 'baseline', transition: null, drain: { side: 'green', reason: /revert to baseline/ } });
  t.match(pair.lastTransition, { kind: 'revert', from: 'green', to: 'baseline', outcome: 'finished', stepNames: BACK_STEPS });
  t.equal(r.world.cutover.writable, 'blue');
  t.equal(r.world.cutover.publisher, 'blue', 'replication runs blue -> green again');
  t.same([...r.world.cutover.frozen], [], 'nothing is left frozen');
  t.same(back.actions(), ['revert-started:info', ...BACK_STEPS.slice(0, -1).map(() => 'revert-step:info'), 'revert:ok']);
  t.match(events(r, 'revert')[0]!.details, { writeWindow: { pgshiftMs: Number, route53Ms: 5 } });
  t.match((await r.controller.view('demo')).lastWriteWindow, { direction: 'green->blue' });
  await r.controller.tickOnce();
  t.equal(r.world.drained.at(-1), 'green', "green's leftover sessions are ended after the revert");
});

t.test('a catch-up that times out unfreezes blue and refuses the cutover; nothing reaches Route 53', async (t) => {
  const r = await rig(t);
  await walkToReads100(t, r);
  const m = mark(r);
  const callsAt = r.world.traffic.calls.length;
  r.world.cutover.failWith.set('catch-up blue', new PgshiftError('PGSHIFT_ERR_REPLICATION_CATCHUP_TIMEOUT', 'the fence row did not reach green in 5 s', { status: 504 }));
  const intent = await ask(r, 'advance');

  t.same(m.log(), ['parity blue', 'snapshot blue', 'freeze blue', 'catch-up blue', 'unfreeze blue'], 'rolled back newest first');
  t.notOk(r.world.traffic.calls.slice(callsAt).includes('submit'), 'nothing was sent to Route 53');
  t.same(r.world.traffic.weights, { reader: { blue: 0, green: 100 }, writer: { blue: 100, green: 0 } });
  const pair = await peek(r);
  t.match(pair, { stage: 'reads-100', transition: null, drain: null });
  t.match(pair.lastTransition, { kind: 'cutover', outcome: 'rolled-back', abandoned: { intentId: null, details: { code: 'PGSHIFT_ERR_CUTOVER_CATCHUP_TIMEOUT' } } });
  t.same([...r.world.cutover.frozen], []);
  t.equal(r.world.cutover.writable, 'blue');
  t.equal(r.world.cutover.publisher, 'blue');
  t.match(intent, { status: 'rejected', result: { reason: /green did not catch up with blue within 5 s of the freeze/, details: { code: 'PGSHIFT_ERR_CUTOVER_CATCHUP_TIMEOUT' } } });
  t.same(m.actions(), ['cutover-started:info', 'cutover-step:info', 'cutover-step:info', 'cutover-step:info', 'cutover-refused:rejected', 'cutover-rolled-back:ok']);
  const refused = events(r, 'cutover-refused')[0]!;
  const steps = (refused.details as { steps: { name: string; status: string; ms: number }[] }).steps;
  t.same(steps.map((s) => `${s.name}:${s.status}`), ['checks:done', 'snapshot:done', 'freeze:done', 'catch-up:started'], 'the refusal says where the time went');
  t.ok(steps.every((s) => typeof s.ms === 'number' && s.ms >= 0), 'each step with its ms');

  // Nothing stuck: the next try goes through.
  t.equal((await ask(r, 'advance')).status, 'done');
  t.equal((await peek(r)).stage, 'green');
});

t.test('missing objects on green or a preflight blocker refuse the cutover before anything is frozen', async (t) => {
  const r = await rig(t);
  await walkToReads100(t, r);

  let m = mark(r);
  r.world.cutover.parityProblems = [{ kind: 'sequence', database: 'app', object: 'public.orders_id_seq', message: 'green lacks sequence public.orders_id_seq' }];
  let intent = await ask(r, 'advance');
  t.match(intent, { status: 'rejected', result: { reason: /refused before anything was frozen: green lacks sequence public\.orders_id_seq/, details: { code: 'PGSHIFT_ERR_CUTOVER_REFUSED' } } });
  t.same(m.log(), ['parity blue'], 'no snapshot, no freeze');
  t.same(m.applied(), []);
  t.match(await peek(r), { stage: 'reads-100', transition: null });
  t.same(m.actions(), ['cutover-started:info', 'cutover-refused:rejected', 'cutover-rolled-back:ok']);

  m = mark(r);
  r.world.cutover.parityProblems = [];
  r.world.preflightBlockers = [{ check: 'app-roles', database: 'app', object: 'role postgres', message: 'the application connects as the master user, which pgshift cannot freeze' }];
  intent = await ask(r, 'advance');
  t.match(intent, { status: 'rejected', result: { reason: /preflight: the application connects as the master user/ } });
  t.same(m.log(), ['parity blue']);
  t.same(m.applied(), []);
  t.same([...r.world.cutover.frozen], []);
  t.equal((await peek(r)).stage, 'reads-100');
  // Any drain a read step left due runs now, so that the next tick is the one that acts on the next intent.
  for (let round = 0; round < 3 && (await peek(r)).drain; round++) await r.controller.tickOnce();
});

t.test('a lag over cutover.maxLagSeconds refuses before anything is frozen', async (t) => {
  const r = await rig(t);
  await walkToReads100(t, r);
  const m = mark(r);
  r.world.signals.replication = () => ({ direction: 'blue->green', lagSeconds: 7.5, lagBytes: 1e6, healthy: true });
  const intent = await ask(r, 'advance');
  t.match(intent, { status: 'rejected', result: { reason: /lag 7\.5 s > 2 s \(cutover\.maxLagSeconds\)/ } });
  t.same(m.log(), ['parity blue']);
});

/** A cutover held at `step`, then its process stopped (as when it dies): the journal stays. */
async function interrupted(t: Test, step: string): Promise<{ first: Rig; intent: Intent }> {
  const first = await rig(t);
  await walkToReads100(t, first);
  first.world.cutover.hold.add(step);
  const intent = await first.controller.request('demo', 'advance', { actor: 'ops' });
  const running = first.controller.tickOnce();
  await waitFor(step, () => first.world.cutover.log.includes(step));
  const stopping = first.controller.stop();
  first.world.cutover.release(step);
  await stopping;
  await running;
  return { first, intent };
}

t.test('a process that dies before the writer flips leaves a cutover the next one rolls back', async (t) => {
  const { first, intent } = await interrupted(t, 'replicate-from green');
  let pair = await peek(first);
  t.match(pair, { stage: 'reads-100', transition: { kind: 'cutover', committed: false } });
  t.notOk(pair.transition!.committed);
  t.same([...first.world.cutover.frozen], ['blue'], 'blue was left frozen');
  t.equal(first.world.cutover.publisher, 'green');

  const m = mark(first);
  const next = await rig(t, { instanceId: 'test-2', shared: first });
  await next.controller.tickOnce();
  t.same(m.log(), ['replicate-from blue', 'unfreeze blue'], 'undone newest first');
  t.same(m.applied(), [], 'the writer never moved');
  pair = await peek(next);
  t.match(pair, { stage: 'reads-100', transition: null, lastTransition: { kind: 'cutover', outcome: 'rolled-back' } });
  t.same([...first.world.cutover.frozen], []);
  t.equal(first.world.cutover.publisher, 'blue', 'blue publishes again');
  t.equal(first.world.cutover.writable, 'blue');
  t.equal((await next.store.getIntent(intent.id))!.status, 'failed');
  t.ok(next.store.actions('demo').includes('cutover-rolled-back:ok'));
});

t.test('a revert asked for while nobody runs an interrupted cutover undoes it, then reverts the reads', async (t) => {
  const { first } = await interrupted(t, 'sequences blue');
  const m = mark(first);
  const next = await rig(t, { instanceId: 'test-2', shared: first });
  const revert = await ask(next, 'revert', { reason: 'not today' });
  t.equal(revert.status, 'done');
  t.same(m.log().filter((l) => !l.startsWith('submit') && l !== 'insync'), ['unfreeze blue']);
  t.same(m.applied(), [ALL_BLUE], 'then the reads went back to blue');
  t.match(await peek(next), { stage: 'baseline', transition: null });
  t.match(next.store.events.find((e) => e.action === 'cutover-cancelled'), { outcome: 'info', reason: 'not today', actor: 'ops' });
});

t.test('a process that dies after the writer change was journaled leaves a cutover the next one finishes', async (t) => {
  const first = await rig(t);
  await walkToReads100(t, first);
  const m = mark(first);
  first.world.traffic.failAfterSubmit = unavailable('connection reset while waiting for INSYNC');
  const intent = await first.controller.request('demo', 'advance', { actor: 'ops' });
  await first.controller.tickOnce();
  let pair = await peek(first);
  t.match(pair, { stage: 'reads-100', transition: { kind: 'cutover', committed: true } });
  t.equal(pair.transition!.steps!.at(-1)!.name, 'flip-writer');
  t.equal(first.world.cutover.writable, 'green', 'writes opened on green right after the submit');
  await first.controller.stop();

  const next = await rig(t, { instanceId: 'test-2', shared: first });
  await next.controller.tickOnce();
  pair = await peek(next);
  t.match(pair, { stage: 'green', transition: null, lastTransition: { kind: 'cutover', outcome: 'finished' } });
  t.same(m.applied(), [ALL_GREEN, ALL_GREEN], 'the resumed flip sent the same change again');
  t.notOk(m.log().some((l) => l.startsWith('unfreeze')), 'nothing was undone');
  t.equal(first.world.cutover.publisher, 'green');
  t.equal(first.world.cutover.writable, 'green');
  t.same([...first.world.cutover.frozen], ['blue']);
  t.equal((await next.store.getIntent(intent.id))!.status, 'done');
  const window = events(next, 'cutover')[0]!.details as { writeWindow: { pgshiftMs: number } };
  t.equal(window.writeWindow.pgshiftMs, 0, 'the window ends at the first submission (no fake time passed)');
});

t.test('a revert asked for during the cutover, before the flip, gives it up and undoes it, then reverts to baseline', async (t) => {
  const r = await rig(t);
  await walkToReads100(t, r);
  const m = mark(r);
  r.world.cutover.hold.add('catch-up blue');
  const cutover = await r.controller.request('demo', 'advance', { actor: 'ops' });
  const running = r.controller.tickOnce();
  await waitFor('the catch-up', () => r.world.cutover.log.includes('catch-up blue'));

  // The loop's next round sees the revert while the pair is busy, and aborts the cutover.
  let seen = false;
  const pending = r.store.pendingIntents.bind(r.store);
  r.store.pendingIntents = async (pair) => {
    const intents = await pending(pair);
    if (intents.some((i) => i.action === 'revert')) setImmediate(() => (seen = true));
    return intents;
  };
  const revert = await r.controller.request('demo', 'revert', { actor: 'alice', reason: 'stop' });
  const round = r.controller.tickOnce();
  await waitFor('the loop to see the revert', () => seen);
  r.world.cutover.release('catch-up blue');
  await running;
  await round;

  let pair = await peek(r);
  t.match(pair, { stage: 'reads-100', transition: null, lastTransition: { kind: 'cutover', outcome: 'rolled-back', abandoned: { actor: 'alice', reason: 'stop', intentId: revert.id } } });
  t.same([...r.world.cutover.frozen], [], 'blue is unfrozen');
  t.same(m.applied(), [], 'the writer never moved');
  t.match(await r.store.getIntent(cutover.id), { status: 'failed', result: { reason: 'cancelled: stop' } });
  t.ok(r.store.actions('demo').includes('cutover-cancelled:info'));

  t.equal((await settle(r, revert.id)).status, 'done', 'the revert itself then sends the reads back');
  pair = await peek(r);
  t.equal(pair.stage, 'baseline');
  t.same(m.applied(), [ALL_BLUE]);
  t.same(
    m.log().filter((l) => !l.startsWith('submit') && l !== 'insync'),
    ['parity blue', 'snapshot blue', 'freeze blue', 'catch-up blue', 'unfreeze blue'],
  );
});

t.test('a revert trigger during the cutover does not overtake it', async (t) => {
  const r = await rig(t);
  await walkToReads100(t, r);
  const m = mark(r);
  const callsAt = r.world.traffic.calls.length;
  r.world.cutover.hold.add('validate blue');
  const intent = await r.controller.request('demo', 'advance', { actor: 'ops' });
  const running = r.controller.tickOnce();
  await waitFor('the validation', () => r.world.cutover.log.includes('validate blue'));
  r.world.signals.breach('lag-seconds', 30, 3, r.clock.now());
  t.notOk(r.world.traffic.calls.slice(callsAt).includes('submit'), 'the fast path sent nothing');
  const round = r.controller.tickOnce();
  r.world.cutover.release('validate blue');
  await running;
  await round;
  await r.controller.tickOnce();

  t.equal((await r.store.getIntent(intent.id))!.status, 'done');
  t.match(await peek(r), { stage: 'green', halted: false });
  t.same(m.applied(), [ALL_GREEN], 'no revert change batch');
  t.same(events(r, 'auto-revert'), []);
  t.same(r.world.traffic.weights, ALL_GREEN);
});

t.test('finalize: only at green and after the rollback window (unless ignored); closes the way back for good', async (t) => {
  const r = await rig(t, { rollbackWindowMs: 600_000 });
  await walkToReads100(t, r);
  await t.rejects(r.controller.request('demo', 'finalize', { actor: 'ops' }), {
    code: 'PGSHIFT_ERR_CANNOT_FINALIZE',
    status: 409,
    message: /finalize closes the way back from green; the pair is at reads-100/,
  });
  t.equal((await ask(r, 'advance')).status, 'done');
  t.equal((await peek(r)).stage, 'green');

  r.clock.advance(60);
  await t.rejects(r.controller.request('demo', 'finalize', { actor: 'ops' }), {
    code: 'PGSHIFT_ERR_CANNOT_FINALIZE',
    status: 409,
    message: /the rollback window is open for 540 s more \(cutover\.rollbackWindowSeconds\)/,
  });
  t.same(events(r, 'finalize').map((e) => e.outcome), ['rejected', 'rejected'], 'each refusal is in the audit log');
  t.equal(r.store.intents.size, [...r.store.intents.values()].filter((i) => i.action !== 'finalize').length, 'no finalize intent recorded');

  // The advance guard at green points at finalize.
  await t.rejects(r.controller.request('demo', 'advance', { actor: 'ops' }), {
    code: 'PGSHIFT_ERR_GUARDS_FAILED',
    details: { guards: [{ name: 'next-stage', detail: /finalize closes the way back/ }] },
  });

  const m = mark(r);
  const done = await ask(r, 'finalize', { ignoreRollbackWindow: true, reason: 'blue can go' });
  t.match(done, { status: 'done', action: 'finalize', options: { ignoreRollbackWindow: true } });
  t.same(m.log(), ['close-way-back']);
  t.ok(r.world.cutover.closed);
  t.same(m.applied(), [], 'finalize moves no traffic');
  const pair = await peek(r);
  t.match(pair, { stage: 'finalized', transition: null, drain: null, lastTransition: { kind: 'finalize', outcome: 'finished' } });
  t.same(m.actions().filter((a) => a !== 'drain:ok'), ['finalize-started:info', 'finalize:ok'], "(blue's drain after the cutover may come first)");
  t.match((await r.controller.view('demo')).retired, /blue is frozen and read-only, and may be retired/);

  const revert = await ask(r, 'revert');
  t.match(revert, { status: 'rejected', result: { reason: /the way back was closed when the pair was finalized/ } });
  t.equal((await peek(r)).stage, 'finalized');
  t.same(m.applied(), []);
  await t.rejects(r.controller.request('demo', 'finalize', { actor: 'ops' }), { code: 'PGSHIFT_ERR_CANNOT_FINALIZE', message: /already finalized/ });
});

t.test('finalize goes without ignoring the window once it has passed', async (t) => {
  const r = await rig(t, { rollbackWindowMs: 60_000 });
  await walkToReads100(t, r);
  t.equal((await ask(r, 'advance')).status, 'done');
  r.clock.advance(60);
  const done = await ask(r, 'finalize');
  t.equal(done.status, 'done');
  t.equal((await peek(r)).stage, 'finalized');
});

t.test('a revert from green that is refused (green does not catch up) leaves everything on green as it was', async (t) => {
  const r = await rig(t);
  await walkToReads100(t, r);
  t.equal((await ask(r, 'advance')).status, 'done');
  const m = mark(r);
  r.world.cutover.failWith.set('catch-up green', new PgshiftError('PGSHIFT_ERR_REPLICATION_CATCHUP_TIMEOUT', 'the fence row did not reach blue', { status: 504 }));
  const revert = await ask(r, 'revert');
  t.match(revert, { status: 'rejected', result: { reason: /blue did not catch up with green/ } });
  t.same(
    m.log().filter((l) => l !== 'insync'),
    ['parity green', 'unfreeze blue', 'submit reader 0, writer 100', 'snapshot green', 'freeze green', 'catch-up green', 'unfreeze green', 'submit reader 100, writer 100', 'freeze blue'],
    'undone newest first: green unfrozen, reads back on green, blue frozen again',
  );
  t.match(await peek(r), { stage: 'green', transition: null, lastTransition: { kind: 'revert', outcome: 'rolled-back' } });
  t.same(r.world.traffic.weights, ALL_GREEN);
  t.equal(r.world.cutover.writable, 'green');
  t.equal(r.world.cutover.publisher, 'green');
  t.same([...r.world.cutover.frozen], ['blue']);
});

// ---- races found while testing (see the report): these fail until the executor is fixed ----

t.test('a revert trigger that fires while the cutover is being journaled keeps writes on blue', async (t) => {
  const r = await rig(t);
  await walkToReads100(t, r);
  const m = mark(r);
  // The breaching sample arrives while the store writes the cutover's first journal entry.
  const update = r.store.updatePair.bind(r.store);
  let fired = false;
  r.store.updatePair = async (id, version, patch, now, event) => {
    if (!fired && patch.transition?.kind === 'cutover') {
      fired = true;
      r.world.signals.breach('lag-seconds', 30, 3, r.clock.now());
    }
    return update(id, version, patch, now, event);
  };
  const intent = await r.controller.request('demo', 'advance', { actor: 'ops' });
  for (let round = 0; round < 4; round++) await r.controller.tickOnce();
  t.ok(fired);
  const pair = await peek(r);
  t.equal(pair.stage, 'baseline', 'the auto-revert wins: back at baseline');
  t.ok(pair.halted);
  t.same(r.world.traffic.weights, ALL_BLUE);
  t.notOk(m.log().includes('freeze blue'), 'blue was never frozen');
  t.same([...r.world.cutover.frozen], [], 'blue takes writes');
  t.equal(r.world.cutover.writable, 'blue');
  t.equal(r.world.cutover.publisher, 'blue');
  t.not((await r.store.getIntent(intent.id))!.status, 'done');
});

t.test('a revert whose cancel lands after the writer flipped does not roll the committed cutover back', async (t) => {
  const r = await rig(t);
  await walkToReads100(t, r);
  // INSYNC is slow and, as the real router's, ends on abort.
  let insyncWaiting = false;
  let insyncGo: (() => void) | null = null;
  const insync = r.world.traffic.waitInsync.bind(r.world.traffic);
  r.world.traffic.waitInsync = async (change: SubmittedChange, signal?: AbortSignal) => {
    if (r.world.cutover.writable === 'green' && r.world.traffic.applied.at(-1)?.weights.writer.green === 100 && !insyncGo) {
      insyncWaiting = true;
      await new Promise<void>((resolve, reject) => {
        insyncGo = resolve;
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
    }
    return insync(change);
  };
  r.world.cutover.hold.add('replicate-from green');
  await r.controller.request('demo', 'advance', { actor: 'ops' });
  const running = r.controller.tickOnce();
  await waitFor('the switch of replication', () => r.world.cutover.log.includes('replicate-from green'));

  // The state store answers the cancel's read slowly: by then the writer has flipped.
  let gate: (() => void) | null = null;
  let checked = false;
  const pending = r.store.pendingIntents.bind(r.store);
  r.store.pendingIntents = async (pair) => {
    const intents = await pending(pair);
    if (intents.some((i) => i.action === 'revert') && !gate) {
      await new Promise<void>((resolve) => (gate = resolve));
      // The caller acts on the answer in the microtasks that follow.
      setImmediate(() => (checked = true));
    }
    return intents;
  };
  await r.controller.request('demo', 'revert', { actor: 'alice' });
  const round = r.controller.tickOnce();
  await waitFor('the cancel to read the intents', () => gate !== null);
  r.world.cutover.release('replicate-from green');
  await waitFor('the flip to wait for INSYNC', () => insyncWaiting);
  t.match(await peek(r), { transition: { committed: true } }, 'the flip is journaled: past the point of no return');
  (gate as (() => void) | null)?.();
  await waitFor('the cancel to act on the answer', () => checked);
  (insyncGo as (() => void) | null)?.();
  await running;
  await round;
  r.store.pendingIntents = pending;
  await r.controller.tickOnce();

  t.equal(r.world.cutover.writable, 'green', 'writes stay open on green');
  t.equal(r.world.cutover.publisher, 'green', 'replication still runs green -> blue (blue must not publish while green takes writes)');
  t.same([...r.world.cutover.frozen], ['blue'], 'blue stays frozen');
  const pair = await peek(r);
  t.not(pair.lastTransition?.outcome === 'rolled-back' && pair.lastTransition.kind === 'cutover', true, 'the committed cutover was not rolled back');
  t.ok(['green', 'baseline'].includes(pair.stage), `the pair is at green (or the revert from green ran): ${pair.stage}`);
});
