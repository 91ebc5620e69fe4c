import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import { ident } from '../postgres/connect.js';
import type { PreparationStep } from '../shift/ports.js';
import { waitForCopy } from './copy-progress.js';
import { readGreenSubscription } from './prepare-replication.js';
import { asAdmin, existingDatabases, listIn, union, type PreparationEnv } from './prepare-support.js';

/**
 * `verify`: the adoption check, and all a green that already replicates from blue
 * goes through. Per database: green's subscription is enabled (enabled if it was not),
 * subscribes to exactly the tables its publications on blue offer (refreshed and
 * waited for otherwise), every table is synchronized, and its slot exists on blue and
 * is streaming.
 *
 * Detail: `{ enabled, refreshed }` (databases whose subscription this step enabled or
 * refreshed, noted before doing it) and, when done, `{ databases: [{ database, tables,
 * slot }] }`. Undo disables again what it enabled.
 */
export function verifyStep(env: PreparationEnv): PreparationStep {
  const log = env.log.child({ step: 'verify' });
  return {
    name: 'verify',
    async run(ctx) {
      let enabled = listIn(ctx.detail, 'enabled');
      let refreshed = listIn(ctx.detail, 'refreshed');
      const slots = new Map<string, string>();
      for (const database of env.databases) {
        const sub = await readGreenSubscription(env, database);
        if (!sub) throw notReady(env, database, `green has no subscription ${env.subscription}`);
        if (!sub.slot) throw notReady(env, database, `subscription ${env.subscription} on green has no slot (slot_name = NONE)`);
        slots.set(database, sub.slot);
        const name = ident(env.subscription);
        if (!sub.enabled) {
          enabled = union(enabled, [database]);
          await ctx.note({ enabled });
          await asAdmin(env, 'green', database, `enable subscription ${env.subscription} in ${database} on green`, (c) =>
            c.query(`ALTER SUBSCRIPTION ${name} ENABLE`),
          );
          log.warn({ database, subscription: env.subscription }, 'subscription was disabled: enabled');
        }
        const difference = await compareTables(env, database, sub.publications);
        if (difference.missingPublications.length > 0) {
          throw notReady(env, database, `blue has no publication ${difference.missingPublications.join(', ')}, which green's subscription reads`);
        }
        if (difference.unsubscribed.length > 0 || difference.unpublished.length > 0) {
          refreshed = union(refreshed, [database]);
          await ctx.note({ refreshed });
          await asAdmin(env, 'green', database, `refresh subscription ${env.subscription} in ${database} on green`, (c) =>
            c.query(`ALTER SUBSCRIPTION ${name} REFRESH PUBLICATION`),
          );
          log.info({ database, ...difference }, 'subscription refreshed: its tables differed from the publication');
        }
      }
      const copy = await waitForCopy(env, env.databases, ctx);
      for (const database of env.databases) await waitForActiveSlot(env, database, slots.get(database)!, ctx.signal);
      const databases = copy.databases.map((d) => ({ database: d.database, tables: d.tablesTotal, slot: slots.get(d.database)! }));
      log.info({ databases }, 'green follows blue');
      return { enabled, refreshed, databases };
    },
    async undo(detail) {
      for (const database of await existingDatabases(env, 'green', listIn(detail, 'enabled'))) {
        const sub = await readGreenSubscription(env, database);
        if (!sub?.enabled) continue;
        await asAdmin(env, 'green', database, `disable subscription ${env.subscription} in ${database} on green`, (c) =>
          c.query(`ALTER SUBSCRIPTION ${ident(env.subscription)} DISABLE`),
        );
      }
    },
  };
}

interface TableDifference {
  missingPublications: string[];
  /** Published on blue, unknown to green's subscription. */
  unsubscribed: string[];
  /** Known to green's subscription, no longer published. */
  unpublished: string[];
}

async function compareTables(env: PreparationEnv, database: string, publications: string[]): Promise<TableDifference> {
  const blue = await asAdmin(env, 'blue', database, `list published tables in ${database} on blue`, async (c) => {
    const missing = await c.query<{ p: string }>(
      'SELECT p FROM unnest($1::text[]) p WHERE NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = p)',
      [publications],
    );
    const tables = await c.query<{ name: string }>(
      `SELECT DISTINCT format('%I.%I', schemaname, tablename) AS name FROM pg_publication_tables WHERE pubname = ANY($1::text[])`,
      [publications],
    );
    return { missing: missing.rows.map((r) => r.p), tables: tables.rows.map((r) => r.name) };
  });
  const subscribed = await asAdmin(env, 'green', database, `list subscribed tables in ${database} on green`, async (c) =>
    (
      await c.query<{ name: string }>(
        `SELECT format('%I.%I', n.nspname, c.relname) AS name
           FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
           JOIN pg_class c ON c.oid = r.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [env.subscription],
      )
    ).rows.map((r) => r.name),
  );
  const published = new Set(blue.tables);
  const known = new Set(subscribed);
  return {
    missingPublications: blue.missing,
    unsubscribed: blue.tables.filter((t) => !known.has(t)),
    unpublished: subscribed.filter((t) => !published.has(t)),
  };
}

/** The slot must exist on blue and a walsender must stream from it (it may take a moment after ENABLE). */
async function waitForActiveSlot(env: PreparationEnv, database: string, slot: string, signal: AbortSignal): Promise<void> {
  const deadline = env.clock.now() + D.PREPARE_SLOT_ACTIVE_WAIT_MS;
  for (;;) {
    const row = await asAdmin(env, 'blue', D.MAINTENANCE_DATABASE, `read slot ${slot} on blue`, async (c) =>
      (await c.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows[0],
    );
    if (!row) throw notReady(env, database, `blue has no replication slot ${slot}, which green's subscription streams from`);
    if (row.active) return;
    if (env.clock.now() >= deadline) throw notReady(env, database, `slot ${slot} on blue is not streaming (no walsender holds it)`);
    await env.clock.sleep(D.SLOT_POLL_MS * 4, signal);
  }
}

function notReady(env: PreparationEnv, database: string, problem: string): PgshiftError {
  return new PgshiftError('PGSHIFT_ERR_PREPARE_VERIFY', `green does not follow blue in ${database}: ${problem}`, {
    status: 409,
    details: { database, subscription: env.subscription },
  });
}
