import type { Side, Split, Weights } from './model.js';

/**
 * What the controller needs of the world, per pair, as small ports. main.ts adapts the
 * real parts (traffic/, clusters/, replication/, signals/, preflight/) to these; the
 * controller's tick tests use in-memory versions. Nothing here knows of an SDK or pg.
 */

export interface ObservedTraffic {
  reader: Split | null;
  writer: Split | null;
}

export interface TrafficChange {
  changeId: string;
  submittedAt: number;
  insyncAt: number;
  submitMs: number;
  insyncMs: number;
}

export interface PairTraffic {
  /** The weights in Route 53 now; a name is null when its records are missing. May throw. */
  observe(): Promise<ObservedTraffic>;
  /**
   * Sets both names to `weights` in one atomic change batch and waits until INSYNC.
   * Idempotent (UPSERT of the same weights). `onSubmitted` fires once the change is
   * accepted, before the wait. Throws a coded error when the change is refused or
   * does not reach INSYNC in time.
   */
  apply(weights: Weights, comment: string, onSubmitted?: (changeId: string, at: number) => void): Promise<TrafficChange>;
}

export type SignalState = 'healthy' | 'breached' | 'unknown';

/** One signal's latest assessment, as the signals part reports it. */
export interface SignalStatus {
  name: string;
  side: Side | 'both';
  state: SignalState;
  /** Consecutive samples over the limit (the auto-revert trigger). */
  consecutiveBreaches: number;
  /** How many consecutive breaches trigger an auto-revert. */
  breachesToRevert: number;
  /** A breach of this signal reverts at once, whatever the count (replication broken). */
  immediate: boolean;
  /**
   * The assessment's verdict, decided once in signals/: this signal sends traffic back
   * to blue now. `summary` then says why, with the numbers.
   */
  reverts: boolean;
  value: number | null;
  limit: number | null;
  unit: string;
  /** When the newest sample was taken. */
  at: number | null;
  /** Readable summary, e.g. "lag 12.4 s > 5 s for 3 samples". */
  summary: string;
}

export interface ReplicationView {
  direction: string;
  lagSeconds: number | null;
  lagBytes: number | null;
  healthy: boolean | null;
}

export interface PairSignals {
  /** Latest assessment of every signal guarding the pair. Never throws. */
  current(): SignalStatus[];
  /** Replication as last sampled, or null before the first sample. Never throws. */
  replication(): ReplicationView | null;
  /** Called after every sampling round; returns an unsubscribe function. */
  onSample(listener: () => void): () => void;
}

export interface ClusterCheck {
  ok: boolean;
  problems: string[];
}

export interface PairClusters {
  /** Both clusters are the expected majors, available and reachable. Never throws. */
  check(): Promise<ClusterCheck>;
  /** Both clusters and the last snapshot, as the API shows them. Never throws. */
  view(): Promise<unknown>;
}

export interface PreflightStatus {
  ok: boolean;
  blockers: number;
  at: number;
}

export interface PairPreflight {
  /** The last preflight report's verdict, or null when none was run. May throw. */
  last(): Promise<PreflightStatus | null>;
}

export interface PairSessions {
  /**
   * Ends application sessions on one side (never replication or pgshift's own), so
   * that pools reconnect through DNS. Returns how many were ended. May throw.
   */
  drain(side: Side): Promise<number>;
}

export interface PairWorld {
  traffic: PairTraffic;
  signals: PairSignals;
  clusters: PairClusters;
  preflight: PairPreflight;
  sessions: PairSessions;
}
