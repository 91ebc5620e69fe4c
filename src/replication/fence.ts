import type { Clock } from '../clock.js';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import type { ConnectTarget } from '../postgres/connect.js';
import { newToken, readHeartbeat, writeHeartbeat } from './heartbeat.js';
import type { PoolSet } from './pool-set.js';

/**
 * Proving that a subscriber has everything its publisher committed. A fence row with
 * a fresh token, committed on the publisher after everything that matters, is applied
 * after all of it (apply follows commit order), so seeing the token on the subscriber
 * is the proof. On the lab that takes milliseconds, where waiting for the slot's
 * confirmed_flush_lsn takes hundreds (the subscriber reports its position lazily).
 */
export async function waitForFence(
  pools: PoolSet,
  ends: { publisher: ConnectTarget; subscriber: ConnectTarget },
  key: string,
  clock: Clock,
  timeoutMs: number,
): Promise<{ token: string; waitedMs: number }> {
  const token = newToken();
  const started = clock.now();
  await writeHeartbeat(pools, ends.publisher, key, token);
  const deadline = started + timeoutMs;
  for (;;) {
    const seen = await readHeartbeat(pools, ends.subscriber, key);
    if (seen?.token === token) return { token, waitedMs: clock.now() - started };
    if (clock.now() >= deadline) {
      throw new PgshiftError(
        'PGSHIFT_ERR_REPLICATION_CATCHUP_TIMEOUT',
        `${ends.subscriber.database}: the subscriber did not apply the fence within ${timeoutMs} ms`,
        { status: 504, details: { database: ends.subscriber.database, token, timeoutMs } },
      );
    }
    await clock.sleep(D.FENCE_POLL_MS);
  }
}

export async function currentLsn(pools: PoolSet, publisher: ConnectTarget): Promise<string> {
  const rows = await pools.query<{ lsn: string }>(publisher, 'SELECT pg_current_wal_lsn()::text AS lsn');
  return rows[0]!.lsn;
}

/** Waits until `slot` on the publisher has confirmed `lsn`. */
export async function waitForSlot(
  pools: PoolSet,
  publisher: ConnectTarget,
  slot: string,
  lsn: string,
  clock: Clock,
  timeoutMs: number,
): Promise<void> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const rows = await pools.query<{ reached: boolean | null }>(
      publisher,
      'SELECT confirmed_flush_lsn >= $2::pg_lsn AS reached FROM pg_replication_slots WHERE slot_name = $1',
      [slot, lsn],
    );
    if (rows.length === 0) {
      throw new PgshiftError('PGSHIFT_ERR_REPLICATION_NOT_SET_UP', `slot ${slot} does not exist on the publisher`, { status: 409 });
    }
    if (rows[0]!.reached === true) return;
    if (clock.now() >= deadline) {
      throw new PgshiftError(
        'PGSHIFT_ERR_REPLICATION_CATCHUP_TIMEOUT',
        `slot ${slot} did not confirm ${lsn} within ${timeoutMs} ms`,
        { status: 504, details: { slot, lsn, timeoutMs } },
      );
    }
    await clock.sleep(D.SLOT_POLL_MS);
  }
}
