import pg from 'pg';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import { clientConfig } from '../postgres/connect.js';
import type { PreflightLogin, PreflightSide, PreflightTargets } from './targets.js';

/**
 * The sessions of one preflight run: a small pool per side, database and login, opened
 * on first use and all closed by `close()`. Checks share them, so a run of many checks
 * opens a handful of connections, not one per check.
 */
export class PreflightSessions {
  private readonly pools = new Map<string, pg.Pool>();

  constructor(
    private readonly targets: PreflightTargets,
    private readonly options: { statementTimeoutMs?: number; sessionsPerDatabase?: number } = {},
  ) {}

  /**
   * Runs one statement and returns its rows. Throws a PgshiftError that names the side,
   * database and login, with the pg error as cause (its `code` stays readable there).
   */
  async query<R extends pg.QueryResultRow>(
    side: PreflightSide,
    database: string,
    sql: string,
    params: unknown[] = [],
    login: PreflightLogin = 'pgshift',
  ): Promise<R[]> {
    const pool = this.pool(side, database, login);
    try {
      return (await pool.query<R>(sql, params)).rows;
    } catch (err) {
      const target = this.targets.target(side, database, login);
      throw new PgshiftError(
        'PGSHIFT_ERR_PREFLIGHT_QUERY',
        `${side} ${target.endpoint.host}:${target.endpoint.port}/${database} as ${target.login.user}: ${(err as Error).message}`,
        { status: 502, cause: err },
      );
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.end().catch(() => {})));
  }

  private pool(side: PreflightSide, database: string, login: PreflightLogin): pg.Pool {
    const key = `${side}\u0000${database}\u0000${login}`;
    const existing = this.pools.get(key);
    if (existing) return existing;
    const target = this.targets.target(side, database, login);
    // clientConfig hides the password as a non-enumerable property: set the pool's own
    // options on that object rather than spreading it, which would drop the password.
    const config: pg.PoolConfig = clientConfig({
      ...target,
      statementTimeoutMs: this.options.statementTimeoutMs ?? D.PREFLIGHT_STATEMENT_TIMEOUT_MS,
    });
    config.max = this.options.sessionsPerDatabase ?? D.PREFLIGHT_SESSIONS_PER_DATABASE;
    const pool = new pg.Pool(config);
    // An idle session whose server goes away emits 'error' on the pool; the query that
    // needs it next fails and becomes a finding, so nothing is lost by ignoring it here.
    pool.on('error', () => {});
    this.pools.set(key, pool);
    return pool;
  }
}
