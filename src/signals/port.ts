import * as D from '../defaults.js';
import { type Side } from '../shift/model.js';

/**
 * One reading of a signal. `value` null means no reading (then `error` says why);
 * a reading is never thrown, so one broken source cannot stop the others.
 */
export interface Measurement {
  value: number | null;
  /** Epoch ms when taken. */
  at: number;
  error?: string;
  /**
   * The signal has nothing to measure at this stage (no replication runs once the pair
   * is finalized): no value, yet not a failure either, so it never counts towards
   * `consecutiveErrors` and never reverts.
   */
  notApplicable?: true;
  detail?: Record<string, unknown>;
}

/** What pgshift measures. Values are in the unit of the name; rates are 0..1. */
export const SIGNAL_NAMES = {
  lagSeconds: 'replication.lag_seconds',
  lagBytes: 'replication.lag_bytes',
  /** Number of replication problems; anything above 0 is a breach at once. */
  health: 'replication.problems',
  probeErrorRate: 'probe.error_rate',
  probeP95Ms: 'probe.p95_ms',
  dbErrorRate: 'db.error_rate',
  appErrorRate: 'app.error_rate',
  /** Objects that differ between blue's and green's schemas; anything above 0 blocks advancing and the cutover. */
  schemaDrift: D.SCHEMA_DRIFT_SIGNAL,
} as const;
export type SignalName = (typeof SIGNAL_NAMES)[keyof typeof SIGNAL_NAMES];

export const SIGNAL_UNITS: Record<SignalName, string> = {
  'replication.lag_seconds': 's',
  'replication.lag_bytes': 'bytes',
  'replication.problems': 'problems',
  'probe.error_rate': 'ratio',
  'probe.p95_ms': 'ms',
  'db.error_rate': 'ratio',
  'app.error_rate': 'ratio',
  [D.SCHEMA_DRIFT_SIGNAL]: 'objects',
};

/**
 * A source of one signal. `measure` never throws: failures come back as a measurement
 * with `value: null` and `error`. It may be slow when a side hangs; PairSignals gives
 * every reading a deadline and does not ask again while one is still running.
 */
export interface SignalProvider {
  /** Unique within a pair: the name, and the side for per-side signals (`probe.error_rate:green`). */
  readonly id: string;
  readonly name: SignalName;
  /** The side the signal concerns; null for the pair as a whole (replication, pushed app metrics). */
  readonly side: Side | null;
  measure(): Promise<Measurement>;
  /** Starts background work the provider needs (e.g. probing between samples). Idempotent. */
  start?(): void;
  /** Stops it and releases connections. Idempotent. */
  stop?(): Promise<void>;
  /** A provider that hands out an older reading between its own reads (schema drift) reads afresh at the next sample. */
  expire?(): void;
}

export function signalId(name: SignalName, side: Side | null): string {
  return side === null ? name : `${name}:${side}`;
}

/**
 * Never throws: an exception from `read` becomes a measurement with its message. For
 * wrapping readers that may throw into providers.
 */
export async function measureSafely(now: () => number, read: () => Promise<Omit<Measurement, 'at'>>): Promise<Measurement> {
  try {
    return { ...(await read()), at: now() };
  } catch (err) {
    return { value: null, at: now(), error: err instanceof Error ? err.message : String(err) };
  }
}
