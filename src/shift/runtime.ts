import type { Clock } from '../clock.js';
import * as D from '../defaults.js';
import { describeError, isPgshiftError, PgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PairPlan } from './decide.js';
import type { ClusterCheck, PairWorld } from './ports.js';
import type { NewAuditEvent, Outcome, PairState } from './state.js';
import type { PairPatch, ShiftStore } from './store.js';
import type { ClustersView, ObservedTraffic, PreflightStatus, PreparationProgress } from './view-schemas.js';

/** A configured pair: its plan, its records' TTL and the world it acts on. */
export interface ControlledPair extends PairPlan {
  /** The records' TTL: how long clients may keep using a side after it stops getting traffic. */
  ttlSeconds: number;
  world: PairWorld;
}

/**
 * What this process knows of one pair between ticks: the stored state as last read or
 * written, what was last seen of the world, and the pair's own lock so that its work is
 * never interleaved with itself. The API's read model and the revert fast path read
 * from here without asking the store or AWS.
 */
export class PairRuntime {
  state: PairState | null = null;
  observed: ObservedTraffic | null = null;
  clusters: ClusterCheck | null = null;
  clustersView: ClustersView | null = null;
  checkedAt: number | null = null;
  preflight: PreflightStatus | null = null;
  preflightAt: number | null = null;
  /** A drift already paused the pair; reported once until Route 53 matches again. */
  driftReported = false;
  lastError: string | null = null;
  /** Aborts the transition in flight when an auto-revert overtakes it. */
  inflight: AbortController | null = null;
  /** An auto-revert is under way: its change went out, its bookkeeping may still be pending. */
  reverting = false;
  /** Transition attempts that failed in a row, and when the next may run. */
  failures = 0;
  retryAt: number | null = null;
  /** A look for a revert that cancels the transition in flight is under way. */
  checkingCancel = false;
  /** The newest progress of a long step of the transition in flight (journaled only every few seconds). */
  progress: { transitionId: string; step: string; progress: PreparationProgress } | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(readonly pair: ControlledPair) {}

  get id(): string {
    return this.pair.id;
  }

  /** Whether work for this pair is running or queued. */
  get busy(): boolean {
    return this.pending > 0;
  }

  /** Runs `work` once the pair's earlier work has settled; its outcome is the caller's. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    this.pending += 1;
    const run = this.tail.then(work, work);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run.finally(() => {
      this.pending -= 1;
    });
  }

  /** The stored state, or a coded error before the first read. */
  requireState(): PairState {
    if (!this.state) throw new PgshiftError('PGSHIFT_ERR_STATE', `pair ${this.id} has not been read from the state store yet`, { status: 503 });
    return this.state;
  }
}

export interface AuditFields {
  action: string;
  from?: string | null;
  to?: string | null;
  outcome: Outcome;
  reason?: string | null;
  details?: unknown;
  actor: string;
}

export function auditEvent(pair: string, f: AuditFields): NewAuditEvent {
  return {
    pair,
    actor: f.actor,
    action: f.action,
    fromStage: f.from ?? null,
    toStage: f.to ?? null,
    outcome: f.outcome,
    reason: f.reason ?? null,
    details: f.details ?? null,
  };
}

export interface SaveOptions {
  /**
   * Keep trying until the store takes it (bookkeeping of traffic that already moved):
   * a dead store delays the record, never the revert. Stops when `signal` aborts.
   */
  retry?: boolean;
  signal?: AbortSignal;
  /**
   * The write is about this transition (null: about starting one where none is in
   * flight). Read again after another process changed the pair, it is applied only
   * while the stored pair still has that transition in flight: a process that lost the
   * lease and comes back must not overwrite what the new leader journaled or landed.
   */
  transition?: string | null;
}

/**
 * Writes a pair's state through the store, against the version this process last saw,
 * and keeps the runtime's copy current. With `retry`, a failed write is tried again
 * with growing pauses; a version conflict reads the pair again and re-applies the patch
 * (patches hold absolute values, so applying one twice is harmless).
 */
export class PairStateWriter {
  constructor(
    private readonly store: ShiftStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Ends every retry: the process is stopping (what is not stored then is found in the journal or Route 53 on the next start). */
    private readonly lifetime: AbortSignal,
  ) {}

  async save(runtime: PairRuntime, patch: PairPatch, event?: NewAuditEvent, options: SaveOptions = {}): Promise<PairState> {
    let pause = D.STORE_RETRY_MIN_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        if (attempt > 1 || !runtime.state) runtime.state = (await this.store.getPair(runtime.id)) ?? runtime.state;
        const state = runtime.requireState();
        if (options.transition !== undefined && (state.transition?.id ?? null) !== options.transition) {
          throw new PgshiftError('PGSHIFT_ERR_OVERTAKEN', `pair ${runtime.id}: another process changed the transition in flight meanwhile; not saving over it`, { status: 409 });
        }
        runtime.state = await this.store.updatePair(runtime.id, state.version, patch, this.clock.now(), event);
        return runtime.state;
      } catch (err) {
        if (!options.retry || options.signal?.aborted || this.lifetime.aborted || isPgshiftError(err, 'PGSHIFT_ERR_OVERTAKEN')) throw err;
        const conflict = isPgshiftError(err, 'PGSHIFT_ERR_STATE_CONFLICT');
        this.log.warn({ pair: runtime.id, attempt, err: describeError(err) }, conflict ? 'state changed meanwhile; saving again' : 'cannot save the pair yet; retrying');
        if (!conflict) {
          await this.clock.sleep(pause, options.signal ? AbortSignal.any([options.signal, this.lifetime]) : this.lifetime);
          pause = Math.min(pause * 2, D.STORE_RETRY_MAX_MS);
        }
      }
    }
  }
}
