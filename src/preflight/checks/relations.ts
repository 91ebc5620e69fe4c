import * as D from '../../defaults.js';
import { listNames, type CheckDefinition, type FindingDraft } from '../check.js';
import { onGreen } from '../sql-text.js';
import { PUBLISHED_CTE, qualifiedName, qualifiedRelation, readPublication, userSchema } from './published.js';

/**
 * What logical replication does not carry, relation by relation (PostgreSQL 13/14
 * "Logical Replication Restrictions"): rows of tables without a replica identity on
 * UPDATE/DELETE, unlogged tables, large objects, materialized views, foreign tables,
 * sequence values; and how partitioned tables are sent.
 */

export const replicaIdentityCheck: CheckDefinition = {
  id: 'replica-identity',
  title: 'every published table has a primary key or replica identity',
  scope: 'database',
  sides: ['blue'],
  async run(ctx) {
    const publication = await readPublication(ctx);
    if (!publication.publishesUpdateOrDelete) return [];
    const rows = await ctx.query<{ relation: string; identity: string; root: string | null; candidate: string | null }>(
      'blue',
      `WITH ${PUBLISHED_CTE}
       SELECT ${qualifiedRelation('c.oid')} AS relation, c.relreplident AS identity,
              CASE WHEN c.relispartition THEN ${qualifiedRelation('pg_partition_root(c.oid)')} END AS root,
              (SELECT quote_ident(ic.relname) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                WHERE i.indrelid = c.oid AND i.indisunique AND i.indimmediate AND i.indisvalid
                  AND i.indpred IS NULL AND i.indexprs IS NULL
                  AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                                   WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey) AND NOT a.attnotnull)
                ORDER BY i.indnatts LIMIT 1) AS candidate
         FROM pg_class c
        WHERE c.oid IN (SELECT oid FROM published) AND c.relkind = 'r'
          AND (c.relreplident = 'n'
               OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
               OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)))
        ORDER BY 1`,
      [ctx.pair.publication],
    );
    return rows.map((t) => {
      const owner = t.root ?? t.relation;
      const state = t.identity === 'n' ? 'replica identity NOTHING' : 'no primary key (replica identity DEFAULT)';
      const fixes = [
        t.candidate
          ? `ALTER TABLE ${t.relation} REPLICA IDENTITY USING INDEX ${t.candidate};  -- a unique index on NOT NULL columns`
          : `ALTER TABLE ${owner} ADD PRIMARY KEY (<key columns>);`,
        `-- or, when no set of columns is unique (every UPDATE/DELETE then sends the whole old row):\nALTER TABLE ${t.relation} REPLICA IDENTITY FULL;`,
      ];
      return {
        severity: 'blocker',
        object: `table ${t.relation}`,
        message:
          `table ${t.relation} has ${state}${t.root ? ` (a partition of ${t.root})` : ''}: ` +
          (publication.exists
            ? `it is in publication ${ctx.pair.publication}, so every UPDATE and DELETE on it fails on blue ("does not have a replica identity")`
            : `once pgshift publishes it, every UPDATE and DELETE on it fails on blue ("does not have a replica identity")`),
        remediation: fixes.join('\n'),
      } satisfies FindingDraft;
    });
  },
};

export const unloggedTablesCheck: CheckDefinition = {
  id: 'unlogged-tables',
  title: 'unlogged tables (not replicated)',
  scope: 'database',
  sides: ['blue'],
  async run(ctx) {
    const rows = await ctx.query<{ relation: string }>(
      'blue',
      `SELECT ${qualifiedName()} AS relation FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'u' AND ${userSchema('n')} ORDER BY 1`,
    );
    return rows.map((t) => ({
      severity: 'warning',
      object: `table ${t.relation}`,
      message: `unlogged table ${t.relation} cannot be published: green's copy stays empty, and its rows are gone for applications after cutover`,
      remediation: `ALTER TABLE ${t.relation} SET LOGGED;  -- or accept that it starts empty on green`,
    }));
  },
};

