import type { Clock } from '../clock.js';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CheckDefinition } from './check.js';
import type { PreflightPhase, PreflightReport } from './report.js';
import { runPreflight, type RunPreflightOptions } from './run.js';
import type { PreflightReportStore } from './store.js';
import type { PreflightPair, PreflightTargets } from './targets.js';

/** What the API and the controller use: run the checks of a pair, read its last report. */
export interface PreflightService {
  /**
   * Runs every check on the pair, stores the report as the pair's last, and answers it.
   * Checks that fail become blocker findings; this throws only for an unknown pair
   * (PGSHIFT_ERR_PAIR_NOT_FOUND, 404) or a store that cannot save. Concurrent calls for
   * the same pair and phase share one run. `phase` (default `prepared`): `prepare` checks
   * an empty green before pgshift's prepare step fills it (see runPreflight).
   */
  run(pairId: string, options?: PreflightRunOptions): Promise<PreflightReport>;
  /** The pair's last report, null when none; throws PGSHIFT_ERR_PAIR_NOT_FOUND for an unknown pair. */
  last(pairId: string): Promise<PreflightReport | null>;
}

export interface PreflightRunOptions {
  phase?: PreflightPhase;
  /** Told of the trial restore's progress; a caller that joins a run already going hears nothing. */
  onTrialProgress?: RunPreflightOptions['onTrialProgress'];
}

export interface PreflightServiceOptions {
  pairs: readonly PreflightPair[];
  /** How to reach the pair's clusters (from the cluster catalog in production). */
  targetsFor(pairId: string): PreflightTargets;
  store: PreflightReportStore;
  log: Logger;
  clock?: Clock;
  checks?: readonly CheckDefinition[];
}

export function createPreflightService(options: PreflightServiceOptions): PreflightService {
  const running = new Map<string, Promise<PreflightReport>>();

  const findPair = (pairId: string): PreflightPair => {
    const pair = options.pairs.find((p) => p.id === pairId);
    if (!pair) {
      throw new PgshiftError('PGSHIFT_ERR_PAIR_NOT_FOUND', `no pair "${pairId}"; configured: ${options.pairs.map((p) => p.id).join(', ')}`, {
        status: 404,
      });
    }
    return pair;
  };

  return {
    async run(pairId, runOptions = {}) {
      const pair = findPair(pairId);
      const phase = runOptions.phase ?? D.PREFLIGHT_DEFAULT_PHASE;
      const key = `${pair.id}\u0000${phase}`;
      const inFlight = running.get(key);
      if (inFlight) return inFlight;
      const run = (async () => {
        const report = await runPreflight({
          pair,
          phase,
          targets: options.targetsFor(pair.id),
          log: options.log,
          ...(options.clock ? { clock: options.clock } : {}),
          ...(options.checks ? { checks: options.checks } : {}),
          ...(runOptions.onTrialProgress ? { onTrialProgress: runOptions.onTrialProgress } : {}),
        });
        await options.store.save(report);
        return report;
      })().finally(() => running.delete(key));
      running.set(key, run);
      return run;
    },
    async last(pairId) {
      return options.store.last(findPair(pairId).id);
    },
  };
}
