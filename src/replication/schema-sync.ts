import type pg from 'pg';
import { ident } from '../postgres/connect.js';
import { compareSchemas, readSchemaFingerprint, type SchemaDifference } from './schema-fingerprint.js';

/**
 * Repairing schema drift on green: what can be added without losing or changing
 * anything (new tables with their columns and keys, new columns, new sequences, new
 * indexes) is planned as DDL from blue's catalogs and applied to green; everything
 * else (drops, type changes, renames, views, functions) is listed with the SQL for a
 * person to read and run. Planned from the current difference every time, with IF NOT
 * EXISTS, so running it again does only what is still missing.
 */

export interface SchemaSyncPlan {
  database: string;
  /** DDL for green, in the order it runs (sequences, tables, columns, indexes). */
  statements: string[];
  /** Tables the subscription's refresh brings with their initial copy. */
  newTables: string[];
  /** Differences pgshift does not repair, each with SQL for a person to check and run. */
  manual: { difference: string; sql: string }[];
}

/** What a schema sync found and did, per database. */
export interface SchemaSyncReport {
  /** false: a dry run, nothing changed. */
  applied: boolean;
  databases: (SchemaSyncPlan & { applied: boolean; refreshed: boolean })[];
}

interface ColumnRow {
  name: string;
  type: string;
  notnull: boolean;
  default: string | null;
  identity: string;
}

const COLUMNS_SQL = `SELECT quote_ident(a.attname) AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
                            pg_get_expr(d.adbin, d.adrelid) AS default, a.attidentity AS identity
                       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                      ORDER BY a.attnum`;

/** A table on blue as green needs it: columns, keys, and indexes that no key makes. */
export interface TableDefinition {
  columns: ColumnRow[];
  constraints: string[];
  indexes: string[];
}

async function readTableDefinition(blue: pg.Client, table: string): Promise<TableDefinition> {
  const [columns, constraints, indexes] = await Promise.all([
    blue.query<ColumnRow>(COLUMNS_SQL, [table]),
    blue.query<{ def: string }>(
      `SELECT 'CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = $1::regclass AND contype IN ('p', 'u') ORDER BY conname`,
      [table],
    ),
    blue.query<{ def: string }>(
      `SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
        WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1`,
      [table],
    ),
  ]);
  return { columns: columns.rows, constraints: constraints.rows.map((r) => r.def), indexes: indexes.rows.map((r) => r.def) };
}

function ifNotExists(indexDefinition: string): string {
  return `${indexDefinition.replace(/^CREATE (UNIQUE )?INDEX /, 'CREATE $1INDEX IF NOT EXISTS ')};`;
}

function columnDefinition(c: ColumnRow): string {
  if (c.identity !== '') return `${c.name} ${c.type} GENERATED ${c.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`;
  return `${c.name} ${c.type}${c.default !== null ? ` DEFAULT ${c.default}` : ''}${c.notnull ? ' NOT NULL' : ''}`;
}

/** The dot-separated parts of a name as quote_ident writes each (a quoted part may hold dots). */
const NAME_PARTS = /"(?:[^"]|"")*"|[^.]+/g;

/** Splits `schema.table.column` (each part as quote_ident gives it) after the table. */
function splitMember(name: string): { table: string; member: string } {
  const parts = name.match(NAME_PARTS) ?? [name];
  return { table: parts.slice(0, 2).join('.'), member: parts.slice(2).join('.') };
}

/** The plan for one database: reads both sides' schemas (and blue's definitions of what is to be made). */
export async function planSchemaSync(blue: pg.Client, green: pg.Client, database: string): Promise<SchemaSyncPlan> {
  const query = (client: pg.Client) => async (sql: string, params: unknown[]) => (await client.query(sql, params)).rows;
  const [blueSchema, greenSchema] = await Promise.all([readSchemaFingerprint(query(blue)), readSchemaFingerprint(query(green))]);
  return planFromDifferences(
    compareSchemas(blueSchema, greenSchema),
    database,
    (table) => readTableDefinition(blue, table),
    async (index) => (await blue.query<{ def: string | null }>('SELECT pg_get_indexdef(to_regclass($1)) AS def', [index])).rows[0]?.def ?? null,
  );
}

/** `schema.index` of an index difference's `schema.table.index`. */
function indexName(name: string): string {
  const parts = name.match(NAME_PARTS) ?? [name];
  return `${parts[0]}.${parts.slice(2).join('.')}`;
}

