import { systemClock, type Clock } from '../clock.js';
import type { ConnectTarget } from '../postgres/connect.js';
import type { PoolSet } from '../replication/pool-set.js';
import { measureSafely, SIGNAL_NAMES, signalId, type SignalProvider } from './port.js';
import { type Side } from '../shift/model.js';

/**
 * The server's own error count: deltas of pg_stat_database over the pair's databases
 * between two samples. The rate is rollbacks over transactions (a deadlock or a
 * cancelled statement ends in a rollback too); deadlocks and recovery conflicts are
 * reported beside it. pgshift's own queries are transactions as well, so on an idle
 * database the rate is diluted towards 0, never inflated.
 */
export interface DatabaseCounters {
  commits: number;
  rollbacks: number;
  deadlocks: number;
  conflicts: number;
  /** pg_postmaster_start_time(): a restart resets the counters. */
  startedAt: number;
}

export async function readDatabaseCounters(pools: PoolSet, target: ConnectTarget, databases: readonly string[]): Promise<DatabaseCounters> {
  const rows = await pools.query<{ commits: string; rollbacks: string; deadlocks: string; conflicts: string; started: Date }>(
    target,
    `SELECT coalesce(sum(xact_commit), 0)::text AS commits, coalesce(sum(xact_rollback), 0)::text AS rollbacks,
            coalesce(sum(deadlocks), 0)::text AS deadlocks, coalesce(sum(conflicts), 0)::text AS conflicts,
            pg_postmaster_start_time() AS started
       FROM pg_stat_database WHERE datname = ANY($1::text[])`,
    [databases],
  );
  const row = rows[0]!;
  return {
    commits: Number(row.commits),
    rollbacks: Number(row.rollbacks),
    deadlocks: Number(row.deadlocks),
    conflicts: Number(row.conflicts),
    startedAt: row.started.getTime(),
  };
}

export interface CounterDelta {
  /** null when the counters went backwards (restart or pg_stat_reset): no delta this time. */
  rate: number | null;
  transactions: number;
  rollbacks: number;
  deadlocks: number;
  conflicts: number;
}

/** Rollbacks over transactions between two readings. No transactions: no errors, rate 0. */
export function diffCounters(before: DatabaseCounters, after: DatabaseCounters): CounterDelta | null {
  const d = {
    commits: after.commits - before.commits,
    rollbacks: after.rollbacks - before.rollbacks,
    deadlocks: after.deadlocks - before.deadlocks,
    conflicts: after.conflicts - before.conflicts,
  };
  if (after.startedAt !== before.startedAt || Object.values(d).some((v) => v < 0)) return null;
  const transactions = d.commits + d.rollbacks;
  return {
    rate: transactions === 0 ? 0 : d.rollbacks / transactions,
    transactions,
    rollbacks: d.rollbacks,
    deadlocks: d.deadlocks,
    conflicts: d.conflicts,
  };
}

export function dbErrorSignal(
  pools: PoolSet,
  side: Side,
  target: () => ConnectTarget,
  databases: readonly string[],
  clock: Clock = systemClock,
): SignalProvider {
  let previous: DatabaseCounters | null = null;
  return {
    id: signalId(SIGNAL_NAMES.dbErrorRate, side),
    name: SIGNAL_NAMES.dbErrorRate,
    side,
    measure: () =>
      measureSafely(() => clock.now(), async () => {
        const current = await readDatabaseCounters(pools, target(), databases);
        const before = previous;
        previous = current;
        if (!before) return { value: null, error: 'first reading of the counters; the rate is known from the next one' };
        const delta = diffCounters(before, current);
        if (!delta) return { value: null, error: 'counters were reset (server restart or pg_stat_reset); starting over' };
        return { value: delta.rate, detail: { ...delta } };
      }),
  };
}
