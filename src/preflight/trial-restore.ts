import { randomBytes } from 'node:crypto';
import * as D from '../defaults.js';
import { describeError, isPgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import { ident, withClient, type ConnectTarget } from '../postgres/connect.js';
import { dumpSchema, restoreSchema, type RestoreProgress, type RestoreResult } from '../replication/schema-restore.js';
import { createDatabaseStatement } from '../replication/setup.js';

/**
 * Preflight's trial restore: blue's schema, dumped as the set-up dumps it, restored by
 * the set-up's own restore into a scratch database on green, which is always dropped
 * afterwards. Its name carries a fixed prefix and the pair, so a crash's leftover is
 * found and dropped by the next start or the next trial.
 */

export interface TrialRestoreRequest {
  pairId: string;
  /** Blue's database, as the set-up's dump reads it (the admin login). */
  blue: ConnectTarget;
  /** Green's maintenance database as the admin login, which restores the set-up's schema too. */
  greenAdmin: ConnectTarget;
  budgetMs: number;
  log: Logger;
  onProgress?: (progress: RestoreProgress) => void;
}

export type TrialOutcome =
  | { ran: false; login: string }
  /** `database` null: the budget ran out while pg_dump read blue, before there was one. */
  | { ran: true; database: string | null; result: RestoreResult; ms: number };

/**
 * Runs the trial. `ran: false` when green's admin login may not create a database.
 * Throws for what keeps it from running at all (pg_dump missing, a side unreachable).
 */
export async function runTrialRestore(request: TrialRestoreRequest): Promise<TrialOutcome> {
  const began = Date.now();
  const deadline = began + request.budgetMs;
  const log = request.log.child({ trialRestore: request.blue.database });
  await dropTrialDatabases(request.greenAdmin, request.pairId, log);
  const allowed = await withClient(request.greenAdmin, async (c) => {
    const { rows } = await c.query<{ may: boolean }>('SELECT rolsuper OR rolcreatedb AS may FROM pg_roles WHERE rolname = current_user');
    return rows[0]?.may === true;
  });
  if (!allowed) return { ran: false, login: request.greenAdmin.login.user };

  let dump;
  try {
    dump = await dumpSchema(request.blue, { withoutOwnership: true, signal: AbortSignal.timeout(Math.max(0, deadline - Date.now())) });
  } catch (err) {
    if (!isPgshiftError(err, 'PGSHIFT_ERR_SCHEMA_COPY') || (err.details as { stopped?: boolean }).stopped !== true) throw err;
    return { ran: true, database: null, result: { failures: [], done: 0, total: 0, stopped: true }, ms: Date.now() - began };
  }
  const database = trialDatabaseName(request.pairId);
  const create = await withClient(request.blue, (c) => createDatabaseStatement(c, database, 'current'));
  await withClient(request.greenAdmin, (c) => c.query(create));
  log.info({ database, objects: dump.entries.length }, 'trial restore started');
  try {
    const result = await restoreSchema(dump, { ...request.greenAdmin, database }, {
      mode: 'each',
      deadline,
      onProgress: (progress) => {
        log.info({ database, ...progress }, 'trial restore progress');
        request.onProgress?.(progress);
      },
    });
    return { ran: true, database, result, ms: Date.now() - began };
  } finally {
    // FORCE: a restore session the budget or an error left behind must not keep it.
    await withClient(request.greenAdmin, (c) => c.query(`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)`)).catch((err: unknown) =>
      log.warn({ database, err: describeError(err) }, 'trial database not dropped; the next start or trial drops it'),
    );
  }
}

/** `pgshift_trial_<pair>_<8 hex>`, within PostgreSQL's 63 characters. */
function trialDatabaseName(pairId: string): string {
  return `${trialPrefix(pairId)}${randomBytes(4).toString('hex')}`;
}

function trialPrefix(pairId: string): string {
  return `${D.TRIAL_DATABASE_PREFIX}${pairId.replace(/-/g, '_').slice(0, 40)}_`;
}

/**
 * Drops the pair's scratch databases no session is connected to: a crashed trial's
 * (its sessions end with the process). One in use is another instance's running trial
 * and is left alone. Never throws: green may be unreachable, or not made yet.
 */
export async function dropTrialDatabases(greenAdmin: ConnectTarget, pairId: string, log: Logger): Promise<string[]> {
  const pattern = `^${trialPrefix(pairId)}[0-9a-f]{8}$`;
  try {
    return await withClient(greenAdmin, async (c) => {
      const { rows } = await c.query<{ datname: string }>(
        `SELECT datname FROM pg_database d
          WHERE datname ~ $1 AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)`,
        [pattern],
      );
      const dropped: string[] = [];
      for (const { datname } of rows) {
        // Without FORCE: a session that connected since the look is a live trial's.
        await c.query(`DROP DATABASE IF EXISTS ${ident(datname)}`).then(
          () => dropped.push(datname),
          (err: unknown) => log.info({ database: datname, err: describeError(err) }, 'trial database in use; left for later'),
        );
      }
      if (dropped.length > 0) log.info({ pair: pairId, dropped }, 'leftover trial databases dropped from green');
      return dropped;
    });
  } catch (err) {
    log.info({ pair: pairId, err: describeError(err) }, 'leftover trial databases not looked for');
    return [];
  }
}
