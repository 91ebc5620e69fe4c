import { ConfigError } from '../../config/load.js';
import * as D from '../../defaults.js';
import { isPgshiftError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { withClient } from '../../postgres/connect.js';
import type { Lab } from '../lab.js';
import { LAB_PAIR } from '../lab-endpoints.js';
import { parseWorkloadSettings, type WorkloadSettings } from './config.js';
import type { DemoWorkload } from './workload.js';

/**
 * What the lab's entry point needs to run the demo application inside `npm start`:
 * its settings from the config's `lab.workload` section and the flags, the config
 * document for the service with the app signal off when the app does not run, and the
 * banner lines.
 */

/** Flags of the lab's entry point that override `lab.workload`. */
export interface WorkloadFlags {
  /** `--no-workload`: false. */
  enabled?: boolean;
  /** `--workload-rate N`: write transactions per second. */
  rate?: number;
}

/**
 * `lab.workload` of the config document (raw, as parsed from YAML) with the flags over
 * it. Throws ConfigError naming `lab.workload.<key>`, so the lab's entry point reports
 * it like any other config problem (exit 2) before the slow lab starts.
 */
export function labWorkloadSettings(document: unknown, flags: WorkloadFlags, source: string): WorkloadSettings {
  const lab = typeof document === 'object' && document !== null ? (document as Record<string, unknown>).lab : undefined;
  const section = typeof lab === 'object' && lab !== null ? (lab as Record<string, unknown>).workload : undefined;
  const base = typeof section === 'object' && section !== null ? (section as Record<string, unknown>) : section === undefined || section === null ? {} : section;
  try {
    if (typeof base !== 'object') throw new ConfigError(source, ['lab.workload: must be a mapping']);
    return parseWorkloadSettings(
      { ...base, ...(flags.enabled === undefined ? {} : { enabled: flags.enabled }), ...(flags.rate === undefined ? {} : { rate: flags.rate }) },
      'lab.workload',
    );
  } catch (err) {
    if (isPgshiftError(err, 'PGSHIFT_ERR_WORKLOAD_CONFIG')) throw new ConfigError(source, (err.details as { problems: string[] }).problems);
    throw err;
  }
}

/**
 * The service's config document with the demo pair's application signal switched off,
 * for a lab whose app does not run: with the signal on and nothing pushing, the pair
 * could never advance ("no application metrics pushed yet"). Other pairs are left alone.
 */
export function withoutAppSignal<T>(document: T, pair = LAB_PAIR): T {
  const doc = structuredClone(document) as { pairs?: { id?: unknown; signals?: { app?: Record<string, unknown> } }[] };
  for (const p of doc.pairs ?? []) {
    if (p.id !== pair || !p.signals?.app) continue;
    p.signals.app.enabled = false;
  }
  return doc as T;
}

/** The columns the app's ledger finds its writes by (src/local/seed.ts). */
const LEDGER_COLUMNS = ['orders.request_id', 'orders.paid_request', 'orders.shipped_request', 'invoices.request_id'];

/**
 * Whether the lab's demo database has the columns the app's ledger needs. A lab folder
 * seeded before the app existed lacks them, and adding them to blue alone would break
 * replication to green: then the app does not run (a warning says why), rather than
 * fail every write and revert every shift through its error signal.
 */
export async function demoSchemaReady(lab: Lab, log: Logger): Promise<boolean> {
  const present = await withClient(lab.target('blue', 'app'), async (c) =>
    (
      await c.query<{ name: string }>(
        `SELECT table_name || '.' || column_name AS name FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name || '.' || column_name = ANY($1)`,
        [LEDGER_COLUMNS],
      )
    ).rows.map((r) => r.name),
  );
  const missing = LEDGER_COLUMNS.filter((c) => !present.includes(c));
  if (missing.length === 0) return true;
  log.warn(
    { missing, database: D.LAB_DATABASE },
    'the demo database predates the demo application, which does not run: `npm start -- --fresh` starts a lab that has its columns',
  );
  return false;
}

/** The banner's lines about the app: that it runs, at what rate, and where its numbers are. */
export function workloadBannerLines(workload: DemoWorkload | null, labDir: string): string[] {
  if (!workload) return ['  demo app         off (lab.workload.enabled: false, --no-workload, or a lab older than the app: see the log)'];
  const { settings, names } = workload.snapshot();
  return [
    `  demo app         ${settings.rate} writes/s and ${Math.round(settings.readShare * 100)} % reads through ${names.writer} and ${names.reader}`,
    `  app numbers      curl ${workload.url}  (requests/s per side, latency, errors by kind)`,
    `  app ledger       npm run workload -- --verify --lab-dir ${labDir}`,
  ];
}
