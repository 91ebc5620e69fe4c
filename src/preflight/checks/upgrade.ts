import * as D from '../../defaults.js';
import { crossesInto14, type CheckContext, type CheckDefinition, type FindingDraft } from '../check.js';
import { onGreen, sqlLiteral } from '../sql-text.js';

/**
 * What pg_upgrade refuses (REL_14_STABLE src/bin/pg_upgrade/check.c), as preflight
 * checks of blue. A green made by pg_upgrade (Aurora's in-place MVU, or its clone-based
 * blue/green) fails on these; a green made by pgshift's schema copy fails to restore
 * most of them on 14. Objects with OIDs below FirstNormalObjectId come with initdb.
 */

const USER_OBJECT = D.PG_FIRST_USER_OID;

export const postfixOperatorsCheck: CheckDefinition = {
  id: 'postfix-operators',
  title: 'no user-defined postfix operators (removed in 14)',
  scope: 'database',
  sides: ['blue'],
  appliesTo: crossesInto14,
  async run(ctx) {
    const rows = await ctx.query<{ signature: string; name: string; lefttype: string; func: string }>(
      'blue',
      `SELECT o.oid::regoperator::text AS signature, quote_ident(n.nspname) || '.' || o.oprname AS name,
              format_type(o.oprleft, NULL) AS lefttype, o.oprcode::regproc::text AS func
         FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
        WHERE o.oprright = 0 AND o.oid >= $1
        ORDER BY 1`,
      [USER_OBJECT],
    );
    return rows.map((op) => ({
      severity: 'blocker',
      object: `operator ${op.signature}`,
      message: `postfix operator ${op.signature}: PostgreSQL ${ctx.green.major} has no postfix operators, so it cannot be created on green (pg_upgrade refuses the cluster)`,
      remediation:
        `Replace its uses with the function ${op.func}(...) or a prefix operator, then:\n` +
        `DROP OPERATOR ${op.name} (${op.lefttype}, NONE);`,
    }));
  },
};

/**
 * PostgreSQL 14 changed array_append and its kin from anyarray/anyelement to
 * anycompatiblearray/anycompatible. User aggregates and operators built on the old
 * signatures with an anyarray/anyelement state or operand cannot be restored on 14.
 * The function list is pg_upgrade's; to_regprocedure skips what an old server lacks.
 */
const OLD_POLYMORPHICS = [
  'array_append(anyarray,anyelement)',
  'array_cat(anyarray,anyarray)',
  'array_prepend(anyelement,anyarray)',
  'array_remove(anyarray,anyelement)',
  'array_replace(anyarray,anyelement,anyelement)',
  'array_position(anyarray,anyelement)',
  'array_position(anyarray,anyelement,integer)',
  'array_positions(anyarray,anyelement)',
  'width_bucket(anyelement,anyarray)',
];

interface PolymorphicUse {
  kind: 'aggregate' | 'operator';
  signature: string;
  name: string;
  args: string;
  func: string;
  statetype: string | null;
  finalfunc: string | null;
  initcond: string | null;
  lefttype: string | null;
  righttype: string | null;
}

export const polymorphicsCheck: CheckDefinition = {
  id: 'old-polymorphics',
  title: 'no aggregates or operators on the pre-14 anyarray/anyelement array functions',
  scope: 'database',
  sides: ['blue'],
  appliesTo: crossesInto14,
  async run(ctx) {
    const rows = await ctx.query<PolymorphicUse>(
      'blue',
      `WITH old AS (SELECT to_regprocedure(s)::oid AS oid FROM unnest($1::text[]) s WHERE to_regprocedure(s) IS NOT NULL),
            polytypes AS (SELECT ARRAY['anyarray'::regtype::oid, 'anyelement'::regtype::oid] AS oids)
       SELECT 'aggregate' AS kind, p.oid::regprocedure::text AS signature,
              quote_ident(n.nspname) || '.' || quote_ident(p.proname) AS name,
              pg_get_function_identity_arguments(p.oid) AS args,
              a.aggtransfn::regproc::text AS func, format_type(a.aggtranstype, NULL) AS statetype,
              NULLIF(a.aggfinalfn, 0)::regproc::text AS finalfunc, a.agginitval AS initcond,
              NULL AS lefttype, NULL AS righttype
         FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid JOIN pg_namespace n ON n.oid = p.pronamespace, polytypes
        WHERE p.oid >= $2 AND a.aggtranstype = ANY (polytypes.oids)
          AND (a.aggtransfn IN (SELECT oid FROM old) OR a.aggfinalfn IN (SELECT oid FROM old))
       UNION ALL
       SELECT 'operator', o.oid::regoperator::text, quote_ident(n.nspname) || '.' || o.oprname, NULL,
              o.oprcode::regproc::text, NULL, NULL, NULL,
              format_type(NULLIF(o.oprleft, 0), NULL), format_type(NULLIF(o.oprright, 0), NULL)
         FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace, polytypes
        WHERE o.oid >= $2 AND o.oprcode IN (SELECT oid FROM old) AND o.oprleft = ANY (polytypes.oids)
        ORDER BY 1, 2`,
      [OLD_POLYMORPHICS, USER_OBJECT],
    );
    return rows.map((use) => ({
      severity: 'blocker',
      object: `${use.kind} ${use.signature}`,
      message:
        `${use.kind} ${use.signature} uses ${use.func} with anyarray/anyelement; PostgreSQL ${ctx.green.major} ` +
        `changed that function to anycompatiblearray/anycompatible, so the definition cannot be restored on green (pg_upgrade refuses it)`,
      remediation: use.kind === 'aggregate' ? recreateAggregate(use) : recreateOperator(use),
    }));
  },
};

