import type { Measurement } from './port.js';

/**
 * - healthy: the latest reading is fresh and within the limit.
 * - breached: over the limit for `consecutiveBreaches` readings in a row, or no reading
 *   for `consecutiveErrors` in a row (a source that cannot be read is not good news).
 * - unknown: not enough evidence either way: no reading yet, a failed or stale
 *   reading, or a breach not yet confirmed by enough consecutive readings.
 * Only `healthy` lets a pair advance; only `breached` reverts it.
 */
export const SIGNAL_STATUSES = ['healthy', 'breached', 'unknown'] as const;
export type SignalStatus = (typeof SIGNAL_STATUSES)[number];

export interface SignalLimit {
  /** A value equal to `max` is within the limit; only a greater one is a breach. */
  max: number;
  /** Readings over `max` in a row that make a breach (1: the first one does). */
  consecutiveBreaches: number;
  /** Failed readings in a row that make a breach. */
  consecutiveErrors: number;
  /** A latest reading older than this is stale. */
  maxAgeMs: number;
}

export interface Assessment {
  status: SignalStatus;
  /** Readings over the limit in a row, newest backwards; failed readings neither count nor interrupt. */
  consecutiveBreaches: number;
  /** Failed readings in a row, newest backwards. */
  consecutiveErrors: number;
  /** The newest value read, if any. */
  value: number | null;
  /** One line for logs, events and the dashboard. */
  reason: string;
}

/**
 * Turns a window of measurements (oldest first) into a status. Pure. Failed readings
 * do not reset a run of breaches: a source that flickers while a limit is exceeded
 * must not postpone the revert. Only a reading within the limit resets it.
 */
export function assessSignal(window: readonly Measurement[], limit: SignalLimit, now: number): Assessment {
  const latest = window[window.length - 1];
  if (!latest) return { status: 'unknown', consecutiveBreaches: 0, consecutiveErrors: 0, value: null, reason: 'no reading yet' };

  let consecutiveErrors = 0;
  for (let i = window.length - 1; i >= 0 && !isReading(window[i]!); i--) consecutiveErrors++;

  let consecutiveBreaches = 0;
  let value: number | null = null;
  for (let i = window.length - 1; i >= 0; i--) {
    const m = window[i]!;
    if (!isReading(m)) continue;
    value ??= m.value;
    if (m.value <= limit.max) break;
    consecutiveBreaches++;
  }

  const counts = { consecutiveBreaches, consecutiveErrors, value };
  const ageMs = now - latest.at;
  if (ageMs > limit.maxAgeMs) {
    return { status: 'unknown', ...counts, reason: `latest reading is stale (${formatNumber(ageMs / 1000)} s old)` };
  }
  if (consecutiveBreaches >= limit.consecutiveBreaches) {
    return {
      status: 'breached',
      ...counts,
      reason: `${formatNumber(value!)} > ${formatNumber(limit.max)} for ${consecutiveBreaches} readings in a row`,
    };
  }
  if (consecutiveErrors >= limit.consecutiveErrors) {
    return { status: 'breached', ...counts, reason: `no reading for ${consecutiveErrors} samples in a row: ${latest.error ?? 'no value'}` };
  }
  if (!isReading(latest)) return { status: 'unknown', ...counts, reason: `no reading: ${latest.error ?? 'no value'}` };
  if (latest.value > limit.max) {
    return {
      status: 'unknown',
      ...counts,
      reason: `${formatNumber(latest.value)} > ${formatNumber(limit.max)} for ${consecutiveBreaches} of ${limit.consecutiveBreaches} readings`,
    };
  }
  return { status: 'healthy', ...counts, reason: `${formatNumber(latest.value)} <= ${formatNumber(limit.max)}` };
}

function isReading(m: Measurement): m is Measurement & { value: number } {
  return m.value !== null && Number.isFinite(m.value);
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return String(Number(n.toPrecision(4)));
}
