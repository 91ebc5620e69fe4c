import type { Clock } from '../clock.js';
import { PgshiftError } from '../errors.js';

/**
 * pgshift's account-wide Route 53 budget: one token bucket per process through which
 * every Route 53 call of every router goes (list, change, get-change, retries included).
 * Route 53 itself gives the whole account a bucket of about 50 refilling at about 10/s
 * (aws-api.md 1.7), shared with every other tool of the account; this bucket is set well
 * under it so that pgshift alone never throttles, however many pairs it runs.
 *
 * Waiters are served in order, except that an urgent one (a revert) takes the next token
 * ahead of every normal one waiting. No timer runs while nobody waits.
 */

export interface BudgetSettings {
  /** Tokens added per second. */
  requestsPerSecond: number;
  /** Tokens the bucket holds at most (and holds when idle). */
  burst: number;
}

/** The bucket's level at a time; pure data. */
export interface BucketLevel {
  tokens: number;
  at: number;
}

/** The level at `now`: refilled at the rate since `level.at`, capped at the burst. Pure. */
export function refillBucket(level: BucketLevel, now: number, settings: BudgetSettings): BucketLevel {
  const elapsed = Math.max(0, now - level.at);
  return { tokens: Math.min(settings.burst, level.tokens + (elapsed * settings.requestsPerSecond) / 1000), at: Math.max(now, level.at) };
}

/** Milliseconds until the bucket holds one whole token; 0 when it does. Pure. */
export function msUntilToken(level: BucketLevel, settings: BudgetSettings): number {
  if (level.tokens >= 1) return 0;
  return Math.ceil(((1 - level.tokens) * 1000) / settings.requestsPerSecond);
}

export interface TakeOptions {
  /** Served before every normal waiter (a revert). */
  urgent?: boolean;
  /** Stops waiting: rejects with the signal's reason and takes no token. */
  signal?: AbortSignal;
}

interface Waiter {
  urgent: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
  cleanup: () => void;
}

export interface BudgetStats {
  /** Tokens handed out since the start. */
  granted: number;
  /** Of which to urgent callers. */
  grantedUrgent: number;
  /** Callers waiting now. */
  waiting: number;
  /** Times a Route 53 Throttling answer emptied the bucket. */
  throttled: number;
}

export class RequestBudget {
  readonly settings: BudgetSettings;
  private readonly clock: Clock;
  private level: BucketLevel;
  private readonly urgent: Waiter[] = [];
  private readonly normal: Waiter[] = [];
  private pumping = false;
  private closed = false;
  private readonly stopPump = new AbortController();
  private readonly counters = { granted: 0, grantedUrgent: 0, throttled: 0 };

  constructor(settings: BudgetSettings, clock: Clock) {
    if (!(settings.requestsPerSecond > 0) || !(settings.burst >= 1)) {
      throw new PgshiftError('PGSHIFT_ERR_CONFIG_INVALID', `Route 53 budget needs requestsPerSecond > 0 and burst >= 1, got ${settings.requestsPerSecond} and ${settings.burst}`, {
        status: 400,
      });
    }
    this.settings = { ...settings };
    this.clock = clock;
    this.level = { tokens: settings.burst, at: clock.now() };
  }

  /**
   * Resolves once the caller may make ONE Route 53 request (the token is spent then).
   * Not idempotent: every call spends a token. Rejects only when `signal` aborts (with its
   * reason) or the budget is closed (PGSHIFT_ERR_ROUTE53_CLOSED).
   */
  take(options: TakeOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const urgent = options.urgent === true;
    // Fast path: a token is there and nobody who ranks at least as high is waiting.
    if (this.urgent.length === 0 && (urgent || this.normal.length === 0) && this.tryTake()) {
      this.count(urgent);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const queue = urgent ? this.urgent : this.normal;
      const onAbort = () => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        urgent,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
      this.startPump();
    });
  }

  /**
   * Route 53 answered Throttling: the account's bucket is empty (other tools spend it too),
   * so ours is emptied as well and refills at its rate. Never throws.
   */
  noteThrottled(): void {
    this.level = { tokens: Math.min(0, this.level.tokens), at: this.clock.now() };
    this.counters.throttled++;
  }

  stats(): BudgetStats {
    return { ...this.counters, waiting: this.urgent.length + this.normal.length };
  }

  /** Rejects every waiter with PGSHIFT_ERR_ROUTE53_CLOSED and stops the pump. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopPump.abort(closedError());
    for (const waiter of [...this.urgent.splice(0), ...this.normal.splice(0)]) {
      waiter.cleanup();
      waiter.reject(closedError());
    }
  }

  private tryTake(): boolean {
    this.level = refillBucket(this.level, this.clock.now(), this.settings);
    if (this.level.tokens < 1) return false;
    this.level = { ...this.level, tokens: this.level.tokens - 1 };
    return true;
  }

  private count(urgent: boolean): void {
    this.counters.granted++;
    if (urgent) this.counters.grantedUrgent++;
  }

  /** One loop at a time hands tokens to waiters as they refill; it ends when nobody waits. */
  private startPump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    this.pump().then(
      () => {
        this.pumping = false;
      },
      () => {
        // Only close() interrupts the sleep, and close() has rejected every waiter.
        this.pumping = false;
      },
    );
  }

  private async pump(): Promise<void> {
    while (!this.closed && this.urgent.length + this.normal.length > 0) {
      if (this.tryTake()) {
        const waiter = (this.urgent.length > 0 ? this.urgent : this.normal).shift()!;
        waiter.cleanup();
        this.count(waiter.urgent);
        waiter.resolve();
        continue;
      }
      await this.clock.sleep(msUntilToken(this.level, this.settings), this.stopPump.signal);
    }
  }
}

function closedError(): PgshiftError {
  return new PgshiftError('PGSHIFT_ERR_ROUTE53_CLOSED', 'the Route 53 budget is closed (the service is stopping)', { status: 503 });
}
