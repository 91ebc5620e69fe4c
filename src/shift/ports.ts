import type { Side, Weights } from './model.js';
import type { ClustersView, DatabaseCopyProgress, ObservedTraffic, PreflightStatus, PreparationProgress, ReplicationView, SignalStatus } from './view-schemas.js';

/**
 * What the controller needs of the world, per pair, as small ports. wiring/ adapts the
 * real parts (traffic/, clusters/, replication/, signals/, preflight/) to these; the
 * controller's tick tests use in-memory versions. Nothing here knows of an SDK or pg.
 */

/** A change batch Route 53 accepted. */
export interface SubmittedChange {
  changeId: string;
  /** When Route 53 accepted it: the moment traffic starts to move. */
  submittedAt: number;
  /** From the first attempt to acceptance, waiting for the request budget included. */
  submitMs: number;
}

export interface InsyncChange {
  insyncAt: number;
  /** Accepted -> INSYNC. */
  insyncMs: number;
}

export interface SubmitOptions {
  /** Stored with the change in Route 53. */
  comment: string;
  /** A revert: first in line for the request budget, and nothing is read before it goes. */
  urgent: boolean;
  /** Aborts a submission still waiting to go out; one already sent stays sent. */
  signal?: AbortSignal;
}

export interface PairTraffic {
  /**
   * The weights as of a listing no older than `maxAgeMs`. Listings are shared by every
   * pair of a hosted zone, so this usually costs no call. May throw (Route 53 unreadable).
   */
  observe(maxAgeMs: number): Promise<ObservedTraffic>;
  /**
   * Sets both names to `weights` in one atomic change batch; returns once Route 53
   * accepted it. Idempotent (an UPSERT of the same weights). Throws a coded error when
   * the change is refused, or aborted before it went out.
   */
  submit(weights: Weights, options: SubmitOptions): Promise<SubmittedChange>;
  /** Waits until the change is INSYNC. Throws on timeout (the change still applies) or abort. */
  waitInsync(change: SubmittedChange, signal?: AbortSignal): Promise<InsyncChange>;
}

export interface PairSignals {
  /** Latest assessment of every signal guarding the pair. Never throws. */
  current(): SignalStatus[];
  /** Replication as last sampled, or null before the first sample. Never throws. */
  replication(): ReplicationView | null;
  /** Called after every sampling round; returns an unsubscribe function. */
  onSample(listener: () => void): () => void;
  /** Called as soon as a reading makes a signal revert, before its sampling round ends; returns an unsubscribe function. */
  onBreach(listener: () => void): () => void;
}

export interface ClusterCheck {
  ok: boolean;
  problems: string[];
}

export interface PairClusters {
  /** Both clusters are the expected majors, available and reachable. Never throws. */
  check(): Promise<ClusterCheck>;
  /** Both clusters and the last snapshot, as the API shows them. Never throws. */
  view(): Promise<ClustersView>;
}

/** A blocker preflight found, as the refusal of a preparation lists it. */
export interface PreflightBlocker {
  check: string;
  database: string | null;
  object: string | null;
  message: string;
}

export interface PairPreflight {
  /** The last preflight report's verdict, or null when none was run. May throw. */
  last(): Promise<PreflightStatus | null>;
  /**
   * Runs every check now and stores the report as the pair's last. `prepare`: green is
   * not prepared yet (its databases and schema are what preparing makes). May throw.
   */
  run(phase: 'prepare' | 'prepared', onTrialProgress?: (progress: TrialRestoreProgress) => void): Promise<PreflightStatus & { blockerFindings: PreflightBlocker[] }>;
}

/** The trial restore's progress in one database: pg_dump entries restored of the total. */
export interface TrialRestoreProgress {
  database: string;
  done: number;
  total: number;
}

export interface PairSessions {
  /**
   * Ends application sessions on one side (never replication or pgshift's own), so
   * that pools reconnect through DNS. Returns how many were ended. May throw.
   */
  drain(side: Side): Promise<number>;
}

/** The cutover's limits, from the pair's `cutover` config. */
export interface CutoverSettings {
  maxFreezeMs: number;
  validateBudgetMs: number;
  exactCountMaxRows: number;
  sequenceMargin: number;
  maxLagSeconds: number;
  snapshotMaxAgeMs: number;
  rollbackWindowMs: number;
}

/** Something the receiving side lacks, found before anything is frozen. */
export interface CutoverProblem {
  kind: string;
  database: string | null;
  object: string;
  message: string;
}

export interface CutoverSnapshot {
  id: string;
  /** Epoch ms. */
  createdAt: number;
}

/**
 * What the write cutover does to the two sides of a pair (either direction): wiring
 * adapts replication/ and clusters/ to it. `from` is the side giving up writes. Every
 * method is safe to repeat; each throws coded errors (PgshiftError) and says which.
 */
