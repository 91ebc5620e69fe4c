import type pg from 'pg';
import * as D from '../defaults.js';
import { describeError, PgshiftError } from '../errors.js';
import { ident, withClient, type ConnectTarget } from '../postgres/connect.js';
import type { PoolSet } from './pool-set.js';

/**
 * The freeze ledger: which roles pgshift made NOLOGIN, kept on the frozen side itself
 * in pgshift.frozen_roles and written in the same transaction as the ALTER ROLE, so a
 * crash at any point leaves the ledger and the roles agreeing. Roles are cluster-wide,
 * and so is the ledger: it lives in the maintenance database, which no publication of
 * pgshift's covers. In a replicated database, a side's rows would reach the other side
 * and stay there after an unfreeze on a side that does not publish; the next freeze of
 * that side, publishing then, would insert the same keys and stop the other side's
 * apply on a duplicate key. Rows are keyed by `frozen_by` (pair and side).
 */
export const LEDGER_TABLE = `${ident(D.PGSHIFT_SCHEMA)}.frozen_roles`;

const LEDGER_DDL = `CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
  frozen_by text NOT NULL,
  role text NOT NULL,
  frozen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (frozen_by, role)
)`;

export function ledgerKey(pairId: string, side: string): string {
  return `${pairId}/${side}`;
}

export async function hasLedger(pools: PoolSet, target: ConnectTarget): Promise<boolean> {
  const rows = await pools.query<{ present: boolean }>(
    target,
    `SELECT to_regclass('${D.PGSHIFT_SCHEMA}.frozen_roles') IS NOT NULL AS present`,
  );
  return rows[0]?.present === true;
}

/**
 * Creates the ledger in the maintenance database of a side, owned by pgshift's login
 * (which writes it), through the admin login (which may create schemas there). Throws
 * PGSHIFT_ERR_FREEZE_LEDGER_MISSING (409) when that cannot be done.
 */
export async function ensureLedger(pools: PoolSet, home: ConnectTarget, admin: ConnectTarget, pgshiftUser: string): Promise<void> {
  if (await hasLedger(pools, home)) return;
  try {
    await withClient(admin, async (client) => {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(D.PGSHIFT_SCHEMA)} AUTHORIZATION ${ident(pgshiftUser)}`);
      await client.query(LEDGER_DDL);
      await client.query(`ALTER TABLE ${LEDGER_TABLE} OWNER TO ${ident(pgshiftUser)}`);
    });
  } catch (err) {
    throw new PgshiftError(
      'PGSHIFT_ERR_FREEZE_LEDGER_MISSING',
      `${D.PGSHIFT_SCHEMA}.frozen_roles is missing in ${home.database} and cannot be created (${describeError(err)}): the admin login must be able to create a schema there`,
      { status: 409, cause: err },
    );
  }
}

export async function readLedger(pools: PoolSet, target: ConnectTarget, key: string): Promise<string[]> {
  const rows = await pools.query<{ role: string }>(
    target,
    `SELECT role FROM ${LEDGER_TABLE} WHERE frozen_by = $1 ORDER BY role`,
    [key],
  );
  return rows.map((r) => r.role);
}

/**
 * Makes `roles` NOLOGIN and records them, in one transaction. Roles that cannot log
 * in are left alone and not recorded (unfreezing must not give them LOGIN). Returns
 * the roles this call froze.
 */
export async function recordAndRevokeLogin(target: ConnectTarget, key: string, roles: readonly string[]): Promise<string[]> {
  if (roles.length === 0) return [];
  return withClient(target, (client) =>
    inTransaction(client, async () => {
      const { rows } = await client.query<{ rolname: string }>(
        'SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[]) AND rolcanlogin ORDER BY rolname',
        [roles],
      );
      for (const { rolname } of rows) {
        await client.query(`INSERT INTO ${LEDGER_TABLE} (frozen_by, role) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [key, rolname]);
        await client.query(`ALTER ROLE ${ident(rolname)} NOLOGIN`);
      }
      return rows.map((r) => r.rolname);
    }),
  );
}

/** Gives LOGIN back to every recorded role that still exists and clears the ledger, in one transaction. */
export async function restoreLoginAndForget(target: ConnectTarget, key: string): Promise<string[]> {
  return withClient(target, (client) =>
    inTransaction(client, async () => {
      const { rows } = await client.query<{ role: string; exists: boolean }>(
        `SELECT f.role, r.rolname IS NOT NULL AS exists
           FROM ${LEDGER_TABLE} f LEFT JOIN pg_roles r ON r.rolname = f.role
          WHERE f.frozen_by = $1 ORDER BY f.role FOR UPDATE OF f`,
        [key],
      );
      const restored: string[] = [];
      for (const row of rows) {
        if (row.exists) {
          await client.query(`ALTER ROLE ${ident(row.role)} LOGIN`);
          restored.push(row.role);
        }
      }
      await client.query(`DELETE FROM ${LEDGER_TABLE} WHERE frozen_by = $1`, [key]);
      return restored;
    }),
  );
}

async function inTransaction<T>(client: pg.Client, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw new PgshiftError('PGSHIFT_ERR_FREEZE_FAILED', `changing role logins failed: ${describeError(err)}`, {
      status: 502,
      cause: err,
    });
  }
}
