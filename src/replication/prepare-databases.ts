import { finalError } from '../errors.js';
import * as D from '../defaults.js';
import { ident, withClient } from '../postgres/connect.js';
import type { PreparationStep } from '../shift/ports.js';
import { adminOn, asAdmin, existingDatabases, listIn, union, wrapPg, type PreparationEnv } from './prepare-support.js';
import { createDatabaseLike } from './setup.js';

/**
 * `databases`: every pair database green lacks, created like blue's (owner, encoding,
 * collation), and every pair database on green read-only for applications by
 * database default (replication still applies; see DESIGN.md).
 *
 * Detail: `{ created, readOnlySet }`, each noted before the statement it covers:
 * `created` the databases this step created; `readOnlySet` the pre-existing ones whose
 * read-only default this step set (those that had it already are not listed).
 */
export function databasesStep(env: PreparationEnv): PreparationStep {
  const log = env.log.child({ step: 'databases' });
  return {
    name: 'databases',
    async run(ctx) {
      let created = listIn(ctx.detail, 'created');
      let readOnlySet = listIn(ctx.detail, 'readOnlySet');
      const present = new Set(await existingDatabases(env, 'green', env.databases));
      for (const database of env.databases.filter((d) => !present.has(d))) {
        created = union(created, [database]);
        await ctx.note({ created });
        const made = await wrapPg(`create database ${database} on green like blue's`, () =>
          withClient(adminOn(env, 'green'), (green) =>
            withClient(adminOn(env, 'blue', database), (blue) => createDatabaseLike(blue, green, database)),
          ),
        ).catch((err: unknown) => {
          const sqlstate = (err as { cause?: { code?: unknown } }).cause?.code;
          if (sqlstate === '3D000') {
            throw finalError('PGSHIFT_ERR_PREPARE_NO_DATABASE', `blue has no database ${database}, which the pair names`, { database }, err);
          }
          throw err;
        });
        if (!made) {
          // Someone else created it since it was looked for: not ours to drop.
          created = created.filter((d) => d !== database);
          await ctx.note({ created });
          continue;
        }
        log.info({ database }, 'database created on green');
      }
      for (const database of env.databases) {
        if (created.includes(database) || readOnlySet.includes(database)) {
          await setReadOnly(env, database, true);
          continue;
        }
        if (await isReadOnly(env, database)) continue;
        readOnlySet = union(readOnlySet, [database]);
        await ctx.note({ readOnlySet });
        await setReadOnly(env, database, true);
        log.info({ database }, 'database on green made read-only for applications by default');
      }
      return { created, readOnlySet };
    },
    async undo(detail) {
      const created = listIn(detail, 'created');
      const present = new Set(await existingDatabases(env, 'green', union(created, listIn(detail, 'readOnlySet'))));
      for (const database of created.filter((d) => present.has(d))) {
        await asAdmin(env, 'green', D.MAINTENANCE_DATABASE, `drop database ${database} on green`, (c) =>
          c.query(`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)`),
        );
        log.info({ database }, 'database dropped from green');
      }
      for (const database of listIn(detail, 'readOnlySet').filter((d) => present.has(d) && !created.includes(d))) {
        await setReadOnly(env, database, false);
      }
    },
  };
}

async function isReadOnly(env: PreparationEnv, database: string): Promise<boolean> {
  return asAdmin(env, 'green', D.MAINTENANCE_DATABASE, `read the defaults of ${database} on green`, async (c) => {
    const { rowCount } = await c.query(
      `SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
        WHERE s.setrole = 0 AND d.datname = $1 AND 'default_transaction_read_only=on' = ANY (s.setconfig)`,
      [database],
    );
    return (rowCount ?? 0) > 0;
  });
}

function setReadOnly(env: PreparationEnv, database: string, readOnly: boolean): Promise<unknown> {
  return asAdmin(env, 'green', D.MAINTENANCE_DATABASE, `${readOnly ? 'set' : 'reset'} the read-only default of ${database} on green`, (c) =>
    c.query(
      readOnly
        ? `ALTER DATABASE ${ident(database)} SET default_transaction_read_only = on`
        : `ALTER DATABASE ${ident(database)} RESET default_transaction_read_only`,
    ),
  );
}
