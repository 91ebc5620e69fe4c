import type { Side } from '../shift/model.js';
import type { Measurement } from './port.js';

/**
 * - healthy: the latest reading is fresh and within the limit.
 * - breached: over the limit for `consecutiveBreaches` readings in a row, or no reading
 *   for `consecutiveErrors` in a row (a source that cannot be read is not good news).
 * - unknown: not enough evidence either way: no reading yet, a failed or stale
 *   reading, a breach not yet confirmed by enough consecutive readings, or a signal
 *   with nothing to measure at this stage.
 * Only `healthy` lets a pair advance. Whether a breach reverts is the assessment's
 * separate verdict (`Assessment.reverts`).
 */
export const SIGNAL_STATUSES = ['healthy', 'breached', 'unknown'] as const;
export type SignalStatus = (typeof SIGNAL_STATUSES)[number];

/**
 * Green held against blue, the control, over the same window: green's reading is over
 * the relative limit when it exceeds blue's reading of the same sample round times
 * `factor` plus `margin` (in the signal's unit).
 */
export interface RelativeLimit {
  factor: number;
  margin: number;
}

export interface SignalLimit {
  /**
   * The absolute limit. A value equal to `max` is within it; only a greater one is a
   * breach. With `relative` it stays the ceiling: a relative limit can only tighten it.
   */
  max: number;
  /** Green's readings are also held to blue's (see RelativeLimit); absent: absolute only. */
  relative?: RelativeLimit;
  /** The signal's unit as people read it ("ms", "s", "ratio", ...), for reasons. */
  unit?: string;
  /** Readings over the limit in a row that make a breach (1: the first one does). */
  consecutiveBreaches: number;
  /** Failed readings in a row that make a breach. */
  consecutiveErrors: number;
  /** A latest reading older than this is stale. */
  maxAgeMs: number;
  /** A breach of this signal never reverts, for the reason given (it only blocks advancing). */
  neverReverts?: string;
}

/**
 * A reading as the assessment sees it: the measurement, and for a green signal with a
 * relative limit, blue's value of the same signal from the same sample round. `control`
 * undefined: nothing to compare with (absolute limit); null: blue had no reading, so the
 * absolute limit applies alone.
 */
export interface AssessedMeasurement extends Measurement {
  control?: number | null;
}

/** Where the signal stands, for the verdict: which side it concerns and who takes traffic. */
export interface Exposure {
  /** The side the signal concerns; null for the pair as a whole (replication, pushed app metrics). */
  side: Side | null;
  /** Green takes application traffic now (a reader or writer share above 0). */
  greenExposed: boolean;
}

export interface Assessment {
  status: SignalStatus;
  /**
   * The verdict: this signal sends traffic back to blue now. Only a breach reverts, and
   * only one of green or of the pair while green takes application traffic: reverting
   * for a breach on blue would send more traffic to the side in trouble, and while
   * green takes none there is nothing to take back. Every other breach blocks advancing.
   */
  reverts: boolean;
  /** Readings over the limit in a row, newest backwards; failed readings neither count nor interrupt. */
  consecutiveBreaches: number;
  /** Failed readings in a row, newest backwards. */
  consecutiveErrors: number;
  /** The newest value read, if any. */
  value: number | null;
  /** The limit the newest value was held to: `max`, or tighter when relative to blue. */
  limit: number;
  /** Blue's value the newest reading was compared with; null when none was. */
  control: number | null;
  /** One line with the numbers, for logs, events, the halt reason and the dashboard. */
  reason: string;
}

/**
 * Turns a window of measurements (oldest first) into a status and a verdict. Pure.
 * Failed readings do not reset a run of breaches: a source that flickers while a limit
 * is exceeded must not postpone the revert. Only a reading within its limit resets it.
 * Each reading is held to the limit of its own sample round (blue's value then, when
 * relative), so a run of breaches is a run against what blue did at the same time.
 */
