import * as D from '../defaults.js';
import { ident, withClient, type ConnectTarget } from '../postgres/connect.js';
import { SIDES, type Side } from '../shift/model.js';

/**
 * Removes pgshift's replication support from one pair's databases on both sides: the
 * publication and the heartbeat table. Each is looked for first, so a repeat removes
 * nothing and says so.
 */
export async function removeReplicationSupport(
  databases: readonly string[],
  publication: string,
  admin: (side: Side, database: string) => ConnectTarget,
): Promise<string[]> {
  const removed: string[] = [];
  for (const side of SIDES) {
    for (const database of databases) {
      await withClient(admin(side, database), async (client) => {
        // pgshift's own session writes on a side whose default is read-only.
        await client.query('SET default_transaction_read_only = off');
        const pub = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
        if (pub.rowCount) {
          await client.query(`DROP PUBLICATION ${ident(publication)}`);
          removed.push(`publication ${publication} on ${side} (${database})`);
        }
        const table = await client.query(`SELECT to_regclass('${D.PGSHIFT_SCHEMA}.heartbeat') IS NOT NULL AS present`);
        if (table.rows[0]?.present) {
          await client.query(`DROP TABLE ${ident(D.PGSHIFT_SCHEMA)}.heartbeat`);
          removed.push(`heartbeat table on ${side} (${database})`);
        }
      });
    }
  }
  return removed;
}
