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
  return { id: `i-${action}`, pair: 'demo', action, expectedStage: null, reason: null, actor: 'ops', createdAt: NOW, status: 'pending', result: null, finishedAt: null, options: null, ...over };
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
    pair: { id: 'demo', plan, bakeSeconds: 60, autoAdvance: false, rollbackWindowMs: 0 },
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

const cutover = { ...transition, id: 'c1', kind: 'cutover' as const, from: 'reads-100', to: 'green', weights: weightsOf('green'), intentId: 'i-advance' };
const windowed = (ms: number) => ({ id: 'demo', plan, bakeSeconds: 60, autoAdvance: false, rollbackWindowMs: ms });

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
  ['advance past reads-100 is the write cutover to green', input('reads-100', { intents: [intent('advance')] }), { type: 'transition', kind: 'cutover', to: { stage: 'green', kind: 'green' } }],
  ['advance while weights drifted', input('reads-10', { observed: { ...weightsOf('reads-25'), at: NOW }, driftReported: true, intents: [intent('advance')] }), { type: 'reject' }],
  ['advance with a signal without data', input('reads-10', { signals: [{ ...healthySignal('probe.p95_ms', NOW), state: 'unknown', summary: 'no reading yet' }], intents: [intent('advance')] }), { type: 'reject', reason: /no data/ }],
  ['revert from a read stage', input('reads-50', { intents: [intent('revert')] }), { type: 'transition', kind: 'revert', to: { stage: 'baseline' } }],
  ['revert at baseline with the records right', input('baseline', { intents: [intent('revert')] }), { type: 'finish-intent', note: 'already at baseline' }],
  ['a revert overtakes an earlier advance', input('reads-10', { intents: [intent('advance'), intent('revert')] }), { type: 'transition', kind: 'revert', overtaken: [{ action: 'advance' }] }],
  ['auto-advance when every guard holds', input('reads-10', { pair: { id: 'demo', plan, bakeSeconds: 60, autoAdvance: true, rollbackWindowMs: 0 } }), { type: 'transition', kind: 'advance', intent: null, to: { stage: 'reads-25' } }],
  ['no auto-advance while the weights drifted', input('reads-10', { pair: { id: 'demo', plan, bakeSeconds: 60, autoAdvance: true, rollbackWindowMs: 0 }, observed: { ...weightsOf('reads-25'), at: NOW }, driftReported: true }), { type: 'idle' }],
  ['prepare from unprepared', input('unprepared', { intents: [intent('prepare')] }), { type: 'transition', kind: 'prepare', to: { stage: 'baseline' } }],
  ['a revert asked for during a preparation gives it up', input('unprepared', { state: state('unprepared', { transition: prepare }), intents: [intent('revert')] }), { type: 'cancel-transition', transition: { id: 'p1' }, intent: { action: 'revert' } }],
  ['a preparation already given up is rolled back, not cancelled again', input('unprepared', { state: state('unprepared', { transition: { ...prepare, abandoned: { at: NOW, actor: 'ops', reason: 'r', intentId: 'i-revert' } } }), intents: [intent('revert')] }), { type: 'resume-transition' }],
  ['no auto-advance while paused', input('reads-10', { pair: { id: 'demo', plan, bakeSeconds: 60, autoAdvance: true, rollbackWindowMs: 0 }, state: state('reads-10', { paused: true }) }), { type: 'idle' }],
  // The write cutover and after.
  ['auto-advance from reads-100 is the cutover', input('reads-100', { pair: { ...windowed(0), autoAdvance: true } }), { type: 'transition', kind: 'cutover', intent: null, to: { stage: 'green' } }],
  ['no advance past green: finalize closes the way back', input('green', { intents: [intent('advance')] }), { type: 'reject', reason: /next-stage: green is the last stage advancing reaches: finalize/ }],
  ['no auto-advance at green', input('green', { pair: { ...windowed(0), autoAdvance: true } }), { type: 'idle' }],
  ['a reverting signal at green changes nothing (the way back is a revert intent)', input('green', { signals: [breached(true)] }), { type: 'idle' }],
  ['revert at green is the cutover run back to blue', input('green', { intents: [intent('revert')] }), { type: 'transition', kind: 'revert', to: { stage: 'baseline' } }],
  ['revert at finalized is refused', input('finalized', { intents: [intent('revert')] }), { type: 'reject', reason: /the way back was closed when the pair was finalized/ }],
  ['finalize at green once the window passed', input('green', { pair: windowed(120_000), intents: [intent('finalize')] }), { type: 'transition', kind: 'finalize', to: { stage: 'finalized' } }],
  ['finalize at green a millisecond inside the window', input('green', { pair: windowed(120_001), intents: [intent('finalize')] }), { type: 'reject', reason: /the rollback window is open for 1 s more/ }],
  ['finalize at green inside the window', input('green', { pair: windowed(600_000), intents: [intent('finalize')] }), { type: 'reject', reason: /the rollback window is open for 480 s more \(cutover\.rollbackWindowSeconds\)/ }],
  ['finalize inside the window, ignoring it', input('green', { pair: windowed(600_000), intents: [intent('finalize', { options: { ignoreRollbackWindow: true } })] }), { type: 'transition', kind: 'finalize' }],
  ['finalize before green', input('reads-100', { intents: [intent('finalize', { options: { ignoreRollbackWindow: true } })] }), { type: 'reject', reason: /finalize closes the way back from green; the pair is at reads-100/ }],
  ['finalize twice', input('finalized', { intents: [intent('finalize')] }), { type: 'reject', reason: /already finalized/ }],
  ['a revert asked for during a cutover before its flip gives it up', input('reads-100', { state: state('reads-100', { transition: cutover }), intents: [intent('revert')] }), { type: 'cancel-transition', transition: { id: 'c1' }, intent: { action: 'revert' } }],
  ['a cutover past its flip is finished, revert or not', input('reads-100', { state: state('reads-100', { transition: { ...cutover, committed: true } }), intents: [intent('revert')] }), { type: 'resume-transition', transition: { id: 'c1' } }],
  ['a cutover already given up is rolled back, not cancelled again', input('reads-100', { state: state('reads-100', { transition: { ...cutover, abandoned: { at: NOW, actor: 'ops', reason: 'r', intentId: 'i-revert' } } }), intents: [intent('revert')] }), { type: 'resume-transition' }],
  ['a journaled cutover is not overtaken by a reverting signal', input('reads-100', { state: state('reads-100', { transition: cutover }), signals: [breached(true)] }), { type: 'resume-transition' }],
  ['a revert from green under way is not cancelled by another revert', input('green', { state: state('green', { transition: { ...cutover, kind: 'revert', from: 'green', to: 'baseline', weights: weightsOf('baseline') } }), intents: [intent('revert')] }), { type: 'resume-transition' }],
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
