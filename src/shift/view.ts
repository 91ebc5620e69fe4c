import { availableActions } from './operator-actions.js';
import { findStage } from './stages.js';
import type { Guard } from './guards.js';
import type { PairRuntime } from './runtime.js';
import type { PairState } from './state.js';
import { cutoverSides, writeWindowOf } from './cutover-steps.js';
import type { Transition } from './state.js';
import type { CutoverView, PairView, PreparationProgress, PreparationView, WriteWindowView } from './view-schemas.js';

export { PairViewSchema, type PairView } from './view-schemas.js';

/** The pair as the API shows it: the stored state and what this process last saw of the world. */
export function readPairView(runtime: PairRuntime, state: PairState, guards: Guard[], now: number): PairView {
  const { pair } = runtime;
  return {
    id: pair.id,
    stage: state.stage,
    paused: state.paused,
    halted: state.halted,
    haltReason: state.haltReason,
    stageEnteredAt: state.stageEnteredAt,
    weights: findStage(pair.plan, state.stage)?.weights ?? null,
    observed: runtime.observed,
    clusters: runtime.clustersView,
    replication: pair.world.signals.replication(),
    signals: pair.world.signals.current(),
    guards,
    actions: availableActions(pair, state, guards, runtime.observed, now),
    preflight: runtime.preflight,
    transition: state.transition,
    preparation: preparationOf(runtime, state),
    cutover: cutoverOf(runtime, state, now),
    lastWriteWindow: lastWriteWindowOf(runtime, state.lastTransition),
    retired: state.stage === 'finalized' ? 'the way back is closed: blue is frozen and read-only, and may be retired (pgshift deletes no cluster)' : null,
    lastTransition: state.lastTransition,
    drain: state.drain,
    stages: pair.plan.map((p) => p.stage),
    autoAdvance: pair.autoAdvance,
    bakeSeconds: pair.bakeSeconds,
    lastError: runtime.lastError,
  };
}

/** The step a preparation is at and its newest progress: this process's own reading when it runs it, else the journal's. */
export function preparationOf(runtime: PairRuntime, state: PairState): PreparationView | null {
  const transition = state.transition;
  if (transition?.kind !== 'prepare') return null;
  const records = transition.steps ?? [];
  const current = records.find((r) => r.status === 'started') ?? records[records.length - 1];
  const live = runtime.progress?.transitionId === transition.id ? runtime.progress.progress : null;
  const journaled = [...records].reverse().find((r) => r.detail?.progress !== undefined)?.detail?.progress as PreparationProgress | undefined;
  return {
    step: current?.name ?? 'starting',
    stepsDone: records.filter((r) => r.status === 'done').length,
    stepsTotal: transition.stepNames?.length ?? records.length,
    progress: live ?? journaled ?? null,
  };
}

/** The write cutover under way, as journaled. */
export function cutoverOf(runtime: PairRuntime, state: PairState, now: number): CutoverView | null {
  const transition = state.transition;
  const sides = transition ? cutoverSides(runtime.pair.plan, transition) : null;
  if (!transition || !sides) return null;
  const records = transition.steps ?? [];
  const current = records.find((r) => r.status === 'started') ?? records[records.length - 1];
  const frozenAt = records.find((r) => r.name === 'freeze')?.detail?.frozenAt;
  return {
    direction: `${sides.from}->${sides.to}`,
    step: current?.name ?? 'starting',
    stepsDone: records.filter((r) => r.status === 'done').length,
    stepsTotal: transition.stepNames?.length ?? records.length,
    steps: transition.stepNames ?? records.map((r) => r.name),
    startedAt: transition.startedAt,
    elapsedMs: Math.max(0, now - transition.startedAt),
    frozenAt: typeof frozenAt === 'number' ? frozenAt : null,
    committed: transition.committed === true,
  };
}

export function lastWriteWindowOf(runtime: PairRuntime, last: Transition | null): WriteWindowView | null {
  const sides = last && last.outcome === 'finished' ? cutoverSides(runtime.pair.plan, last) : null;
  const window = sides ? writeWindowOf(last!) : null;
  return window ? { direction: `${sides!.from}->${sides!.to}`, pgshiftMs: window.pgshiftMs, route53Ms: window.route53Ms, at: window.submittedAt } : null;
}
