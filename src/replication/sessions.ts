import type { Clock } from '../clock.js';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import type { ConnectTarget } from '../postgres/connect.js';
import type { PoolSet } from './pool-set.js';

/**
 * Ending sessions of application roles. Only client backends count: walsenders and
 * background workers have other backend types, and pgshift's own session is skipped
 * by PID. Cluster-wide, because roles are.
 */
export interface TerminateOptions {
  roles: readonly string[];
  /** Spare sessions whose application_name starts with `pgshift` (draining spares them, freezing does not). */
  spareApplicationNamePrefix?: string;
  /** Only sessions connected longer than this. */
  connectedLongerThanSeconds?: number;
}

/** Signals every matching session to end; returns the PIDs signalled. Does not wait. */
export async function terminateSessions(pools: PoolSet, target: ConnectTarget, options: TerminateOptions): Promise<number[]> {
  if (options.roles.length === 0) return [];
  const rows = await pools.query<{ pid: number }>(
    target,
    // Matching first, in a materialized step: in one WHERE clause the planner may
    // evaluate pg_terminate_backend before the filters.
    `WITH victims AS MATERIALIZED (
       SELECT a.pid FROM pg_stat_activity a
        WHERE a.backend_type = 'client backend'
          AND a.pid <> pg_backend_pid()
          AND a.usename = ANY($1::text[])
          AND ($2::text IS NULL OR coalesce(a.application_name, '') NOT LIKE $2 || '%')
          AND ($3::float8 IS NULL OR a.backend_start < clock_timestamp() - make_interval(secs => $3::float8)))
     SELECT pid FROM victims WHERE pg_terminate_backend(pid)`,
    [options.roles, options.spareApplicationNamePrefix ?? null, options.connectedLongerThanSeconds ?? null],
  );
  return rows.map((r) => r.pid);
}

export async function countSessions(pools: PoolSet, target: ConnectTarget, roles: readonly string[]): Promise<number> {
  if (roles.length === 0) return 0;
  const rows = await pools.query<{ n: string }>(
    target,
    `SELECT count(*) AS n FROM pg_stat_activity
      WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND usename = ANY($1::text[])`,
    [roles],
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Terminates the sessions of `roles` and waits until none is left. Termination is
 * asynchronous (a backend ends at its next interrupt check), and a login that passed
 * authentication just before its role became NOLOGIN may still arrive, so this signals
 * again on every poll. Returns how many distinct sessions were signalled. Throws
 * PGSHIFT_ERR_FREEZE_SESSIONS_REMAIN (504) when some outlive `timeoutMs`.
 */
export async function endSessions(
  pools: PoolSet,
  target: ConnectTarget,
  roles: readonly string[],
  clock: Clock,
  timeoutMs = D.FREEZE_SESSION_WAIT_MS,
): Promise<number> {
  if (roles.length === 0) return 0;
  const deadline = clock.now() + timeoutMs;
  const signalled = new Set<number>();
  let quietPolls = 0;
  for (;;) {
    for (const pid of await terminateSessions(pools, target, { roles })) signalled.add(pid);
    const left = await countSessions(pools, target, roles);
    // A backend shows in pg_stat_activity only a moment after its login check passed:
    // none left twice in a row, one poll apart, closes that gap.
    quietPolls = left === 0 ? quietPolls + 1 : 0;
    if (quietPolls >= 2) return signalled.size;
    if (left > 0 && clock.now() >= deadline) {
      throw new PgshiftError(
        'PGSHIFT_ERR_FREEZE_SESSIONS_REMAIN',
        `${left} sessions of ${roles.join(', ')} still open ${timeoutMs} ms after being terminated`,
        { status: 504, details: { left, roles } },
      );
    }
    await clock.sleep(D.FREEZE_SESSION_POLL_MS);
  }
}
