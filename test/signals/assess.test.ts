import t from 'tap';
import { assessSignal, formatValue, type AssessedMeasurement, type Exposure, type SignalLimit } from '../../src/signals/assess.js';

const NOW = 1_000_000;
const limit: SignalLimit = { max: 5, consecutiveBreaches: 3, consecutiveErrors: 4, maxAgeMs: 3_000 };
/** A green signal while green takes application traffic: a confirmed breach reverts. */
const GREEN: Exposure = { side: 'green', greenExposed: true };

/** Readings one second apart ending now; a string is a failed reading with that error. */
function window(...values: (number | string | null)[]): AssessedMeasurement[] {
  return values.map((v, i) => {
    const at = NOW - (values.length - 1 - i) * 1_000;
    if (typeof v === 'string') return { value: null, at, error: v };
    return { value: v, at };
  });
}

/** Green's readings paired with blue's of the same round ([green, blue]; blue null: blue had no reading). */
function compared(...pairs: [number | string, number | null][]): AssessedMeasurement[] {
  const base = window(...pairs.map(([g]) => g));
  return base.map((m, i) => ({ ...m, control: pairs[i]![1] }));
}

t.test('a value at the limit is healthy, one above is a breach in the making', async (t) => {
  t.equal(assessSignal(window(4), limit, NOW, GREEN).status, 'healthy', 'limit - 1');
  t.equal(assessSignal(window(5), limit, NOW, GREEN).status, 'healthy', 'limit itself');
  const above = assessSignal(window(6), limit, NOW, GREEN);
  t.equal(above.status, 'unknown', 'limit + 1 once is not yet a breach, and not healthy either');
  t.equal(above.reverts, false);
  t.equal(above.consecutiveBreaches, 1);
  t.equal(above.limit, 5);
  t.match(above.reason, /6 > limit 5 for 1 of 3 samples/);
});

t.test('fractional limits compare exactly at the boundary', async (t) => {
  const rate: SignalLimit = { ...limit, max: 0.05, consecutiveBreaches: 1 };
  t.equal(assessSignal(window(0.04), rate, NOW, GREEN).status, 'healthy');
  t.equal(assessSignal(window(0.05), rate, NOW, GREEN).status, 'healthy');
  t.equal(assessSignal(window(0.0500001), rate, NOW, GREEN).status, 'breached');
});

t.test('consecutive breaches reach the limit, and a good reading resets them', async (t) => {
  t.equal(assessSignal(window(6, 7), limit, NOW, GREEN).status, 'unknown');
  const breached = assessSignal(window(1, 6, 7, 8), limit, NOW, GREEN);
  t.equal(breached.status, 'breached');
  t.equal(breached.reverts, true, 'a confirmed breach of green while green takes traffic reverts');
  t.equal(breached.consecutiveBreaches, 3);
  t.equal(breached.value, 8);
  t.equal(breached.reason, '8 > limit 5 for 3 samples');

  const reset = assessSignal(window(6, 7, 8, 5), limit, NOW, GREEN);
  t.equal(reset.status, 'healthy', 'a reading at the limit ends the run');
  t.equal(reset.consecutiveBreaches, 0);
  t.equal(assessSignal(window(6, 7, 8, 5, 9), limit, NOW, GREEN).consecutiveBreaches, 1, 'counting starts again');
});

t.test('the reason carries the numbers with their unit', async (t) => {
  const p95: SignalLimit = { ...limit, max: 500, unit: 'ms' };
  t.equal(assessSignal(window(812, 812, 812), p95, NOW, GREEN).reason, '812 ms > limit 500 ms for 3 samples');
  t.equal(assessSignal(window(3.25), p95, NOW, GREEN).reason, '3.25 ms <= limit 500 ms');
  const rate: SignalLimit = { ...limit, max: 0.05, unit: 'ratio' };
  t.equal(assessSignal(window(0.5, 0.5, 0.5), rate, NOW, GREEN).reason, '50 % > limit 5 % for 3 samples');
  t.equal(formatValue(0.07, 'ratio'), '7 %', 'no floating-point noise');
  t.equal(formatValue(16_777_216, 'bytes'), '16777216 bytes');
});

t.test('failed readings are not bad values: they neither count as breaches nor interrupt them', async (t) => {
  const flicker = assessSignal(window(6, 'timeout', 7, 'timeout', 8), limit, NOW, GREEN);
  t.equal(flicker.status, 'breached', 'three bad values with failures between are still three in a row');
  t.equal(flicker.consecutiveBreaches, 3);
  t.equal(flicker.consecutiveErrors, 0);

  const failing = assessSignal(window(1, 'refused'), limit, NOW, GREEN);
  t.equal(failing.status, 'unknown', 'missing data is never healthy');
  t.equal(failing.reverts, false);
  t.equal(failing.consecutiveErrors, 1);
  t.equal(failing.consecutiveBreaches, 0);
  t.match(failing.reason, /no reading: refused/);
});

