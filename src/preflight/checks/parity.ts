import * as D from '../../defaults.js';
import { compareSchemas, readSchemaFingerprint, type SchemaObjectKind } from '../../replication/schema-fingerprint.js';
import { listNames, type CheckDefinition, type FindingDraft } from '../check.js';
import { onGreen, sqlLiteral } from '../sql-text.js';
import { PUBLISHED_CTE, qualifiedName, userSchema } from './published.js';

/**
 * Green must be able to take every row blue sends and every login blue's applications
 * use: the same tables and columns, the roles behind owners and grants, a compatible
 * database. Logical replication applies rows by column name; a missing table or column
 * stops it, a NOT NULL that blue lacks fails it on the first NULL.
 */

interface TableShape {
  name: string;
  columns: { name: string; ident: string; type: string; notnull: boolean; hasdefault: boolean }[];
}

const COLUMNS = `COALESCE(json_agg(json_build_object('name', a.attname, 'ident', quote_ident(a.attname),
                            'type', format_type(a.atttypid, a.atttypmod), 'notnull', a.attnotnull,
                            'hasdefault', a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '')
                          ORDER BY a.attnum) FILTER (WHERE a.attnum IS NOT NULL), '[]') AS columns`;

export const tableParityCheck: CheckDefinition = {
  id: 'table-parity',
  title: 'published tables exist on green with the same columns',
  scope: 'database',
  sides: ['blue', 'green'],
  createdByPrepare: "green's tables from blue's schema",
  async run(ctx) {
    const blue = await ctx.query<TableShape>(
      'blue',
      `WITH ${PUBLISHED_CTE}
       SELECT ${qualifiedName()} AS name, ${COLUMNS}
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.oid IN (SELECT oid FROM published)
        GROUP BY 1 ORDER BY 1`,
      [ctx.pair.publication],
    );
    const green = await ctx.query<TableShape>(
      'green',
      `SELECT ${qualifiedName()} AS name, ${COLUMNS}
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'p') AND ${qualifiedName()} = ANY ($1::text[])
        GROUP BY 1`,
      [blue.map((t) => t.name)],
    );
    const greenTables = new Map(green.map((t) => [t.name, t]));
    const findings: FindingDraft[] = [];
    for (const table of blue) {
      const there = greenTables.get(table.name);
      if (!there) {
        findings.push({
          severity: 'blocker',
          object: `table ${table.name}`,
          message: `table ${table.name} is published on blue but does not exist on green: replicating it fails ("logical replication target relation does not exist")`,
          remediation:
            `Create it on green from blue's definition, then let the subscription pick it up:\n` +
            `pg_dump --schema-only --table=${sqlLiteral(table.name)} <blue ${ctx.database}> | psql <green ${ctx.database}>\n` +
            onGreen(`ALTER SUBSCRIPTION ${ctx.pair.subscription} REFRESH PUBLICATION;`),
        });
        continue;
      }
      findings.push(...compareColumns(table, there));
    }
    return findings;
  },
};

function compareColumns(blue: TableShape, green: TableShape): FindingDraft[] {
  const findings: FindingDraft[] = [];
  const greenColumns = new Map(green.columns.map((c) => [c.name, c]));
  const blueNames = new Set(blue.columns.map((c) => c.name));
  for (const col of blue.columns) {
    const object = `column ${blue.name}.${col.ident}`;
    const there = greenColumns.get(col.name);
    if (!there) {
      findings.push({
        severity: 'blocker',
        object,
        message: `column ${col.ident} (${col.type}) of ${blue.name} is missing on green: replication of ${blue.name} stops at its first row`,
        remediation: onGreen(`ALTER TABLE ${blue.name} ADD COLUMN ${col.ident} ${col.type};`),
      });
      continue;
    }
    if (there.type !== col.type) {
      findings.push({
        severity: 'blocker',
        object,
        message: `column ${col.ident} of ${blue.name} is ${col.type} on blue but ${there.type} on green: values may not convert, and both sides would not behave alike`,
        remediation: onGreen(`ALTER TABLE ${blue.name} ALTER COLUMN ${col.ident} TYPE ${col.type} USING ${col.ident}::${col.type};`),
      });
    }
    if (there.notnull && !col.notnull) {
      findings.push({
        severity: 'blocker',
        object,
        message: `column ${col.ident} of ${blue.name} is NOT NULL on green but nullable on blue: the first NULL from blue stops replication`,
        remediation: onGreen(`ALTER TABLE ${blue.name} ALTER COLUMN ${col.ident} DROP NOT NULL;`),
      });
    } else if (col.notnull && !there.notnull) {
      findings.push({
        severity: 'warning',
        object,
        message: `column ${col.ident} of ${blue.name} is NOT NULL on blue but nullable on green: after cutover green accepts NULLs that blue refused`,
        remediation: onGreen(`ALTER TABLE ${blue.name} ALTER COLUMN ${col.ident} SET NOT NULL;`),
      });
    }
  }
  for (const extra of green.columns) {
    if (blueNames.has(extra.name) || !extra.notnull || extra.hasdefault) continue;
    findings.push({
      severity: 'blocker',
      object: `column ${green.name}.${extra.ident}`,
      message: `green's ${green.name} has a column ${extra.ident} that blue lacks, NOT NULL without a default: every row from blue fails there`,
      remediation: onGreen(`ALTER TABLE ${green.name} ALTER COLUMN ${extra.ident} DROP NOT NULL;  -- or DROP COLUMN ${extra.ident}`),
    });
  }
  return findings;
}