/** The plan from the differences; `definitionOf` reads a table's definition on blue, `indexDefinitionOf` an index's CREATE INDEX (null: gone). */
export async function planFromDifferences(
  differences: readonly SchemaDifference[],
  database: string,
  definitionOf: (table: string) => Promise<TableDefinition>,
  indexDefinitionOf: (index: string) => Promise<string | null> = async () => null,
): Promise<SchemaSyncPlan> {
  const plan: SchemaSyncPlan = { database, statements: [], newTables: [], manual: [] };
  const sequences: string[] = [];
  const tables: string[] = [];
  const columns: string[] = [];
  const indexes: string[] = [];
  for (const d of differences) {
    if (d.on === 'blue' && d.kind === 'sequence') {
      sequences.push(`CREATE SEQUENCE IF NOT EXISTS ${d.name} AS ${d.blue};`);
    } else if (d.on === 'blue' && d.kind === 'table') {
      const definition = await definitionOf(d.name);
      tables.push(`CREATE TABLE IF NOT EXISTS ${d.name} (${[...definition.columns.map(columnDefinition), ...definition.constraints].join(', ')});`);
      indexes.push(...definition.indexes.map(ifNotExists));
      plan.newTables.push(d.name);
    } else if (d.on === 'blue' && d.kind === 'column') {
      const { table, member } = splitMember(d.name);
      const column = (await definitionOf(table)).columns.find((c) => c.name === member);
      if (!column) {
        // A generated column (or one gone from blue meanwhile): its expression is for a person to carry over.
        plan.manual.push({ difference: d.message, sql: `pg_dump --schema-only --table=${table} <blue>: add ${member} to green's ${table} as blue defines it` });
        continue;
      }
      // NOT NULL only with a default: green's existing rows need a value, and blue's got the same one.
      const definition = columnDefinition(column.default === null && column.identity === '' ? { ...column, notnull: false } : column);
      columns.push(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${definition};`);
      if (definition !== columnDefinition(column)) plan.manual.push({ difference: `${d.message} (NOT NULL without a default)`, sql: `ALTER TABLE ${table} ALTER COLUMN ${member} SET NOT NULL;  -- on green, once every row has a value` });
    } else if (d.on === 'blue' && d.kind === 'index') {
      const definition = await indexDefinitionOf(indexName(d.name));
      if (definition) indexes.push(ifNotExists(definition));
    } else {
      plan.manual.push({ difference: d.message, sql: manualSql(d) });
    }
  }
  plan.statements = [...sequences, ...tables, ...columns, ...indexes];
  return plan;
}

/** SQL a person runs on green after checking it: pgshift never drops, retypes or renames on its own. */
function manualSql(d: SchemaDifference): string {
  const kind = d.kind === 'replica-identity' || d.kind === 'key' || d.kind === 'column' ? null : d.kind.toUpperCase();
  if (d.on === 'green') {
    if (d.kind === 'column' || d.kind === 'key') {
      const { table, member } = splitMember(d.name);
      return `ALTER TABLE ${table} DROP ${d.kind === 'column' ? 'COLUMN' : 'CONSTRAINT'} ${member};  -- on green, if it was dropped or renamed on blue`;
    }
    if (d.kind === 'index') return `DROP INDEX ${indexName(d.name)};  -- on green, if it was dropped on blue`;
    return `DROP ${kind} ${d.name};  -- on green, if it was dropped or renamed on blue`;
  }
  if (d.kind === 'column' && d.on === 'both') {
    const { table, member } = splitMember(d.name);
    const type = (d.blue ?? '').replace(/ NOT NULL$/, '');
    return `ALTER TABLE ${table} ALTER COLUMN ${member} TYPE ${type} USING ${member}::${type};  -- on green; then SET/DROP NOT NULL as blue has it`;
  }
  if (d.kind === 'replica-identity') return `ALTER TABLE ${d.name} REPLICA IDENTITY ${(d.blue ?? 'DEFAULT').toUpperCase()};  -- on green`;
  return `pg_dump --schema-only <blue> | grep the definition of ${kind ?? d.kind} ${d.name}, then run it on green (and drop green's own first when it differs)`;
}

/** Runs the plan's statements on green in one transaction (as the admin: green is the subscriber). */
export async function applySchemaSync(green: pg.Client, plan: SchemaSyncPlan): Promise<void> {
  if (plan.statements.length === 0) return;
  await green.query('BEGIN');
  try {
    for (const statement of plan.statements) await green.query(statement);
    await green.query('COMMIT');
  } catch (err) {
    await green.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Makes the subscription pick up new tables (with their initial copy); nothing when green has no such subscription. */
export async function refreshSubscription(green: pg.Client, subscription: string): Promise<boolean> {
  const { rowCount } = await green.query(
    'SELECT 1 FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
    [subscription],
  );
  if (rowCount === 0) return false;
  await green.query(`ALTER SUBSCRIPTION ${ident(subscription)} REFRESH PUBLICATION WITH (copy_data = true)`);
  return true;
}
