import Type from 'typebox';
import { WeightsSchema, type RecordKind, type Side, type Split, type Weights } from '../shift/model.js';

/**
 * The traffic port: how the controller reads and moves the share of queries that each
 * of a pair's two DNS names sends to blue and to green. pgshift works in percent.
 */

/** CNAME values (cluster endpoints) each record points at. */
export interface RecordTargets {
  reader: Record<Side, string>;
  writer: Record<Side, string>;
}

/** One record set found at a name, whatever its shape. */
export interface ObservedRecord {
  type: string;
  setIdentifier: string | null;
  weight: number | null;
  ttl: number | null;
  values: string[];
  /** Set for alias records, which pgshift never creates. */
  aliasTarget: string | null;
}

/** What one name looks like now. */
export interface ObservedName {
  name: string;
  /** Share of traffic per side as Route 53 answers it; null when the blue/green pair is missing or incomplete. */
  split: Split | null;
  /** The raw Route 53 weights of the pair; null as for `split`. */
  recordWeights: Record<Side, number> | null;
  records: ObservedRecord[];
  /** Why the records are not the pair pgshift manages; empty when they are. */
  problems: string[];
}

export interface ObservedWeights {
  reader: Split | null;
  writer: Split | null;
  names: Record<RecordKind, ObservedName>;
  observedAt: number;
}

export const ChangeReportSchema = Type.Object({
  changeId: Type.String(),
  comment: Type.String(),
  weights: Type.Partial(WeightsSchema),
  /** Clock time the change was accepted (PENDING). */
  submittedAt: Type.Number(),
  /** Clock time it was seen INSYNC. */
  insyncAt: Type.Number(),
  /** First submit attempt -> accepted, retries included. */
  submitMs: Type.Number(),
  /** Accepted -> seen INSYNC. */
  insyncMs: Type.Number(),
  /** Time spent waiting behind other changes to the same hosted zone. */
  queuedMs: Type.Number(),
  /** ChangeResourceRecordSets attempts (1 = no retry). */
  attempts: Type.Integer({ minimum: 1 }),
});
export type ChangeReport = Type.Static<typeof ChangeReportSchema>;

/** A change Route 53 has accepted (PENDING or already INSYNC); what `waitInsync` follows. */
export interface SubmittedChange {
  changeId: string;
  comment: string;
  weights: Partial<Weights>;
  urgent: boolean;
  /** Clock time Route 53 accepted the change: the moment traffic starts to move. */
  submittedAt: number;
  /** Gate granted -> accepted: budget waits and retries included. */
  submitMs: number;
  /** submit() called -> gate granted: waiting behind other changes to the same hosted zone. */
  queuedMs: number;
  /** ChangeResourceRecordSets attempts (1 = no retry). */
  attempts: number;
  /** Status in Route 53's answer to the change. */
  status: 'PENDING' | 'INSYNC';
}

export interface SubmitOptions {
  /** Stored with the change in Route 53 (cut to 256 characters). */
  comment: string;
  /**
   * A revert: reads nothing from Route 53 first (UPSERTs the values the router already
   * knows), takes the account budget's next token and the zone's gate ahead of every
   * normal change, does not wait for another change's INSYNC, and supersedes this
   * router's normal submits still waiting.
   */
  urgent?: boolean;
  /** Stops waiting (for the zone's gate, the budget, a retry). A change already accepted stays accepted. */
  signal?: AbortSignal;
}

export interface SetWeightsOptions extends SubmitOptions {
  /** Called once the change is accepted, before INSYNC: the moment traffic starts to move. */
  onSubmitted?: (changeId: string, at: number) => void;
}

export interface ObserveOptions {
  /**
   * How old (by the start of the zone's listing) the weights may be. 0, the default, asks
   * for a listing that starts now or later; the controller passes the account's
   * `observeMs`, so that every pair of a zone is served by one listing per round.
   */
  maxAgeMs?: number;
  signal?: AbortSignal;
}

export interface VerifyResult {
  ok: boolean;
  observed: ObservedWeights;
  /** One line per mismatch, e.g. "reader: green 0, expected 10"; empty when ok. */
  differences: string[];
}

