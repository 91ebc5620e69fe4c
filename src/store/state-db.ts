import pg from 'pg';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * The connection pool to pgshift's own state database. Background errors of idle
 * clients (the server restarting) are logged, not thrown: the next query reconnects.
 */
export function createStatePool(url: string, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    application_name: `${D.PG_APPLICATION_NAME}-state`,
    connectionTimeoutMillis: D.PG_CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', (err) => log.warn({ err: err.message }, 'state database connection lost'));
  return pool;
}

export async function pingState(pool: pg.Pool): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    throw new PgshiftError('PGSHIFT_ERR_STATE_UNREACHABLE', `state database unreachable: ${(err as Error).message}`, {
      status: 503,
      cause: err,
    });
  }
}
