import t from 'tap';
import { decide, type DecideInput } from '../../src/shift/decide.js';
import { planStages } from '../../src/shift/stages.js';
import type { Intent, IntentAction, PairState } from '../../src/shift/state.js';
import type { SignalStatus } from '../../src/shift/view-schemas.js';
import { healthySignal } from '../helpers/fake-world.js';

const NOW = 1_700_000_000_000;
const plan = planStages([10, 25, 50, 100]);
const weightsOf = (stage: string) => plan.find((p) => p.stage === stage)!.weights;

function state(stage: string, over: Partial<PairState> = {}): PairState {
  return {
    id: 'demo',
    stage,
    paused: false,
    halted: false,
    haltReason: null,
    stageEnteredAt: NOW - 120_000,
    version: 7,
    transition: null,
    lastTransition: null,
    drain: null,
    updatedAt: NOW,
    ...over,
  };
}

function intent(action: IntentAction, over: Partial<Intent> = {}): Intent {
  return { id: `i-${action}`, pair: 'demo', action, expectedStage: null, reason: null, actor: 'ops', createdAt: NOW, status: 'pending', result: null, finishedAt: null, ...over };
}

const breached = (reverts: boolean): SignalStatus => ({
  ...healthySignal('replication.lag_seconds', NOW),
  state: 'breached',
  reverts,
  value: 12,
  consecutiveBreaches: reverts ? 3 : 2,
  summary: 'replication.lag_seconds: 12 > 5 for 3 readings in a row',
});

function input(stage: string, over: Partial<DecideInput> = {}): DecideInput {
  return {
    pair: { id: 'demo', plan, bakeSeconds: 60, autoAdvance: false },
    state: state(stage),
    observed: { ...weightsOf(stage), at: NOW },
    signals: [healthySignal('replication.lag_seconds', NOW)],
    clusters: { ok: true, problems: [] },
    preflight: { ok: true, blockers: 0, at: NOW },
    intents: [],
    driftReported: false,
    now: NOW,
    ...over,
  };
}

const transition = {
  id: 't1',
  kind: 'advance' as const,
  from: 'reads-10',
  to: 'reads-25',
  weights: weightsOf('reads-25'),
  startedAt: NOW,
  actor: 'ops',
  reason: null,
  intentId: null,
};

const prepare = { ...transition, id: 'p1', kind: 'prepare' as const, from: 'unprepared', to: 'baseline', weights: weightsOf('baseline'), committed: true };

