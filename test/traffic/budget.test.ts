import t from 'tap';
import type { Clock } from '../../src/clock.js';
import { RequestBudget, msUntilToken, refillBucket } from '../../src/traffic/budget.js';

/** A clock whose sleeps move time at once (the budget's pump sleeps on it). */
function manualClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms, signal) => {
      // Time moves after everything already resolved has run, as with a real timer.
      await new Promise((resolve) => setImmediate(resolve));
      if (signal?.aborted) throw signal.reason;
      now += ms;
    },
    advance(ms: number) {
      now += ms;
    },
  };
}

const FIVE = { requestsPerSecond: 5, burst: 20 };

t.test('the bucket refills at its rate and never beyond the burst', async (t) => {
  t.same(refillBucket({ tokens: 0, at: 0 }, 199, FIVE).tokens, 0.995, 'just under one token at 199 ms');
  t.same(refillBucket({ tokens: 0, at: 0 }, 200, FIVE).tokens, 1, 'one token at 200 ms');
  t.same(refillBucket({ tokens: 0, at: 0 }, 201, FIVE).tokens, 1.005);
  t.same(refillBucket({ tokens: 19, at: 0 }, 199, FIVE).tokens, 19.995);
  t.same(refillBucket({ tokens: 19, at: 0 }, 200, FIVE).tokens, 20, 'full at the burst');
  t.same(refillBucket({ tokens: 19, at: 0 }, 60_000, FIVE).tokens, 20, 'and not beyond');
  t.same(refillBucket({ tokens: 3, at: 500 }, 400, FIVE), { tokens: 3, at: 500 }, 'a clock that goes back adds nothing');
  t.equal(msUntilToken({ tokens: 1, at: 0 }, FIVE), 0);
  t.equal(msUntilToken({ tokens: 0.5, at: 0 }, FIVE), 100);
  t.equal(msUntilToken({ tokens: 0, at: 0 }, FIVE), 200);
  t.equal(msUntilToken({ tokens: -1, at: 0 }, FIVE), 400, 'after a Throttling answer: empty and owing');
  t.throws(() => new RequestBudget({ requestsPerSecond: 0, burst: 1 }, manualClock()), { code: 'PGSHIFT_ERR_CONFIG_INVALID' });
});

t.test('the budget hands out the burst, then one token per 1/rate, never faster', async (t) => {
  const clock = manualClock();
  const start = clock.now();
  const budget = new RequestBudget(FIVE, clock);
  const grants: number[] = [];
  await Promise.all(Array.from({ length: 50 }, () => budget.take().then(() => grants.push(clock.now() - start))));
  t.equal(grants.length, 50);
  t.same(grants.slice(0, 20), Array(20).fill(0), 'the burst at once');
  t.equal(grants[20], 200, 'then one per 200 ms');
  t.equal(grants[49], 30 * 200);
  for (let i = 0; i < grants.length; i++) {
    for (let j = i; j < grants.length; j++) {
      const window = grants[j]! - grants[i]!;
      if (j - i + 1 > 20 + (window * 5) / 1000) t.fail(`${j - i + 1} tokens within ${window} ms`);
    }
  }
  t.same(budget.stats(), { granted: 50, grantedUrgent: 0, throttled: 0, waiting: 0 });
});

t.test('an urgent caller takes the next token ahead of every normal one waiting', async (t) => {
  const clock = manualClock();
  const budget = new RequestBudget({ requestsPerSecond: 1, burst: 1 }, clock);
  await budget.take();
  const order: string[] = [];
  const waits = [
    budget.take().then(() => order.push('normal 1')),
    budget.take().then(() => order.push('normal 2')),
    budget.take({ urgent: true }).then(() => order.push('urgent 1')),
    budget.take().then(() => order.push('normal 3')),
    budget.take({ urgent: true }).then(() => order.push('urgent 2')),
  ];
  await Promise.all(waits);
  t.same(order, ['urgent 1', 'urgent 2', 'normal 1', 'normal 2', 'normal 3']);
  t.equal(budget.stats().grantedUrgent, 2);

  // With tokens in hand an urgent caller does not wait at all, even behind nobody.
  clock.advance(1_000);
  let urgentDone = false;
  const urgent = budget.take({ urgent: true }).then(() => (urgentDone = true));
  await Promise.resolve();
  t.ok(urgentDone, 'taken at once');
  await urgent;
});

t.test('a Throttling answer empties the bucket; abort and close leave nothing waiting', async (t) => {
  const clock = manualClock();
  const start = clock.now();
  const budget = new RequestBudget(FIVE, clock);
  budget.noteThrottled();
  await budget.take();
  t.equal(clock.now() - start, 200, 'the burst was gone: the next token came at the rate');
  t.equal(budget.stats().throttled, 1);

  const paused: Clock = { now: () => clock.now(), sleep: (ms, signal) => new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  }) };
  const slow = new RequestBudget({ requestsPerSecond: 0.001, burst: 1 }, paused);
  await slow.take();
  const controller = new AbortController();
  const aborted = slow.take({ signal: controller.signal });
  const left = slow.take();
  controller.abort(new Error('gave up'));
  await t.rejects(aborted, { message: 'gave up' });
  t.equal(slow.stats().waiting, 1, 'the aborted caller left the queue');
  slow.close();
  await t.rejects(left, { code: 'PGSHIFT_ERR_ROUTE53_CLOSED' });
  await t.rejects(slow.take(), { code: 'PGSHIFT_ERR_ROUTE53_CLOSED' });
  t.equal(slow.stats().waiting, 0);
});
