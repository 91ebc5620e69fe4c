import type pg from 'pg';
import type { Clock } from '../clock.js';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import { explainPgError, ident, withClient, type ConnectTarget } from '../postgres/connect.js';
import type { Side } from '../shift/model.js';
import { endsOf, type Direction, type TableValidation, type ValidationMethod, type ValidationReport } from './port.js';

/**
 * Whether the receiving side holds the rows the sending side holds, table by table.
 * It runs while writes are frozen, so it has a time budget and reads both sides at
 * once. Small tables are counted; a large one shows by its largest key (one step down
 * its primary key index) whether its newest rows arrived, which is what a lagging or
 * broken apply would miss.
 */

/** Runs one statement and gives its rows. */
export type Query = (sql: string, params: unknown[]) => Promise<unknown[]>;

export interface PublishedTable {
  schema: string;
  name: string;
  /** From the statistics, scaled to the table's current size. */
  estimatedRows: number;
  /** The primary key's column when the key has exactly one; null otherwise. */
  key: string | null;
}

/**
 * The tables the publication sends, or every permanent user table when the
 * publication does not exist (yet); pgshift's own tables never. Rows are estimated as
 * the planner does, density from the last VACUUM/ANALYZE times the current size; before
 * the first one (PostgreSQL 13 shows 0 rows, 14 shows -1) one row per page, so a big
 * table never counts as small.
 */
export async function listPublishedTables(query: Query, publication: string): Promise<PublishedTable[]> {
  const rows = (await query(
    `WITH publication AS (SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1) AS present),
          published AS (SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1)
     SELECT n.nspname AS schema, c.relname AS name,
            (CASE WHEN c.relpages > 0 AND c.reltuples >= 0 THEN c.reltuples::float8 / c.relpages ELSE 1 END
              * (pg_relation_size(c.oid) / current_setting('block_size')::int))::float8 AS estimated_rows,
            (SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
              WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnkeyatts = 1) AS key
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN publication
       LEFT JOIN published p ON p.schemaname = n.nspname AND p.tablename = c.relname
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('information_schema', $2) AND n.nspname !~ '^pg_'
        AND CASE WHEN publication.present THEN p.tablename IS NOT NULL ELSE c.relkind = 'r' AND c.relpersistence = 'p' END
      ORDER BY 1, 2`,
    [publication, D.PGSHIFT_SCHEMA],
  )) as { schema: string; name: string; estimated_rows: number; key: string | null }[];
  return rows.map((r) => ({ schema: r.schema, name: r.name, estimatedRows: r.estimated_rows, key: r.key }));
}

export function chooseMethod(table: PublishedTable, exactRowLimit: number): ValidationMethod {
  if (table.estimatedRows <= exactRowLimit) return 'count';
  return table.key === null ? 'unchecked' : 'max-key';
}

interface Check extends PublishedTable {
  method: ValidationMethod;
}

/** One statement reading every compared table's value (`i` is its place in `checks`); null when nothing is compared. */
export function comparisonSql(checks: readonly Check[]): string | null {
  const parts = checks.flatMap((c, i) => {
    const table = `${ident(c.schema)}.${ident(c.name)}`;
    if (c.method === 'count') return [`SELECT ${i} AS i, (SELECT count(*) FROM ${table})::text AS value`];
    if (c.method === 'max-key') {
      const key = ident(c.key!);
      // Named apart from the key: ORDER BY a name of the output would sort the text.
      return [`SELECT ${i} AS i, (SELECT ${key}::text AS largest FROM ${table} ORDER BY ${key} DESC LIMIT 1) AS value`];
    }
    return [];
  });
  return parts.length === 0 ? null : parts.join('\nUNION ALL\n');
}

/** The sentence an operator reads for a table that differs. */
export function describeMismatch(database: string, check: TableValidation, key: string | null, ends: { from: Side; to: Side }): string {
  if (check.method === 'count') {
    return `${database}: ${check.table} has ${check.from} rows on ${ends.from} and ${check.to} on ${ends.to}`;
  }
  const largest = (value: string | null, side: Side) => (value === null ? `no rows on ${side}` : `${value} on ${side}`);
  return `${database}: ${check.table} has largest ${key} ${largest(check.from, ends.from)} and ${largest(check.to, ends.to)}`;
}

