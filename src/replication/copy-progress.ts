import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import type { DatabaseCopyProgress, PreparationContext, PreparationProgress, PreparationStep, TableCopyState } from '../shift/ports.js';
import { PoolSet } from './pool-set.js';
import { readGreenSubscription } from './prepare-replication.js';
import { adminOn, type PreparationEnv } from './prepare-support.js';

/**
 * The initial copy of a subscription, measured and waited for.
 *
 * Sizes are main-fork heap sizes (pg_relation_size), not pg_table_size: the copy is a
 * COPY of the rows, and what it makes on green, while it runs, is the main fork; FSM and
 * visibility map appear on green only once vacuum runs, and green's TOAST fills in a
 * different order than blue's, so with pg_table_size bytesDone would stop short of
 * bytesTotal. The price: a table whose values are mostly TOASTed counts for less than
 * its copy takes.
 */

/** What one reading of one database found (before rates). */
export interface CopyReading {
  database: string;
  tablesTotal: number;
  tablesDone: number;
  bytesTotal: number;
  bytesDone: number;
  /** Each table's state and blue size: only for `copyTables`, never into the progress (it is journaled). */
  tables: TableCopyState[];
}

/** Reads the state of every table of the pair's subscription in `database` and the sizes behind it. */
export async function readCopy(pools: PoolSet, env: PreparationEnv, database: string): Promise<CopyReading> {
  const tables = await pools.query<{ name: string; state: string; size: string }>(
    adminOn(env, 'green', database),
    `SELECT format('%I.%I', n.nspname, c.relname) AS name, r.srsubstate AS state, pg_relation_size(c.oid) AS size
       FROM pg_subscription_rel r
       JOIN pg_subscription s ON s.oid = r.srsubid
       JOIN pg_class c ON c.oid = r.srrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [env.subscription],
  );
  const blueSizes = new Map(
    (
      await pools.query<{ name: string; size: string | null }>(
        adminOn(env, 'blue', database),
        'SELECT name, pg_relation_size(to_regclass(name)) AS size FROM unnest($1::text[]) name',
        [tables.map((t) => t.name)],
      )
    ).map((r) => [r.name, Number(r.size ?? 0)]),
  );
  let tablesDone = 0;
  let bytesTotal = 0;
  let bytesDone = 0;
  const states: TableCopyState[] = [];
  for (const table of tables) {
    const full = blueSizes.get(table.name) ?? 0;
    const done = isSynchronized(table.state);
    if (done) tablesDone++;
    bytesTotal += full;
    bytesDone += done ? full : Math.min(Number(table.size), full);
    states.push({ database, table: table.name, state: table.state, bytes: full });
  }
  return { database, tablesTotal: tables.length, tablesDone, bytesTotal, bytesDone, tables: states };
}

/** `s` (synchronized) and `r` (ready): the table's initial copy is over. */
export function isSynchronized(state: string): boolean {
  return state === 's' || state === 'r';
}

/** Bytes per second over the readings of the last `windowMs`. */
export class CopyRate {
  private readings: { at: number; bytes: number }[] = [];

  constructor(private readonly windowMs: number = D.PREPARE_COPY_RATE_WINDOW_MS) {}

  add(at: number, bytes: number): void {
    this.readings.push({ at, bytes });
    // Keep one reading at or before the window's start, so the window is always covered.
    while (this.readings.length > 2 && this.readings[1]!.at <= at - this.windowMs) this.readings.shift();
  }

  /** Null until two readings are apart in time; never negative (blue's tables may shrink meanwhile). */
  perSecond(): number | null {
    const first = this.readings[0];
    const last = this.readings[this.readings.length - 1];
    if (!first || !last || last.at <= first.at) return null;
    return Math.max(0, ((last.bytes - first.bytes) * 1000) / (last.at - first.at));
  }
}

/** Seconds left at `bytesPerSecond`; 0 when nothing is left, null when the rate is unknown or zero. */
export function etaSeconds(bytesTotal: number, bytesDone: number, bytesPerSecond: number | null): number | null {
  const left = bytesTotal - bytesDone;
  if (left <= 0) return 0;
  if (bytesPerSecond === null || bytesPerSecond <= 0) return null;
  return left / bytesPerSecond;
}

/** Combines the readings of one moment into the progress the port reports. */
export function progressOf(at: number, readings: readonly CopyReading[], rates: Map<string, CopyRate>, total: CopyRate): PreparationProgress {
  const databases: DatabaseCopyProgress[] = readings.map((r) => {
    let rate = rates.get(r.database);
    if (!rate) rates.set(r.database, (rate = new CopyRate()));
    rate.add(at, r.bytesDone);
    const bytesPerSecond = rate.perSecond();
    // Field by field, not a spread: the reading's tables must stay out of what is journaled.
    const { database, tablesTotal, tablesDone, bytesTotal, bytesDone } = r;
    return { database, tablesTotal, tablesDone, bytesTotal, bytesDone, bytesPerSecond, etaSeconds: etaSeconds(bytesTotal, bytesDone, bytesPerSecond) };
  });
  const sum = (key: 'tablesTotal' | 'tablesDone' | 'bytesTotal' | 'bytesDone') => readings.reduce((n, r) => n + r[key], 0);
  const bytesTotal = sum('bytesTotal');
  const bytesDone = sum('bytesDone');
  total.add(at, bytesDone);
  const bytesPerSecond = total.perSecond();
  return {
    at,
    tablesTotal: sum('tablesTotal'),
    tablesDone: sum('tablesDone'),
    bytesTotal,
    bytesDone,
    bytesPerSecond,
    etaSeconds: etaSeconds(bytesTotal, bytesDone, bytesPerSecond),
    databases,
  };
}

/**
 * Waits, with no overall timeout (a big copy takes hours), until every table of the
 * subscription in each of `databases` is synchronized, reading about once a second and
 * reporting every reading (table by table too, when `copyTables` is given). Throws the
 * signal's reason as soon as `signal` aborts.
 */
export async function waitForCopy(
  env: PreparationEnv,
  databases: readonly string[],
  report: Pick<PreparationContext, 'signal' | 'progress' | 'copyTables'>,
): Promise<PreparationProgress> {
  const log = env.log.child({ step: 'initial-copy' });
  const pools = new PoolSet();
  const rates = new Map<string, CopyRate>();
  const total = new CopyRate();
  let loggedAt = -Infinity;
  try {
    for (;;) {
      report.signal.throwIfAborted();
      const readings: CopyReading[] = [];
      for (const database of databases) readings.push(await readCopy(pools, env, database));
      report.signal.throwIfAborted();
      const progress = progressOf(env.clock.now(), readings, rates, total);
      report.copyTables?.({ at: progress.at, tables: readings.flatMap((r) => r.tables) });
      report.progress(progress);
      const done = readings.every((r) => r.tablesDone === r.tablesTotal);
      if (done || progress.at - loggedAt >= D.PREPARE_COPY_LOG_EVERY_MS) {
        loggedAt = progress.at;
        const { databases: _perDatabase, ...sums } = progress;
        log.info(sums, done ? 'initial copy finished' : 'initial copy');
      }
      if (done) return progress;
      await env.clock.sleep(D.PREPARE_COPY_POLL_MS, report.signal);
    }
  } finally {
    await pools.close();
  }
}

/**
 * `initial-copy`: waits until every table of the pair's subscriptions has its initial
 * copy, reporting progress on each reading. Makes nothing, so has no undo.
 *
 * Detail: `{ tables, bytes, seconds }` of the copy when done.
 */
export function initialCopyStep(env: PreparationEnv): PreparationStep {
  return {
    name: 'initial-copy',
    async run(ctx) {
      for (const database of env.databases) {
        if (!(await readGreenSubscription(env, database))) {
          throw new PgshiftError(
            'PGSHIFT_ERR_REPLICATION_NOT_SET_UP',
            `green has no subscription ${env.subscription} in ${database} to wait for`,
            { status: 409, details: { database } },
          );
        }
      }
      const startedAt = env.clock.now();
      const last = await waitForCopy(env, env.databases, ctx);
      return { tables: last.tablesTotal, bytes: last.bytesTotal, seconds: Math.round((env.clock.now() - startedAt) / 1000) };
    },
  };
}
