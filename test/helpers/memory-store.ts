import { PgshiftError } from '../../src/errors.js';
import { MemoryShiftStore as Base } from '../../src/shift/memory-store.js';

/** The in-memory store, with a state database that can be made to fail, and the audit log as short strings. */
export class MemoryShiftStore extends Base {
  /** When set, every call fails with this message (the state database is down). */
  failing: string | null = null;

  protected override check(): void {
    if (this.failing) throw new PgshiftError('PGSHIFT_ERR_STATE_UNREACHABLE', this.failing, { status: 503 });
  }

  actions(pair: string): string[] {
    return this.events.filter((e) => e.pair === pair).map((e) => `${e.action}:${e.outcome}`);
  }
}
