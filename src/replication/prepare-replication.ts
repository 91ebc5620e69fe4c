import { finalError } from '../errors.js';
import * as D from '../defaults.js';
import { conninfo, ident, withClient } from '../postgres/connect.js';
import type { PreparationStep } from '../shift/ports.js';
import { adminOn, asAdmin, existingDatabases, listIn, mapIn, pgshiftUserOn, union, wrapPg, type PreparationEnv } from './prepare-support.js';
import { createSubscription, ensurePgshiftTables, ensurePublication, slotName } from './setup.js';
import { dropSlotsWhenReleased } from './slots.js';

/**
 * The replication steps of preparing green: pgshift's tables on both sides, the
 * publication on blue and the subscription on green (initial copy included).
 */

/**
 * `pgshift-tables`: pgshift's heartbeat and freeze-ledger tables in every pair database
 * on both sides (they are published like every table, so green needs them too).
 *
 * Detail: `{ createdOn }`: the databases on green where this step created the
 * `pgshift` schema (noted before creating it). Undo drops that schema there, on green
 * only; blue's stays (later preparations and the lag signal use it).
 */
export function pgshiftTablesStep(env: PreparationEnv): PreparationStep {
  return {
    name: 'pgshift-tables',
    async run(ctx) {
      let createdOn = listIn(ctx.detail, 'createdOn');
      for (const database of env.databases) {
        await asAdmin(env, 'blue', database, `create pgshift's tables in ${database} on blue`, (c) =>
          ensurePgshiftTables(c, pgshiftUserOn(env, 'blue')),
        );
        await asAdmin(env, 'green', database, `create pgshift's tables in ${database} on green`, async (c) => {
          const { rowCount } = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [D.PGSHIFT_SCHEMA]);
          if (!rowCount && !createdOn.includes(database)) {
            createdOn = union(createdOn, [database]);
            await ctx.note({ createdOn });
          }
          await ensurePgshiftTables(c, pgshiftUserOn(env, 'green'));
        });
      }
      return { createdOn };
    },
    async undo(detail) {
      for (const database of await existingDatabases(env, 'green', listIn(detail, 'createdOn'))) {
        await asAdmin(env, 'green', database, `drop pgshift's schema in ${database} on green`, (c) =>
          c.query(`DROP SCHEMA IF EXISTS ${ident(D.PGSHIFT_SCHEMA)} CASCADE`),
        );
      }
    },
  };
}

/**
 * `publication`: the pair's publication FOR ALL TABLES in every pair database on blue.
 *
 * Detail: `{ created }`: the databases where this step created it (noted before). Undo
 * drops it there; a publication that was there before stays.
 */
export function publicationStep(env: PreparationEnv): PreparationStep {
  const log = env.log.child({ step: 'publication' });
  return {
    name: 'publication',
    async run(ctx) {
      let created = listIn(ctx.detail, 'created');
      for (const database of env.databases) {
        await asAdmin(env, 'blue', database, `create publication ${env.publication} in ${database} on blue`, async (c) => {
          const { rowCount } = await c.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [env.publication]);
          if (rowCount) return;
          created = union(created, [database]);
          await ctx.note({ created });
          await ensurePublication(c, env.publication);
          log.info({ database, publication: env.publication }, 'publication created on blue');
        });
      }
      return { created };
    },
    async undo(detail) {
      for (const database of listIn(detail, 'created')) {
        await asAdmin(env, 'blue', database, `drop publication ${env.publication} in ${database} on blue`, (c) =>
          c.query(`DROP PUBLICATION IF EXISTS ${ident(env.publication)}`),
        );
      }
    },
  };
}

/** What the subscription step made in one database: the slot's name and, once known, the subscription's oid (its tablesync slots carry it). */
export interface CreatedSubscription {
  slot: string;
  oid?: number;
}

/**
 * `subscription`: the pair's subscription in every pair database on green, with the
 * initial copy and the slot named by slotName(). Before creating one, every published
 * table must be present and empty on green: an initial copy into a table that holds
 * rows would duplicate them (a final error naming the tables).
 *
 * Detail: `{ created: { [database]: { slot, oid? } }, adopted }`; `created[database]`
 * is noted before CREATE SUBSCRIPTION and again with the oid after. Undo drops the
 * subscription and then its slot and any tablesync slot (`pg_<oid>_sync_...`) on blue,
 * and fails (to be repeated) while blue cannot be reached, so no slot keeps WAL there.
 */
