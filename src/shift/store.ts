import type { AuditEvent, Intent, IntentAction, IntentOptions, IntentStatus, LeaderInfo, NewAuditEvent, PairState } from './state.js';

export type PairPatch = Partial<Pick<PairState, 'stage' | 'paused' | 'halted' | 'haltReason' | 'stageEnteredAt' | 'transition' | 'lastTransition' | 'drain'>>;

export interface NewIntent {
  pair: string;
  action: IntentAction;
  expectedStage: string | null;
  reason: string | null;
  actor: string;
  options: IntentOptions;
}

export interface EventPage {
  events: AuditEvent[];
  /** Pass as `before` for the next (older) page; null when this is the last page. */
  nextBefore: number | null;
}

/**
 * pgshift's durable state: one row per pair (stage, flags, the transition in flight,
 * a version for optimistic concurrency), the operators' intents, the append-only
 * audit log, the last preflight report. A restarted or replaced process reads
 * everything it needs from here.
 */
export interface ShiftStore {
  /** Creates the pair at `stage` (the first of its plan) unless it exists; returns its state. Idempotent. */
  ensurePair(id: string, stage: string, now: number): Promise<PairState>;

  /** The pair's state, or null when it was never created. */
  getPair(id: string): Promise<PairState | null>;

  listPairs(): Promise<PairState[]>;

  /**
   * Applies `patch` if the stored version still is `expectedVersion`, bumping it, and
   * appends `event` (if given) in the same transaction. Throws PgshiftError
   * PGSHIFT_ERR_STATE_CONFLICT (409) when someone else changed the pair meanwhile.
   */
  updatePair(id: string, expectedVersion: number, patch: PairPatch, now: number, event?: NewAuditEvent): Promise<PairState>;

  /** Records a pending intent (and its audit event) and returns it. */
  createIntent(intent: NewIntent, now: number): Promise<Intent>;

  /** Pending intents of a pair, oldest first. */
  pendingIntents(pair: string): Promise<Intent[]>;

  getIntent(id: string): Promise<Intent | null>;

  /** Marks an intent finished. Idempotent: finishing a finished intent changes nothing. */
  finishIntent(id: string, status: Exclude<IntentStatus, 'pending'>, result: unknown, now: number): Promise<void>;

  recordEvent(event: NewAuditEvent, now: number): Promise<AuditEvent>;

  /** Audit events of a pair, newest first; `before` is an event id (exclusive). */
  listEvents(pair: string, options: { limit: number; before?: number | undefined }): Promise<EventPage>;

  /** Events of a pair with an id above `afterId`, oldest first (for streaming). */
  eventsAfter(pair: string, afterId: number, limit: number): Promise<AuditEvent[]>;

  savePreflightReport(pair: string, report: unknown, now: number): Promise<void>;

  lastPreflightReport(pair: string): Promise<unknown | null>;

  /** Who holds the leader lease as last written by the leader, or null. */
  leader(): Promise<LeaderInfo | null>;

  /** Written by the leader every tick. */
  recordLeader(holder: string, since: number, now: number): Promise<void>;

  close(): Promise<void>;
}


/**
 * Only one running copy of pgshift acts; the others serve reads. The leader is whoever
 * holds an advisory lock on a dedicated session of the state database. The session
 * *is* the lease: when the leader dies, PostgreSQL drops its connection and the lock
 * with it; when the leader loses the connection, it stops acting at once.
 */
export interface LeaderLease {
  /** Tries to become (or stay) the leader; true when this process holds the lease now. Never throws. */
  tryAcquire(): Promise<boolean>;
  /** Whether the lease is held, confirmed with the database right now. Never throws. */
  confirm(): Promise<boolean>;
  /** The last known answer, without asking the database. */
  readonly held: boolean;
  /** Whether the last attempt to reach the state database got an answer (false: unreachable). */
  readonly reachable: boolean;
  /** Emitted with a reason when a held lease is lost. */
  on(event: 'lost', listener: (reason: string) => void): this;
  /** Emitted when another process let go of the lease: worth trying now rather than at the next tick. */
  on(event: 'released', listener: () => void): this;
  /** Lets go of the lease (a stop), telling the others at once. */
  release(): Promise<void>;
}
