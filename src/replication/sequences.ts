import type { ConnectTarget } from '../postgres/connect.js';
import type { PoolSet } from './pool-set.js';

/**
 * Logical replication does not carry sequences, so before a side takes writes each of
 * its sequences must be moved to at least where the other side's is. Every sequence
 * counts: owned by a serial column, behind an identity column, or free-standing and
 * used by a DEFAULT nextval(...).
 */
export interface SequenceValue {
  schema: string;
  name: string;
  lastValue: bigint;
  isCalled: boolean;
  increment: bigint;
}

/**
 * Every sequence's state in one statement. The state lives in the sequence relation
 * itself (pg_sequences hides is_called and shows NULL before the first nextval, and
 * pg_sequence_last_value() loses a setval(.., false)), and a statement cannot name a
 * relation it has only just found; query_to_xml runs the per-sequence SELECT server
 * side instead, so a database with thousands of sequences costs one round trip.
 */
export async function readSequences(pools: PoolSet, target: ConnectTarget): Promise<SequenceValue[]> {
  const rows = await pools.query<{ schema: string; name: string; increment: string; last_value: string; is_called: boolean }>(
    target,
    `SELECT n.nspname AS schema, c.relname AS name, s.seqincrement::text AS increment,
            (xpath('/row/last_value/text()', state))[1]::text AS last_value,
            (xpath('/row/is_called/text()', state))[1]::text = 'true' AS is_called
       FROM pg_sequence s
       JOIN pg_class c ON c.oid = s.seqrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN LATERAL query_to_xml(format('SELECT last_value, is_called FROM %I.%I', n.nspname, c.relname), false, true, '') AS state
      WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
      ORDER BY 1, 2`,
  );
  return rows.map((row) => ({
    schema: row.schema,
    name: row.name,
    lastValue: BigInt(row.last_value),
    isCalled: row.is_called,
    increment: BigInt(row.increment),
  }));
}

/** The value nextval() would return next. */
export function nextValue(s: Pick<SequenceValue, 'lastValue' | 'isCalled' | 'increment'>): bigint {
  return s.isCalled ? s.lastValue + s.increment : s.lastValue;
}

/** Whether `target` would hand out `source`'s next value or one further along its direction. */
export function isAtOrPast(target: SequenceValue, source: SequenceValue): boolean {
  const t = nextValue(target);
  const s = nextValue(source);
  return source.increment < 0n ? t <= s : t >= s;
}

export interface SequencePlan {
  set: SequenceValue[];
  alreadyAhead: number;
  missing: string[];
}

/**
 * What the target is set to: the source's own state (is_called kept), or with a margin
 * that many increments past the value the source hands out next, as the next value.
 */
export function advanceBy(source: SequenceValue, margin: number): SequenceValue {
  if (margin === 0) return source;
  return { ...source, lastValue: nextValue(source) + BigInt(margin) * source.increment, isCalled: false };
}

/** Which target sequences to set to the source's state plus `margin` increments; never moves one backwards. */
export function planSequenceCopy(source: SequenceValue[], target: SequenceValue[], margin = 0): SequencePlan {
  const byName = new Map(target.map((s) => [`${s.schema}.${s.name}`, s]));
  const plan: SequencePlan = { set: [], alreadyAhead: 0, missing: [] };
  for (const s of source) {
    const t = byName.get(`${s.schema}.${s.name}`);
    const wanted = advanceBy(s, margin);
    if (!t) plan.missing.push(`${s.schema}.${s.name}`);
    else if (isAtOrPast(t, wanted)) plan.alreadyAhead += 1;
    else plan.set.push(wanted);
  }
  return plan;
}

/** setval on the target for every planned sequence, in one statement. */
export async function applySequenceValues(pools: PoolSet, target: ConnectTarget, values: SequenceValue[]): Promise<void> {
  if (values.length === 0) return;
  await pools.query(
    target,
    `SELECT setval(format('%I.%I', s, n)::regclass, v, c)
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::boolean[]) AS t(s, n, v, c)`,
    [values.map((v) => v.schema), values.map((v) => v.name), values.map((v) => v.lastValue.toString()), values.map((v) => v.isCalled)],
  );
}
