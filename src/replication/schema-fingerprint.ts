import * as D from '../defaults.js';
import type { Query } from './validate.js';

/**
 * What "the same schema" means for pgshift, in one place: preflight's parity check,
 * the cutover's checks and the schema drift signal all read it here. Logical
 * replication carries rows, never DDL, so anything made on one side after the schema
 * copy is on that side only: a table or column stops (or silently skips) replication;
 * a view, function or type missing on green fails the application's reads there; a
 * missing index makes them slow.
 */

export const SCHEMA_OBJECT_KINDS = ['table', 'column', 'key', 'replica-identity', 'sequence', 'view', 'function', 'type', 'index'] as const;
export type SchemaObjectKind = (typeof SCHEMA_OBJECT_KINDS)[number];

export interface SchemaObject {
  kind: SchemaObjectKind;
  /** Identity within the kind: schema-qualified, quoted as SQL needs it (a column, key or index: table.name; a function: name(identity args)). */
  name: string;
  /** What must be equal on both sides (a column's type, an index's definition, a function body's md5); '' when existence is all. */
  definition: string;
}

/** Both sides' objects by kind and name. */
export type SchemaFingerprint = readonly SchemaObject[];

/**
 * One catalog query per database: user schemas only (not PostgreSQL's, not
 * information_schema, not pgshift's own), and nothing an extension owns (the
 * extension's own version decides those, and the extension checks compare it).
 * Definitions are what pg_dump restores verbatim on the other major: type names,
 * constraint definitions, function sources; a view by its columns, since its deparsed
 * text differs between majors; an index by its method, uniqueness and columns, read
 * from the catalogs alone (pg_get_indexdef waits for a lock on the table, and the
 * cutover's checks must not wait behind a migration).
 */
const FINGERPRINT_SQL = `
WITH user_ns AS (
  SELECT oid, nspname FROM pg_namespace
   WHERE nspname NOT IN ('information_schema', $1) AND nspname !~ '^pg_'
),
ext AS (SELECT objid, classid FROM pg_depend WHERE deptype = 'e'),
rel AS (
  SELECT c.oid, c.relkind, c.relreplident, format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
     AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.objid = c.oid AND ext.classid = 'pg_class'::regclass)
)
SELECT 'table' AS kind, name, '' AS definition FROM rel WHERE relkind IN ('r', 'p')
UNION ALL
SELECT 'replica-identity', name,
       CASE relreplident WHEN 'd' THEN 'default' WHEN 'n' THEN 'nothing' WHEN 'f' THEN 'full'
         ELSE 'index ' || COALESCE((SELECT i.indexrelid::regclass::text FROM pg_index i WHERE i.indrelid = rel.oid AND i.indisreplident), '?') END
  FROM rel WHERE relkind IN ('r', 'p')
UNION ALL
SELECT 'column', rel.name || '.' || quote_ident(a.attname),
       format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
  FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE rel.relkind IN ('r', 'p', 'v', 'm')
UNION ALL
SELECT 'key', rel.name || '.' || quote_ident(con.conname), pg_get_constraintdef(con.oid)
  FROM rel JOIN pg_constraint con ON con.conrelid = rel.oid AND con.contype IN ('p', 'u')
UNION ALL
SELECT 'sequence', name, format_type(s.seqtypid, NULL) FROM rel JOIN pg_sequence s ON s.seqrelid = rel.oid
UNION ALL
SELECT 'view', name, CASE relkind WHEN 'm' THEN 'materialized' ELSE '' END FROM rel WHERE relkind IN ('v', 'm')
UNION ALL
SELECT 'index', t.name || '.' || quote_ident(c.relname),
       concat_ws(' ', CASE WHEN i.indisunique THEN 'UNIQUE' END, am.amname,
                 '(' || (SELECT string_agg(CASE WHEN k.attnum = 0 THEN '(expression)' ELSE quote_ident(a.attname) END, ', ' ORDER BY k.n)
                           FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                           LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) || ')',
                 CASE WHEN i.indpred IS NOT NULL THEN 'WHERE (predicate)' END)
  FROM pg_index i JOIN rel t ON t.oid = i.indrelid JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
UNION ALL
SELECT 'function', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
       pg_get_function_result(p.oid) || ' ' || md5(COALESCE(p.prosrc, ''))
  FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
 WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.objid = p.oid AND ext.classid = 'pg_proc'::regclass)
UNION ALL
SELECT 'type', format('%I.%I', n.nspname, t.typname),
       CASE t.typtype WHEN 'e' THEN 'enum (' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
         WHEN 'd' THEN 'domain over ' || format_type(t.typbasetype, t.typtypmod)
         WHEN 'r' THEN 'range'
         ELSE 'composite' END
  FROM pg_type t JOIN user_ns n ON n.oid = t.typnamespace
 WHERE (t.typtype IN ('e', 'd', 'r')
        OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))
   AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.objid = t.oid AND ext.classid = 'pg_type'::regclass)
ORDER BY 1, 2`;

