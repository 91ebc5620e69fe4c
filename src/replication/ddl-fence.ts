import * as D from '../defaults.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { ident, literal, withClient, type ConnectTarget } from '../postgres/connect.js';
import type { Side } from '../shift/model.js';

/**
 * The DDL fence (`ddl: block`): an event trigger on the writing side's databases that
 * refuses DDL from the application roles while a shift is under way, so a migration
 * cannot make blue's schema drift from green's. Made and removed as the admin login
 * (event triggers need a superuser; on Aurora, rds_superuser). pgshift's own logins
 * and superusers are never fenced: pgshift's set-up and repair must go on.
 */

export interface DdlFenceOptions {
  pairId: string;
  databases: readonly string[];
  /** The configured application roles: only they are fenced. Absent: every role but the exempt ones. */
  appRoles?: readonly string[];
  /** The admin login of `side` on `database` (it makes and removes the fence). */
  admin: (side: Side, database: string) => ConnectTarget;
  /** Logins never fenced on `side`: pgshift's own and the admin. */
  exempt: (side: Side) => string[];
  log: Logger;
}

/** The event trigger's and its function's name for a pair (pair ids are lowercase with hyphens). */
export function fenceName(pairId: string): string {
  return `${D.DDL_FENCE_PREFIX}${pairId.replace(/-/g, '_')}`.slice(0, 63);
}

/** The message an application's DDL is refused with: who fences, which pair, how to lift it. */
export function fenceMessage(pairId: string): string {
  return `pgshift: DDL is blocked here while pair ${pairId} shifts between blue and green (ddl: block); to lift it, set ddl: watch for the pair and restart pgshift, or finish (finalize) or revert the shift`;
}

/** Creates (or replaces) the fence in the database `client` is connected to. Idempotent. */
export async function installDdlFence(client: { query(sql: string): Promise<unknown> }, options: { pairId: string; appRoles?: readonly string[]; exempt: readonly string[] }): Promise<void> {
  const name = fenceName(options.pairId);
  const fn = `${ident(D.PGSHIFT_SCHEMA)}.${ident(name)}`;
  const array = (names: readonly string[]) => `ARRAY[${names.map(literal).join(', ')}]::text[]`;
  const fenced = options.appRoles
    ? `session_user::text = ANY (${array(options.appRoles)})`
    : `session_user::text <> ALL (${array(options.exempt)}) AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)`;
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(D.PGSHIFT_SCHEMA)}`);
  await client.query(
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS event_trigger LANGUAGE plpgsql AS $fence$
     BEGIN
       IF ${fenced} THEN
         RAISE EXCEPTION '%', ${literal(fenceMessage(options.pairId))} || ' (refused: ' || tg_tag || ' as ' || session_user || ')'
           USING ERRCODE = 'insufficient_privilege';
       END IF;
     END $fence$`,
  );
  await client.query(
    `DO $do$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = ${literal(name)}) THEN
         CREATE EVENT TRIGGER ${ident(name)} ON ddl_command_start EXECUTE FUNCTION ${fn}();
       END IF;
     END $do$`,
  );
}

/** Removes the fence from the database `client` is connected to. Idempotent; no DDL runs when there is none. */
export async function removeDdlFence(client: { query(sql: string, params?: unknown[]): Promise<{ rowCount: number | null }> }, pairId: string): Promise<void> {
  const name = fenceName(pairId);
  const present = await client.query('SELECT 1 FROM pg_event_trigger WHERE evtname = $1', [name]);
  if (present.rowCount === 0) return;
  await client.query(`DROP EVENT TRIGGER IF EXISTS ${ident(name)}`);
  await client.query(`DROP FUNCTION IF EXISTS ${ident(D.PGSHIFT_SCHEMA)}.${ident(name)}()`);
}

/**
 * Keeps the fence where the pair's stage wants it: on the writing side while a shift
 * is under way, nowhere otherwise (`null`). Called often (every signal round) and cheap
 * then: it only touches the databases when the wanted side changed or the last attempt
 * failed. One attempt at a time.
 */
export class DdlFenceKeeper {
  /** Where the fence was last made to be; undefined before the first success (so the first call also clears a stale one). */
  private applied: Side | null | undefined = undefined;
  private running = false;
  private failedAt: number | null = null;

  constructor(private readonly options: DdlFenceOptions) {}

  async reconcile(wanted: Side | null): Promise<void> {
    if (this.running || this.applied === wanted) return;
    if (this.failedAt !== null && Date.now() - this.failedAt < D.DDL_FENCE_RETRY_MS) return;
    this.running = true;
    try {
      for (const side of ['blue', 'green'] as const) {
        for (const database of this.options.databases) {
          await withClient(this.options.admin(side, database), (c) =>
            side === wanted ? installDdlFence(c, { pairId: this.options.pairId, exempt: this.options.exempt(side), ...(this.options.appRoles ? { appRoles: this.options.appRoles } : {}) }) : removeDdlFence(c, this.options.pairId),
          );
        }
      }
      if (this.applied !== wanted) this.options.log.info({ pair: this.options.pairId, side: wanted }, wanted ? `DDL fence up on ${wanted}` : 'DDL fence removed');
      this.applied = wanted;
      this.failedAt = null;
    } catch (err) {
      this.failedAt = Date.now();
      this.options.log.warn({ pair: this.options.pairId, wanted, err: describeError(err) }, 'cannot put the DDL fence where the stage wants it; trying again');
    } finally {
      this.running = false;
    }
  }
}
