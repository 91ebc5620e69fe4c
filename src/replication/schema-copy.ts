import { finalError } from '../errors.js';
import type pg from 'pg';
import * as D from '../defaults.js';
import { isPgshiftError } from '../errors.js';
import type { PreparationStep } from '../shift/ports.js';
import { adminOn, asAdmin, existingDatabases, listIn, mapIn, union, type PreparationEnv } from './prepare-support.js';
import { copySchema, hasUserTables } from './setup.js';

/**
 * `schema`: blue's schema (`pg_dump --schema-only`, restored in one transaction by the
 * restore preflight's trial runs) into
 * every pair database on green that holds no user table yet; a database that has tables
 * is adopted as it is. A restore that fails on blue's DDL is final (schema drift,
 * an extension green lacks): repeating cannot cure it.
 *
 * Detail: `{ before: { [database]: objects }, filled, adopted }`. `before` is what the
 * database held (user schemas, extensions, relations, routines, types, as `kind name`)
 * just before the restore, noted before it starts; undo drops whatever is there now
 * and was not then. It does not matter whether the database pre-existed the
 * preparation: one the `databases` step created is dropped by that step's undo after
 * this one, and cleaning it first does no harm.
 */
export function schemaStep(env: PreparationEnv): PreparationStep {
  const log = env.log.child({ step: 'schema' });
  return {
    name: 'schema',
    async run(ctx) {
      const before = mapIn<string[]>(ctx.detail, 'before');
      let filled = listIn(ctx.detail, 'filled');
      let adopted = listIn(ctx.detail, 'adopted');
      for (const database of env.databases) {
        const has = await asAdmin(env, 'green', database, `look for tables in ${database} on green`, hasUserTables);
        if (has) {
          if (before[database]) filled = union(filled, [database]);
          else adopted = union(adopted, [database]);
          continue;
        }
        if (!before[database]) {
          before[database] = await asAdmin(env, 'green', database, `list the objects of ${database} on green`, readObjects);
          await ctx.note({ before });
        }
        try {
          await copySchema(adminOn(env, 'blue', database), adminOn(env, 'green', database));
        } catch (err) {
          const details = isPgshiftError(err, 'PGSHIFT_ERR_SCHEMA_COPY') ? (err.details as { stage?: string; refused?: boolean }) : undefined;
          // Green refusing a statement is final; a lost connection is retried.
          if (details?.stage === 'restore' && details.refused === true) {
            throw finalError('PGSHIFT_ERR_SCHEMA_COPY', (err as Error).message, { database }, err);
          }
          throw err;
        }
        filled = union(filled, [database]);
        log.info({ database }, "blue's schema copied to green");
      }
      return { before, filled, adopted };
    },
    async undo(detail) {
      const before = mapIn<string[]>(detail, 'before');
      for (const database of await existingDatabases(env, 'green', Object.keys(before))) {
        const dropped = await asAdmin(env, 'green', database, `drop the copied schema of ${database} on green`, (c) =>
          dropObjectsNotIn(c, new Set(before[database] ?? [])),
        );
        if (dropped.length > 0) log.info({ database, dropped: dropped.length }, 'copied schema dropped from green');
      }
    },
  };
}

const USER_SCHEMA = `n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', ${`'${D.PGSHIFT_SCHEMA}'`})`;

/** An extension's own objects go with its DROP EXTENSION, so they are not listed. */
function notExtensionMember(catalog: string, oid: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;
}

/** The objects of the current database that a schema restore may add, as `kind name` (names quoted). */
async function readObjects(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ object: string }>(
    `SELECT 'schema ' || format('%I', n.nspname) AS object FROM pg_namespace n WHERE ${USER_SCHEMA}
     UNION ALL
     SELECT 'extension ' || format('%I', extname) FROM pg_extension
     UNION ALL
     SELECT 'relation:' || c.relkind || ' ' || format('%I.%I', n.nspname, c.relname)
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}
     UNION ALL
     SELECT 'routine:' || p.prokind || ' ' || format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_SCHEMA} AND ${notExtensionMember('pg_proc', 'p.oid')}
     UNION ALL
     SELECT 'type:' || t.typtype || ' ' || format('%I.%I', n.nspname, t.typname)
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE ${USER_SCHEMA} AND ${notExtensionMember('pg_type', 't.oid')}
        AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
        AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
     ORDER BY 1`,
  );
  return rows.map((r) => r.object);
}

const DROP_ORDER: [prefix: string, statement: string][] = [
  ['extension ', 'DROP EXTENSION IF EXISTS'],
  ['schema ', 'DROP SCHEMA IF EXISTS'],
  ['relation:v ', 'DROP VIEW IF EXISTS'],
  ['relation:m ', 'DROP MATERIALIZED VIEW IF EXISTS'],
  ['relation:f ', 'DROP FOREIGN TABLE IF EXISTS'],
  ['relation:p ', 'DROP TABLE IF EXISTS'],
  ['relation:r ', 'DROP TABLE IF EXISTS'],
  ['relation:S ', 'DROP SEQUENCE IF EXISTS'],
  ['routine:p ', 'DROP PROCEDURE IF EXISTS'],
  ['routine:a ', 'DROP AGGREGATE IF EXISTS'],
  ['routine:f ', 'DROP FUNCTION IF EXISTS'],
  ['routine:w ', 'DROP FUNCTION IF EXISTS'],
  ['type:d ', 'DROP DOMAIN IF EXISTS'],
  ['type:', 'DROP TYPE IF EXISTS'],
];

/**
 * Drops, in one transaction, every object of the current database that is not in
 * `before`: new extensions and schemas (CASCADE), then what was added to schemas that
 * were there already. Returns what it dropped.
 */
async function dropObjectsNotIn(client: pg.Client, before: Set<string>): Promise<string[]> {
  const added = (await readObjects(client)).filter((o) => !before.has(o));
  if (added.length === 0) return [];
  const statements: string[] = [];
  const left = new Set(added);
  for (const [prefix, statement] of DROP_ORDER) {
    for (const object of added.filter((o) => left.has(o) && o.startsWith(prefix))) {
      statements.push(`${statement} ${object.slice(object.indexOf(' ') + 1)} CASCADE`);
      left.delete(object);
    }
  }
  await client.query('BEGIN');
  try {
    for (const sql of statements) await client.query(sql);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
  return added;
}