export function assessSignal(window: readonly AssessedMeasurement[], limit: SignalLimit, now: number, exposure: Exposure): Assessment {
  const latest = window[window.length - 1];
  const unit = limit.unit ?? '';
  const base = { reverts: false, consecutiveBreaches: 0, consecutiveErrors: 0, value: null, limit: limit.max, control: null };
  if (!latest) return { status: 'unknown', ...base, reason: 'no reading yet' };
  if (latest.notApplicable) return { status: 'unknown', ...base, reason: `nothing to measure: ${latest.error ?? 'not applicable now'}` };

  let consecutiveErrors = 0;
  for (let i = window.length - 1; i >= 0 && !isReading(window[i]!); i--) consecutiveErrors++;

  let consecutiveBreaches = 0;
  let newest: { value: number; limit: EffectiveLimit } | null = null;
  for (let i = window.length - 1; i >= 0; i--) {
    const m = window[i]!;
    if (!isReading(m)) continue;
    const held = effectiveLimit(m, limit);
    newest ??= { value: m.value, limit: held };
    if (m.value <= held.value) break;
    consecutiveBreaches++;
  }

  const counts = {
    consecutiveBreaches,
    consecutiveErrors,
    value: newest?.value ?? null,
    limit: newest?.limit.value ?? limit.max,
    control: newest?.limit.control ?? null,
  };
  const ageMs = now - latest.at;
  if (ageMs > limit.maxAgeMs) {
    return { status: 'unknown', reverts: false, ...counts, reason: `latest reading is stale (${formatNumber(ageMs / 1000)} s old)` };
  }
  const breached = (reason: string): Assessment => {
    const verdict = limit.neverReverts ? { reverts: false as const, why: limit.neverReverts } : revertVerdict(exposure);
    return { status: 'breached', reverts: verdict.reverts, ...counts, reason: verdict.reverts ? reason : `${reason}; ${verdict.why}` };
  };
  if (newest && consecutiveBreaches >= limit.consecutiveBreaches) {
    return breached(`${formatValue(newest.value, unit)} > ${describeLimit(newest.limit, unit)} for ${samples(consecutiveBreaches)}`);
  }
  if (consecutiveErrors >= limit.consecutiveErrors) {
    return breached(`no reading for ${samples(consecutiveErrors)}: ${latest.error ?? 'no value'}`);
  }
  if (!isReading(latest)) return { status: 'unknown', reverts: false, ...counts, reason: `no reading: ${latest.error ?? 'no value'}` };
  const held = newest!.limit;
  if (latest.value > held.value) {
    return {
      status: 'unknown',
      reverts: false,
      ...counts,
      reason: `${formatValue(latest.value, unit)} > ${describeLimit(held, unit)} for ${consecutiveBreaches} of ${samples(limit.consecutiveBreaches)}`,
    };
  }
  return { status: 'healthy', reverts: false, ...counts, reason: `${formatValue(latest.value, unit)} <= ${describeLimit(held, unit)}` };
}

function revertVerdict(exposure: Exposure): { reverts: true } | { reverts: false; why: string } {
  if (exposure.side === 'blue') return { reverts: false, why: 'blocks advancing, no revert: blue is the control and a revert sends traffic to it' };
  if (!exposure.greenExposed) return { reverts: false, why: 'blocks advancing, no revert: green takes no application traffic' };
  return { reverts: true };
}

interface EffectiveLimit {
  value: number;
  /** Blue's value it was derived from, when it was. */
  control: number | null;
  /** How it came about, for the reason. */
  basis: 'absolute' | 'relative' | 'absolute-lower' | 'no-control';
  /** blue × factor + margin, when computed. */
  relativeValue?: number;
  relative?: RelativeLimit;
}

/**
 * The limit one reading is held to. Relative limits only tighten: green breaches when
 * over the absolute limit OR worse than blue by the factor and margin. With no value
 * from blue in the same round, the absolute limit alone.
 */
function effectiveLimit(m: AssessedMeasurement, limit: SignalLimit): EffectiveLimit {
  if (!limit.relative || m.control === undefined) return { value: limit.max, control: null, basis: 'absolute' };
  if (m.control === null || !Number.isFinite(m.control)) return { value: limit.max, control: null, basis: 'no-control' };
  // Rounded to 12 significant digits: 56.04 x 2 + 100 is 212.07999999999998 in binary floating point.
  const relativeValue = Number((m.control * limit.relative.factor + limit.relative.margin).toPrecision(12));
  if (relativeValue < limit.max) return { value: relativeValue, control: m.control, basis: 'relative', relativeValue, relative: limit.relative };
  return { value: limit.max, control: m.control, basis: 'absolute-lower', relativeValue, relative: limit.relative };
}

function describeLimit(held: EffectiveLimit, unit: string): string {
  const limit = `limit ${formatValue(held.value, unit)}`;
  switch (held.basis) {
    case 'absolute':
      return limit;
    case 'no-control':
      return `${limit} (absolute: blue has no reading to compare with)`;
    case 'relative':
      return `${limit} (blue ${formatValue(held.control!, unit)} × ${formatNumber(held.relative!.factor)} + ${formatValue(held.relative!.margin, unit)})`;
    case 'absolute-lower':
      return `${limit} (absolute; blue ${formatValue(held.control!, unit)} × ${formatNumber(held.relative!.factor)} + ${formatValue(held.relative!.margin, unit)} = ${formatValue(held.relativeValue!, unit)})`;
  }
}

function samples(n: number): string {
  return n === 1 ? '1 sample' : `${n} samples`;
}

function isReading(m: Measurement): m is Measurement & { value: number } {
  return m.value !== null && Number.isFinite(m.value);
}

/** A value with its unit as people read it: ratios as percentages, others with the unit's symbol. */
export function formatValue(n: number, unit: string): string {
  switch (unit) {
    case 'ratio':
      return `${formatNumber(n * 100)} %`;
    case '':
      return formatNumber(n);
    default:
      return `${formatNumber(n)} ${unit}`;
  }
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return String(Number(n.toPrecision(4)));
}
