import type { Side, Weights } from './model.js';
import type { ClustersView, ObservedTraffic, PreflightStatus, ReplicationView, SignalStatus } from './view-schemas.js';

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

export type { ObservedTraffic, PreflightStatus, ReplicationView, SignalStatus };
