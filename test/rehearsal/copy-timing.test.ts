import t from 'tap';
import { TableCopyTimes } from '../../src/rehearsal/copy-timing.js';

const START = 1_000_000;

/** Feeds readings given as `{ at (ms after START), states: { table: state } }`, every table 100 bytes unless given. */
function timesOf(readings: { at: number; states: Record<string, string>; bytes?: Record<string, number> }[]): TableCopyTimes {
  const times = new TableCopyTimes();
  for (const r of readings) {
    times.observe({
      at: START + r.at,
      tables: Object.entries(r.states).map(([table, state]) => ({ database: 'demo', table, state, bytes: r.bytes?.[table] ?? 100 })),
    });
  }
  return times;
}

t.test('a table synchronized when first seen took 0 s and was done at that reading', async (t) => {
  t.same(timesOf([{ at: 250, states: { 'public.a': 'r' } }]).timings(START), [{ database: 'demo', table: 'public.a', bytes: 100, seconds: 0, doneAfterSeconds: 0.25 }]);
});

t.test('the wait for a sync worker is not counted: from the first reading under way to the first synchronized', async (t) => {
  const times = timesOf([
    { at: 100, states: { 'public.a': 'i' } },
    { at: 1100, states: { 'public.a': 'd' } },
    { at: 2100, states: { 'public.a': 'd' } },
    { at: 3100, states: { 'public.a': 's' } },
    { at: 4100, states: { 'public.a': 'r' } },
  ]);
  t.match(times.timings(START), [{ seconds: 2, doneAfterSeconds: 3.1 }]);
});

t.test('`f` (copied, catching up) counts as under way', async (t) => {
  t.match(timesOf([{ at: 100, states: { 'public.a': 'f' } }, { at: 1100, states: { 'public.a': 's' } }]).timings(START), [{ seconds: 1, doneAfterSeconds: 1.1 }]);
});

t.test('a table copied between two readings counts from the last reading that saw it waiting', async (t) => {
  const times = timesOf([
    { at: 100, states: { 'public.a': 'i' } },
    { at: 1100, states: { 'public.a': 'i' } },
    { at: 2100, states: { 'public.a': 's' } },
  ]);
  t.match(times.timings(START), [{ seconds: 1, doneAfterSeconds: 2.1 }]);
});

t.test('bytes are the latest reading\'s; a table not yet synchronized is left out', async (t) => {
  const times = timesOf([
    { at: 100, states: { 'public.a': 'd', 'public.b': 'i' }, bytes: { 'public.a': 10, 'public.b': 5 } },
    { at: 1100, states: { 'public.a': 's', 'public.b': 'd' }, bytes: { 'public.a': 20, 'public.b': 5 } },
    { at: 2100, states: { 'public.a': 'r', 'public.b': 'd' }, bytes: { 'public.a': 30, 'public.b': 5 } },
  ]);
  t.same(times.timings(START), [{ database: 'demo', table: 'public.a', bytes: 30, seconds: 1, doneAfterSeconds: 1.1 }]);
});

t.test('slowest first; among equally slow, the later done first, then by name', async (t) => {
  const times = timesOf([
    { at: 0, states: { 'public.fast': 'd', 'public.slow': 'd', 'public.b': 'i', 'public.a': 'i' } },
    { at: 1000, states: { 'public.fast': 's', 'public.slow': 'd', 'public.b': 'd', 'public.a': 'd' } },
    { at: 2000, states: { 'public.fast': 'r', 'public.slow': 'd', 'public.b': 's', 'public.a': 's' } },
    { at: 3000, states: { 'public.fast': 'r', 'public.slow': 's', 'public.b': 'r', 'public.a': 'r' } },
  ]);
  t.same(
    times.timings(START).map((x) => [x.table, x.seconds, x.doneAfterSeconds]),
    [
      ['public.slow', 3, 3],
      ['public.a', 1, 2],
      ['public.b', 1, 2],
      ['public.fast', 1, 1],
    ],
  );
});

t.test('the same table name in two databases is two tables', async (t) => {
  const times = new TableCopyTimes();
  times.observe({ at: START + 500, tables: [{ database: 'one', table: 'public.a', state: 's', bytes: 1 }, { database: 'two', table: 'public.a', state: 's', bytes: 2 }] });
  t.same(times.timings(START).map((x) => `${x.database} ${x.bytes}`), ['one 1', 'two 2']);
});