export interface TrafficRouter {
  /**
   * Makes sure both names hold the blue/green weighted pair pointing at `targets` with
   * the configured TTL, creating a name's pair at blue 100 / green 0 when the name has no
   * records at all. Idempotent: existing pairs keep their weights. Throws
   * PGSHIFT_ERR_DNS_RECORDS_MISSHAPED (changing nothing) when a name holds anything else,
   * PGSHIFT_ERR_DNS_TARGETS_INVALID for bad targets, and a PGSHIFT_ERR_ROUTE53_* error
   * when Route 53 fails. Returns the weights observed afterwards. The targets are kept:
   * observe and verify then also check that the records point at them, and submit writes
   * them without reading Route 53 first.
   */
  ensureRecords(targets: RecordTargets): Promise<Weights>;

  /**
   * Both names as the hosted zone's shared listing shows them: from the zone's latest
   * round when it started at most `maxAgeMs` ago, else from the round in flight or the
   * next one (shared with every other pair in the zone). Never changes anything. A name's
   * split is null when its pair is missing or incomplete; `problems` says what is wrong.
   * Throws a PGSHIFT_ERR_ROUTE53_* error only when Route 53 cannot be read, the signal's
   * reason when it aborts, PGSHIFT_ERR_ROUTE53_CLOSED after close.
   */
  observe(options?: ObserveOptions): Promise<ObservedWeights>;

  /**
   * The weights of the zone's latest listing that covered this router's names, or null
   * when there is none yet. Memory only: never a Route 53 call, never throws.
   */
  lastObserved(): ObservedWeights | null;

  /**
   * Submits the weights of one or both names in ONE change batch (UPSERTs of complete
   * records) and resolves once Route 53 accepted it; does not wait for INSYNC. Not
   * idempotent in Route 53's sense (each call is a new change) but safe to repeat: the
   * same weights are written again. A normal submit checks the records' shape against the
   * zone's last listing in memory (reading one only when there is none) and waits until
   * this process's previous change to the zone is INSYNC; an urgent one (a revert) reads
   * nothing and waits for no one (see SubmitOptions.urgent). Throws
   * PGSHIFT_ERR_INVALID_WEIGHTS (400, nothing sent) for a split that does not sum to 100
   * or is 0/0; PGSHIFT_ERR_DNS_RECORDS_MISSING / _MISSHAPED (normal only) when the pair is
   * not in place; PGSHIFT_ERR_DNS_SUPERSEDED when an urgent submit of this router came
   * after it before it went out; PGSHIFT_ERR_ROUTE53_* when Route 53 refuses or fails;
   * PGSHIFT_ERR_DNS_ABORTED when `signal` aborts (nothing was accepted then).
   */
  submit(desired: Partial<Weights>, options: SubmitOptions): Promise<SubmittedChange>;

  /**
   * Waits until Route 53 reports the change INSYNC (polling GetChange, shared with every
   * other waiter on it, through the budget). Idempotent: may be called any number of
   * times, also after it resolved. Throws PGSHIFT_ERR_DNS_INSYNC_TIMEOUT when INSYNC does
   * not come in time after submission (the change still applies),
   * PGSHIFT_ERR_DNS_ABORTED when `signal` aborts, PGSHIFT_ERR_ROUTE53_* when GetChange
   * fails for good.
   */
  waitInsync(change: SubmittedChange, options?: { signal?: AbortSignal }): Promise<ChangeReport>;

  /**
   * submit, then onSubmitted, then waitInsync; throws what either throws. Kept for callers
   * that need no gap between the two.
   */
  setWeights(desired: Partial<Weights>, options: SetWeightsOptions): Promise<ChangeReport>;

  /** Observes (as observe, default fresh) and compares with `desired`, record shape included. Never changes anything. */
  verify(desired: Weights, options?: ObserveOptions): Promise<VerifyResult>;

  /** Stops watching this router's names (other routers of the zone are not affected). Idempotent, never throws. */
  close(): void;
}
