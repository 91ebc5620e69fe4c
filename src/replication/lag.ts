import * as D from '../defaults.js';
import { describeError } from '../errors.js';
import { ident, type ConnectTarget } from '../postgres/connect.js';
import { lagSecondsFrom, newToken, writeHeartbeat, type HeartbeatHistory } from './heartbeat.js';
import type { PoolSet } from './pool-set.js';
import type { DatabaseLag } from './port.js';
import { slotName } from './setup.js';

/**
 * One database's lag: the subscriber says which heartbeat it shows and which slot it
 * streams from; the publisher says how far its WAL is past that slot's confirmed
 * flush and what time it is. Then the next heartbeat is written, so that the next
 * reading has one interval's worth of history to judge.
 */
export async function measureDatabaseLag(
  pools: PoolSet,
  ends: { publisher: ConnectTarget; subscriber: ConnectTarget },
  names: { database: string; subscription: string; heartbeatKey: string },
  history: HeartbeatHistory,
): Promise<DatabaseLag> {
  const lag: DatabaseLag = { database: names.database, bytes: null, seconds: null, appliedToken: null };
  const errors: string[] = [];
  let slot = slotName(names.subscription, names.database);
  let subscriberOk = false;
  try {
    const rows = await pools.query<{ slot: string | null; token: string | null }>(
      ends.subscriber,
      `SELECT (SELECT s.subslotname FROM pg_subscription s
                WHERE s.subname = $2 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS slot,
              h.token
         FROM (SELECT 1) one LEFT JOIN ${ident(D.PGSHIFT_SCHEMA)}.heartbeat h ON h.source = $1`,
      [names.heartbeatKey, names.subscription],
    );
    slot = rows[0]?.slot ?? slot;
    lag.appliedToken = rows[0]?.token ?? null;
    subscriberOk = true;
  } catch (err) {
    errors.push(`subscriber: ${describeError(err)}`);
  }

  try {
    const rows = await pools.query<{ now: Date; bytes: string | null; slot_exists: boolean }>(
      ends.publisher,
      `SELECT clock_timestamp() AS now, s.slot_name IS NOT NULL AS slot_exists,
              pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::text AS bytes
         FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`,
      [slot],
    );
    const row = rows[0]!;
    if (!row.slot_exists) errors.push(`slot ${slot} does not exist on the publisher`);
    else if (row.bytes === null) errors.push(`slot ${slot} has no confirmed position yet`);
    else lag.bytes = Math.max(0, Number(row.bytes));
    if (subscriberOk) {
      lag.seconds = lagSecondsFrom(history.list(), lag.appliedToken, row.now.getTime());
      if (lag.seconds === null) errors.push('no heartbeat written by this process yet; seconds are known from the next reading');
    }
  } catch (err) {
    errors.push(`publisher: ${describeError(err)}`);
  }
  try {
    const token = newToken();
    const written = await writeHeartbeat(pools, ends.publisher, names.heartbeatKey, token);
    history.record({ token, writtenAt: written.writtenAt });
  } catch (err) {
    // Without new heartbeats a stalled apply would read as caught up: no value is better.
    lag.seconds = null;
    errors.push(`heartbeat not written: ${describeError(err)}`);
  }
  if (errors.length > 0) lag.error = errors.join('; ');
  return lag;
}
