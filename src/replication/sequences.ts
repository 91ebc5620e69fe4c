import * as D from '../defaults.js';
import { ident, type ConnectTarget } from '../postgres/connect.js';
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

export async function readSequences(pools: PoolSet, target: ConnectTarget): Promise<SequenceValue[]> {
  const list = await pools.query<{ schema: string; name: string; increment: string }>(
    target,
    `SELECT n.nspname AS schema, c.relname AS name, s.seqincrement::text AS increment
       FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
      ORDER BY 1, 2`,
  );
  const values: SequenceValue[] = [];
  for (let i = 0; i < list.length; i += D.SEQUENCE_READ_BATCH) {
    const batch = list.slice(i, i + D.SEQUENCE_READ_BATCH);
    // A sequence's state is read from the relation itself: pg_sequences hides
    // is_called and shows NULL before the first nextval.
    const sql = batch
      .map((s, j) => `SELECT ${j} AS i, last_value::text AS last_value, is_called FROM ${ident(s.schema)}.${ident(s.name)}`)
      .join(' UNION ALL ');
    const rows = await pools.query<{ i: number; last_value: string; is_called: boolean }>(target, sql);
    for (const row of rows) {
      const s = batch[row.i]!;
      values.push({
        schema: s.schema,
        name: s.name,
        lastValue: BigInt(row.last_value),
        isCalled: row.is_called,
        increment: BigInt(s.increment),
      });
    }
  }
  return values;
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

/** Which target sequences to set to the source's state; never moves one backwards. */
export function planSequenceCopy(source: SequenceValue[], target: SequenceValue[]): SequencePlan {
  const byName = new Map(target.map((s) => [`${s.schema}.${s.name}`, s]));
  const plan: SequencePlan = { set: [], alreadyAhead: 0, missing: [] };
  for (const s of source) {
    const t = byName.get(`${s.schema}.${s.name}`);
    if (!t) plan.missing.push(`${s.schema}.${s.name}`);
    else if (isAtOrPast(t, s)) plan.alreadyAhead += 1;
    else plan.set.push(s);
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
