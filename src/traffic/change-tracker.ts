import type { Clock } from '../clock.js';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';

/**
 * Shared GetChange polling: however many callers wait for one change to be INSYNC (its
 * submitter, the zone gate holding back the next change), ONE loop polls it, with growing
 * pauses, and every poll goes through the account budget (the `poll` function given).
 * The loop runs only while someone waits and stops when the last waiter leaves.
 */

export interface InsyncPolicy {
  /** Longest wait from submission to INSYNC. */
  timeoutMs: number;
  /** First pause between GetChange polls, its growth factor and its ceiling. */
  pollMs: number;
  pollFactor: number;
  pollMaxMs: number;
}

/** One GetChange call: true when the change is INSYNC. May throw (after its own retries). */
export type PollChange = (changeId: string, urgent: boolean, signal: AbortSignal) => Promise<boolean>;

export interface WaitInsyncOptions {
  /** Clock time the change was accepted; the wait ends with PGSHIFT_ERR_DNS_INSYNC_TIMEOUT at submittedAt + timeoutMs. */
  submittedAt: number;
  /** Polls go through the budget as urgent while an urgent waiter waits (a revert's INSYNC is part of its write window). */
  urgent?: boolean;
  signal?: AbortSignal;
}

interface Waiter {
  deadline: number;
  urgent: boolean;
  resolve: (insyncAt: number) => void;
  reject: (err: unknown) => void;
  cleanup: () => void;
}

interface Tracked {
  waiters: Set<Waiter>;
  stop: AbortController;
}

export class ChangeTracker {
  private readonly clock: Clock;
  private readonly policy: InsyncPolicy;
  private readonly poll: PollChange;
  private readonly tracked = new Map<string, Tracked>();
  private readonly insyncSeen = new Map<string, number>();
  private closed = false;

  constructor(options: { clock: Clock; policy: InsyncPolicy; poll: PollChange }) {
    this.clock = options.clock;
    this.policy = options.policy;
    this.poll = options.poll;
  }

  /**
   * Resolves with the clock time the change was seen INSYNC. Joins the poll loop of the
   * change when one runs. Rejects with PGSHIFT_ERR_DNS_INSYNC_TIMEOUT at the deadline (the
   * change stays submitted), with the last poll error when GetChange fails for good, with
   * the signal's reason when it aborts, or PGSHIFT_ERR_ROUTE53_CLOSED.
   */
  waitInsync(changeId: string, options: WaitInsyncOptions): Promise<number> {
    const seen = this.insyncSeen.get(changeId);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.closed) return Promise.reject(closedError());
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<number>((resolve, reject) => {
      let entry = this.tracked.get(changeId);
      const start = !entry;
      if (!entry) {
        entry = { waiters: new Set(), stop: new AbortController() };
        this.tracked.set(changeId, entry);
      }
      const tracked = entry;
      const onAbort = () => {
        this.leave(changeId, tracked, waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        deadline: options.submittedAt + this.policy.timeoutMs,
        urgent: options.urgent === true,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      tracked.waiters.add(waiter);
      if (start) this.run(changeId, tracked);
    });
  }

  /** Stops every poll loop and rejects every waiter with PGSHIFT_ERR_ROUTE53_CLOSED. Idempotent. */
  close(): void {
    this.closed = true;
    for (const [changeId, tracked] of this.tracked) {
      this.tracked.delete(changeId);
      tracked.stop.abort(closedError());
      for (const waiter of tracked.waiters) {
        waiter.cleanup();
        waiter.reject(closedError());
      }
      tracked.waiters.clear();
    }
  }

  /** Records that `changeId` is INSYNC (Route 53 said so when it accepted it). Never throws. */
  noteInsync(changeId: string, at: number): void {
    this.remember(changeId, at);
  }

  private leave(changeId: string, tracked: Tracked, waiter: Waiter): void {
    waiter.cleanup();
    tracked.waiters.delete(waiter);
    if (tracked.waiters.size === 0) {
      tracked.stop.abort(new Error('nobody waits for this change any more'));
      if (this.tracked.get(changeId) === tracked) this.tracked.delete(changeId);
    }
  }

  private run(changeId: string, tracked: Tracked): void {
    this.pollLoop(changeId, tracked).then(
      (insyncAt) => {
        if (this.tracked.get(changeId) === tracked) this.tracked.delete(changeId);
        this.remember(changeId, insyncAt);
        for (const waiter of tracked.waiters) {
          waiter.cleanup();
          waiter.resolve(insyncAt);
        }
        tracked.waiters.clear();
      },
      (err: unknown) => {
        if (this.tracked.get(changeId) === tracked) this.tracked.delete(changeId);
        // Stopped because every waiter left (each was already answered) or by close().
        if (tracked.stop.signal.aborted) return;
        for (const waiter of tracked.waiters) {
          waiter.cleanup();
          waiter.reject(err);
        }
        tracked.waiters.clear();
      },
    );
  }

  private async pollLoop(changeId: string, tracked: Tracked): Promise<number> {
    const stop = tracked.stop.signal;
    let pause = this.policy.pollMs;
    for (;;) {
      this.expireWaiters(changeId, tracked);
      if (tracked.waiters.size === 0) throw stop.reason ?? new Error('no waiters');
      const now = this.clock.now();
      const latest = Math.max(...[...tracked.waiters].map((w) => w.deadline));
      await this.clock.sleep(Math.max(0, Math.min(pause, latest - now)), stop);
      pause = Math.min(pause * this.policy.pollFactor, this.policy.pollMaxMs);
      this.expireWaiters(changeId, tracked);
      if (tracked.waiters.size === 0) throw stop.reason ?? new Error('no waiters');
      const urgent = [...tracked.waiters].some((w) => w.urgent);
      if (await this.poll(changeId, urgent, stop)) return this.clock.now();
    }
  }

  /** Answers the waiters whose deadline has passed with PGSHIFT_ERR_DNS_INSYNC_TIMEOUT. */
  private expireWaiters(changeId: string, tracked: Tracked): void {
    const now = this.clock.now();
    for (const waiter of [...tracked.waiters]) {
      if (now < waiter.deadline) continue;
      waiter.reject(
        new PgshiftError(
          'PGSHIFT_ERR_DNS_INSYNC_TIMEOUT',
          `Route 53 change ${changeId} was not INSYNC ${this.policy.timeoutMs} ms after submission; it is submitted and will still apply`,
          { status: 504, details: { changeId, timeoutMs: this.policy.timeoutMs, waitedMs: now - (waiter.deadline - this.policy.timeoutMs) } },
        ),
      );
      this.leave(changeId, tracked, waiter);
    }
  }

  private remember(changeId: string, insyncAt: number): void {
    this.insyncSeen.set(changeId, insyncAt);
    // Bounded memory: the oldest entries go first (Map keeps insertion order).
    while (this.insyncSeen.size > D.ROUTE53_INSYNC_MEMORY) {
      const oldest = this.insyncSeen.keys().next().value as string;
      this.insyncSeen.delete(oldest);
    }
  }
}

function closedError(): PgshiftError {
  return new PgshiftError('PGSHIFT_ERR_ROUTE53_CLOSED', 'Route 53 change tracking is closed (the service is stopping)', { status: 503 });
}
