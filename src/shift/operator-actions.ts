import { cancellable, finalizeRefusal, type PairPlan } from './decide.js';
import { failingGuards, type Guard } from './guards.js';
import { sameWeights, type Split } from './model.js';
import { advanceTarget, baselineOf, findStage } from './stages.js';
import type { PairState } from './state.js';
import type { ActionsView, ActionView, ObservedTraffic } from './view-schemas.js';

/**
 * What each operator action would do now, and why it would be refused: one answer for
 * the dashboard's buttons and any other client, from the same rules the controller
 * decides by (guards, finalizeRefusal, cancellable), so a button is never enabled for
 * an action the controller then refuses for a reason the page could have known.
 */
export function availableActions(pair: PairPlan, state: PairState, guards: readonly Guard[], observed: ObservedTraffic | null, now: number): ActionsView {
  return {
    advance: advanceAction(pair, state, guards),
    revert: revertAction(pair, state, observed),
    pause: state.paused
      ? refused('stop automatic advances', 'already paused')
      : allowed('stop automatic advances; a breached guard still reverts on its own'),
    resume:
      state.paused || state.halted
        ? allowed(state.halted ? `clear the halt (${state.haltReason ?? 'no reason recorded'}) and let the pair move again` : 'let automatic advances run again')
        : refused('let the pair move again', 'neither paused nor halted'),
    finalize: ((refusal) => (refusal ? refused(FINALIZE_EFFECT, refusal) : allowed(FINALIZE_EFFECT)))(finalizeRefusal(pair, state, false, now)),
  };
}

const FINALIZE_EFFECT = 'close the way back: reverse replication to blue is dropped and blue stays frozen and read-only';

function advanceAction(pair: PairPlan, state: PairState, guards: readonly Guard[]): ActionView {
  const current = findStage(pair.plan, state.stage);
  const next = advanceTarget(pair.plan, state.stage);
  const effect = !current || !next
    ? 'nothing: no stage follows'
    : next.kind === 'green'
      ? `write cutover to green: ${current.weights.reader.blue > 0 ? `reads ${share(current.weights.reader)} -> 100 %, then ` : ''}writes freeze on blue, green catches up and is validated, replication turns to green -> blue and the writer record flips`
      : next.kind === 'baseline'
        ? 'nothing yet: green must be prepared first'
        : `reads on green ${share(current.weights.reader)} -> ${share(next.weights.reader)}`;
  const failing = failingGuards(guards);
  return failing.length === 0 ? allowed(effect) : refused(effect, failing.map((g) => g.detail).join('; '));
}

function revertAction(pair: PairPlan, state: PairState, observed: ObservedTraffic | null): ActionView {
  const entry = findStage(pair.plan, state.stage);
  const transition = state.transition;
  if (!entry || entry.kind === 'unprepared') return refused('send traffic back to blue', 'nothing to revert: green is not prepared');
  if (entry.kind === 'finalized') return refused('send traffic back to blue', 'the way back was closed when the pair was finalized');
  if (transition && cancellable(transition)) return allowed(`cancel the ${transition.kind} to ${transition.to} under way and undo what it did`);
  if (entry.kind === 'green') {
    return allowed('writes back to blue: green freezes, blue catches up through reverse replication, the writer and every read flip to blue');
  }
  const seen = observed && observed.reader && observed.writer ? { reader: observed.reader, writer: observed.writer } : null;
  if (entry.kind === 'baseline' && !transition && (!seen || sameWeights(seen, baselineOf(pair.plan).weights))) {
    return refused('send traffic back to blue', 'already at baseline: every read and write goes to blue');
  }
  return allowed(`every read back to blue (reads on green ${share(seen?.reader ?? entry.weights.reader)} -> 0 %)`);
}

function share(split: Split): string {
  const total = split.blue + split.green;
  return `${total === 0 ? 0 : Math.round((split.green / total) * 100)} %`;
}

function allowed(effect: string): ActionView {
  return { allowed: true, effect, reason: null };
}

function refused(effect: string, reason: string): ActionView {
  return { allowed: false, effect, reason };
}