t.test('failed readings in a row reach their own limit', async (t) => {
  t.equal(assessSignal(window(1, 'e', 'e', 'e'), limit, NOW, GREEN).status, 'unknown', 'limit - 1 errors');
  t.equal(assessSignal(window(1, 'e', 'e', 'e'), limit, NOW, GREEN).reverts, false, 'limit - 1 errors do not revert');
  const atLimit = assessSignal(window(1, 'e', 'e', 'e', 'down'), limit, NOW, GREEN);
  t.equal(atLimit.status, 'breached', 'limit errors');
  t.equal(atLimit.consecutiveErrors, 4);
  t.equal(atLimit.reason, 'no reading for 4 samples: down');
  t.equal(assessSignal(window(1, 'e', 'e', 'e', 'e', 'down'), limit, NOW, GREEN).consecutiveErrors, 5, 'limit + 1 errors');
  t.equal(assessSignal(window('e', 'e', 'e', 'e', 2), limit, NOW, GREEN).status, 'healthy', 'one reading resets the error run');
});

t.test('the verdict: who reverts, for a breach by value and for missing data', async (t) => {
  const overLimit = window(1, 6, 7, 8);
  const missing = window(1, 'e', 'e', 'e', 'down');
  const cases: [string, Exposure, boolean, RegExp | null][] = [
    ['green, green takes traffic', { side: 'green', greenExposed: true }, true, null],
    ['the pair (replication, app metrics), green takes traffic', { side: null, greenExposed: true }, true, null],
    ['green, green takes none', { side: 'green', greenExposed: false }, false, /blocks advancing, no revert: green takes no application traffic/],
    ['the pair, green takes none', { side: null, greenExposed: false }, false, /green takes no application traffic/],
    ['blue, green takes traffic', { side: 'blue', greenExposed: true }, false, /blocks advancing, no revert: blue is the control/],
    ['blue, green takes none', { side: 'blue', greenExposed: false }, false, /blue is the control/],
  ];
  for (const [where, exposure, reverts, why] of cases) {
    for (const [what, w] of [['over the limit', overLimit], ['missing data', missing]] as const) {
      const a = assessSignal(w, limit, NOW, exposure);
      t.equal(a.status, 'breached', `${what} on ${where}: breached (blocks advancing)`);
      t.equal(a.reverts, reverts, `${what} on ${where}: ${reverts ? 'reverts' : 'does not revert'}`);
      if (why) t.match(a.reason, why, `${what} on ${where}: the reason says why not`);
      else t.notMatch(a.reason, /no revert/, `${what} on ${where}: the reason is the numbers alone`);
    }
  }
});

t.test('NaN and infinities are failed readings, not values', async (t) => {
  const nan = assessSignal([{ value: Number.NaN, at: NOW }], limit, NOW, GREEN);
  t.equal(nan.status, 'unknown');
  t.equal(nan.consecutiveErrors, 1);
  t.equal(assessSignal([{ value: Number.POSITIVE_INFINITY, at: NOW }], limit, NOW, GREEN).consecutiveErrors, 1);
});

t.test('no data, or stale data, is unknown and never reverts', async (t) => {
  const empty = assessSignal([], limit, NOW, GREEN);
  t.equal(empty.status, 'unknown');
  t.equal(empty.reverts, false);
  t.match(empty.reason, /no reading yet/);

  t.equal(assessSignal([{ value: 1, at: NOW - 3_000 }], limit, NOW, GREEN).status, 'healthy', 'as old as allowed');
  const stale = assessSignal([{ value: 1, at: NOW - 3_001 }], limit, NOW, GREEN);
  t.equal(stale.status, 'unknown', 'older than allowed');
  t.match(stale.reason, /stale/);
  const staleBreach = assessSignal(window(9, 9, 9).map((m) => ({ ...m, at: m.at - 10_000 })), limit, NOW, GREEN);
  t.equal(staleBreach.status, 'unknown', 'an old breach does not revert a pair long after the sampler stopped');
  t.equal(staleBreach.reverts, false);
});

t.test('a signal with nothing to measure at this stage is neither missing data nor a revert', async (t) => {
  const idle: AssessedMeasurement[] = Array.from({ length: 8 }, (_, i) => ({
    value: null,
    at: NOW - (7 - i) * 1_000,
    error: 'no replication runs at this stage',
    notApplicable: true as const,
  }));
  const a = assessSignal(idle, limit, NOW, { side: null, greenExposed: true });
  t.equal(a.status, 'unknown');
  t.equal(a.reverts, false);
  t.equal(a.consecutiveErrors, 0);
  t.match(a.reason, /nothing to measure: no replication runs/);
});

t.test('a limit of one consecutive breach breaches at once (replication problems)', async (t) => {
  const immediate: SignalLimit = { ...limit, max: 0, consecutiveBreaches: 1 };
  t.equal(assessSignal(window(0), immediate, NOW, GREEN).status, 'healthy');
  t.equal(assessSignal(window(0, 1), immediate, NOW, GREEN).status, 'breached');
  t.equal(assessSignal(window(0, 1), immediate, NOW, { side: null, greenExposed: true }).reverts, true);
});

