import t from 'tap';
import { lagSecondsFrom } from '../../src/replication/heartbeat.js';
import { isAtOrPast, nextValue, planSequenceCopy, type SequenceValue } from '../../src/replication/sequences.js';
import { AppMetricsInbox } from '../../src/signals/app-metrics.js';
import { diffCounters, type DatabaseCounters } from '../../src/signals/db-errors.js';
import { percentile } from '../../src/signals/probe.js';
import { escapeLabelValue, renderPrometheus } from '../../src/metrics/prometheus.js';
import { RingBuffer } from '../../src/signals/ring-buffer.js';
import type { Clock } from '../../src/clock.js';

t.test('lag in seconds is the age of the oldest heartbeat that has not arrived', async (t) => {
  const written = [
    { token: 'a', writtenAt: 10_000 },
    { token: 'b', writtenAt: 11_000 },
    { token: 'c', writtenAt: 12_000 },
  ];
  t.equal(lagSecondsFrom(written, 'c', 12_500), 0, 'the newest arrived: caught up');
  t.equal(lagSecondsFrom(written, 'b', 12_500), 0.5, 'c is waiting since 12.0 s');
  t.equal(lagSecondsFrom(written, 'a', 15_000), 4, 'b is waiting since 11.0 s, and the wait grows with the clock');
  t.equal(lagSecondsFrom(written, 'a', 20_000), 9, 'a stalled apply keeps growing without any new arrival');
  t.equal(lagSecondsFrom(written, 'from-another-process', 13_000), 3, 'none of ours arrived: the oldest of ours waits');
  t.equal(lagSecondsFrom(written, null, 13_000), 3, 'nothing arrived at all');
  t.equal(lagSecondsFrom([], 'c', 13_000), null, 'nothing written yet: unknown');
  t.equal(lagSecondsFrom(written, 'b', 11_900), 0, 'clock of the reading slightly behind the write: never negative');
});

t.test('sequence copy plans never move a target backwards and respect is_called', async (t) => {
  const seq = (name: string, lastValue: bigint, isCalled: boolean, increment = 1n): SequenceValue => ({
    schema: 'public',
    name,
    lastValue,
    isCalled,
    increment,
  });
  t.equal(nextValue(seq('s', 10n, true)), 11n);
  t.equal(nextValue(seq('s', 10n, false)), 10n, 'setval(.., false): the value itself comes next');
  t.equal(nextValue(seq('s', -10n, true, -1n)), -11n);
  t.ok(isAtOrPast(seq('t', 10n, true), seq('s', 10n, true)));
  t.ok(isAtOrPast(seq('t', 10n, true), seq('s', 11n, false)), 'same next value');
  t.notOk(isAtOrPast(seq('t', 10n, false), seq('s', 10n, true)));
  t.ok(isAtOrPast(seq('t', -20n, true, -1n), seq('s', -10n, true, -1n)), 'descending: lower is further');

  const plan = planSequenceCopy(
    [seq('behind', 100n, true), seq('ahead', 5n, true), seq('equal', 7n, false), seq('gone', 1n, true)],
    [seq('behind', 1n, false), seq('ahead', 50n, true), seq('equal', 6n, true)],
  );
  t.same(plan.set.map((s) => s.name), ['behind']);
  t.equal(plan.alreadyAhead, 2);
  t.same(plan.missing, ['public.gone']);
});

t.test('pg_stat_database deltas', async (t) => {
  const c = (commits: number, rollbacks: number, startedAt = 1): DatabaseCounters => ({
    commits,
    rollbacks,
    deadlocks: 0,
    conflicts: 0,
    startedAt,
  });
  t.same(diffCounters(c(100, 10), c(190, 20)), { rate: 0.1, transactions: 100, rollbacks: 10, deadlocks: 0, conflicts: 0 });
  t.equal(diffCounters(c(100, 10), c(100, 10))?.rate, 0, 'no transactions: no errors');
  t.equal(diffCounters(c(100, 10), c(5, 0)), null, 'counters went backwards (pg_stat_reset)');
  t.equal(diffCounters(c(100, 10, 1), c(200, 10, 2)), null, 'server restarted');
});

t.test('p95 by nearest rank', async (t) => {
  t.equal(percentile([], 95), null);
  t.equal(percentile([7], 95), 7);
  t.equal(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 95), 95);
  t.equal(percentile(Array.from({ length: 20 }, (_, i) => 20 - i), 95), 19);
});

t.test('ring buffer keeps the newest entries in order', async (t) => {
  const ring = new RingBuffer<number>(3);
  t.same(ring.last(), []);
  t.equal(ring.newest(), undefined);
  for (const n of [1, 2, 3, 4, 5]) ring.push(n);
  t.same(ring.last(), [3, 4, 5]);
  t.same(ring.last(2), [4, 5]);
  t.same(ring.last(10), [3, 4, 5]);
  t.equal(ring.newest(), 5);
  t.equal(ring.size, 3);
  t.throws(() => new RingBuffer(0), RangeError);
});

t.test('pushed application metrics are summed over their window', async (t) => {
  let now = 0;
  const clock: Clock = { now: () => now, sleep: async () => {} };
  const inbox = new AppMetricsInbox(10_000, clock, 3);
  t.equal(inbox.summary(), null);
  inbox.add({ requests: 100, errors: 1, source: 'api-1', side: 'blue' });
  now = 5_000;
  inbox.add({ requests: 50, errors: 4, source: 'api-2', side: 'green' });
  t.match(inbox.summary(), { requests: 150, errors: 5, pushes: 2, sources: ['api-1', 'api-2'], bySide: { blue: { requests: 100 }, green: { errors: 4 } } });
  now = 12_000;
  t.match(inbox.summary(), { requests: 50, errors: 4, pushes: 1 }, 'the first push left the window');
  t.throws(() => inbox.add({ requests: 1, errors: 2 }), { code: 'PGSHIFT_ERR_BAD_REQUEST', status: 400 });
  for (let i = 0; i < 5; i++) inbox.add({ requests: 1, errors: 0 });
  t.equal(inbox.summary()?.pushes, 3, 'bounded in count');
});

t.test('Prometheus text: families, labels escaped, absent labels left out', async (t) => {
  const text = renderPrometheus([
    {
      name: 'pgshift_x',
      help: 'A help line\nwith a newline and a \\ backslash',
      type: 'gauge',
      samples: [
        { labels: { pair: 'demo', signal: 'a"b\\c\nd', side: undefined }, value: 1.5 },
        { value: Number.NaN },
        { labels: { pair: 'p' }, value: Number.POSITIVE_INFINITY },
      ],
    },
    { name: 'pgshift_y_total', help: 'counter', type: 'counter', samples: [] },
  ]);
  t.equal(
    text,
    [
      '# HELP pgshift_x A help line\\nwith a newline and a \\\\ backslash',
      '# TYPE pgshift_x gauge',
      'pgshift_x{pair="demo",signal="a\\"b\\\\c\\nd"} 1.5',
      'pgshift_x NaN',
      'pgshift_x{pair="p"} +Inf',
      '# HELP pgshift_y_total counter',
      '# TYPE pgshift_y_total counter',
      '',
    ].join('\n'),
  );
  t.equal(escapeLabelValue('plain'), 'plain');
  t.throws(() => renderPrometheus([{ name: 'bad-name', help: '', type: 'gauge', samples: [] }]));
  t.throws(() => renderPrometheus([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }]));
  t.equal(renderPrometheus([]), '');
});