export interface PairCutover {
  settings: CutoverSettings;
  /** What `to` lacks that `from` has (extensions, roles, sequences, tables); empty when nothing. Read-only. */
  parity(from: Side): Promise<CutoverProblem[]>;
  /** The newest snapshot of `side` pgshift took that is available and no older than `maxAgeMs`; null when none. Read-only. */
  recentSnapshot(side: Side, maxAgeMs: number): Promise<CutoverSnapshot | null>;
  /** Takes (or, for an id that exists, waits for) a snapshot of `side`; throws PGSHIFT_ERR_SNAPSHOT_* on failure. */
  snapshot(side: Side, id: string, signal: AbortSignal): Promise<CutoverSnapshot>;
  /** A name for a new snapshot of `side`. */
  snapshotId(side: Side, now: number): string;
  /** The point-in-time restore window of `side`, ISO times; null where the platform has none. */
  pitr(side: Side): Promise<{ earliest: string | null; latest: string | null } | null>;
  /** Application roles NOLOGIN on `side`, their sessions ended and gone. */
  freeze(side: Side): Promise<{ frozenRoles: string[]; sessionsTerminated: number }>;
  /** LOGIN back to exactly the roles pgshift froze on `side`. */
  unfreeze(side: Side): Promise<{ restoredRoles: string[] }>;
  /** Waits until `to` shows a fence row written on `from` now; PGSHIFT_ERR_REPLICATION_CATCHUP_TIMEOUT past `timeoutMs`. */
  catchUp(from: Side, timeoutMs: number): Promise<{ waitedMs: number }>;
  /** Every sequence of `to` set to at least `from`'s next value plus `margin` increments; PGSHIFT_ERR_SEQUENCE_MISSING when `to` lacks one. */
  copySequences(from: Side, margin: number): Promise<{ copied: number; alreadyAhead: number }>;
  /** Rows compared on both sides within `budgetMs`; PGSHIFT_ERR_VALIDATION_TIMEOUT past it. */
  validate(from: Side, budgetMs: number, exactRowLimit: number): Promise<{ ok: boolean; mismatches: string[]; tables: number; ms: number }>;
  /**
   * Makes `sender` the publishing side: replication into `sender` is dropped (its slot
   * with it, so the other side keeps no WAL for it), then replication from `sender` is
   * set up without a copy, slot first, so no later write on `sender` is missed. The
   * receiving side is made read-only by database default.
   */
  replicateFrom(sender: Side): Promise<void>;
  /** `side` takes writes: its read-only default lifted and its frozen roles given LOGIN back. */
  openWrites(side: Side): Promise<void>;
  /** The way back closed: the reverse subscription and its slot, pgshift's publications and heartbeat tables on both sides. */
  closeWayBack(): Promise<{ dropped: string[] }>;
}

export interface PairWorld {
  traffic: PairTraffic;
  signals: PairSignals;
  clusters: PairClusters;
  preflight: PairPreflight;
  sessions: PairSessions;
  preparation: PairPreparation;
  cutover: PairCutover;
}

export type { DatabaseCopyProgress, ObservedTraffic, PreflightStatus, PreparationProgress, ReplicationView, SignalStatus };

/** What a preparation step records for a resumed run or its undo (journaled with the transition). */
export type StepDetail = Record<string, unknown>;

export interface PreparationContext {
  /** What this step has recorded so far, an interrupted earlier run's notes included. */
  detail: StepDetail;
  /** Journals `detail` (merged into what is recorded) and waits until stored: call it before doing anything undo must know of. */
  note(detail: StepDetail): Promise<void>;
  /** Aborted when the preparation is cancelled, the process stops or loses leadership. */
  signal: AbortSignal;
  /** Reports the initial copy's progress: kept in memory for the API, journaled every few seconds. */
  progress(progress: PreparationProgress): void;
  /**
   * Optional: each reading of the initial copy table by table, for a caller that times
   * tables (the rehearsal). Apart from `progress` because a pair may have thousands of
   * tables: the controller leaves it out, so none of it is journaled or served.
   */
  copyTables?(reading: TableCopyReading): void;
}

/** One table of a subscription as one reading of the initial copy found it. */
export interface TableCopyState {
  database: string;
  /** Schema-qualified, as format('%I.%I') gives it. */
  table: string;
  /** pg_subscription_rel.srsubstate: `i` waiting, `d` copying, `f` copied (14+), `s` synchronized, `r` ready. */
  state: string;
  /** Heap size on blue (what the copy reads), as the copy's figures count it. */
  bytes: number;
}

/** Every table of the pair's subscriptions at one reading. */
export interface TableCopyReading {
  /** Epoch ms of the reading, the same as its PreparationProgress's. */
  at: number;
  tables: TableCopyState[];
}

/**
 * One step of preparing green. `run` is safe to repeat: a crash or a new leader runs it
 * again, and it must then adopt what it (or an operator) already made. `undo` removes
 * exactly what its detail says this step made on green, nothing else, and is as safe to
 * repeat. Errors that repeating cannot cure (a schema that does not restore, a green
 * table that already holds rows) are PgshiftErrors with `details.final` true: the
 * preparation is then rolled back and refused; any other error is retried.
 */
export interface PreparationStep {
  name: string;
  run(ctx: PreparationContext): Promise<StepDetail | void>;
  undo?(detail: StepDetail, signal: AbortSignal): Promise<void>;
}

/** How a pair's green is made ready to follow blue (the `prepare` transition). */
export interface PairPreparation {
  /** Creates the green cluster when the pair's config asks for it; null when green is given. Runs first. */
  createGreen: PreparationStep | null;
  /** pgshift's own login on green; runs before preflight, which needs it. */
  greenLogin: PreparationStep;
  /** Roles, databases, schema, publication, subscription, initial copy, adoption check: after preflight passed. */
  replication(): PreparationStep[];
}
