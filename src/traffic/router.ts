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

export interface SetWeightsOptions {
  /** Stored with the change in Route 53 (cut to 256 characters). */
  comment: string;
  /** Called once the change is accepted, before INSYNC: the moment traffic starts to move. */
  onSubmitted?: (changeId: string, at: number) => void;
  /** Stops waiting (for the zone's queue, a retry, INSYNC). A change already submitted stays submitted. */
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
   * observe, setWeights and verify then also check that the records point at them.
   */
  ensureRecords(targets: RecordTargets): Promise<Weights>;

  /**
   * Reads both names. Never changes anything; retries throttling. A name's split is null
   * when its pair is missing or incomplete; `problems` says what is wrong with a name.
   * Throws a PGSHIFT_ERR_ROUTE53_* error only when Route 53 cannot be read.
   */
  observe(): Promise<ObservedWeights>;

  /**
   * Sets the weights of one or both names in ONE change batch and waits until Route 53
   * reports it INSYNC. Safe to repeat (it writes the same weights again). Changes to one
   * hosted zone are serialised within the process. Throws PGSHIFT_ERR_INVALID_WEIGHTS
   * (400, nothing sent) for a split that does not sum to 100 or is 0/0, and
   * PGSHIFT_ERR_DNS_RECORDS_MISSING / _MISSHAPED when the pair is not in place,
   * PGSHIFT_ERR_DNS_INSYNC_TIMEOUT when INSYNC does not come in time (the change is then
   * submitted and will still apply), PGSHIFT_ERR_DNS_ABORTED when `signal` aborts.
   */
  setWeights(desired: Partial<Weights>, options: SetWeightsOptions): Promise<ChangeReport>;

  /** Observes and compares with `desired`, record shape included. Never changes anything. */
  verify(desired: Weights): Promise<VerifyResult>;
}
