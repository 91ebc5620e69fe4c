import type { Clock } from '../clock.js';
import * as D from '../defaults.js';

/** Runs one statement on the publisher (a pooled or a dedicated session) and gives its rows. */
export type PublisherQuery = (sql: string, params: unknown[]) => Promise<unknown[]>;

export interface SlotsToDrop {
  slot: string;
  /** Also the tablesync slots of the subscription with this oid in `database` (PostgreSQL 14 names them `pg_<oid>_sync_<relid>_<system id>`). */
  syncOf?: { oid: number; database: string };
}

/**
 * Drops the slots on the publisher, each once no walsender holds it; returns the names
 * it dropped (none: there were none). Throws when a slot is still in use after
 * SLOT_RELEASE_WAIT_MS. Safe to repeat.
 */
export async function dropSlotsWhenReleased(query: PublisherQuery, which: SlotsToDrop, clock: Clock): Promise<string[]> {
  const dropped: string[] = [];
  const deadline = clock.now() + D.SLOT_RELEASE_WAIT_MS;
  for (;;) {
    const rows = (await query(
      `SELECT slot_name, active FROM pg_replication_slots
        WHERE slot_name = $1 OR ($2::text IS NOT NULL AND database = $3 AND slot_name LIKE $2)`,
      [which.slot, which.syncOf ? `pg\\_${which.syncOf.oid}\\_sync\\_%` : null, which.syncOf?.database ?? null],
    )) as { slot_name: string; active: boolean }[];
    const left: string[] = [];
    for (const row of rows) {
      const done = row.active
        ? []
        : await query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [row.slot_name]);
      if (done.length > 0) dropped.push(row.slot_name);
      else left.push(row.slot_name);
    }
    if (left.length === 0) return dropped;
    if (clock.now() >= deadline) throw new Error(`slots still in use after ${D.SLOT_RELEASE_WAIT_MS} ms: ${left.join(', ')}`);
    await clock.sleep(D.SLOT_POLL_MS);
  }
}
