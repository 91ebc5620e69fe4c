import * as D from '../defaults.js';
import { ident, type ConnectTarget } from '../postgres/connect.js';
import type { Side } from '../shift/model.js';
import { PLATFORM_ROLES } from './app-roles.js';
import type { PoolSet } from './pool-set.js';
import { endsOf, type Direction, type ParityProblem, type ParityReport } from './port.js';
import { compareSchemas, readSchemaFingerprint } from './schema-fingerprint.js';
import { listPublishedTables } from './validate.js';

/**
 * What the receiving side lacks that a cutover would only trip over once writes are
 * frozen: the catalogs of both sides compared by name, read-only. Logical replication
 * carries rows only, so extensions, sequences, tables and roles must have been made on
 * the receiving side by hand or by the schema copy; anything made on the sending side
 * since is found here.
 */

interface DatabaseObjects {
  extensions: string[];
  /** schema.name, every schema but the system ones (as the sequence copy reads them). */
  sequences: string[];
  /** schema.name of the permanent and unlogged tables, every schema but the system ones. */
  tables: string[];
  /** Roles that own relations or hold privileges on them in the user schemas, PUBLIC and built-in roles left out. */
  holders: string[];
}

async function readDatabaseObjects(pools: PoolSet, target: ConnectTarget): Promise<DatabaseObjects> {
  const rows = await pools.query<{ kind: keyof DatabaseObjects; name: string }>(
    target,
    `SELECT 'extensions' AS kind, extname AS name FROM pg_extension
     UNION
     SELECT CASE c.relkind WHEN 'S' THEN 'sequences' ELSE 'tables' END, n.nspname || '.' || c.relname
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('S', 'r', 'p') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
     UNION
     SELECT 'holders', r.rolname
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN LATERAL (SELECT c.relowner UNION SELECT a.grantee FROM aclexplode(c.relacl) a) AS h(role)
       JOIN pg_roles r ON r.oid = h.role
      WHERE n.nspname NOT IN ('information_schema', $1) AND n.nspname !~ '^pg_'
        AND r.rolname !~ '^pg_' AND r.rolname <> ALL ($2::text[])`,
    [D.PGSHIFT_SCHEMA, PLATFORM_ROLES],
  );
  const objects: DatabaseObjects = { extensions: [], sequences: [], tables: [], holders: [] };
  for (const row of rows) objects[row.kind].push(row.name);
  return objects;
}

export interface ParityRequest {
  direction: Direction;
  databases: readonly string[];
  publication: string;
  /** How to reach `side`'s `database` as a login that may read every catalog (the admin). */
  target: (side: Side, database: string) => ConnectTarget;
  /** The application roles on the sending side (configured, or found as for the freeze). */
  applicationRoles: readonly string[];
}

/** See Replication.parity. */
export async function checkParity(pools: PoolSet, request: ParityRequest): Promise<ParityReport> {
  const { from, to } = endsOf(request.direction);
  const perDatabase = await Promise.all(
    request.databases.map(async (database) => {
      const sender = request.target(from, database);
      const [sent, received, published] = await Promise.all([
        readDatabaseObjects(pools, sender),
        readDatabaseObjects(pools, request.target(to, database)),
        listPublishedTables((sql, params) => pools.query(sender, sql, params), request.publication),
      ]);
      return {
        problems: [
          ...findDatabaseGaps(database, { from, to }, sent, received, published.map((t) => `${t.schema}.${t.name}`)),
          ...(from === 'blue' ? await schemaDrift(pools, request, database) : []),
        ],
        holders: sent.holders.map((role) => ({ role, database })),
      };
    }),
  );
  const first = request.databases[0]!;
  const rolesOnTo = new Set(
    (await pools.query<{ name: string }>(request.target(to, first), 'SELECT rolname AS name FROM pg_roles')).map((r) => r.name),
  );
  return {
    direction: request.direction,
    problems: [
      ...perDatabase.flatMap((d) => d.problems),
      ...findRoleGaps({ from, to }, request.applicationRoles, perDatabase.flatMap((d) => d.holders), rolesOnTo),
    ],
  };
}