/** The schema of the database `query` reaches, as compareSchemas takes it. */
export async function readSchemaFingerprint(query: Query): Promise<SchemaObject[]> {
  return (await query(FINGERPRINT_SQL, [D.PGSHIFT_SCHEMA])) as SchemaObject[];
}

export interface SchemaDifference {
  kind: SchemaObjectKind;
  name: string;
  /** Where the object is; `both` when its definition differs. */
  on: 'blue' | 'green' | 'both';
  blue: string | null;
  green: string | null;
  /** One line naming the object and what differs ("column public.orders.note text: missing on green"). */
  message: string;
}

/**
 * Every object on one side only, and every object whose definition differs, blue's
 * side first, by kind and name. Pure. A column of a table missing altogether is not
 * listed apart: the table's own difference says it (and creating it brings them).
 */
export function compareSchemas(blue: SchemaFingerprint, green: SchemaFingerprint): SchemaDifference[] {
  const key = (o: SchemaObject) => `${o.kind}\u0000${o.name}`;
  const onBlue = new Map(blue.map((o) => [key(o), o]));
  const onGreen = new Map(green.map((o) => [key(o), o]));
  const tablesOnlyOn = (mine: Map<string, SchemaObject>, other: Map<string, SchemaObject>) =>
    new Set([...mine.values()].filter((o) => (o.kind === 'table' || o.kind === 'view') && !other.has(key(o))).map((o) => o.name));
  const onlyBlueRelations = tablesOnlyOn(onBlue, onGreen);
  const onlyGreenRelations = tablesOnlyOn(onGreen, onBlue);
  const partOf = (o: SchemaObject, relations: Set<string>) =>
    (o.kind === 'column' || o.kind === 'key' || o.kind === 'replica-identity' || o.kind === 'index') && [...relations].some((r) => o.name === r || o.name.startsWith(`${r}.`));

  const differences: SchemaDifference[] = [];
  for (const o of blue) {
    const there = onGreen.get(key(o));
    if (!there) {
      if (!partOf(o, onlyBlueRelations)) differences.push(difference(o.kind, o.name, 'blue', o.definition, null));
    } else if (there.definition !== o.definition) {
      differences.push(difference(o.kind, o.name, 'both', o.definition, there.definition));
    }
  }
  for (const o of green) {
    if (!onBlue.has(key(o)) && !partOf(o, onlyGreenRelations)) differences.push(difference(o.kind, o.name, 'green', null, o.definition));
  }
  return differences.sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
}

function order(d: SchemaDifference): number {
  return SCHEMA_OBJECT_KINDS.indexOf(d.kind) * 3 + ['blue', 'both', 'green'].indexOf(d.on);
}

function difference(kind: SchemaObjectKind, name: string, on: SchemaDifference['on'], blue: string | null, green: string | null): SchemaDifference {
  const what = `${kind} ${name}`;
  const shown = (definition: string | null) => (definition ? ` ${definition}` : '');
  const message =
    on === 'blue'
      ? `${what}${kind === 'column' ? shown(blue) : ''}: on blue, missing on green`
      : on === 'green'
        ? `${what}${kind === 'column' ? shown(green) : ''}: on green, missing on blue`
        : `${what}: ${blue || '(none)'} on blue, ${green || '(none)'} on green`;
  return { kind, name, on, blue, green, message };
}

/** The differences as one line for a reason or a log, the first `max` named and the rest counted. */
export function describeDifferences(differences: readonly SchemaDifference[], max: number = D.REASON_MAX_NAMED_PROBLEMS): string {
  return listProblems(differences.map((d) => d.message), max);
}

/** Problems as one line: the first `max` and how many more. */
export function listProblems(problems: readonly string[], max: number = D.REASON_MAX_NAMED_PROBLEMS): string {
  const named = problems.slice(0, max);
  if (problems.length > max) named.push(`and ${problems.length - max} more`);
  return named.join('; ');
}