function toCompatible(type: string): string {
  return type.replace(/\banyarray\b/g, 'anycompatiblearray').replace(/\banyelement\b/g, 'anycompatible');
}

function recreateAggregate(use: PolymorphicUse): string {
  const options = [`SFUNC = ${use.func}`, `STYPE = ${toCompatible(use.statetype ?? 'anyarray')}`];
  if (use.finalfunc) options.push(`FINALFUNC = ${use.finalfunc}`);
  if (use.initcond !== null) options.push(`INITCOND = ${sqlLiteral(use.initcond)}`);
  return [
    '-- on blue, before green\'s schema is copied (re-create it on blue afterwards if blue still needs it):',
    `DROP AGGREGATE ${use.name}(${use.args});`,
    '-- on green, with the new polymorphic types (add any other options the original had):',
    `CREATE AGGREGATE ${use.name}(${toCompatible(use.args)}) (${options.join(', ')});`,
  ].join('\n');
}

function recreateOperator(use: PolymorphicUse): string {
  const left = use.lefttype ?? 'NONE';
  const right = use.righttype ?? 'NONE';
  const args = [`FUNCTION = ${use.func}`];
  if (use.lefttype) args.unshift(`LEFTARG = ${toCompatible(use.lefttype)}`);
  if (use.righttype) args.splice(use.lefttype ? 1 : 0, 0, `RIGHTARG = ${toCompatible(use.righttype)}`);
  return [
    '-- on blue, before green\'s schema is copied:',
    `DROP OPERATOR ${use.name} (${left}, ${right});`,
    '-- on green, with the new polymorphic types (add COMMUTATOR, NEGATOR, ... if the original had them):',
    `CREATE OPERATOR ${use.name} (${args.join(', ')});`,
  ].join('\n');
}

export const encodingConversionsCheck: CheckDefinition = {
  id: 'encoding-conversions',
  title: 'no user-defined encoding conversions (function signature changed in 14)',
  scope: 'database',
  sides: ['blue'],
  appliesTo: crossesInto14,
  async run(ctx) {
    const rows = await ctx.query<{ name: string; source: string; dest: string; func: string; isdefault: boolean; builtin: boolean }>(
      'blue',
      `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.conname) AS name,
              pg_encoding_to_char(c.conforencoding) AS source, pg_encoding_to_char(c.contoencoding) AS dest,
              c.conproc::regproc::text AS func, c.condefault AS isdefault, c.conproc < $1 AS builtin
         FROM pg_conversion c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE c.oid >= $1
        ORDER BY 1`,
      [USER_OBJECT],
    );
    return rows.map((conv) => {
      const create = `CREATE ${conv.isdefault ? 'DEFAULT ' : ''}CONVERSION ${conv.name} FOR ${sqlLiteral(conv.source)} TO ${sqlLiteral(conv.dest)} FROM`;
      const recreate = conv.builtin
        ? onGreen(`${create} ${conv.func};  -- the built-in function has the new signature on green`)
        : onGreen(`${create} <a function (integer, integer, cstring, internal, integer, boolean) RETURNS integer>;`);
      return {
        severity: 'blocker',
        object: `conversion ${conv.name}`,
        message: `encoding conversion ${conv.name} (${conv.source} to ${conv.dest} by ${conv.func}): conversion functions take different parameters since PostgreSQL 14, so it cannot be restored on green (pg_upgrade refuses it)`,
        remediation: `DROP CONVERSION ${conv.name};\n${recreate}`,
      };
    });
  },
};

interface ColumnUse {
  relation: string;
  attname: string;
  type: string;
  /** The column's type is one of the base types itself (not a domain, array or composite over one). */
  direct: boolean;
  is_array: boolean;
}

/**
 * Columns of user tables whose type is, or is built from (domain, array, composite,
 * range), one of the types `baseTypesSql` selects.
 */