const cases: [string, DecideInput, Record<string, unknown>][] = [
  ['nothing to do at baseline', input('baseline'), { type: 'idle' }],
  ['a journaled transition is resumed before intents and drift', input('reads-10', { state: state('reads-10', { transition }), intents: [intent('pause')], observed: { ...weightsOf('reads-50'), at: NOW } }), { type: 'resume-transition' }],
  ['a journaled advance overtaken by a reverting signal: the revert wins', input('reads-10', { state: state('reads-10', { transition: { ...transition, committed: true } }), signals: [breached(true)] }), { type: 'auto-revert' }],
  ['a journaled advance, reads found all on blue (a revert submitted, not yet recorded): adopted', input('reads-10', { state: state('reads-10', { transition: { ...transition, committed: true } }), observed: { ...weightsOf('baseline'), at: NOW } }), { type: 'adopt-revert' }],
  ['a journaled advance from baseline with the records still at baseline is resumed', input('baseline', { state: state('baseline', { transition: { ...transition, from: 'baseline', to: 'reads-10', weights: weightsOf('reads-10'), committed: true } }) }), { type: 'resume-transition' }],
  ['a journaled revert is finished whatever the signals say', input('reads-10', { state: state('reads-10', { transition: { ...transition, kind: 'revert', to: 'baseline', weights: weightsOf('baseline'), committed: true } }), signals: [breached(true)] }), { type: 'resume-transition' }],
  ['a reverting signal at a read stage reverts', input('reads-50', { signals: [breached(true)] }), { type: 'auto-revert', reason: /12 > 5/ }],
  ['a breach below its count does not revert', input('reads-50', { signals: [breached(false)] }), { type: 'idle' }],
  ['a reverting signal at baseline changes nothing', input('baseline', { signals: [breached(true)] }), { type: 'idle' }],
  ['the revert comes before an operator intent', input('reads-10', { signals: [breached(true)], intents: [intent('advance')] }), { type: 'auto-revert' }],
  ['reads all on blue during a read stage: adopted', input('reads-25', { observed: { ...weightsOf('baseline'), at: NOW } }), { type: 'adopt-revert' }],
  ['other weights during a read stage: paused and reported', input('reads-25', { observed: { ...weightsOf('reads-50'), at: NOW } }), { type: 'pause-for-drift', reason: /differs from stage reads-25/ }],
  ['a drift already reported is not reported again', input('reads-25', { observed: { ...weightsOf('reads-50'), at: NOW }, driftReported: true }), { type: 'idle' }],
  ['missing records are drift', input('reads-25', { observed: { reader: null, writer: null, at: NOW } }), { type: 'pause-for-drift', reason: /records missing/ }],
  ['a drain not yet due waits', input('baseline', { state: state('baseline', { drain: { side: 'green', dueAt: NOW + 1, reason: 'r' } }) }), { type: 'idle' }],
  ['a drain due now runs', input('baseline', { state: state('baseline', { drain: { side: 'green', dueAt: NOW, reason: 'r' } }) }), { type: 'drain', drain: { side: 'green' } }],
  ['pause', input('reads-10', { intents: [intent('pause')] }), { type: 'set-flags', patch: { paused: true } }],
  ['resume clears a pause and a halt', input('baseline', { intents: [intent('resume')] }), { type: 'set-flags', patch: { paused: false, halted: false, haltReason: null } }],
  ['advance from baseline', input('baseline', { intents: [intent('advance')] }), { type: 'transition', kind: 'advance', to: { stage: 'reads-10' } }],
  ['advance with the wrong expected stage', input('reads-10', { intents: [intent('advance', { expectedStage: 'baseline' })] }), { type: 'reject', reason: /expected stage baseline/ }],
  ['advance while halted', input('baseline', { state: state('baseline', { halted: true, haltReason: 'lag' }), intents: [intent('advance')] }), { type: 'reject', reason: /not-halted/ }],
  ['advance without a preflight report', input('baseline', { preflight: null, intents: [intent('advance')] }), { type: 'reject', reason: /preflight/ }],
  ['advance past reads-100', input('reads-100', { intents: [intent('advance')] }), { type: 'reject', reason: /write cutover/ }],
  ['advance while weights drifted', input('reads-10', { observed: { ...weightsOf('reads-25'), at: NOW }, driftReported: true, intents: [intent('advance')] }), { type: 'reject' }],
  ['advance with a signal without data', input('reads-10', { signals: [{ ...healthySignal('probe.p95_ms', NOW), state: 'unknown', summary: 'no reading yet' }], intents: [intent('advance')] }), { type: 'reject', reason: /no data/ }],
  ['revert from a read stage', input('reads-50', { intents: [intent('revert')] }), { type: 'transition', kind: 'revert', to: { stage: 'baseline' } }],
  ['revert at baseline with the records right', input('baseline', { intents: [intent('revert')] }), { type: 'finish-intent', note: 'already at baseline' }],
  ['a revert overtakes an earlier advance', input('reads-10', { intents: [intent('advance'), intent('revert')] }), { type: 'transition', kind: 'revert', overtaken: [{ action: 'advance' }] }],
  ['auto-advance when every guard holds', input('reads-10', { pair: { id: 'demo', plan, bakeSeconds: 60, autoAdvance: true } }), { type: 'transition', kind: 'advance', intent: null, to: { stage: 'reads-25' } }],
  ['no auto-advance while the weights drifted', input('reads-10', { pair: { id: 'demo', plan, bakeSeconds: 60, autoAdvance: true }, observed: { ...weightsOf('reads-25'), at: NOW }, driftReported: true }), { type: 'idle' }],
  ['prepare from unprepared', input('unprepared', { intents: [intent('prepare')] }), { type: 'transition', kind: 'prepare', to: { stage: 'baseline' } }],
  ['a revert asked for during a preparation gives it up', input('unprepared', { state: state('unprepared', { transition: prepare }), intents: [intent('revert')] }), { type: 'cancel-transition', transition: { id: 'p1' }, intent: { action: 'revert' } }],
  ['a preparation already given up is rolled back, not cancelled again', input('unprepared', { state: state('unprepared', { transition: { ...prepare, abandoned: { at: NOW, actor: 'ops', reason: 'r', intentId: 'i-revert' } } }), intents: [intent('revert')] }), { type: 'resume-transition' }],
  ['no auto-advance while paused', input('reads-10', { pair: { id: 'demo', plan, bakeSeconds: 60, autoAdvance: true }, state: state('reads-10', { paused: true }) }), { type: 'idle' }],
];

for (const [name, given, expected] of cases) {
  t.test(name, async (t) => {
    t.match(decide(given), expected);
  });
}

t.test('bake time at its boundaries', async (t) => {
  const at = (bakedMs: number) =>
    decide(input('reads-10', { state: state('reads-10', { stageEnteredAt: NOW - bakedMs }), intents: [intent('advance')] })).type;
  t.equal(at(59_999), 'reject', 'a millisecond short');
  t.equal(at(60_000), 'transition', 'exactly the bake time');
  t.equal(at(60_001), 'transition');
});
