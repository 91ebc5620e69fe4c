import { isSynchronized } from '../replication/copy-progress.js';
import type { TableCopyReading } from '../shift/ports.js';

/** One table's initial copy as the rehearsal reports it (the report's `copy.perTable`). */
export interface TableCopyTiming {
  database: string;
  table: string;
  bytes: number;
  seconds: number;
  doneAfterSeconds: number;
}

interface Sightings {
  database: string;
  table: string;
  bytes: number;
  /** The last reading that saw it waiting (`i`) for a sync worker. */
  waitingAt: number | null;
  underwayAt: number | null;
  syncedAt: number | null;
}

/**
 * Times each table's initial copy from the readings of the copy step, to the precision
 * of their interval. A table waits in `i` until one of the few sync workers takes it,
 * so the waiting is not counted: its copy runs from the first reading that saw it under
 * way (`d`, or `f` on 14+) to the first that saw it synchronized. One copied entirely
 * between two readings counts from the last reading that saw it waiting (at most one
 * interval, never more than it can have taken); one synchronized when first seen counts 0.
 */
export class TableCopyTimes {
  private readonly tables = new Map<string, Sightings>();

  observe(reading: TableCopyReading): void {
    for (const seen of reading.tables) {
      const key = JSON.stringify([seen.database, seen.table]);
      let table = this.tables.get(key);
      if (!table) this.tables.set(key, (table = { database: seen.database, table: seen.table, bytes: 0, waitingAt: null, underwayAt: null, syncedAt: null }));
      // The latest reading's size, as the copy's total is the latest reading's sum.
      table.bytes = seen.bytes;
      if (table.syncedAt !== null) continue;
      if (isSynchronized(seen.state)) {
        table.syncedAt = reading.at;
        table.underwayAt ??= table.waitingAt ?? reading.at;
      } else if (seen.state === 'i') {
        table.waitingAt = reading.at;
      } else {
        table.underwayAt ??= reading.at;
      }
    }
  }

  /** The synchronized tables, slowest first, with times relative to `startedAt` (epoch ms, the copy step's start). */
  timings(startedAt: number): TableCopyTiming[] {
    const timings: TableCopyTiming[] = [];
    for (const t of this.tables.values()) {
      if (t.syncedAt === null || t.underwayAt === null) continue;
      timings.push({
        database: t.database,
        table: t.table,
        bytes: t.bytes,
        seconds: (t.syncedAt - t.underwayAt) / 1000,
        doneAfterSeconds: (t.syncedAt - startedAt) / 1000,
      });
    }
    return timings.sort(
      (a, b) => b.seconds - a.seconds || b.doneAfterSeconds - a.doneAfterSeconds || a.database.localeCompare(b.database) || a.table.localeCompare(b.table),
    );
  }
}
