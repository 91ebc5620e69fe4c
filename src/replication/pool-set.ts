import pg from 'pg';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import { clientConfig, type ConnectTarget } from '../postgres/connect.js';

/**
 * Small connection pools kept open per target, for what pgshift asks every few
 * seconds (state, lag, heartbeats, counters): reconnecting each time would cost a
 * SCRAM handshake per query on both ends. A pool whose server went away reconnects on
 * the next query; errors of idle sessions are swallowed here because the next query
 * reports them anyway.
 */
export class PoolSet {
  private readonly pools = new Map<string, pg.Pool>();
  private closed = false;

  constructor(private readonly options: { sessionsPerTarget?: number; applicationName?: string } = {}) {}

  /**
   * Runs one statement (or several separated by `;` when `params` is empty, as one
   * implicit transaction). Throws PGSHIFT_ERR_PG_CONNECT (503) when the server cannot be
   * reached, PGSHIFT_ERR_REPLICATION_QUERY (502) for an error of the statement; the pg
   * error is the cause (its SQLSTATE stays readable there).
   */
  async query<R extends pg.QueryResultRow>(target: ConnectTarget, sql: string, params: unknown[] = []): Promise<R[]> {
    const pool = this.pool(target);
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw new PgshiftError(
        'PGSHIFT_ERR_PG_CONNECT',
        `cannot connect to ${describeTarget(target)}: ${(err as Error).message}`,
        { status: 503, cause: err },
      );
    }
    // A checked-out session has no error listener of the pool's; a server's FATAL that
    // arrives in the same packet as the end of the query would otherwise be thrown.
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    let failed: unknown;
    try {
      const result = (await client.query<R>(sql, params)) as pg.QueryResult<R> | pg.QueryResult<R>[];
      return Array.isArray(result) ? (result[result.length - 1]?.rows ?? []) : result.rows;
    } catch (err) {
      failed = err;
      throw new PgshiftError('PGSHIFT_ERR_REPLICATION_QUERY', `${describeTarget(target)}: ${(err as Error).message}`, {
        status: 502,
        cause: err,
      });
    } finally {
      client.removeListener('error', onError);
      // A session whose statement failed for a connection reason is not given back.
      client.release(broken ?? (failed !== undefined && !isStatementError(failed) ? (failed as Error) : undefined));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.end().catch(() => {})));
  }

  private pool(target: ConnectTarget): pg.Pool {
    if (this.closed) throw new PgshiftError('PGSHIFT_ERR_CLOSED', 'the connection pools are closed', { status: 503 });
    const key = targetKey(target);
    const existing = this.pools.get(key);
    if (existing) return existing;
    // clientConfig hides the password as a non-enumerable property; pg.Pool keeps it
    // as long as the object is passed as it is, not spread.
    const config: pg.PoolConfig = clientConfig({
      ...target,
      applicationName: target.applicationName ?? this.options.applicationName ?? D.PG_APPLICATION_NAME,
    });
    config.max = this.options.sessionsPerTarget ?? D.REPLICATION_SESSIONS_PER_TARGET;
    config.idleTimeoutMillis = D.REPLICATION_SESSION_IDLE_MS;
    const pool = new pg.Pool(config);
    pool.on('error', () => {});
    this.pools.set(key, pool);
    return pool;
  }
}

export function describeTarget(target: ConnectTarget): string {
  return `${target.endpoint.host}:${target.endpoint.port}/${target.database} as ${target.login.user}`;
}

function targetKey(target: ConnectTarget): string {
  return [
    target.endpoint.host,
    target.endpoint.port,
    target.database,
    target.login.user,
    target.ssl ?? '',
    target.applicationName ?? '',
    target.statementTimeoutMs ?? '',
  ].join('\u0000');
}

/** An error the server raised for a statement (has a SQLSTATE), as opposed to a broken connection. */
function isStatementError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57P');
}
