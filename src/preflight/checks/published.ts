import type { CheckContext } from '../check.js';

/** A WHERE condition: the namespace aliased `n` holds user objects. */
export function userSchema(n = 'n'): string {
  return `${n}.nspname NOT IN ('pg_catalog', 'information_schema') AND ${n}.nspname !~ '^pg_(toast|temp_|toast_temp_)'`;
}

/** Schema-qualified, quoted name of the relation aliased `c` in namespace `n`: comparable across servers. */
export function qualifiedName(c = 'c', n = 'n'): string {
  return `quote_ident(${n}.nspname) || '.' || quote_ident(${c}.relname)`;
}

/** Schema-qualified, quoted name of the relation with OID `oidExpr`, whatever the search_path. */
export function qualifiedRelation(oidExpr: string): string {
  return `(SELECT quote_ident(qn.nspname) || '.' || quote_ident(qc.relname)
             FROM pg_class qc JOIN pg_namespace qn ON qn.oid = qc.relnamespace WHERE qc.oid = ${oidExpr})`;
}

/**
 * A CTE `published(oid)`: the tables the pair's publication ($1) sends, or, while it
 * does not exist yet, what pgshift's FOR ALL TABLES publication will send: every
 * permanent table, leaf partitions included.
 */
export const PUBLISHED_CTE = `published(oid) AS (
    SELECT c.oid FROM pg_publication_tables pt
      JOIN pg_namespace n ON n.nspname = pt.schemaname
      JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
     WHERE pt.pubname = $1
    UNION ALL
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE NOT EXISTS (SELECT 1 FROM pg_publication p WHERE p.pubname = $1)
       AND c.relkind = 'r' AND c.relpersistence = 'p' AND ${userSchema('n')}
  )`;

export interface PublicationInfo {
  exists: boolean;
  publishesUpdateOrDelete: boolean;
  viaRoot: boolean;
}

/** The pair's publication on blue; when absent, what pgshift will create (all changes, leaf partitions). */
export async function readPublication(ctx: CheckContext): Promise<PublicationInfo> {
  const rows = await ctx.query<{ pubupdate: boolean; pubdelete: boolean; pubviaroot: boolean }>(
    'blue',
    `SELECT pubupdate, pubdelete, pubviaroot FROM pg_publication WHERE pubname = $1`,
    [ctx.pair.publication],
  );
  const pub = rows[0];
  if (!pub) return { exists: false, publishesUpdateOrDelete: true, viaRoot: false };
  return { exists: true, publishesUpdateOrDelete: pub.pubupdate || pub.pubdelete, viaRoot: pub.pubviaroot };
}
