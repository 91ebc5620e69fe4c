import type { Clock } from '../clock.js';

/**
 * Retries with exponential backoff and full jitter (a random pause between 0 and
 * min(max, base * 2^(attempt-1))), so that many clients throttled together do not come
 * back together. pgshift runs its own loop instead of the SDK's retry strategy: the
 * pauses use the injected clock and honour an AbortSignal, every retry is logged with its
 * cause, the attempt count lands in the change report, and tests set tiny delays.
 */
export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface RetryOptions {
  policy: RetryPolicy;
  clock: Clock;
  random: () => number;
  isRetryable: (err: unknown) => boolean;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Thrown when a call failed for good: `cause` is the last error, `attempts` how many were made. */
export class RetryFailure extends Error {
  readonly attempts: number;
  readonly retryable: boolean;

  constructor(cause: unknown, attempts: number, retryable: boolean) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'RetryFailure';
    this.attempts = attempts;
    this.retryable = retryable;
  }
}

/** The pause before attempt `attempt + 1`, given `attempt` failed ones (1-based). Pure. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

export async function callWithRetry<T>(call: (attempt: number) => Promise<T>, options: RetryOptions): Promise<{ value: T; attempts: number }> {
  const { policy, clock, signal } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await call(attempt), attempts: attempt };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const retryable = options.isRetryable(err);
      if (!retryable || attempt >= policy.maxAttempts) throw new RetryFailure(err, attempt, retryable);
      const delayMs = backoffDelay(attempt, policy, options.random);
      options.onRetry?.(err, attempt, delayMs);
      await clock.sleep(delayMs, signal);
    }
  }
}
