import type { Clock } from '../clock.js';
import type { ShiftStore } from '../shift/store.js';
import { parsePreflightReport, type PreflightReport } from './report.js';

/**
 * Where the last preflight report of each pair is kept, so that the API can answer it
 * and the controller can refuse to advance past baseline while it has blockers.
 */
export interface PreflightReportStore {
  /** Keeps `report` as its pair's last one, replacing the previous. Idempotent. */
  save(report: PreflightReport): Promise<void>;
  /** The pair's last report; null when preflight never ran for it. Throws when the store is unreachable. */
  last(pairId: string): Promise<PreflightReport | null>;
}

/** Keeps reports in pgshift's state database, so they survive restarts and every copy of the service reads the same. */
export class StateStorePreflightReports implements PreflightReportStore {
  constructor(
    private readonly store: Pick<ShiftStore, 'savePreflightReport' | 'lastPreflightReport'>,
    private readonly clock: Clock,
  ) {}

  async save(report: PreflightReport): Promise<void> {
    await this.store.savePreflightReport(report.pair, report, this.clock.now());
  }

  /** A stored value that is not a report (written by another version) counts as none: preflight must run again. */
  async last(pairId: string): Promise<PreflightReport | null> {
    return parsePreflightReport(await this.store.lastPreflightReport(pairId));
  }
}
