import type { Clock } from '../clock.js';
import type { Login } from '../config/schema.js';
import * as D from '../defaults.js';
import type { Logger } from '../log.js';
import { explainPgError, withClient, type ConnectTarget } from '../postgres/connect.js';
import type { Side } from '../shift/model.js';
import type { StepDetail } from '../shift/ports.js';
import type { ReplicationTargets } from './targets.js';

/**
 * What every step of preparing green shares: the pair's names, how to reach both
 * sides, and the error conventions of a preparation step (a `final` error is one that
 * repeating cannot cure; anything else is retried).
 */
export interface GreenPreparationOptions {
  pairId: string;
  databases: readonly string[];
  publication: string;
  subscription: string;
  targets: ReplicationTargets;
  /** pgshift's configured login on green (referenced, never copied: its password is non-enumerable). */
  pgshiftLogin: Login;
  log: Logger;
  clock?: Clock;
}

export interface PreparationEnv extends GreenPreparationOptions {
  clock: Clock;
}

/** The admin login of `side` on `database` (default: the maintenance database, for cluster-wide work). */
export function adminOn(env: PreparationEnv, side: Side, database: string = D.MAINTENANCE_DATABASE): ConnectTarget {
  return env.targets.target(side, database, 'admin');
}

/** pgshift's own login name on `side`. */
export function pgshiftUserOn(env: PreparationEnv, side: Side): string {
  return side === 'green' ? env.pgshiftLogin.user : env.targets.target(side, D.MAINTENANCE_DATABASE, 'pgshift').login.user;
}

/** pg errors become PGSHIFT_ERR_PREPARE errors that say what pgshift was doing (retried: a lost connection, a lock, a server restarting). */
export function wrapPg<T>(what: string, work: () => Promise<T>): Promise<T> {
  return explainPgError('PGSHIFT_ERR_PREPARE', what, work);
}

/** Runs `work` as the admin of `side` on `database`, wrapping pg errors with `what`. */
export function asAdmin<T>(env: PreparationEnv, side: Side, database: string, what: string, work: Parameters<typeof withClient<T>>[1]): Promise<T> {
  return wrapPg(what, () => withClient(adminOn(env, side, database), work));
}

/** A string list recorded in a step's detail (missing or malformed: empty). */
export function listIn(detail: StepDetail, key: string): string[] {
  const value = detail[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** A record of objects keyed by database recorded in a step's detail. */
export function mapIn<T>(detail: StepDetail, key: string): Record<string, T> {
  const value = detail[key];
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Record<string, T>) } : {};
}

export function union(...lists: readonly string[][]): string[] {
  return [...new Set(lists.flat())];
}

/** The pair's databases that exist on `side` (undo skips the others: nothing of ours is left in them). */
export async function existingDatabases(env: PreparationEnv, side: Side, databases: readonly string[]): Promise<string[]> {
  if (databases.length === 0) return [];
  return asAdmin(env, side, D.MAINTENANCE_DATABASE, `list databases on ${side}`, async (c) =>
    (await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1::text[])', [[...databases]])).rows.map((r) => r.datname),
  );
}