export function subscriptionStep(env: PreparationEnv): PreparationStep {
  const log = env.log.child({ step: 'subscription' });
  return {
    name: 'subscription',
    async run(ctx) {
      const created = mapIn<CreatedSubscription>(ctx.detail, 'created');
      let adopted = listIn(ctx.detail, 'adopted');
      for (const database of env.databases) {
        const existing = await readGreenSubscription(env, database);
        if (existing) {
          if (!created[database]) adopted = union(adopted, [database]);
          else if (created[database].oid !== existing.oid) {
            created[database] = { slot: existing.slot ?? created[database].slot, oid: existing.oid };
            await ctx.note({ created });
          }
          continue;
        }
        await refuseUnfitTables(env, database);
        const slot = slotName(env.subscription, database);
        created[database] = { slot };
        await ctx.note({ created });
        await wrapPg(`create subscription ${env.subscription} in ${database} on green`, () =>
          createSubscription(adminOn(env, 'blue', database), adminOn(env, 'green', database), {
            subscription: env.subscription,
            publication: env.publication,
            source: conninfo(env.targets.subscriptionSource('blue', 'green', database)),
            slot,
            copyData: true,
          }, { signal: ctx.signal, log }),
        );
        const made = await readGreenSubscription(env, database);
        if (made) {
          created[database] = { slot, oid: made.oid };
          await ctx.note({ created });
        }
        log.info({ database, subscription: env.subscription, slot }, 'subscription created on green');
      }
      return { created, adopted };
    },
    async undo(detail) {
      const created = mapIn<CreatedSubscription>(detail, 'created');
      const present = new Set(await existingDatabases(env, 'green', Object.keys(created)));
      for (const [database, made] of Object.entries(created)) {
        let oid = made.oid;
        const sub = present.has(database) ? await readGreenSubscription(env, database) : null;
        if (sub && (oid === undefined || sub.oid === oid)) {
          oid = sub.oid;
          // Detached from its slot first, the drop is local: it works while blue is
          // unreachable, and the slots are dropped below, each on its own.
          await asAdmin(env, 'green', database, `drop subscription ${env.subscription} in ${database} on green`, async (c) => {
            const name = ident(env.subscription);
            if (sub.enabled) await c.query(`ALTER SUBSCRIPTION ${name} DISABLE`);
            await c.query(`ALTER SUBSCRIPTION ${name} SET (slot_name = NONE)`);
            await c.query(`DROP SUBSCRIPTION ${name}`);
          });
          log.info({ database, subscription: env.subscription }, 'subscription dropped from green');
        }
        const dropped = await dropSlots(env, database, made.slot, oid);
        if (dropped.length > 0) log.info({ database, slots: dropped }, 'replication slots dropped from blue');
      }
    },
  };
}

export interface GreenSubscription {
  oid: number;
  slot: string | null;
  enabled: boolean;
  publications: string[];
}

/** The pair's subscription in `database` on green, or null. */
export async function readGreenSubscription(env: PreparationEnv, database: string): Promise<GreenSubscription | null> {
  return asAdmin(env, 'green', database, `read subscription ${env.subscription} in ${database} on green`, async (c) => {
    const { rows } = await c.query<{ oid: number; slot: string | null; enabled: boolean; publications: string[] }>(
      `SELECT oid::int AS oid, subslotname AS slot, subenabled AS enabled, subpublications AS publications
         FROM pg_subscription
        WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [env.subscription],
    );
    return rows[0] ?? null;
  });
}

/** Every table blue publishes in `database` must exist on green and hold no row. */
async function refuseUnfitTables(env: PreparationEnv, database: string): Promise<void> {
  const published = await asAdmin(env, 'blue', database, `list the tables of publication ${env.publication} in ${database} on blue`, async (c) =>
    (
      await c.query<{ name: string }>(
        `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
        [env.publication],
      )
    ).rows.map((r) => r.name),
  );
  const { missing, holdingRows } = await asAdmin(env, 'green', database, `look for rows in ${database} on green`, async (c) => {
    const present = (
      await c.query<{ name: string }>(`SELECT name FROM unnest($1::text[]) name WHERE to_regclass(name) IS NOT NULL`, [published])
    ).rows.map((r) => r.name);
    const holding: string[] = [];
    for (let i = 0; i < present.length; i += 200) {
      const batch = present.slice(i, i + 200);
      const sql = batch.map((name, j) => `SELECT $${j + 1}::text AS name WHERE EXISTS (SELECT 1 FROM ONLY ${name})`).join(' UNION ALL ');
      holding.push(...(await c.query<{ name: string }>(sql, batch)).rows.map((r) => r.name));
    }
    return { missing: published.filter((n) => !present.includes(n)), holdingRows: holding };
  });
  if (missing.length > 0) {
    throw finalError(
      'PGSHIFT_ERR_GREEN_TABLES_MISSING',
      `green lacks tables that blue publishes in ${database}: ${shortList(missing)}`,
      { database, tables: missing },
    );
  }
  if (holdingRows.length > 0) {
    throw finalError(
      'PGSHIFT_ERR_GREEN_TABLES_NOT_EMPTY',
      `tables in ${database} on green already hold rows, and the initial copy would duplicate them (empty them or drop the database on green): ${shortList(holdingRows)}`,
      { database, tables: holdingRows },
    );
  }
}

function shortList(names: string[]): string {
  return names.length <= 10 ? names.join(', ') : `${names.slice(0, 10).join(', ')} and ${names.length - 10} more`;
}

/**
 * Drops on blue the subscription's slot and its tablesync slots, waiting until no
 * walsender holds them. Throws (to be repeated) when blue cannot be reached or a slot stays busy.
 */
function dropSlots(env: PreparationEnv, database: string, slot: string, oid: number | undefined): Promise<string[]> {
  return wrapPg(`drop the replication slots of ${env.subscription} for ${database} on blue`, () =>
    withClient(adminOn(env, 'blue'), (c) =>
      dropSlotsWhenReleased(
        async (sql, params) => (await c.query(sql, params)).rows,
        { slot, ...(oid === undefined ? {} : { syncOf: { oid, database } }) },
        env.clock,
      ),
    ),
  );
}
