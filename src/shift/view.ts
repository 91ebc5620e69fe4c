import { findStage } from './stages.js';
import type { Guard } from './guards.js';
import type { PairRuntime } from './runtime.js';
import type { PairState } from './state.js';
import type { PairView } from './view-schemas.js';

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
    lastTransition: state.lastTransition,
    drain: state.drain,
    stages: pair.plan.map((p) => p.stage),
    autoAdvance: pair.autoAdvance,
    bakeSeconds: pair.bakeSeconds,
    lastError: runtime.lastError,
  };
}