/**
 * Every other way green's schema differs from blue's, by the one definition the schema
 * drift signal and the cutover's checks use (schema-fingerprint.ts), so that preflight
 * passes exactly when the drift signal would let the pair advance. What table-parity
 * reports (a published table's differences, graded by what replication makes of them,
 * with their own fix) is left to it; the rest (keys, replica identity, sequences, views,
 * functions, types, indexes, and table or column differences replication survives,
 * such as an extra nullable column on green) is reported here.
 */
export const schemaParityCheck: CheckDefinition = {
  id: 'schema-parity',
  title: "green's schema matches blue's, as the schema drift signal compares them",
  scope: 'database',
  sides: ['blue', 'green'],
  createdByPrepare: "green's schema from blue's",
  async run(ctx) {
    const read = (side: 'blue' | 'green') => readSchemaFingerprint((sql, params) => ctx.query(side, sql, params));
    const [blue, green, replicated] = await Promise.all([read('blue'), read('green'), tableParityCheck.run(ctx)]);
    const reported = new Set(replicated.map((f) => f.object));
    return compareSchemas(blue, green)
      .filter((d) => !reported.has(`${d.kind} ${d.name}`))
      .map((d): FindingDraft => ({
        severity: 'blocker',
        object: `${d.kind} ${d.name}`,
        message: `${d.message}: ${CONSEQUENCE[d.kind] ?? 'reads on green may fail once they shift'}, and pgshift refuses to advance until the schemas match`,
        remediation: `POST /api/v1/pairs/${ctx.pair.id}/schema/sync (a dry run shows the DDL; {"apply": true} runs it), or pgshift schema sync --apply; what it does not repair it lists with the SQL`,
      }));
  },
};

/** What a difference of each kind does, where it is not that reads may fail. */
const CONSEQUENCE: Partial<Record<SchemaObjectKind, string>> = {
  index: 'reads on green are slower once they shift',
  table: 'the application sees another schema on green after the cutover',
  column: 'the application sees another schema on green after the cutover',
};

interface RoleRef {
  name: string;
  ident: string;
  reasons: string[];
  attributes: string;
  member_of: string[];
  can_login: boolean;
}

/**
 * Roles are global, so no dump of a database carries them. Every role that owns an
 * object of blue's database, is granted something on one (directly or by default
 * privileges), is a member of such a role, or is a configured application role must
 * exist on green before the schema is restored and the applications log in there.
 */