export const largeObjectsCheck: CheckDefinition = {
  id: 'large-objects',
  title: 'large objects (not replicated)',
  scope: 'database',
  sides: ['blue'],
  async run(ctx) {
    const rows = await ctx.query<{ count: number; columns: string[] }>(
      'blue',
      `SELECT (SELECT count(*) FROM pg_largeobject_metadata)::int AS count,
              ARRAY(SELECT ${qualifiedName()} || '.' || quote_ident(a.attname)
                      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE a.atttypid IN ('oid'::regtype, COALESCE(to_regtype('lo'), 'oid'::regtype))
                       AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND ${userSchema('n')}
                     ORDER BY 1) AS columns`,
    );
    const { count, columns } = rows[0]!;
    if (count === 0) return [];
    const referenced = columns.length > 0 ? ` Columns that may hold their OIDs: ${listNames(columns, D.PREFLIGHT_MAX_LISTED_OBJECTS)}.` : '';
    const example = columns[0] ?? '<table>.<column>';
    const [table, column] = splitColumn(example);
    return [
      {
        severity: 'blocker',
        object: `large objects (${count})`,
        message: `${ctx.database} holds ${count} large object(s): logical replication does not copy large objects, so green lacks them and they are lost to applications at cutover.${referenced}`,
        remediation: [
          '-- move their bytes into bytea columns, then unlink them, for each column that refers to them, e.g.:',
          `ALTER TABLE ${table} ADD COLUMN ${column}_bytes bytea;`,
          `UPDATE ${table} SET ${column}_bytes = lo_get(${column}) WHERE ${column} IS NOT NULL;`,
          `SELECT lo_unlink(${column}) FROM ${table} WHERE ${column} IS NOT NULL;`,
          '-- large objects nothing refers to: SELECT lo_unlink(oid) FROM pg_largeobject_metadata;',
        ].join('\n'),
      },
    ];
  },
};

function splitColumn(qualified: string): [string, string] {
  const dot = qualified.lastIndexOf('.');
  return [qualified.slice(0, dot), qualified.slice(dot + 1)];
}

export const materializedViewsCheck: CheckDefinition = {
  id: 'materialized-views',
  title: 'materialized views exist and are populated on green',
  scope: 'database',
  sides: ['blue', 'green'],
  createdByPrepare: "green's materialized views from blue's schema",
  async run(ctx) {
    const sql = `SELECT ${qualifiedName()} AS name, c.relispopulated AS populated, pg_get_viewdef(c.oid) AS definition
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind = 'm' AND ${userSchema('n')} ORDER BY 1`;
    type Row = { name: string; populated: boolean; definition: string };
    const [blue, green] = await Promise.all([ctx.query<Row>('blue', sql), ctx.query<Row>('green', sql)]);
    const onGreenSide = new Map(green.map((m) => [m.name, m]));
    return blue.map((mv): FindingDraft => {
      const there = onGreenSide.get(mv.name);
      const object = `materialized view ${mv.name}`;
      if (!there) {
        return {
          severity: 'blocker',
          object,
          message: `materialized view ${mv.name} does not exist on green: reads shifted to green that use it fail`,
          remediation: onGreen(`CREATE MATERIALIZED VIEW ${mv.name} AS\n${mv.definition.trim().replace(/;$/, '')}\nWITH DATA;`),
        };
      }
      const refresh = onGreen(`REFRESH MATERIALIZED VIEW ${mv.name};  -- as its owner; again just before cutover`);
      if (!there.populated) {
        return {
          severity: 'blocker',
          object,
          message: `materialized view ${mv.name} on green has never been refreshed: queries on it fail there ("has not been populated") once reads shift`,
          remediation: refresh,
        };
      }
      return {
        severity: 'info',
        object,
        message: `materialized view ${mv.name} is not replicated: green's contents are those of its last refresh on green`,
        remediation: refresh,
      };
    });
  },
};

