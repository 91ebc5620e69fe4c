import type { PairWorld } from './ports.js';
import type { TransitionStep } from './steps.js';

/**
 * `finalize`: the way back closed on purpose, at green. Reverse replication stops (its
 * subscription on blue and its slot on green, so green keeps no WAL for blue), pgshift's
 * publications and heartbeat tables go on both sides. Blue stays frozen and read-only,
 * its freeze ledger kept, so nothing can write to it by mistake; pgshift deletes no
 * cluster, and the landing says blue may be retired.
 */
export function finalizeSteps(world: PairWorld): TransitionStep[] {
  return [
    {
      name: 'close-way-back',
      run: async () => ({ ...(await world.cutover.closeWayBack()), blue: 'frozen and read-only; safe to retire (pgshift deletes no cluster)' }),
    },
  ];
}
