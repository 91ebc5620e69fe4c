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

/** Where the state database is, for messages: host, port and database of state.url, never the credentials. */
export function stateLocation(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(state.url is not a URL)';
  }
}

/** Applies the state schema's migrations; an unreachable database is a coded error that says which one (state.url). */
export async function migrateState(store: { migrate(): Promise<number[]> }, url: string): Promise<number[]> {
  try {
    return await store.migrate();
  } catch (err) {
    throw new PgshiftError('PGSHIFT_ERR_STATE_UNREACHABLE', `cannot prepare the state database at ${stateLocation(url)} (state.url): ${(err as Error).message}`, {
      status: 503,
      cause: err,
    });
  }
}
