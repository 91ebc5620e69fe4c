import t from 'tap';
import { decide, guardsOf, type DecideInput } from '../../src/shift/decide.js';
import { availableActions } from '../../src/shift/operator-actions.js';
import { planStages } from '../../src/shift/stages.js';
import type { IntentAction, PairState, Transition } from '../../src/shift/state.js';
import type { ActionsView } from '../../src/shift/view-schemas.js';
import { healthySignal } from '../helpers/fake-world.js';

const NOW = 1_700_000_000_000;
const plan = planStages([10, 25, 50, 100]);
const weightsOf = (stage: string) => plan.find((p) => p.stage === stage)!.weights;

function input(stage: string, over: Partial<PairState> = {}, rest: Partial<DecideInput> = {}): DecideInput {
  return {
    pair: { id: 'demo', plan, bakeSeconds: 60, autoAdvance: false, rollbackWindowMs: 600_000 },
    state: { id: 'demo', stage, paused: false, halted: false, haltReason: null, stageEnteredAt: NOW - 120_000, version: 1, transition: null, lastTransition: null, drain: null, updatedAt: NOW, ...over },
    observed: { ...weightsOf(stage), at: NOW },
    signals: [healthySignal('replication.lag_seconds', NOW)],
    clusters: { ok: true, problems: [] },
    preflight: { ok: true, blockers: 0, at: NOW },
    intents: [],
    driftReported: false,
    now: NOW,
    ...rest,
  };
}

function actionsOf(i: DecideInput): ActionsView {
  return availableActions(i.pair, i.state, guardsOf(i), i.observed, i.now);
}

/** What the controller does with the intent: refuses it, or acts. */
function controllerAccepts(i: DecideInput, action: IntentAction): boolean {
  const decided = decide({
    ...i,
    intents: [{ id: 'i1', pair: 'demo', action, expectedStage: null, reason: null, actor: 'ops', createdAt: NOW, status: 'pending', result: null, finishedAt: null, options: null }],
  });
  return decided.type !== 'reject' && decided.type !== 'finish-intent';
}

const advancing: Transition = { id: 't1', kind: 'advance', from: 'reads-10', to: 'reads-25', weights: weightsOf('reads-25'), startedAt: NOW, actor: 'ops', reason: null, intentId: null };
const cases: [string, DecideInput][] = [
  ['unprepared', input('unprepared')],
  ['baseline', input('baseline')],
  ['reads-25, baked', input('reads-25')],
  ['reads-25, baking', input('reads-25', { stageEnteredAt: NOW - 20_000 })],
  ['reads-25, halted', input('reads-25', { halted: true, haltReason: 'lag 7.2 s > limit 5 s for 3 samples' })],
  ['reads-25, paused', input('reads-25', { paused: true })],
  ['reads-100', input('reads-100')],
  ['green, inside the rollback window', input('green')],
  ['green, after the rollback window', input('green', { stageEnteredAt: NOW - 700_000 })],
  ['finalized', input('finalized')],
];

t.test('the actions the page offers are the ones the controller accepts', async (t) => {
  for (const [name, i] of cases) {
    const actions = actionsOf(i);
    for (const action of ['advance', 'revert', 'finalize'] as const) {
      t.equal(actions[action].allowed, controllerAccepts(i, action), `${name}: ${action} (${actions[action].reason ?? 'allowed'})`);
      t.equal(actions[action].reason === null, actions[action].allowed, `${name}: ${action} has a reason exactly when refused`);
    }
  }
});

t.test('each action says what it does from here, and why it is refused', async (t) => {
  t.equal(actionsOf(input('reads-25')).advance.effect, 'reads on green 25 % -> 50 %');
  t.match(actionsOf(input('reads-100')).advance.effect, /^write cutover to green: writes freeze on blue, green catches up/);
  t.equal(actionsOf(input('reads-25')).revert.effect, 'every read back to blue (reads on green 25 % -> 0 %)');
  t.match(actionsOf(input('green')).revert.effect, /^writes back to blue/);
  t.match(actionsOf(input('reads-25', { stageEnteredAt: NOW - 20_000 })).advance.reason, /20.0 s at reads-25, minimum 60 s: 40.0 s to go/);
  t.match(actionsOf(input('reads-25', { halted: true, haltReason: 'lag 7.2 s > limit 5 s for 3 samples' })).advance.reason, /halted: lag 7.2 s > limit 5 s/);
  t.match(actionsOf(input('baseline')).revert, { allowed: false, reason: /already at baseline/ });
  t.match(actionsOf(input('green')).finalize.reason, /rollback window is open for 480 s more/);
  t.match(actionsOf(input('reads-10', { transition: advancing })).advance.reason, /a transition to reads-25 is in progress/);
  t.match(actionsOf(input('reads-25', { paused: true })), { pause: { allowed: false, reason: 'already paused' }, resume: { allowed: true } });
  t.match(actionsOf(input('reads-25')), { pause: { allowed: true }, resume: { allowed: false, reason: 'neither paused nor halted' } });
});
