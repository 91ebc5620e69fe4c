import type pg from 'pg';
import Type from 'typebox';
import * as D from '../defaults.js';
import { describeError } from '../errors.js';
import { withClient, type ConnectTarget } from '../postgres/connect.js';

/** One of the application's important queries: read-only SQL with its parameters ($1, $2...). */
export const RehearsalQuerySchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    sql: Type.String({ minLength: 1, maxLength: 100_000 }),
    params: Type.Optional(Type.Array(Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]), { maxItems: 100 })),
    /** The pair's database to run it in; default the pair's first. */
    database: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type RehearsalQuery = Type.Static<typeof RehearsalQuerySchema>;

const SideRunSchema = Type.Object({
  rows: Type.Integer(),
  medianMs: Type.Number(),
  plan: Type.String(),
  error: Type.Optional(Type.String()),
});
export type SideRun = Type.Static<typeof SideRunSchema>;

export const QueryComparisonSchema = Type.Object({
  name: Type.String(),
  database: Type.String(),
  /** `same`; `rows-differ` and `error` are blockers, `slower` a warning. */
  verdict: Type.Union([Type.Literal('same'), Type.Literal('rows-differ'), Type.Literal('slower'), Type.Literal('error')]),
  ordered: Type.Boolean(),
  message: Type.String(),
  blue: SideRunSchema,
  green: SideRunSchema,
  /** green's median over blue's. */
  ratio: Type.Union([Type.Number(), Type.Null()]),
});
export type QueryComparison = Type.Static<typeof QueryComparisonSchema>;

/** The report's findings from the comparison: rows that differ (or a query that fails) block; a slower green warns, with both plans to compare. */
export function queryFindings(results: readonly QueryComparison[]): { severity: 'blocker' | 'warning'; source: 'queries'; message: string; remediation?: string }[] {
  return results
    .filter((q) => q.verdict !== 'same')
    .map((q) => ({
      severity: q.verdict === 'slower' ? 'warning' : 'blocker',
      source: 'queries',
      message: q.message,
      ...(q.verdict === 'slower' ? { remediation: `plan on blue:\n${q.blue.plan}\nplan on green:\n${q.green.plan}` } : {}),
    }));
}

export interface CompareOptions {
  /** Where each side's copy of `database` is; a login that can read what the queries read. */
  target(side: 'blue' | 'green', database: string): ConnectTarget;
  defaultDatabase: string;
  runs?: number;
  /** Green slower than blue x factor + marginMs is a warning. */
  slowerFactor?: number;
  slowerMarginMs?: number;
  statementTimeoutMs?: number;
  signal?: AbortSignal;
}

/** A query whose text orders its rows is compared row by row; any other as a multiset. */
export function isOrdered(sql: string): boolean {
  return /\border\s+by\b/i.test(sql);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? 0 : sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Runs every query on staging blue and staging green and compares them: the rows in
 * the servers' own text form (so a value that prints differently on the new major
 * differs), in order when the query orders them; the median time of `runs` runs; the
 * plans (EXPLAIN, which does not execute). Each run is in a READ ONLY transaction that
 * is rolled back, so a query that writes fails (an `error` verdict) and changes nothing.
 * Never throws for a query: its failure is its verdict.
 */
export async function compareQueries(queries: readonly RehearsalQuery[], options: CompareOptions): Promise<QueryComparison[]> {
  const out: QueryComparison[] = [];
  for (const query of queries) {
    options.signal?.throwIfAborted();
    out.push(await compareOne(query, options));
  }
  return out;
}

interface Measured {
  run: SideRun;
  rows: string[];
}

async function compareOne(query: RehearsalQuery, options: CompareOptions): Promise<QueryComparison> {
  const database = query.database ?? options.defaultDatabase;
  const ordered = isOrdered(query.sql);
  const [blue, green] = [await measure('blue', query, database, options), await measure('green', query, database, options)];
  const base = { name: query.name, database, ordered, blue: blue.run, green: green.run };
  const ratio = blue.run.medianMs > 0 ? Math.round((green.run.medianMs / blue.run.medianMs) * 100) / 100 : null;
  const failed = blue.run.error ?? green.run.error;
  if (failed !== undefined) {
    const side = blue.run.error !== undefined ? 'blue' : 'green';
    return { ...base, ratio, verdict: 'error', message: `query "${query.name}" failed on staging ${side}: ${failed}` };
  }
  const [b, g] = ordered ? [blue.rows, green.rows] : [[...blue.rows].sort(), [...green.rows].sort()];
  const firstDiff = b.findIndex((row, i) => row !== g[i]);
  if (b.length !== g.length || firstDiff >= 0) {
    const at = firstDiff >= 0 ? firstDiff : Math.min(b.length, g.length);
    return {
      ...base,
      ratio,
      verdict: 'rows-differ',
      message: `query "${query.name}" returns different rows on green: ${b.length} rows on blue, ${g.length} on green; ${ordered ? 'row' : 'sorted row'} ${at + 1}: blue ${b[at] ?? '(none)'}, green ${g[at] ?? '(none)'}`,
    };
  }
  const factor = options.slowerFactor ?? D.REHEARSAL_SLOWER_FACTOR;
  const margin = options.slowerMarginMs ?? D.REHEARSAL_SLOWER_MARGIN_MS;
  if (green.run.medianMs > blue.run.medianMs * factor + margin) {
    return {
      ...base,
      ratio,
      verdict: 'slower',
      message: `query "${query.name}" is slower on green: median ${green.run.medianMs} ms against ${blue.run.medianMs} ms on blue (limit blue x ${factor} + ${margin} ms); compare the plans`,
    };
  }
  return { ...base, ratio, verdict: 'same', message: `query "${query.name}": same ${b.length} rows, ${green.run.medianMs} ms on green, ${blue.run.medianMs} ms on blue` };
}

/** Every column as the server prints it: node-pg's parsers would make 1.5 and 1.500000 the same number. */
const asText = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

async function measure(side: 'blue' | 'green', query: RehearsalQuery, database: string, options: CompareOptions): Promise<Measured> {
  const runs = Math.max(1, options.runs ?? D.REHEARSAL_QUERY_RUNS);
  const params = query.params ?? [];
  try {
    return await withClient(options.target(side, database), async (client) => {
      const readOnly = async <T>(work: () => Promise<T>): Promise<T> => {
        await client.query('BEGIN TRANSACTION READ ONLY');
        try {
          await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.round(options.statementTimeoutMs ?? D.REHEARSAL_QUERY_TIMEOUT_MS))}`);
          return await work();
        } finally {
          await client.query('ROLLBACK');
        }
      };
      let rows: string[] = [];
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        options.signal?.throwIfAborted();
        const result = await readOnly(async () => {
          const started = performance.now();
          const answer = await client.query({ text: query.sql, values: params, types: asText, rowMode: 'array' });
          times.push(performance.now() - started);
          return answer;
        });
        rows = (result.rows as unknown[][]).map((row) => JSON.stringify(row));
      }
      const plan = await readOnly(async () =>
        (await client.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN ${query.sql}`, values: params })).rows.map((r) => r['QUERY PLAN']).join('\n'),
      ).catch((err: unknown) => `(no plan: ${describeError(err)})`);
      return { run: { rows: rows.length, medianMs: Math.round(median(times) * 100) / 100, plan }, rows };
    });
  } catch (err) {
    if (options.signal?.aborted) throw err;
    return { run: { rows: 0, medianMs: 0, plan: '', error: describeError(err) }, rows: [] };
  }
}
