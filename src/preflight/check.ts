import type pg from 'pg';
import type { RdsClusterFacts } from '../clusters/catalog.js';
import type { Logger } from '../log.js';
import type { ConnectTarget } from '../postgres/connect.js';
import type { RestoreProgress } from '../replication/schema-restore.js';
import type { Finding, PreflightPhase } from './report.js';
import type { PreflightLogin, PreflightPair, PreflightSide } from './targets.js';

/** A finding as a check writes it; the runner adds the check id and the database. */
export type FindingDraft = Omit<Finding, 'check' | 'database'> & { database?: string | null };

export interface SideInfo {
  version: string;
  major: number;
  /** Login names, to recognise pgshift's own and the admin role among others. */
  pgshiftUser: string;
  adminUser: string;
}

/**
 * What a check sees. `query` runs as pgshift's own login unless a check asks for admin.
 * Every check reads only what pgshift's login can see (the catalogs, and other
 * sessions' user names through pg_monitor), so none connects as admin: preflight only
 * needs the admin login's name, to recognise it among application roles.
 */
export interface CheckContext {
  pair: PreflightPair;
  /**
   * `prepare`: green is empty and every green query reads its maintenance database, so a
   * check that runs then sees green's server, never the pair's database on green.
   */
  phase: PreflightPhase;
  /** The pair's database the check runs in (for cluster checks: the database it reads through). */
  database: string;
  blue: SideInfo;
  green: SideInfo;
  query<R extends pg.QueryResultRow>(side: PreflightSide, sql: string, params?: unknown[], login?: PreflightLogin): Promise<R[]>;
  /** The sides RDS describes and what it says of them, read once per run (checks of scope `aws`). */
  aws: {
    sides: readonly PreflightSide[];
    facts(side: PreflightSide): Promise<RdsClusterFacts>;
  };
  /** Where `database` on `side` is as `login`, for a check that needs sessions or tools of its own (the trial restore). */
  target(side: PreflightSide, database: string, login: PreflightLogin): ConnectTarget;
  /** The trial restore's time budget, and who hears of its progress. */
  trial: { budgetMs: number; onProgress?: (database: string, progress: RestoreProgress) => void };
  log: Logger;
}

export interface Applicability {
  blueMajor: number;
  greenMajor: number;
}

/**
 * One preflight check, as data. `scope: 'database'` runs once per database of the pair;
 * `'cluster'` once per pair (settings, roles, prepared transactions are cluster-wide).
 * `'aws'` once per pair, from RDS's descriptions rather than SQL: it does not apply
 * when no side of `sides` is an RDS cluster (or, without `eachSide`, when one is not).
 * `sides` names the sides it reads, so that a side that cannot be reached skips it
 * (and the report says so) instead of failing it once per query.
 */
export interface CheckDefinition {
  id: string;
  title: string;
  scope: 'database' | 'cluster' | 'aws';
  sides: readonly PreflightSide[];
  /** `aws` checks that look at each RDS side on its own, and so also run when only one side is on RDS. */
  eachSide?: boolean;
  /**
   * What of green the check compares with blue that `prepare` creates (e.g. "green's
   * tables from blue's schema"). Set: in phase `prepare` the check does not apply and
   * the report says "prepare creates <this>". Absent: the check runs in every phase,
   * reading green's server through its maintenance database in phase `prepare`.
   */
  createdByPrepare?: string;
  /**
   * What `prepare` has done that makes the check moot once green is prepared (e.g. the
   * trial restore: "prepare restored blue's schema on green"). Set: the check runs only
   * in phase `prepare`, so that a prepared green (under reads, or the cutover's own
   * preflight) is not made to do it again.
   */
  supersededByPrepare?: string;
  /** Which upgrades the check concerns; absent: every one. */
  appliesTo?: (versions: Applicability) => boolean;
  run(ctx: CheckContext): Promise<FindingDraft[]>;
}

/** The checks that mirror pg_upgrade's refusals for a source of 13 or older and a target of 14 or newer. */
export function crossesInto14(v: Applicability): boolean {
  return v.blueMajor <= 13 && v.greenMajor >= 14;
}

/** "a, b, c and 4 more" */
export function listNames(names: readonly string[], max: number): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}
