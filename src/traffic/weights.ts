import { PgshiftError } from '../errors.js';
import { RECORD_KINDS, type RecordKind, type Side, type Split, type Weights } from '../shift/model.js';

/**
 * Percent splits and Route 53 weights. pgshift writes percent p directly as weight p, so
 * weights always sum to 100 and read back as they were written. Route 53 itself answers
 * in proportion to weight / sum and splits EVENLY when every weight is 0, which is why a
 * 0/0 split is refused.
 */

/** Problems with one split, each naming `label`; empty when it is valid. */
export function describeSplitProblems(split: unknown, label: string): string[] {
  if (typeof split !== 'object' || split === null) return [`${label}: must be an object { blue, green }`];
  const { blue, green, ...rest } = split as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(rest)) problems.push(`${label}.${key}: unknown side`);
  for (const [side, value] of [['blue', blue], ['green', green]] as const) {
    if (typeof value !== 'number' || !Number.isInteger(value)) problems.push(`${label}.${side}: must be an integer percent, got ${String(value)}`);
    else if (value < 0 || value > 100) problems.push(`${label}.${side}: must be between 0 and 100, got ${value}`);
  }
  if (problems.length > 0) return problems;
  const b = blue as number;
  const g = green as number;
  if (b === 0 && g === 0) problems.push(`${label}: blue 0 and green 0 would make Route 53 split evenly; one side must have the traffic`);
  else if (b + g !== 100) problems.push(`${label}: blue + green must be 100, got ${b} + ${g} = ${b + g}`);
  return problems;
}

/** The names a desired change touches; throws PGSHIFT_ERR_INVALID_WEIGHTS (400) listing every problem. */
export function checkDesiredWeights(desired: Partial<Weights>): RecordKind[] {
  if (typeof desired !== 'object' || desired === null) throw invalidWeights(['weights: must be an object { reader?, writer? }']);
  const problems: string[] = [];
  const kinds: RecordKind[] = [];
  for (const key of Object.keys(desired)) {
    if (!(RECORD_KINDS as readonly string[]).includes(key)) problems.push(`${key}: unknown name (expected reader or writer)`);
  }
  for (const kind of RECORD_KINDS) {
    const split = desired[kind];
    if (split === undefined) continue;
    problems.push(...describeSplitProblems(split, kind));
    kinds.push(kind);
  }
  if (problems.length === 0 && kinds.length === 0) problems.push('weights: give reader, writer or both');
  if (problems.length > 0) throw invalidWeights(problems);
  return kinds;
}

/** Like checkDesiredWeights, for a complete Weights (both names required). */
export function checkWeights(weights: Weights): void {
  const problems = RECORD_KINDS.flatMap((kind) =>
    weights?.[kind] === undefined ? [`${kind}: is required`] : describeSplitProblems(weights[kind], kind),
  );
  if (problems.length > 0) throw invalidWeights(problems);
}

function invalidWeights(problems: string[]): PgshiftError {
  return new PgshiftError('PGSHIFT_ERR_INVALID_WEIGHTS', `invalid weights: ${problems.join('; ')}`, {
    status: 400,
    details: { problems },
  });
}

/** Route 53 weights for a valid split: percent p is weight p. */
export function recordWeightsOf(split: Split): Record<Side, number> {
  return { blue: split.blue, green: split.green };
}

/**
 * The share of answers each side gets from these Route 53 weights, in whole percent
 * summing to 100: weight / sum, and an even split when both are 0 (Route 53's rule).
 */
export function splitOf(weights: Record<Side, number>): Split {
  const sum = weights.blue + weights.green;
  if (sum === 0) return { blue: 50, green: 50 };
  const green = Math.round((100 * weights.green) / sum);
  return { blue: 100 - green, green };
}
