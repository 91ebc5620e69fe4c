import type { SetupReport } from './setup.js';
import type { Side } from '../shift/model.js';

/**
 * The `Replication` port: everything pgshift does to the logical replication between
 * the two sides of a pair and to the application sessions around it. The controller
 * talks to this interface only; PostgresReplication implements it over `pg`.
 *
 * Logins (see ReplicationTargets): `pgshift` is the pair's routine login (REPLICATION,
 * CREATEROLE, pg_monitor, pg_signal_backend); `admin` is the pair's adminLogin (master
 * user / rds_superuser), needed in PostgreSQL 13/14 for subscription DDL, publications
 * FOR ALL TABLES, ALTER DATABASE and setval on application sequences. Each method says
 * which it uses.
 */

/** Which way rows flow: publisher `->` subscriber. */
export const DIRECTIONS = ['blue->green', 'green->blue'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export interface DirectionEnds {
  from: Side;
  to: Side;
}

export function endsOf(direction: Direction): DirectionEnds {
  return direction === 'blue->green' ? { from: 'blue', to: 'green' } : { from: 'green', to: 'blue' };
}

export function reverseOf(direction: Direction): Direction {
  return direction === 'blue->green' ? 'green->blue' : 'blue->green';
}

export function otherSide(side: Side): Side {
  return side === 'blue' ? 'green' : 'blue';
}

export interface SetUpOptions {
  /** Copy the rows that exist now (forward setup) or not (reverse replication at cutover). */
  copyData: boolean;
  /** Make the receiving side read-only for applications by database default. Default true. */
  readOnlyTo?: boolean;
  /** How long to wait for the initial copy of each database. */
  syncTimeoutMs?: number;
  onProgress?: (progress: { database: string; tablesTotal: number; tablesReady: number }) => void;
}

export interface SetUpReport {
  direction: Direction;
  databases: ({ database: string } & SetupReport)[];
}

export interface DropReport {
  direction: Direction;
  databases: { database: string; subscriptionDropped: boolean; slotDropped: boolean }[];
}

/** One database's replication as both ends see it. Fields are null when that end could not be read. */
export interface DatabaseReplicationState {
  database: string;
  subscription: string;
  /** False when the subscriber has no such subscription in this database. */
  exists: boolean | null;
  enabled: boolean | null;
  /** PID of the apply worker (pg_stat_subscription); null when none runs. */
  workerPid: number | null;
  slot: string | null;
  /** Whether the slot exists on the publisher. */
  slotExists: boolean | null;
  /** Whether a walsender streams from the slot right now. */
  slotActive: boolean | null;
  /** pg_replication_slots.wal_status: `reserved`, `extended`, `unreserved` or `lost`. */
  walStatus: string | null;
  tablesTotal: number | null;
  /** Tables in state `r` (ready) or `s` (synchronized) in pg_subscription_rel. */
  tablesReady: number | null;
  /** Tables the publication offers that the subscription does not know (REFRESH PUBLICATION needed). */
  tablesUnsubscribed: number | null;
  problems: string[];
}

export interface ReplicationState {
  direction: Direction;
  /** True only when every database reports no problem. */
  healthy: boolean;
  /** Every database's problems, each prefixed with the database name. */
  problems: string[];
  databases: DatabaseReplicationState[];
  /** Epoch ms when read. */
  at: number;
}

export interface DatabaseLag {
  database: string;
  /** Publisher's pg_current_wal_lsn() minus the slot's confirmed_flush_lsn; null when unknown. */
  bytes: number | null;
  /** Age of the oldest heartbeat not yet applied on the subscriber (0 when all arrived); null when unknown. */
  seconds: number | null;
  /** Why a value is null. */
  error?: string;
  /** The heartbeat token the subscriber shows. */
  appliedToken: string | null;
}

export interface LagReading {
  direction: Direction;
  /** The worst database; null when any database's value is unknown (missing data is never good news). */
  bytes: number | null;
  seconds: number | null;
  databases: DatabaseLag[];
  at: number;
}

export interface SequenceCopyReport {
  direction: Direction;
  databases: {
    database: string;
    /** Sequences set on the target. */
    copied: number;
    /** Sequences already at or past the source's next value on the target, left alone. */
    alreadyAhead: number;
  }[];
}

export interface FreezeReport {
  side: Side;
  /** Every role now frozen by pgshift on this side (this call's and earlier calls'). */
  frozenRoles: string[];
  /** Roles this call made NOLOGIN. */
  newlyFrozen: string[];
  /** Application roles that could not log in anyway, so were left as they are. */
  alreadyNoLogin: string[];
  /** Configured application roles that do not exist on this side. */
  missingRoles: string[];
  /** Sessions of those roles this call terminated. */
  sessionsTerminated: number;
}

export interface UnfreezeReport {
  side: Side;
  /** Roles this call gave LOGIN back. */
  restoredRoles: string[];
}

export interface DrainOptions {
  /** Only sessions connected longer than this many seconds. Default: all. */
  connectedLongerThanSeconds?: number;
}

export interface DrainReport {
  side: Side;
  roles: string[];
  sessionsTerminated: number;
}

/** How a table was compared between the two sides after the catch-up. */
export type ValidationMethod = 'count' | 'max-key' | 'unchecked';

export interface TableValidation {
  /** schema.table */
  table: string;
  method: ValidationMethod;
  /** The value compared on each side (a row count or the largest key, as text); null when not compared. */
  from: string | null;
  to: string | null;
  ok: boolean;
}

export interface ValidationOptions {
  /** The whole comparison must end within this; PGSHIFT_ERR_VALIDATION_TIMEOUT (504) otherwise. */
  budgetMs: number;
  /** Tables estimated at up to this many rows are counted exactly on both sides; larger ones compare their largest key. */
  exactRowLimit: number;
}

export interface ValidationReport {
  direction: Direction;
  /** True when every compared table agrees. */
  ok: boolean;
  databases: { database: string; tables: TableValidation[] }[];
  /** One sentence per table that differs, prefixed with the database. */
  mismatches: string[];
  ms: number;
}

/** Something the receiving side lacks that the cutover would only discover after the freeze. */
export interface ParityProblem {
  kind: 'extension' | 'role' | 'sequence' | 'table' | 'schema';
  /** null for cluster-wide objects (roles). */
  database: string | null;
  object: string;
  message: string;
}

export interface ParityReport {
  direction: Direction;
  problems: ParityProblem[];
}

export interface FenceReport {
  direction: Direction;
  databases: { database: string; token: string; waitedMs: number }[];
}

/**
 * Logical replication of one pair, either direction, over all its databases (one
 * publication, subscription and slot per database), plus the write freeze and session
 * draining that a cutover needs.
 *
 * Never enable both directions at once: PostgreSQL 13/14 publish what their apply
 * workers write, so every row would echo back and forth. Stop one direction before
 * setting up the other (`setUp` refuses otherwise).
 */
export interface Replication {
  /**
   * Creates what is missing for `direction` and adopts what exists, database by
   * database: roles, database, schema, pgshift's tables, publication (FOR ALL TABLES),
   * subscription (with or without the initial copy), then waits until every table is
   * synchronized. Idempotent; resumes what a crash left half done. Uses `admin` on both
   * sides. Throws PGSHIFT_ERR_REPLICATION_BOTH_WAYS (409) when the opposite direction is
   * enabled, PGSHIFT_ERR_INITIAL_SYNC_TIMEOUT (504), PGSHIFT_ERR_SCHEMA_COPY,
   * PGSHIFT_ERR_PG_CONNECT (503) or PGSHIFT_ERR_REPLICATION_DDL (502) with the pg error as cause.
   */
  setUp(direction: Direction, options: SetUpOptions): Promise<SetUpReport>;

  /**
   * Disables (`enabled` false) or enables the subscriptions of `direction`. The slot
   * stays, so nothing is lost and WAL accumulates on the publisher while disabled.
   * Idempotent; disabling a missing subscription does nothing. Uses `admin` on the
   * subscriber. Throws PGSHIFT_ERR_REPLICATION_NOT_SET_UP (409) when enabling a database
   * without subscription, PGSHIFT_ERR_PG_CONNECT / PGSHIFT_ERR_REPLICATION_DDL.
   */
  setEnabled(direction: Direction, enabled: boolean): Promise<void>;

  /**
   * Removes `direction`: disables and drops each subscription, then drops its slot on
   * the publisher (waiting briefly until the walsender lets go). The publication stays
   * (it costs nothing without a slot and a later setup reuses it). Idempotent: what is
   * already gone is skipped. Uses `admin` on the subscriber and `pgshift` (REPLICATION)
   * on the publisher. Throws PGSHIFT_ERR_REPLICATION_SLOT_LEFT (502) when a slot could
   * not be dropped (it would keep WAL on the publisher forever; repeat the call), and
   * connection/DDL errors as setEnabled.
   */
  drop(direction: Direction): Promise<DropReport>;

  /**
   * Reads the state of `direction` on both ends. Read-only; never throws for an
   * unreachable end or a missing object: those are listed in `problems` (and the
   * fields that could not be read are null). Uses `pgshift` on both sides.
   */
  state(direction: Direction): Promise<ReplicationState>;

  /**
   * Measures the lag of `direction` and then writes the next heartbeat row on the
   * publisher, so call it once per sampling interval. Seconds are the age of the
   * oldest heartbeat this process wrote that the subscriber does not show yet: 0 when
   * the latest has arrived, growing with time while apply is stalled even though no
   * new heartbeat arrives. The first reading of a process has `seconds` null (no
   * heartbeat of its own written yet). Never throws: unreadable values are null with
   * `error`. Uses `pgshift` on both sides.
   */
  lag(direction: Direction): Promise<LagReading>;

  /**
   * Sets every sequence of each database on the subscriber side to at least the
   * publisher side's value: all sequences (owned by a column, identity or free),
   * `is_called` respected, never moving a target backwards, plus `margin` increments
   * when given (default 0). One round trip per database to read, one to set. Idempotent. Uses `admin` on
   * both sides (reading a sequence and setval need privileges on it). Throws
   * PGSHIFT_ERR_SEQUENCE_MISSING (409) after copying the others when the target lacks
   * a sequence, PGSHIFT_ERR_PG_CONNECT / PGSHIFT_ERR_REPLICATION_QUERY.
   */
  copySequences(direction: Direction, options?: { margin?: number }): Promise<SequenceCopyReport>;

  /**
   * What the subscriber of `direction` lacks that a cutover would trip over after the
   * freeze: an extension installed on the publisher's database and not on the
   * subscriber's, an application role (configured, or found as for the freeze) or a
   * role owning objects or holding privileges on the publisher that the subscriber has
   * not, a sequence or a published table missing on the subscriber. Read-only. Uses
   * `admin` on both sides. Throws PGSHIFT_ERR_PG_CONNECT / PGSHIFT_ERR_REPLICATION_QUERY.
   */
  parity(direction: Direction): Promise<ParityReport>;

  /**
   * Compares every published table of each database between the two ends of
   * `direction`, both read at once: exact counts for tables estimated at up to
   * `exactRowLimit` rows, the largest primary key value for larger ones (tables without
   * a single-column key are `unchecked`). pgshift's own tables are left out. Meant for
   * the moment both ends hold the same rows (writes frozen, subscriber caught up).
   * Read-only. Uses `admin` on both sides. Throws PGSHIFT_ERR_VALIDATION_TIMEOUT (504)
   * when the budget runs out, PGSHIFT_ERR_PG_CONNECT / PGSHIFT_ERR_REPLICATION_QUERY.
   */
  validate(direction: Direction, options: ValidationOptions): Promise<ValidationReport>;

  /**
   * Freezes application writes on `side`: every application role becomes NOLOGIN and
   * its sessions are terminated and waited for, so new and already open sessions are
   * both refused. Which roles froze is recorded on `side` (pgshift.frozen_roles, in
   * the same transaction as the ALTER ROLE) so `unfreeze` restores exactly those,
   * even after a crash. Idempotent. Cluster-wide (roles are global). Uses `pgshift`.
   * Throws PGSHIFT_ERR_FREEZE_ROLE_NOT_FREEZABLE (409) for a configured role pgshift
   * must not or cannot freeze, PGSHIFT_ERR_FREEZE_SESSIONS_REMAIN (504) when sessions
   * outlive the wait (roles stay frozen; repeat), PGSHIFT_ERR_PG_CONNECT.
   */
  freeze(side: Side): Promise<FreezeReport>;

  /**
   * Gives LOGIN back to exactly the roles `freeze` recorded on `side` and forgets them.
   * Idempotent (nothing recorded: nothing to do). Uses `pgshift`. Throws
   * PGSHIFT_ERR_PG_CONNECT / PGSHIFT_ERR_REPLICATION_QUERY.
   */
  unfreeze(side: Side): Promise<UnfreezeReport>;

  /** The roles `freeze` recorded on `side`; empty when not frozen. Read-only. Uses `pgshift`. Throws as unfreeze. */
  frozenRoles(side: Side): Promise<string[]>;

  /**
   * Terminates the sessions of application roles on `side` so that pools reconnect
   * through DNS; never walsenders, pgshift's own sessions (its login, or an
   * application_name starting with `pgshift`) or the admin's. Does not wait for them
   * to go. Cluster-wide. Safe to repeat. Uses `pgshift` (pg_signal_backend). Throws
   * PGSHIFT_ERR_PG_CONNECT / PGSHIFT_ERR_REPLICATION_QUERY.
   */
  drain(side: Side, options?: DrainOptions): Promise<DrainReport>;

  /**
   * Waits until the subscriber of `direction` has applied everything the publisher
   * committed before the call: writes a fence row with a fresh token into
   * pgshift.heartbeat on the publisher and waits until the subscriber shows it (apply
   * is in commit order). Safe to repeat. Uses `pgshift`. Throws
   * PGSHIFT_ERR_REPLICATION_CATCHUP_TIMEOUT (504) after `timeoutMs`,
   * PGSHIFT_ERR_REPLICATION_NOT_SET_UP (409) when a database has no subscription,
   * PGSHIFT_ERR_PG_CONNECT.
   */
  waitForApplied(direction: Direction, options?: { timeoutMs?: number }): Promise<FenceReport>;

  /**
   * Waits until every slot of `direction` has confirmed `lsn` (default: the publisher's
   * current LSN at the call). Slower than waitForApplied (the subscriber reports its
   * position lazily), but needs no write on the publisher. Uses `pgshift`. Throws
   * PGSHIFT_ERR_REPLICATION_CATCHUP_TIMEOUT (504), PGSHIFT_ERR_REPLICATION_NOT_SET_UP (409).
   */
  waitForLsn(direction: Direction, options?: { lsn?: string; timeoutMs?: number }): Promise<{ lsn: string }>;

  /**
   * Sets or clears `default_transaction_read_only` on each database of `side`: what
   * keeps applications from writing by accident on a receiving side (not a freeze: a
   * session can override it). Affects new sessions only. Idempotent. Uses `admin`.
   */
  setReadOnlyDefault(side: Side, readOnly: boolean): Promise<void>;

  /**
   * What pgshift added for replication and is no longer needed once the way back is
   * closed (finalize): its publication in each database on both sides, and its
   * heartbeat table. The freeze ledger stays (it says which roles a frozen side has
   * NOLOGIN). Call after both directions are dropped. Idempotent. Uses `admin`.
   * Returns what it removed, e.g. `publication pgshift_pub on blue (demo)`.
   */
  removeSupport(): Promise<string[]>;

  /** Closes pooled sessions. Idempotent. */
  close(): Promise<void>;
}