export const roleParityCheck: CheckDefinition = {
  id: 'role-parity',
  title: 'roles of blue\'s owners, grants and applications exist on green',
  scope: 'database',
  sides: ['blue', 'green'],
  createdByPrepare: "green's roles from blue's",
  async run(ctx) {
    const blue = await ctx.query<RoleRef>(
      'blue',
      `WITH RECURSIVE refs(role, reason) AS (
         SELECT datdba, 'owns the database' FROM pg_database WHERE datname = current_database()
         UNION ALL SELECT (aclexplode(datacl)).grantee, 'is granted on the database'
           FROM pg_database WHERE datname = current_database()
         UNION ALL SELECT n.nspowner, 'owns schema ' || quote_ident(n.nspname) FROM pg_namespace n WHERE ${userSchema('n')}
         UNION ALL SELECT (aclexplode(n.nspacl)).grantee, 'is granted on schema ' || quote_ident(n.nspname)
           FROM pg_namespace n WHERE ${userSchema('n')}
         UNION ALL SELECT c.relowner, 'owns ' || c.oid::regclass::text
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${userSchema('n')}
         UNION ALL SELECT (aclexplode(c.relacl)).grantee, 'is granted on ' || c.oid::regclass::text
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${userSchema('n')}
         UNION ALL SELECT p.proowner, 'owns function ' || p.oid::regprocedure::text
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${userSchema('n')}
         UNION ALL SELECT (aclexplode(p.proacl)).grantee, 'is granted on function ' || p.oid::regprocedure::text
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${userSchema('n')}
         UNION ALL SELECT t.typowner, 'owns type ' || t.oid::regtype::text
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE t.typtype IN ('d', 'e', 'r') AND ${userSchema('n')}
         UNION ALL SELECT d.defaclrole, 'sets default privileges' FROM pg_default_acl d
         UNION ALL SELECT (aclexplode(d.defaclacl)).grantee, 'is granted by default privileges' FROM pg_default_acl d
         UNION ALL SELECT r.oid, 'is a configured application role' FROM pg_roles r WHERE r.rolname = ANY ($1::text[])
       ),
       needed(role, reason) AS (
         SELECT role, reason FROM refs WHERE role <> 0
         UNION
         SELECT m.member, 'is a member of ' || quote_ident(g.rolname)
           FROM needed JOIN pg_auth_members m ON m.roleid = needed.role JOIN pg_roles g ON g.oid = m.roleid
       )
       SELECT r.rolname AS name, quote_ident(r.rolname) AS ident, array_agg(DISTINCT needed.reason ORDER BY needed.reason) AS reasons,
              concat_ws(' ', CASE WHEN r.rolcanlogin THEN 'LOGIN' ELSE 'NOLOGIN' END,
                        CASE WHEN r.rolinherit THEN 'INHERIT' ELSE 'NOINHERIT' END,
                        CASE WHEN r.rolcreatedb THEN 'CREATEDB' END, CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END,
                        CASE WHEN r.rolreplication THEN 'REPLICATION' END, CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END,
                        CASE WHEN r.rolconnlimit >= 0 THEN 'CONNECTION LIMIT ' || r.rolconnlimit END) AS attributes,
              ARRAY(SELECT quote_ident(g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                     WHERE m.member = r.oid ORDER BY 1) AS member_of,
              r.rolcanlogin AS can_login
         FROM needed JOIN pg_roles r ON r.oid = needed.role
        WHERE r.rolname !~ '^pg_'
        GROUP BY r.oid, r.rolname, r.rolcanlogin, r.rolinherit, r.rolcreatedb, r.rolcreaterole, r.rolreplication, r.rolbypassrls, r.rolconnlimit
        ORDER BY 1`,
      [ctx.pair.appRoles ?? []],
    );
    const present = new Set(
      (await ctx.query<{ rolname: string }>('green', `SELECT rolname FROM pg_roles WHERE rolname = ANY ($1::text[])`, [blue.map((r) => r.name)])).map(
        (r) => r.rolname,
      ),
    );
    return blue
      .filter((role) => !present.has(role.name))
      .map((role): FindingDraft => {
        const statements = [`CREATE ROLE ${role.ident} WITH ${role.attributes};`];
        for (const group of role.member_of) statements.push(`GRANT ${group} TO ${role.ident};`);
        if (role.can_login) statements.push(`-- then give it its password: ALTER ROLE ${role.ident} PASSWORD '...'; (or blue's hash from pg_authid)`);
        return {
          severity: 'blocker',
          object: `role ${role.name}`,
          message: `role ${role.name} does not exist on green, but on blue it ${listNames(role.reasons, D.PREFLIGHT_MAX_LISTED_OBJECTS)}: restoring the schema's owners and grants fails${role.can_login ? `, and ${role.name} cannot log in to green` : ''}`,
          remediation: onGreen(statements.join('\n')),
        };
      });
  },
};

export const databaseCompatibilityCheck: CheckDefinition = {
  id: 'database-compatibility',
  title: 'green\'s database has blue\'s encoding and collation',
  scope: 'database',
  sides: ['blue', 'green'],
  createdByPrepare: "green's databases with blue's encoding and collation",
  async run(ctx) {
    const sql = `SELECT pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype
                   FROM pg_database WHERE datname = current_database()`;
    type Row = { encoding: string; collate: string; ctype: string };
    const [[blue], [green]] = await Promise.all([ctx.query<Row>('blue', sql), ctx.query<Row>('green', sql)]);
    if (!blue || !green) return [];
    const recreate = onGreen(
      `CREATE DATABASE <new name> TEMPLATE template0 ENCODING ${sqlLiteral(blue.encoding)} LC_COLLATE ${sqlLiteral(blue.collate)} LC_CTYPE ${sqlLiteral(blue.ctype)};  -- then copy the schema into it`,
    );
    const findings: FindingDraft[] = [];
    if (blue.encoding !== green.encoding) {
      findings.push({
        severity: 'blocker',
        object: `database ${ctx.database}`,
        message: `${ctx.database} is ${blue.encoding} on blue but ${green.encoding} on green: text blue stores may not convert, and replication stops at the first such value`,
        remediation: recreate,
      });
    }
    if (blue.collate !== green.collate || blue.ctype !== green.ctype) {
      findings.push({
        severity: 'warning',
        object: `database ${ctx.database}`,
        message: `${ctx.database} sorts as ${blue.collate}/${blue.ctype} on blue but ${green.collate}/${green.ctype} on green: ORDER BY results and text indexes differ between the sides`,
        remediation: recreate,
      });
    }
    return findings;
  },
};