export const foreignTablesCheck: CheckDefinition = {
  id: 'foreign-tables',
  title: 'foreign tables exist on green',
  scope: 'database',
  sides: ['blue', 'green'],
  createdByPrepare: "green's foreign tables from blue's schema",
  async run(ctx) {
    const sql = `SELECT ${qualifiedName()} AS name, quote_ident(s.srvname) AS server
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   JOIN pg_foreign_table ft ON ft.ftrelid = c.oid JOIN pg_foreign_server s ON s.oid = ft.ftserver
                  WHERE c.relkind = 'f' AND ${userSchema('n')} ORDER BY 1`;
    type Row = { name: string; server: string };
    const [blue, green] = await Promise.all([ctx.query<Row>('blue', sql), ctx.query<Row>('green', sql)]);
    const present = new Set(green.map((f) => f.name));
    return blue.map((ft): FindingDraft =>
      present.has(ft.name)
        ? {
            severity: 'info',
            object: `foreign table ${ft.name}`,
            message: `foreign table ${ft.name} (server ${ft.server}) is not replicated: on green it reads the foreign server directly`,
            remediation: `Make sure green can reach server ${ft.server} and has user mappings for every role that queries ${ft.name}.`,
          }
        : {
            severity: 'blocker',
            object: `foreign table ${ft.name}`,
            message: `foreign table ${ft.name} (server ${ft.server}) does not exist on green: reads shifted to green that use it fail`,
            remediation: `Create on green the server ${ft.server}, its user mappings and the table, e.g. pg_dump --schema-only --table='${ft.name}' from blue into green.`,
          },
    );
  },
};

export const partitionedTablesCheck: CheckDefinition = {
  id: 'partitioned-tables',
  title: 'how partitioned tables are replicated',
  scope: 'database',
  sides: ['blue'],
  async run(ctx) {
    const publication = await readPublication(ctx);
    const rows = await ctx.query<{ relation: string; partitions: number }>(
      'blue',
      `SELECT ${qualifiedName()} AS relation,
              (SELECT count(*) FROM pg_partition_tree(c.oid) t WHERE t.isleaf)::int AS partitions
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'p' AND NOT c.relispartition AND ${userSchema('n')} ORDER BY 1`,
    );
    return rows.map((t): FindingDraft =>
      publication.viaRoot
        ? {
            severity: 'info',
            object: `table ${t.relation}`,
            message: `partitioned table ${t.relation} is published as its root (publish_via_partition_root): green's ${t.relation} receives every row and may be partitioned differently`,
            remediation: 'Nothing to do.',
          }
        : {
            severity: 'info',
            object: `table ${t.relation}`,
            message:
              `partitioned table ${t.relation} (${t.partitions} leaf partitions) is published partition by partition: ` +
              `each must exist on green (table-parity checks them), and a partition added to blue later must be created on green first`,
            remediation: `Create new partitions on green before blue; or publish via the root instead:\nALTER PUBLICATION ${ctx.pair.publication} SET (publish_via_partition_root = true);`,
          },
    );
  },
};

export const sequencesCheck: CheckDefinition = {
  id: 'sequences',
  title: 'sequences (values copied at cutover)',
  scope: 'database',
  sides: ['blue'],
  async run(ctx) {
    const rows = await ctx.query<{ name: string }>(
      'blue',
      `SELECT ${qualifiedName()} AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' AND ${userSchema('n')} ORDER BY 1`,
    );
    if (rows.length === 0) return [];
    const names = rows.map((r) => r.name);
    return [
      {
        severity: 'info',
        object: `sequences (${rows.length})`,
        message: `${rows.length} sequence(s) in ${ctx.database} (${listNames(names, D.PREFLIGHT_MAX_LISTED_OBJECTS)}): logical replication does not carry sequence values; pgshift copies every one from blue to green at cutover`,
        remediation: 'Nothing to do.',
      },
    ];
  },
};
