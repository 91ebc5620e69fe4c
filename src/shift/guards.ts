import { describeSplit, sameSplit } from './model.js';
import type { ClusterCheck } from './ports.js';
import { desiredWeights, type StagePlanEntry } from './stages.js';
import type { PairState } from './state.js';
import type { Guard, ObservedTraffic, PreflightStatus, SignalStatus } from './view-schemas.js';

export type { Guard };

export interface GuardInput {
  state: PairState;
  plan: readonly StagePlanEntry[];
  /** The stage the pair would move to; undefined at the end of the plan. */
  next: StagePlanEntry | undefined;
  now: number;
  bakeSeconds: number;
  observed: ObservedTraffic | null;
  signals: SignalStatus[];
  clusters: ClusterCheck | null;
  preflight: PreflightStatus | null;
}


/**
 * Every condition for moving to the next stage, each with a readable reason. Pure: the
 * same input gives the same answer, so the API's 409 and the loop agree. Missing data
 * fails a guard; it never passes one.
 */
export function evaluateGuards(input: GuardInput): Guard[] {
  const { state, next, now } = input;
  const guards: Guard[] = [];
  const add = (name: string, ok: boolean, detail: string) => guards.push({ name, ok, detail });

  add('not-halted', !state.halted, state.halted ? `halted: ${state.haltReason ?? 'no reason recorded'}; resume first` : 'not halted');
  add(
    'no-transition',
    state.transition === null,
    state.transition ? `a transition to ${state.transition.to} is in progress` : 'no transition in progress',
  );

  if (next?.kind === 'baseline') add('next-stage', false, 'green is not prepared yet: run prepare (POST /api/v1/pairs/:pair/prepare, or pgshift prepare)');
  else if (next?.kind === 'green') add('next-stage', true, 'next stage: green, by the write cutover (writes frozen on blue for about a second)');
  else if (next) add('next-stage', true, `next stage: ${next.stage}`);
  else if (state.stage === 'green') add('next-stage', false, 'green is the last stage advancing reaches: finalize closes the way back (POST /api/v1/pairs/:pair/finalize)');
  else add('next-stage', false, `${state.stage} is the last stage`);

  const bakedMs = now - state.stageEnteredAt;
  const bakeMs = input.bakeSeconds * 1000;
  add(
    'bake-time',
    bakedMs >= bakeMs,
    bakedMs >= bakeMs
      ? `${seconds(bakedMs)} at ${state.stage} (minimum ${input.bakeSeconds} s)`
      : `${seconds(bakedMs)} at ${state.stage}, minimum ${input.bakeSeconds} s: ${seconds(bakeMs - bakedMs)} to go`,
  );

  const desired = desiredWeights(input.plan, state.stage);
  const observed = input.observed;
  if (!desired) add('weights-verified', false, `unknown stage ${state.stage}`);
  else if (!observed) add('weights-verified', false, 'Route 53 weights not observed yet');
  else if (observed.at < state.stageEnteredAt) add('weights-verified', false, `Route 53 not read since ${state.stage} began`);
  else if (!observed.reader || !observed.writer) add('weights-verified', false, 'weighted records are missing in Route 53');
  else {
    const ok = sameSplit(observed.reader, desired.reader) && sameSplit(observed.writer, desired.writer);
    add(
      'weights-verified',
      ok,
      ok
        ? 'Route 53 holds the weights of the stage'
        : `Route 53 holds reader ${describeSplit(observed.reader)}, writer ${describeSplit(observed.writer)}; ${state.stage} wants reader ${describeSplit(desired.reader)}, writer ${describeSplit(desired.writer)}`,
    );
  }

  // Before the first read moves and before writes do, preflight must have passed.
  if (state.stage === 'baseline' || next?.kind === 'green') {
    const pf = input.preflight;
    if (!pf) add('preflight', false, 'no preflight report yet: run POST /api/v1/pairs/:pair/preflight');
    else add('preflight', pf.ok, pf.ok ? 'last preflight found no blocker' : `last preflight found ${pf.blockers} blocker(s)`);
  }

  const clusters = input.clusters;
  if (!clusters) add('clusters', false, 'clusters not checked yet');
  else add('clusters', clusters.ok, clusters.ok ? 'both clusters available at the expected versions' : clusters.problems.join('; '));

  for (const signal of input.signals) {
    add(`signal:${signal.name}`, signal.state === 'healthy', signal.state === 'unknown' ? `no data: ${signal.summary}` : signal.summary);
  }
  return guards;
}

export function failingGuards(guards: readonly Guard[]): Guard[] {
  return guards.filter((g) => !g.ok);
}

/**
 * Signals whose breach must send traffic back to blue now. A write cutover breaks
 * replication on purpose while it switches it around (and fails the application's
 * writes while they are frozen): readings taken before the last one landed, either
 * way, say nothing about the pair as it is now.
 */
export function revertTriggers(signals: readonly SignalStatus[], state: Pick<PairState, 'lastTransition'>): SignalStatus[] {
  const since = state.lastTransition?.landedAt ?? null;
  return signals.filter((s) => s.reverts && (since === null || s.at === null || s.at >= since));
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}
