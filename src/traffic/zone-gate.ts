import { PgshiftError } from '../errors.js';

/**
 * What is serialised per hosted zone, and why (issue 11, item 4).
 *
 * Route 53 refuses a ChangeResourceRecordSets with PriorRequestNotComplete while it is
 * "still processing a prior request" for the same zone (aws-api.md 1.7); the lab's
 * stand-in models that strictly, refusing every change while an earlier one to the zone is
 * PENDING (src/local/route53/store.ts `hasPendingChange`). What must never happen is two
 * of OUR submissions to one zone racing each other into that refusal and its backoff. So:
 *
 * - SUBMISSION is serialised per zone: one ChangeResourceRecordSets of this process in
 *   flight per zone at a time (the lease below), held only for one attempt, never for the
 *   INSYNC wait. Between retries the holder gives the gate back (and gets it back at the
 *   front of its class), so an urgent change that arrives meanwhile goes next; a normal
 *   holder still waiting for its budget token gives it back at once for an urgent one.
 * - A NORMAL change also waits until this process's previous change to the zone is seen
 *   INSYNC (through the shared GetChange polling, which the previous change's own waiter
 *   usually drives anyway): that is when Route 53 will take the next one, so waiting costs
 *   no refused calls and keeps one pair's step from colliding with another's.
 * - An URGENT change (a revert) does not wait for anyone's INSYNC. It takes the gate ahead
 *   of every normal waiter and is submitted at once; only if Route 53 itself answers
 *   PriorRequestNotComplete does it wait, retrying with backoff (Route 53 then truly
 *   requires it, and nothing we could do makes it sooner).
 * - Changes to the SAME records (one router) are not otherwise ordered: every batch is an
 *   UPSERT of complete values, so the last one submitted wins. The router makes sure that
 *   "last" is the revert: an urgent submit supersedes that router's normal submits still
 *   waiting here (they fail with PGSHIFT_ERR_DNS_SUPERSEDED instead of going out after it).
 */

export interface GateLease {
  /** Gives the gate to the next waiter. Idempotent. */
  release(): void;
  /**
   * Calls `listener` (at once, or later, at most once) when an urgent caller waits for the
   * gate while this normal holder has it: a holder still waiting for a budget token gives
   * the gate back then and queues again. Returns the function that stops listening.
   */
  onUrgentWaiting(listener: () => void): () => void;
}

export interface AcquireOptions {
  urgent?: boolean;
  /** Queue at the front of the caller's class (a retry that gave the gate back). */
  front?: boolean;
  /** Rejected with its reason while waiting; the queue stays intact for the others. */
  signal?: AbortSignal;
  /** Checked when the gate is about to be granted; a non-null error rejects the waiter instead. */
  stillWanted?: () => Error | null;
}

/** Waits until `changeId` is INSYNC; any settlement (even a failure) opens the gate for normal changes again. */
export type AwaitInsync = (changeId: string, submittedAt: number) => Promise<unknown>;

interface Waiter {
  urgent: boolean;
  stillWanted: (() => Error | null) | undefined;
  resolve: (lease: GateLease) => void;
  reject: (err: unknown) => void;
  cleanup: () => void;
}

export class ZoneGate {
  readonly zoneId: string;
  private readonly awaitInsync: AwaitInsync;
  private held = false;
  /** The holder's wish to hear of an urgent waiter (normal holders only). */
  private holder: { urgent: boolean; listener: (() => void) | null } | null = null;
  private readonly urgent: Waiter[] = [];
  private readonly normal: Waiter[] = [];
  /** This process's last accepted change to the zone, until it is seen INSYNC. */
  private pending: { changeId: string; submittedAt: number; watching: boolean } | null = null;

  constructor(zoneId: string, awaitInsync: AwaitInsync) {
    this.zoneId = zoneId;
    this.awaitInsync = awaitInsync;
  }

  /**
   * Resolves with the lease once the caller may submit: the gate is free and, for a normal
   * caller, no urgent caller waits and the zone's previous change is INSYNC. Rejects with
   * the signal's reason, or with the error `stillWanted` returns.
   */
  acquire(options: AcquireOptions = {}): Promise<GateLease> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<GateLease>((resolve, reject) => {
      const urgent = options.urgent === true;
      const queue = urgent ? this.urgent : this.normal;
      const onAbort = () => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        reject(signal!.reason);
        this.pump();
      };
      const waiter: Waiter = {
        urgent,
        stillWanted: options.stillWanted,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (options.front) queue.unshift(waiter);
      else queue.push(waiter);
      this.pump();
      if (urgent) this.tellHolder();
    });
  }

  /** Route 53 accepted `changeId` for this zone: normal changes wait for its INSYNC. Never throws. */
  notePending(changeId: string, submittedAt: number, insync: boolean): void {
    this.pending = insync ? null : { changeId, submittedAt, watching: false };
    this.pump();
  }

  /** Rejects every caller still waiting with `err`. Never throws. */
  rejectAll(err: unknown): void {
    for (const waiter of [...this.urgent.splice(0), ...this.normal.splice(0)]) {
      waiter.cleanup();
      waiter.reject(err);
    }
  }

  /** True while a submission runs or anyone waits. */
  get busy(): boolean {
    return this.held || this.urgent.length + this.normal.length > 0;
  }

  private pump(): void {
    while (!this.held) {
      const waiter = this.next();
      if (!waiter) return;
      waiter.cleanup();
      const unwanted = waiter.stillWanted?.() ?? null;
      if (unwanted) {
        waiter.reject(unwanted);
        continue;
      }
      this.held = true;
      const holder = { urgent: waiter.urgent, listener: null as (() => void) | null };
      this.holder = holder;
      let released = false;
      waiter.resolve({
        release: () => {
          if (released) return;
          released = true;
          this.held = false;
          if (this.holder === holder) this.holder = null;
          this.pump();
        },
        onUrgentWaiting: (listener) => {
          if (released || holder.urgent) return () => undefined;
          holder.listener = listener;
          if (this.urgent.length > 0) this.tellHolder();
          return () => {
            if (holder.listener === listener) holder.listener = null;
          };
        },
      });
    }
  }

  private tellHolder(): void {
    const holder = this.holder;
    if (!this.held || !holder || holder.urgent || !holder.listener) return;
    const listener = holder.listener;
    holder.listener = null;
    listener();
  }

  private next(): Waiter | undefined {
    if (this.urgent.length > 0) return this.urgent.shift();
    if (this.normal.length === 0) return undefined;
    if (this.pending) {
      this.watchPending();
      return undefined;
    }
    return this.normal.shift();
  }

  /** Starts waiting for the pending change's INSYNC once; any outcome opens the gate. */
  private watchPending(): void {
    const pending = this.pending;
    if (!pending || pending.watching) return;
    pending.watching = true;
    const open = () => {
      if (this.pending === pending) this.pending = null;
      this.pump();
    };
    this.awaitInsync(pending.changeId, pending.submittedAt).then(open, open);
  }
}

/** `/hostedzone/Z...` or `Z...` -> `Z...`. */
export function zoneKey(zoneId: string): string {
  return zoneId.replace(/^\/?hostedzone\//, '');
}

export function supersededError(comment: string): PgshiftError {
  return new PgshiftError(
    'PGSHIFT_ERR_DNS_SUPERSEDED',
    `the change "${comment}" was not submitted: an urgent change to the same records (a revert) was submitted after it`,
    { status: 409, details: { comment } },
  );
}
