import { randomBytes } from 'node:crypto';
import * as D from '../defaults.js';
import { ident, literal, type ConnectTarget } from '../postgres/connect.js';
import type { PoolSet } from './pool-set.js';

/**
 * pgshift.heartbeat on the publisher holds one row per writer key; being in the
 * publication, the row arrives on the subscriber in commit order with everything
 * committed before it. The key names the pair and the publishing side, so pairs that
 * share a cluster and the two directions never overwrite each other's rows.
 */
export function heartbeatKey(pairId: string, from: string, purpose: 'lag' | 'fence'): string {
  return purpose === 'lag' ? `${pairId}/${from}` : `${pairId}/${from}/fence`;
}

export function newToken(): string {
  return randomBytes(D.HEARTBEAT_TOKEN_BYTES).toString('hex');
}

const TABLE = `${ident(D.PGSHIFT_SCHEMA)}.heartbeat`;

/**
 * Replaces the row of `key` with `token` and returns the publisher's commit-side
 * clock for it. Delete-then-insert rather than an upsert: an UPDATE of a row the
 * subscriber lacks (reverse replication set up without copying) would be skipped
 * there silently, an INSERT is not. Both statements go as one simple query, which
 * PostgreSQL runs as one transaction.
 */
export async function writeHeartbeat(
  pools: PoolSet,
  publisher: ConnectTarget,
  key: string,
  token: string,
): Promise<{ writtenAt: number }> {
  const rows = await pools.query<{ written_at: Date }>(
    publisher,
    `DELETE FROM ${TABLE} WHERE source = ${literal(key)};
     INSERT INTO ${TABLE} (source, token, written_at) VALUES (${literal(key)}, ${literal(token)}, clock_timestamp())
       RETURNING written_at`,
  );
  return { writtenAt: rows[0]!.written_at.getTime() };
}

/** The token the subscriber shows for `key`, with its written_at; null when no row arrived. */
export async function readHeartbeat(
  pools: PoolSet,
  subscriber: ConnectTarget,
  key: string,
): Promise<{ token: string; writtenAt: number; now: number } | null> {
  const rows = await pools.query<{ token: string | null; written_at: Date | null; now: Date }>(
    subscriber,
    `SELECT h.token, h.written_at, clock_timestamp() AS now
       FROM (SELECT 1) one LEFT JOIN ${TABLE} h ON h.source = $1`,
    [key],
  );
  const row = rows[0]!;
  return row.token === null || row.written_at === null
    ? null
    : { token: row.token, writtenAt: row.written_at.getTime(), now: row.now.getTime() };
}

export interface WrittenHeartbeat {
  token: string;
  /** Publisher clock, epoch ms. */
  writtenAt: number;
}

/** The heartbeats this process wrote for one key, oldest first, bounded. */
export class HeartbeatHistory {
  private readonly entries: WrittenHeartbeat[] = [];

  constructor(private readonly capacity = D.HEARTBEAT_HISTORY) {}

  record(entry: WrittenHeartbeat): void {
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  list(): readonly WrittenHeartbeat[] {
    return this.entries;
  }
}

/**
 * Lag in seconds from what the subscriber shows and what this process wrote: the age,
 * on the publisher's clock, of the oldest heartbeat written that has not arrived.
 * Zero when the newest has arrived. When the subscriber shows a token this process
 * never wrote (older than its history), none of ours has arrived, so the oldest of
 * ours is the one waiting. Null when this process has written nothing yet.
 */
export function lagSecondsFrom(
  written: readonly WrittenHeartbeat[],
  appliedToken: string | null,
  publisherNow: number,
): number | null {
  if (written.length === 0) return null;
  const index = appliedToken === null ? -1 : written.findIndex((w) => w.token === appliedToken);
  const oldestWaiting = written[index + 1];
  if (!oldestWaiting) return 0;
  return Math.max(0, publisherNow - oldestWaiting.writtenAt) / 1000;
}
