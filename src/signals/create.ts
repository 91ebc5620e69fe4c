import { isPgshiftError } from '../errors.js';
import { systemClock, type Clock } from '../clock.js';
import type { SignalsConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { PoolSet } from '../replication/pool-set.js';
import { type Direction, type Replication } from '../replication/port.js';
import type { ReplicationTargets } from '../replication/targets.js';
import { AppMetricsInbox, appErrorSignal } from './app-metrics.js';
import { dbErrorSignal } from './db-errors.js';
import { PairSignals } from './pair-signals.js';
import { Prober, probeSignals, type ProbeEndpoint } from './probe.js';
import { replicationSignals } from './replication-signals.js';
import { driftCause, schemaDriftSignal } from './schema-drift.js';
import { SIDES, type Side } from '../shift/model.js';

export interface PairSignalsWiring {
  pairId: string;
  databases: readonly string[];
  config: SignalsConfig;
  replication: Replication;
  /** Which way replication runs at the pair's stage now; null when none does. */
  direction: () => Direction | null;
  /**
   * Does `side` take application traffic right now (a reader or writer share above 0
   * at the pair's stage)? Decides whether a breach reverts (see Assessment.reverts).
   */
  exposed: (side: Side) => boolean;
  targets: ReplicationTargets;
  log: Logger;
  clock?: Clock;
  /** Accept pushed application metrics (default true). */
  acceptAppMetrics?: boolean;
}

/**
 * Every signal of one pair, wired: replication lag and health through the Replication
 * port, canary probes of both sides' writer and reader endpoints, pg_stat_database
 * error rates of both sides, and pushed application metrics. Call start() to begin.
 */
export function createPairSignals(w: PairSignalsWiring): PairSignals {
  const clock = w.clock ?? systemClock;
  const database = w.databases[0]!;
  const pools = new PoolSet({ sessionsPerTarget: 1 });
  // Catalog reads of their own: a long one must not hold up the error-rate readings.
  const schemaPools = new PoolSet({ sessionsPerTarget: 1 });
  const schemaTarget = (side: Side, database: string) => w.targets.target(side, database, 'pgshift');

  const endpoints = (): ProbeEndpoint[] =>
    SIDES.flatMap((side) => {
      try {
        return [
          { side, role: 'writer' as const, target: w.targets.target(side, database, 'pgshift') },
          { side, role: 'reader' as const, target: w.targets.reader(side, database) },
        ];
      } catch (err) {
        // A green that prepare is to create has no address yet; it is probed once it has.
        if (isPgshiftError(err, 'PGSHIFT_ERR_CLUSTER_NOT_DESCRIBED')) return [];
        throw err;
      }
    });
  const prober = new Prober({
    endpoints,
    intervalMs: w.config.probe.intervalMs,
    timeoutMs: w.config.probe.timeoutMs,
    windowMs: w.config.probe.windowSeconds * 1000,
    connectEveryRounds: w.config.probe.connectEveryRounds,
    clock,
    log: w.log,
  });
  const inbox = w.acceptAppMetrics === false ? null : new AppMetricsInbox(w.config.app.windowSeconds * 1000, clock);

  return new PairSignals({
    pairId: w.pairId,
    config: w.config,
    appMetrics: inbox,
    exposed: w.exposed,
    log: w.log,
    clock,
    providers: [
      ...replicationSignals(w.replication, w.direction, clock, (w.config.sampleSeconds * 1000) / 2, driftCause(schemaPools, schemaTarget, w.databases)),
      ...SIDES.flatMap((side) => probeSignals(prober, side, clock)),
      ...SIDES.map((side) => dbErrorSignal(pools, side, () => w.targets.target(side, database, 'pgshift'), w.databases, clock)),
      ...(inbox ? [appErrorSignal(inbox, clock)] : []),
      schemaDriftSignal(schemaPools, schemaTarget, w.databases, w.direction, w.config.schemaDrift.sampleSeconds * 1000, clock),
    ],
    resources: [{ start: () => prober.start(), close: () => prober.stop() }, pools, schemaPools],
  });
}
