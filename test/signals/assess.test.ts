import t from 'tap';
import { assessSignal, type SignalLimit } from '../../src/signals/assess.js';
import type { Measurement } from '../../src/signals/port.js';

const NOW = 1_000_000;
const limit: SignalLimit = { max: 5, consecutiveBreaches: 3, consecutiveErrors: 4, maxAgeMs: 3_000 };

/** Readings one second apart ending now; a string is a failed reading with that error. */
function window(...values: (number | string | null)[]): Measurement[] {
  return values.map((v, i) => {
    const at = NOW - (values.length - 1 - i) * 1_000;
    if (typeof v === 'string') return { value: null, at, error: v };
    return { value: v, at };
  });
}

t.test('a value at the limit is healthy, one above is a breach in the making', async (t) => {
  t.equal(assessSignal(window(4), limit, NOW).status, 'healthy', 'limit - 1');
  t.equal(assessSignal(window(5), limit, NOW).status, 'healthy', 'limit itself');
  const above = assessSignal(window(6), limit, NOW);
  t.equal(above.status, 'unknown', 'limit + 1 once is not yet a breach, and not healthy either');
  t.equal(above.consecutiveBreaches, 1);
  t.match(above.reason, /6 > 5 for 1 of 3/);
});

t.test('fractional limits compare exactly at the boundary', async (t) => {
  const rate: SignalLimit = { ...limit, max: 0.05, consecutiveBreaches: 1 };
  t.equal(assessSignal(window(0.04), rate, NOW).status, 'healthy');
  t.equal(assessSignal(window(0.05), rate, NOW).status, 'healthy');
  t.equal(assessSignal(window(0.0500001), rate, NOW).status, 'breached');
});

t.test('consecutive breaches reach the limit, and a good reading resets them', async (t) => {
  t.equal(assessSignal(window(6, 7), limit, NOW).status, 'unknown');
  const breached = assessSignal(window(1, 6, 7, 8), limit, NOW);
  t.equal(breached.status, 'breached');
  t.equal(breached.consecutiveBreaches, 3);
  t.equal(breached.value, 8);
  t.match(breached.reason, /8 > 5 for 3 readings in a row/);

  const reset = assessSignal(window(6, 7, 8, 5), limit, NOW);
  t.equal(reset.status, 'healthy', 'a reading at the limit ends the run');
  t.equal(reset.consecutiveBreaches, 0);
  t.equal(assessSignal(window(6, 7, 8, 5, 9), limit, NOW).consecutiveBreaches, 1, 'counting starts again');
});

t.test('failed readings are not bad values: they neither count as breaches nor interrupt them', async (t) => {
  const flicker = assessSignal(window(6, 'timeout', 7, 'timeout', 8), limit, NOW);
  t.equal(flicker.status, 'breached', 'three bad values with failures between are still three in a row');
  t.equal(flicker.consecutiveBreaches, 3);
  t.equal(flicker.consecutiveErrors, 0);

  const failing = assessSignal(window(1, 'refused'), limit, NOW);
  t.equal(failing.status, 'unknown', 'missing data is never healthy');
  t.equal(failing.consecutiveErrors, 1);
  t.equal(failing.consecutiveBreaches, 0);
  t.match(failing.reason, /no reading: refused/);
});

t.test('failed readings in a row reach their own limit', async (t) => {
  t.equal(assessSignal(window(1, 'e', 'e', 'e'), limit, NOW).status, 'unknown', 'limit - 1 errors');
  const atLimit = assessSignal(window(1, 'e', 'e', 'e', 'down'), limit, NOW);
  t.equal(atLimit.status, 'breached', 'limit errors');
  t.equal(atLimit.consecutiveErrors, 4);
  t.match(atLimit.reason, /no reading for 4 samples in a row: down/);
  t.equal(assessSignal(window('e', 'e', 'e', 'e', 2), limit, NOW).status, 'healthy', 'one reading resets the error run');
});

t.test('NaN and infinities are failed readings, not values', async (t) => {
  const nan = assessSignal([{ value: Number.NaN, at: NOW }], limit, NOW);
  t.equal(nan.status, 'unknown');
  t.equal(nan.consecutiveErrors, 1);
  t.equal(assessSignal([{ value: Number.POSITIVE_INFINITY, at: NOW }], limit, NOW).consecutiveErrors, 1);
});

t.test('no data, or stale data, is unknown', async (t) => {
  const empty = assessSignal([], limit, NOW);
  t.equal(empty.status, 'unknown');
  t.match(empty.reason, /no reading yet/);

  t.equal(assessSignal([{ value: 1, at: NOW - 3_000 }], limit, NOW).status, 'healthy', 'as old as allowed');
  const stale = assessSignal([{ value: 1, at: NOW - 3_001 }], limit, NOW);
  t.equal(stale.status, 'unknown', 'older than allowed');
  t.match(stale.reason, /stale/);
  const staleBreach = assessSignal(window(9, 9, 9).map((m) => ({ ...m, at: m.at - 10_000 })), limit, NOW);
  t.equal(staleBreach.status, 'unknown', 'an old breach does not revert a pair long after the sampler stopped');
});

t.test('a limit of one consecutive breach breaches at once (replication problems)', async (t) => {
  const immediate: SignalLimit = { ...limit, max: 0, consecutiveBreaches: 1 };
  t.equal(assessSignal(window(0), immediate, NOW).status, 'healthy');
  t.equal(assessSignal(window(0, 1), immediate, NOW).status, 'breached');
});
