import type { SessionStore } from './store/session-store.js';
import type { Config } from './config/schema.js';
import type { Logger } from './log.js';
import type { MetricsCollector } from './metrics/prometheus.js';
import type { SignalRegistry } from './signals/registry.js';
import type { PreflightService } from './preflight/service.js';
import type { RehearsalService } from './rehearsal/service.js';
import type { SchemaSyncReport } from './replication/schema-sync.js';
import type { ShiftController } from './shift/controller.js';
import type { PairSignals } from './shift/ports.js';
import type { ShiftStore } from './shift/store.js';

/** Repairs a pair's schema drift on green (see replication/schema-sync.ts); throws PGSHIFT_ERR_PAIR_NOT_FOUND (404) for an unknown pair. */
export interface SchemaSyncService {
  sync(pair: string, options: { apply: boolean }): Promise<SchemaSyncReport>;
}

/** One named readiness condition; resolves (optionally with a detail) or throws why not. */
export interface ReadinessCheck {
  name: string;
  run(): Promise<string | void>;
}

/** The controller and what the pair routes read beside it. */
export interface ShiftServices {
  controller: ShiftController;
  store: ShiftStore;
  signals: (pair: string) => PairSignals;
}

/**
 * Everything the HTTP app needs, built by main.ts. Tests build their own, with real
 * adapters against the lab or in-memory ports, and pass it to buildApp. Parts left out
 * are simply not served.
 */
export interface Services {
  config: Config;
  log: Logger;
  readiness: ReadinessCheck[];
  shift?: ShiftServices;
  /** Runs and reads preflight reports; without it the preflight routes are not served. */
  preflight?: PreflightService;
  /** Every pair's signal samplers; without it the signal routes are not served and /metrics has no signals. */
  signals?: SignalRegistry;
  /** Dashboard sign-ins; without them the session routes are not served and only bearer tokens authenticate. */
  sessions?: SessionStore;
  /** Rehearsals on staging copies; without it the rehearsal routes are not served. */
  rehearsals?: RehearsalService;
  /** Schema drift repair; without it the schema route is not served. */
  schemaSync?: SchemaSyncService;
  /** Further contributors to /metrics. */
  metrics?: MetricsCollector[];
}