async function findColumnsUsing(ctx: CheckContext, baseTypesSql: string, params: unknown[]): Promise<ColumnUse[]> {
  return ctx.query<ColumnUse>(
    'blue',
    `WITH RECURSIVE base(oid) AS (${baseTypesSql}),
     used(oid) AS (
       SELECT oid FROM base
       UNION
       SELECT t.oid FROM pg_type t, used u
        WHERE (t.typtype = 'd' AND t.typbasetype = u.oid)
           OR (t.typcategory = 'A' AND t.typelem = u.oid)
           OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_attribute a
                                            WHERE a.attrelid = t.typrelid AND a.atttypid = u.oid AND NOT a.attisdropped))
           OR (t.typtype = 'r' AND EXISTS (SELECT 1 FROM pg_range r WHERE r.rngtypid = t.oid AND r.rngsubtype = u.oid))
     )
     SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS relation, quote_ident(a.attname) AS attname,
            format_type(a.atttypid, a.atttypmod) AS type,
            a.atttypid IN (SELECT oid FROM base) AS direct,
            EXISTS (SELECT 1 FROM pg_type t WHERE t.oid = a.atttypid AND t.typcategory = 'A'
                       AND t.typelem IN (SELECT oid FROM base)) AS is_array
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE a.atttypid IN (SELECT oid FROM used) AND a.attnum > 0 AND NOT a.attisdropped
        AND c.relkind IN ('r', 'p', 'm')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
      ORDER BY 1, 2`,
    params,
  );
}

/** regclass, regrole and regtype are fine: pg_upgrade keeps class, role and type OIDs. */
const UNSTABLE_REG_TYPES = [
  'regcollation',
  'regconfig',
  'regdictionary',
  'regnamespace',
  'regoper',
  'regoperator',
  'regproc',
  'regprocedure',
];

export const regColumnsCheck: CheckDefinition = {
  id: 'reg-columns',
  title: 'no reg* columns other than regclass, regrole, regtype',
  scope: 'database',
  sides: ['blue'],
  appliesTo: (v) => v.greenMajor > v.blueMajor,
  async run(ctx) {
    const columns = await findColumnsUsing(
      ctx,
      `SELECT t.oid FROM pg_type t WHERE t.typnamespace = 'pg_catalog'::regnamespace AND t.typname = ANY ($1::text[])`,
      [UNSTABLE_REG_TYPES],
    );
    return columns.map((col) => ({
      severity: 'blocker',
      object: `column ${col.relation}.${col.attname}`,
      message:
        `column ${col.attname} of ${col.relation} has type ${col.type}, which stores OIDs of objects that an upgrade ` +
        `does not preserve (pg_upgrade refuses it); replicated as names, its values must resolve on green`,
      remediation: col.direct
        ? `ALTER TABLE ${col.relation} ALTER COLUMN ${col.attname} TYPE text USING ${col.attname}::text;`
        : col.is_array
          ? `ALTER TABLE ${col.relation} ALTER COLUMN ${col.attname} TYPE text[] USING ${col.attname}::text[];`
          : `Change column ${col.attname} of ${col.relation} (type ${col.type}, built on a reg* type) to a type without reg* parts, e.g. text.`,
    }));
  },
};

export const systemCompositeColumnsCheck: CheckDefinition = {
  id: 'system-composite-columns',
  title: 'no columns of system row types',
  scope: 'database',
  sides: ['blue'],
  appliesTo: (v) => v.greenMajor > v.blueMajor,
  async run(ctx) {
    const columns = await findColumnsUsing(
      ctx,
      `SELECT t.oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype = 'c' AND (t.oid < $1 OR n.nspname = 'information_schema')`,
      [USER_OBJECT],
    );
    return columns.map((col) => ({
      severity: 'blocker',
      object: `column ${col.relation}.${col.attname}`,
      message: `column ${col.attname} of ${col.relation} has type ${col.type}, a system row type whose layout and OID change between major versions (pg_upgrade refuses it)`,
      remediation: `ALTER TABLE ${col.relation} ALTER COLUMN ${col.attname} TYPE jsonb USING to_jsonb(${col.attname});  -- or drop the column`,
    }));
  },
};

export const preparedTransactionsCheck: CheckDefinition = {
  id: 'prepared-transactions',
  title: 'no prepared transactions',
  scope: 'cluster',
  sides: ['blue', 'green'],
  async run(ctx) {
    const findings: FindingDraft[] = [];
    for (const side of ['blue', 'green'] as const) {
      const rows = await ctx.query<{ gid: string; database: string; owner: string; prepared: Date }>(
        side,
        `SELECT gid, database, owner, prepared FROM pg_prepared_xacts ORDER BY prepared`,
      );
      for (const xact of rows) {
        const finish = `COMMIT PREPARED ${sqlLiteral(xact.gid)};  -- or ROLLBACK PREPARED ${sqlLiteral(xact.gid)}; connected to ${xact.database} as ${xact.owner} or a superuser`;
        findings.push({
          severity: 'blocker',
          database: xact.database,
          object: `prepared transaction ${xact.gid}`,
          message:
            `${side} holds prepared transaction '${xact.gid}' (database ${xact.database}, owner ${xact.owner}, prepared ${xact.prepared.toISOString()}): ` +
            `it keeps its locks and holds back the xmin horizon; pg_upgrade refuses a cluster with prepared transactions`,
          remediation: side === 'green' ? onGreen(finish) : finish,
        });
      }
    }
    return findings;
  },
};
