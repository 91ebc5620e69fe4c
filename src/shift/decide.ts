import { evaluateGuards, failingGuards, revertTriggers } from './guards.js';
import { describeWeights, sameWeights, type Weights } from './model.js';
import type { ClusterCheck } from './ports.js';
import { advanceTarget, baselineOf, findStage, type StagePlanEntry } from './stages.js';
import type { Intent, PairState, PendingDrain, Transition } from './state.js';
import type { ObservedTraffic, PreflightStatus, SignalStatus } from './view-schemas.js';

/** A pair's configuration as far as decisions go. */
export interface PairPlan {
  id: string;
  plan: StagePlanEntry[];
  bakeSeconds: number;
  autoAdvance: boolean;
  /** How long the way back stays open at green before finalize may close it. */
  rollbackWindowMs: number;
}

/** Everything one decision reads: the stored state, what was last seen of the world, the pending intents. */
export interface DecideInput {
  pair: PairPlan;
  state: PairState;
  observed: ObservedTraffic | null;
  signals: SignalStatus[];
  clusters: ClusterCheck | null;
  preflight: PreflightStatus | null;
  /** Pending intents, oldest first. */
  intents: Intent[];
  /** A drift already paused the pair and was reported. */
  driftReported: boolean;
  now: number;
}

/** Advances queued before a revert: rejected, since nobody wants them carried out first. */
type Overtaken = { overtaken: Intent[] };

/** At most one thing a tick does for a pair. */
export type Action =
  | { type: 'idle' }
  | { type: 'resume-transition'; transition: Transition }
  | { type: 'cancel-transition'; transition: Transition; intent: Intent }
  | { type: 'auto-revert'; triggers: SignalStatus[]; reason: string }
  | { type: 'adopt-revert'; observed: ObservedTraffic; reason: string }
  | { type: 'pause-for-drift'; observed: ObservedTraffic; desired: Weights; reason: string }
  | { type: 'drain'; drain: PendingDrain }
  | ({ type: 'transition'; kind: 'prepare' | 'advance' | 'cutover' | 'revert' | 'finalize'; to: StagePlanEntry; intent: Intent | null; reason: string | null } & Overtaken)
  | ({ type: 'set-flags'; intent: Intent; patch: Partial<Pick<PairState, 'paused' | 'halted' | 'haltReason'>> } & Overtaken)
  | ({ type: 'finish-intent'; intent: Intent; note: string } & Overtaken)
  | ({ type: 'reject'; intent: Intent; reason: string; details: unknown } & Overtaken);

/** Whether a breached signal at this stage sends traffic back to blue (green takes reads, blue still takes writes). */
export function autoRevertable(entry: StagePlanEntry): boolean {
  return entry.kind === 'reads';
}

/**
 * The one decision of a tick, pure: the same input gives the same action. In order: an
 * unfinished transition is finished or rolled back; a revert trigger sends reads back;
 * Route 53 differing from the stage is adopted or reported; a due drain runs; an
 * operator's intent is carried out; auto-advance moves on when every guard holds.
 */
export function decide(input: DecideInput): Action {
  const { pair, state } = input;
  const entry = findStage(pair.plan, state.stage);
  if (!entry) throw new Error(`pair ${pair.id} is at stage ${state.stage}, which its plan does not have`);
  const triggers = autoRevertable(entry) ? revertTriggers(input.signals, state) : [];
  const revert: Action | null = triggers.length > 0 ? { type: 'auto-revert', triggers, reason: triggers.map((t) => t.summary).join('; ') } : null;
  const drift = assessDrift(input, entry);

  if (state.transition) {
    // An advance journaled but overtaken: a revert sent reads back to blue (the fast path
    // submits before it journals) or is due now. Finishing the advance would undo it.
    if (state.transition.kind === 'advance') {
      if (revert) return revert;
      if (drift.adopt) return drift.adopt;
    }
    const cancel = cancellable(state.transition) ? input.intents.find((i) => i.action === 'revert') : undefined;
    if (cancel) return { type: 'cancel-transition', transition: state.transition, intent: cancel };
    return { type: 'resume-transition', transition: state.transition };
  }
  if (revert) return revert;
  if (drift.adopt) return drift.adopt;
  if (drift.report && !input.driftReported) return drift.report;

  if (state.drain && state.drain.dueAt <= input.now) return { type: 'drain', drain: state.drain };

  if (input.intents.length > 0) return decideIntent(input, entry);

  // Drift needs no check of its own below: it fails the weights-verified guard.
  if (pair.autoAdvance && !state.paused && !state.halted) {
    const next = advanceTarget(pair.plan, state.stage);
    if (next && failingGuards(guardsOf(input)).length === 0) {
      return { type: 'transition', kind: advanceKind(next), to: next, intent: null, reason: 'every guard holds', overtaken: [] };
    }
  }
  return { type: 'idle' };
}

/** The guards of moving the pair one stage forward, from the decision's input. */
export function guardsOf(input: Omit<DecideInput, 'intents' | 'driftReported'>) {
  return evaluateGuards({
    state: input.state,
    plan: input.pair.plan,
    next: advanceTarget(input.pair.plan, input.state.stage),
    now: input.now,
    bakeSeconds: input.pair.bakeSeconds,
    observed: input.observed,
    signals: input.signals,
    clusters: input.clusters,
    preflight: input.preflight,
  });
}

interface Drift {
  adopt?: Action;
  report?: Action;
}

/**
 * Route 53 differs from the stage and pgshift did not do it. Traffic found all on blue
 * during a read stage is an interrupted revert (the safe direction): adopted. Any other
 * difference pauses the pair and is reported, never overwritten.
 */