t.test('relative limits: one reading against blue x factor + margin, capped by the absolute limit', async (t) => {
  const ms = (max: number): SignalLimit => ({ ...limit, max, unit: 'ms', relative: { factor: 2, margin: 50 }, consecutiveBreaches: 1 });
  const ratio: SignalLimit = { ...limit, max: 1, unit: 'ratio', relative: { factor: 2, margin: 0.25 }, consecutiveBreaches: 1 };
  // [name, limit, green, blue (null: no reading), status, limit held to, control, reason (exact, or a pattern)]
  const cases: [string, SignalLimit, number, number | null, string, number, number | null, string | RegExp][] = [
    // blue 100 ms: green's limit is 100 x 2 + 50 = 250 ms, well under the absolute 800 ms.
    ['blue x factor + margin - 1', ms(800), 249, 100, 'healthy', 250, 100, /^249 ms <= limit 250 ms/],
    ['exactly blue x factor + margin is within', ms(800), 250, 100, 'healthy', 250, 100, '250 ms <= limit 250 ms (blue 100 ms × 2 + 50 ms)'],
    ['blue x factor + margin + 1 breaches', ms(800), 251, 100, 'breached', 250, 100, '251 ms > limit 250 ms (blue 100 ms × 2 + 50 ms) for 1 sample'],
    ['rates: exactly at 0.125 x 2 + 0.25', ratio, 0.5, 0.125, 'healthy', 0.5, 0.125, /^50 % <= limit 50 %/],
    ['rates: just above', ratio, 0.5000001, 0.125, 'breached', 0.5, 0.125, /^50 % > limit 50 %/],
    // blue 300 ms: blue x 2 + 50 = 650 ms, above the absolute 500 ms, which stays the ceiling.
    ['at the ceiling', ms(500), 500, 300, 'healthy', 500, 300, /^500 ms <= limit 500 ms \(absolute; /],
    ['over the ceiling, however slow blue is', ms(500), 501, 300, 'breached', 500, 300, '501 ms > limit 500 ms (absolute; blue 300 ms × 2 + 50 ms = 650 ms) for 1 sample'],
    // 400 ms would be over a blue-relative limit, but blue has no reading.
    ['no reading from blue: within the absolute limit', ms(500), 400, null, 'healthy', 500, null, '400 ms <= limit 500 ms (absolute: blue has no reading to compare with)'],
    ['no reading from blue: over the absolute limit', ms(500), 501, null, 'breached', 500, null, '501 ms > limit 500 ms (absolute: blue has no reading to compare with) for 1 sample'],
  ];
  for (const [name, held, green, blue, status, heldTo, control, reason] of cases) {
    const a = assessSignal(compared([green, blue]), held, NOW, GREEN);
    t.equal(a.status, status, `${name}: status`);
    t.equal(a.reverts, status === 'breached', `${name}: a breach of green while exposed reverts`);
    t.equal(a.limit, heldTo, `${name}: limit`);
    t.equal(a.control, control, `${name}: control`);
    if (typeof reason === 'string') t.equal(a.reason, reason, `${name}: reason`);
    else t.match(a.reason, reason, `${name}: reason`);
  }
  t.equal(assessSignal(window(400), ms(500), NOW, GREEN).limit, 500, 'a reading without a comparison (blue itself) is held to the absolute limit');
});

t.test('relative limits: slow on both sides is healthy, slow on green only is a breach', async (t) => {
  const p95: SignalLimit = { ...limit, max: 800, unit: 'ms', relative: { factor: 2, margin: 50 } };
  // The busy machine: 378 ms on both sides, over the lab's old absolute 500 ms in places.
  const busy = assessSignal(compared([378, 378], [520, 410], [378, 378]), p95, NOW, GREEN);
  t.equal(busy.status, 'healthy');
  t.equal(busy.consecutiveBreaches, 0);
  const onlyGreen = assessSignal(compared([300, 5], [310, 6], [320, 5]), p95, NOW, GREEN);
  t.equal(onlyGreen.status, 'breached');
  t.equal(onlyGreen.reverts, true);
  t.equal(onlyGreen.reason, '320 ms > limit 60 ms (blue 5 ms × 2 + 50 ms) for 3 samples');
});

t.test('relative limits: each reading is held to blue of its own round', async (t) => {
  const p95: SignalLimit = { ...limit, max: 800, unit: 'ms', relative: { factor: 2, margin: 50 } };
  // Limits by round: 450, 250, 250. The oldest reading was within its own limit.
  const a = assessSignal(compared([300, 200], [300, 100], [300, 100]), p95, NOW, GREEN);
  t.equal(a.consecutiveBreaches, 2);
  t.equal(a.status, 'unknown', 'two of three');
});

