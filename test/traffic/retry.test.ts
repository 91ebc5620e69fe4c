import t from 'tap';
import type { Clock } from '../../src/clock.js';
import { backoffDelay, callWithRetry, RetryFailure } from '../../src/traffic/retry.js';
import { isRetryableRoute53Error, wrapRoute53Error } from '../../src/traffic/route53-errors.js';

const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1_000 };

/** A clock whose sleeps are recorded and take no time. */
function recordingClock(): Clock & { slept: number[] } {
  const slept: number[] = [];
  let now = 0;
  return {
    slept,
    now: () => now,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      slept.push(ms);
      now += ms;
    },
  };
}

const sdkError = (name: string, status: number) => Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status, requestId: 'req-1' } });

t.test('backoff is exponential with full jitter, capped', async (t) => {
  t.same([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, policy, () => 0.999999)), [99, 199, 399, 799, 999, 999]);
  t.same([1, 2, 3].map((a) => backoffDelay(a, policy, () => 0)), [0, 0, 0], 'the jitter reaches down to 0');
  t.equal(backoffDelay(2, policy, () => 0.5), 100);
});

t.test('retries what is retryable, up to maxAttempts, and reports the attempts', async (t) => {
  const clock = recordingClock();
  let calls = 0;
  const out = await callWithRetry(
    async () => {
      if (++calls < 3) throw sdkError('Throttling', 400);
      return 'done';
    },
    { policy, clock, random: () => 0.999999, isRetryable: isRetryableRoute53Error },
  );
  t.same(out, { value: 'done', attempts: 3 });
  t.same(clock.slept, [99, 199]);

  const giveUp = recordingClock();
  const err = await callWithRetry(async () => Promise.reject(sdkError('ServiceUnavailable', 503)), {
    policy,
    clock: giveUp,
    random: () => 0.5,
    isRetryable: isRetryableRoute53Error,
  }).catch((e: unknown) => e);
  t.ok(err instanceof RetryFailure);
  t.equal((err as RetryFailure).attempts, 5);
  t.equal(giveUp.slept.length, 4, 'no pause after the last attempt');

  const verdict = await callWithRetry(async () => Promise.reject(sdkError('InvalidChangeBatch', 400)), {
    policy,
    clock: recordingClock(),
    random: () => 0.5,
    isRetryable: isRetryableRoute53Error,
  }).catch((e: unknown) => e);
  if (!(verdict instanceof RetryFailure)) throw new Error('expected a RetryFailure');
  t.equal(verdict.attempts, 1, 'not retried');
  t.equal(verdict.retryable, false);

  const controller = new AbortController();
  controller.abort(new Error('stop'));
  await t.rejects(
    callWithRetry(async () => Promise.reject(sdkError('Throttling', 400)), { policy, clock: recordingClock(), random: () => 0.5, isRetryable: () => true, signal: controller.signal }),
    { message: 'stop' },
  );
});

t.test('Route 53 errors: what is retried, and the coded errors pgshift raises', async (t) => {
  for (const [name, status] of [['Throttling', 400], ['PriorRequestNotComplete', 400], ['ThrottlingException', 400], ['Whatever', 429], ['InternalFailure', 500], ['ServiceUnavailable', 503], ['BadGateway', 502], ['TimeoutError', 0]] as const) {
    t.ok(isRetryableRoute53Error(sdkError(name, status)), `${name} ${status} is retried`);
  }
  t.ok(isRetryableRoute53Error(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), 'a refused connection is retried');
  for (const [name, status] of [['InvalidChangeBatch', 400], ['InvalidInput', 400], ['NoSuchHostedZone', 404], ['AccessDenied', 403]] as const) {
    t.notOk(isRetryableRoute53Error(sdkError(name, status)), `${name} is not retried`);
  }
  const cases = [
    ['Throttling', 400, 'PGSHIFT_ERR_ROUTE53_THROTTLED', 503],
    ['PriorRequestNotComplete', 400, 'PGSHIFT_ERR_ROUTE53_THROTTLED', 503],
    ['ServiceUnavailable', 503, 'PGSHIFT_ERR_ROUTE53_UNAVAILABLE', 503],
    ['InvalidChangeBatch', 400, 'PGSHIFT_ERR_ROUTE53_CHANGE_REJECTED', 409],
    ['NoSuchHostedZone', 404, 'PGSHIFT_ERR_ROUTE53_NO_SUCH_ZONE', 502],
    ['AccessDenied', 403, 'PGSHIFT_ERR_ROUTE53_ACCESS_DENIED', 502],
    ['SomethingNew', 400, 'PGSHIFT_ERR_ROUTE53_FAILED', 502],
  ] as const;
  for (const [name, status, code, httpStatus] of cases) {
    const cause = sdkError(name, status);
    const err = wrapRoute53Error(cause, 'ChangeResourceRecordSets on zone Z1', 3);
    t.match(err, { code, status: httpStatus, cause, details: { awsCode: name, httpStatus: status, requestId: 'req-1', attempts: 3 } }, `${name} -> ${code}`);
    t.match(err.message, `Route 53 ChangeResourceRecordSets on zone Z1 failed after 3 attempts: ${name}: ${name} happened`);
  }
});