/**
 * Going to green, any schema difference refuses the cutover before a write is frozen
 * (the drift signal's definition, schema-fingerprint.ts); tables and sequences are
 * named above already. The way back is never refused for it: blue is where it returns.
 */
async function schemaDrift(pools: PoolSet, request: ParityRequest, database: string): Promise<ParityProblem[]> {
  const read = (side: Side) => readSchemaFingerprint((sql, params) => pools.query(request.target(side, database), sql, params));
  const [blue, green] = await Promise.all([read('blue'), read('green')]);
  return compareSchemas(blue, green)
    .filter((d) => !(d.on === 'blue' && (d.kind === 'table' || d.kind === 'sequence')))
    .map((d) => ({
      kind: 'schema',
      database,
      object: `${d.kind} ${d.name}`,
      message: `schema drift in ${database}: ${d.message}: repair green first (POST /api/v1/pairs/:pair/schema/sync, or the SQL it lists)`,
    }));
}

export function findDatabaseGaps(
  database: string,
  ends: { from: Side; to: Side },
  sent: DatabaseObjects,
  received: DatabaseObjects,
  publishedTables: readonly string[],
): ParityProblem[] {
  const { from, to } = ends;
  const lacking = (names: readonly string[], present: readonly string[]) => {
    const have = new Set(present);
    return names.filter((name) => !have.has(name));
  };
  return [
    ...lacking(sent.extensions, received.extensions).map(
      (name): ParityProblem => ({
        kind: 'extension',
        database,
        object: name,
        message: `extension ${name} is installed in ${database} on ${from} but not on ${to}: create it on ${to} (CREATE EXTENSION ${sqlName(name)}) before the cutover`,
      }),
    ),
    ...lacking(sent.sequences, received.sequences).map(
      (name): ParityProblem => ({
        kind: 'sequence',
        database,
        object: name,
        message: `sequence ${name} exists in ${database} on ${from} but not on ${to}: create it on ${to} before the cutover, or its value cannot be carried over`,
      }),
    ),
    ...lacking(publishedTables, received.tables).map(
      (name): ParityProblem => ({
        kind: 'table',
        database,
        object: name,
        message: `table ${name} is replicated from ${database} on ${from} but does not exist on ${to}: create it on ${to} and refresh the subscription before the cutover, or its rows stay behind`,
      }),
    ),
  ];
}

export function findRoleGaps(
  ends: { from: Side; to: Side },
  applicationRoles: readonly string[],
  holders: readonly { role: string; database: string }[],
  rolesOnTo: ReadonlySet<string>,
): ParityProblem[] {
  const { from, to } = ends;
  const problems: ParityProblem[] = applicationRoles
    .filter((role) => !rolesOnTo.has(role))
    .map((role) => ({
      kind: 'role',
      database: null,
      object: role,
      message: `application role ${role} exists on ${from} but not on ${to}: create it on ${to} (with its password and grants) before the cutover, or applications cannot log in after it`,
    }));
  const reported = new Set(applicationRoles);
  const databasesOf = new Map<string, string[]>();
  for (const { role, database } of holders) {
    if (rolesOnTo.has(role) || reported.has(role)) continue;
    databasesOf.set(role, [...(databasesOf.get(role) ?? []), database]);
  }
  for (const [role, databases] of databasesOf) {
    problems.push({
      kind: 'role',
      database: null,
      object: role,
      message: `role ${role} owns or has privileges on tables in ${databases.join(', ')} on ${from} but does not exist on ${to}: create it on ${to} and repeat its grants before the cutover`,
    });
  }
  return problems;
}

/** A name as CREATE EXTENSION takes it: bare when it can be, quoted otherwise (uuid-ossp). */
function sqlName(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : ident(name);
}