function assessDrift(input: DecideInput, entry: StagePlanEntry): Drift {
  const observed = currentObservation(input);
  if (!observed) return {};
  const seen = observedWeights(observed);
  if (seen && sameWeights(seen, entry.weights)) return {};
  // A green that prepare is to create has no records yet: they come with it.
  if (entry.kind === 'unprepared' && !observed.reader && !observed.writer) return {};
  const baseline = baselineOf(input.pair.plan);
  if (entry.kind === 'reads' && seen && sameWeights(seen, baseline.weights)) {
    const reason = 'Route 53 already sends every read to blue (an interrupted revert); adopted as a revert and halted';
    return { adopt: { type: 'adopt-revert', observed, reason } };
  }
  const reason = `Route 53 differs from stage ${input.state.stage} and pgshift did not change it: ${describeObserved(observed)}; the stage wants ${describeWeights(entry.weights)}`;
  return { report: { type: 'pause-for-drift', observed, desired: entry.weights, reason } };
}

function decideIntent(input: DecideInput, entry: StagePlanEntry): Action {
  const { intents, state, pair } = input;
  const revert = intents.find((i) => i.action === 'revert');
  const overtaken = revert ? intents.slice(0, intents.indexOf(revert)).filter((i) => i.action === 'advance') : [];
  const intent = revert ?? intents[0]!;
  const reject = (reason: string, details: unknown = null): Action => ({ type: 'reject', intent, reason, details, overtaken });

  switch (intent.action) {
    case 'pause':
      return { type: 'set-flags', intent, patch: { paused: true }, overtaken };
    case 'resume':
      return { type: 'set-flags', intent, patch: { paused: false, halted: false, haltReason: null }, overtaken };
    case 'prepare': {
      if (entry.kind !== 'unprepared') return { type: 'finish-intent', intent, note: `green is already prepared (the pair is at ${state.stage})`, overtaken };
      return { type: 'transition', kind: 'prepare', to: baselineOf(pair.plan), intent, reason: intent.reason, overtaken };
    }
    case 'revert': {
      const baseline = baselineOf(pair.plan);
      if (entry.kind === 'unprepared') return { type: 'finish-intent', intent, note: 'nothing to revert: green is not prepared', overtaken };
      if (entry.kind === 'baseline') {
        const seen = observedWeights(currentObservation(input));
        if (seen && sameWeights(seen, baseline.weights)) {
          return { type: 'finish-intent', intent, note: 'already at baseline', overtaken };
        }
      } else if (entry.kind === 'finalized') {
        return reject('the way back was closed when the pair was finalized: blue no longer follows green');
      }
      // From green, the revert is the write cutover run back to blue (cutover-steps.ts).
      return { type: 'transition', kind: 'revert', to: baseline, intent, reason: intent.reason, overtaken };
    }
    case 'advance': {
      if (intent.expectedStage !== null && intent.expectedStage !== state.stage) {
        return reject(`expected stage ${intent.expectedStage} but the pair is at ${state.stage}`);
      }
      const failing = failingGuards(guardsOf(input));
      if (failing.length > 0) {
        return reject(failing.map((g) => `${g.name}: ${g.detail}`).join('; '), { guards: failing });
      }
      const to = advanceTarget(pair.plan, state.stage)!;
      return { type: 'transition', kind: advanceKind(to), to, intent, reason: intent.reason, overtaken };
    }
    case 'finalize': {
      const refusal = finalizeRefusal(pair, state, intent.options?.ignoreRollbackWindow === true, input.now);
      if (refusal) return reject(refusal);
      return { type: 'transition', kind: 'finalize', to: findStage(pair.plan, 'finalized')!, intent, reason: intent.reason, overtaken };
    }
  }
}

/** Advancing into green is the write cutover. */
function advanceKind(to: StagePlanEntry): 'advance' | 'cutover' {
  return to.kind === 'green' ? 'cutover' : 'advance';
}

/**
 * A transition an operator's revert gives up and undoes: preparing green (it moves no
 * traffic), and a write cutover before its writer record flipped (nothing moved yet).
 */
export function cancellable(transition: Transition): boolean {
  if (transition.abandoned) return false;
  return transition.kind === 'prepare' || (transition.kind === 'cutover' && transition.committed !== true);
}

/** Why finalize may not close the way back now; null when it may. */
export function finalizeRefusal(pair: PairPlan, state: PairState, ignoreRollbackWindow: boolean, now: number): string | null {
  if (state.stage === 'finalized') return 'the pair is already finalized';
  if (findStage(pair.plan, state.stage)?.kind !== 'green') return `finalize closes the way back from green; the pair is at ${state.stage}`;
  const left = state.stageEnteredAt + pair.rollbackWindowMs - now;
  if (left > 0 && !ignoreRollbackWindow) {
    return `the rollback window is open for ${Math.ceil(left / 1000)} s more (cutover.rollbackWindowSeconds); wait, or finalize with ignoreRollbackWindow`;
  }
  return null;
}

/** The observation when it was read since the stage began; an older one may show what another process has changed since. */
function currentObservation(input: Pick<DecideInput, 'observed' | 'state'>): ObservedTraffic | null {
  return input.observed && input.observed.at >= input.state.stageEnteredAt ? input.observed : null;
}

/** Both records' weights as Route 53 holds them; null when either name's pair of records is missing. */
export function observedWeights(o: ObservedTraffic | null): Weights | null {
  return o?.reader && o.writer ? { reader: o.reader, writer: o.writer } : null;
}

export function describeObserved(o: ObservedTraffic): string {
  const part = (name: string, s: { blue: number; green: number } | null) => (s ? `${name} blue ${s.blue} / green ${s.green}` : `${name} records missing`);
  return `${part('reader', o.reader)}, ${part('writer', o.writer)}`;
}