/** Time left of the validation's budget: each statement may use at most that, and none starts after it. */
class Budget {
  private readonly deadline: number;
  /** Databases compared completely. */
  readonly done: string[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly budgetMs: number,
  ) {
    this.deadline = clock.now() + budgetMs;
  }

  checkLeft(): number {
    const left = this.deadline - this.clock.now();
    if (left <= 0) throw this.exceeded();
    return left;
  }

  async run(client: pg.Client, sql: string, params: unknown[] = []): Promise<unknown[]> {
    // statement_timeout 0 would mean none: at least 1 ms.
    await client.query(`SET statement_timeout = ${Math.max(1, Math.ceil(this.checkLeft()))}`);
    try {
      return (await client.query(sql, params)).rows as unknown[];
    } catch (err) {
      if (isStatementTimeout(err)) throw this.exceeded(err);
      throw err;
    }
  }

  exceeded(cause?: unknown): PgshiftError {
    return new PgshiftError(
      'PGSHIFT_ERR_VALIDATION_TIMEOUT',
      `comparing the tables took longer than the budget of ${this.budgetMs} ms${this.done.length > 0 ? ` (done: ${this.done.join(', ')})` : ''}`,
      { status: 504, details: { budgetMs: this.budgetMs, done: [...this.done] }, ...(cause === undefined ? {} : { cause }) },
    );
  }
}

function isStatementTimeout(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e.code === '57014' && typeof e.message === 'string' && e.message.includes('statement timeout');
}

export interface ValidationRequest {
  direction: Direction;
  databases: readonly string[];
  publication: string;
  /** How to reach `side`'s `database` as a login that may read every published table. */
  target: (side: Side, database: string) => ConnectTarget;
  clock: Clock;
  budgetMs: number;
  exactRowLimit: number;
}

/** See Replication.validate. Each side of each database gets a session of its own, so all are read at once. */
export async function validateTables(request: ValidationRequest): Promise<ValidationReport> {
  const started = request.clock.now();
  const budget = new Budget(request.clock, request.budgetMs);
  const databases = await Promise.all(
    request.databases.map(async (database) => {
      const result = await validateDatabase(request, database, budget);
      budget.done.push(database);
      return result;
    }),
  );
  budget.checkLeft();
  return {
    direction: request.direction,
    ok: databases.every((d) => d.tables.every((t) => t.ok)),
    databases: databases.map(({ database, tables }) => ({ database, tables })),
    mismatches: databases.flatMap((d) => d.mismatches),
    ms: request.clock.now() - started,
  };
}

async function validateDatabase(
  request: ValidationRequest,
  database: string,
  budget: Budget,
): Promise<{ database: string; tables: TableValidation[]; mismatches: string[] }> {
  const ends = endsOf(request.direction);
  const onSide = <T>(side: Side, work: (client: pg.Client) => Promise<T>) =>
    explainPgError('PGSHIFT_ERR_REPLICATION_QUERY', `validate ${database} on ${side}`, () => withClient(request.target(side, database), work));

  return onSide(ends.from, async (fromClient) => {
    const tables = await listPublishedTables((sql, params) => budget.run(fromClient, sql, params), request.publication);
    const checks = tables.map((t): Check => ({ ...t, method: chooseMethod(t, request.exactRowLimit) }));
    const sql = comparisonSql(checks);
    const [fromValues, toValues] =
      sql === null
        ? [new Map<number, string | null>(), new Map<number, string | null>()]
        : await Promise.all([
            budget.run(fromClient, sql).then(byIndex),
            onSide(ends.to, (toClient) => budget.run(toClient, sql)).then(byIndex),
          ]);
    const validations: TableValidation[] = [];
    const mismatches: string[] = [];
    checks.forEach((check, i) => {
      const compared = check.method !== 'unchecked';
      const from = compared ? (fromValues.get(i) ?? null) : null;
      const to = compared ? (toValues.get(i) ?? null) : null;
      const validation: TableValidation = { table: `${check.schema}.${check.name}`, method: check.method, from, to, ok: from === to };
      validations.push(validation);
      if (!validation.ok) mismatches.push(describeMismatch(database, validation, check.key, ends));
    });
    return { database, tables: validations, mismatches };
  });
}

function byIndex(rows: unknown[]): Map<number, string | null> {
  return new Map((rows as { i: number; value: string | null }[]).map((r) => [r.i, r.value]));
}
