import { findStage } from './stages.js';
import type { Guard } from './guards.js';
import type { PairRuntime } from './runtime.js';
import type { PairState } from './state.js';
import type { PairView, PreparationProgress, PreparationView } from './view-schemas.js';

export { PairViewSchema, type PairView } from './view-schemas.js';

/** The pair as the API shows it: the stored state and what this process last saw of the world. */
export function readPairView(runtime: PairRuntime, state: PairState, guards: Guard[]): PairView {
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
    preflight: runtime.preflight,
    transition: state.transition,
    preparation: preparationOf(runtime, state),
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
