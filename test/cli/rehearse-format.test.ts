import t from 'tap';
import { formatRehearsal } from '../../src/cli/commands/rehearse.js';
import * as D from '../../src/defaults.js';
import type { RehearsalReport } from '../../src/rehearsal/runner.js';
import type { RehearsalRecord } from '../../src/rehearsal/store.js';

function recordWith(copy: RehearsalReport['copy']): RehearsalRecord {
  return {
    id: 'r1',
    pair: 'demo',
    status: 'done',
    step: 'teardown',
    copyPercent: 100,
    request: {},
    actor: 'test',
    owner: 'test',
    startedAt: 0,
    heartbeatAt: 10_000,
    finishedAt: 10_000,
    report: {
      outcome: 'passed',
      snapshot: 's1',
      staging: { blue: 'b', green: 'g', kept: false, removed: ['b', 'g'], notRemoved: [], records: { reader: 'r', writer: 'w' }, recordsRemoved: [], recordsLeft: [], snapshotsRemoved: [] },
      findings: [],
      preflight: [],
      steps: [],
      prepareSteps: [],
      copy,
      stages: [],
      queries: [],
      writeWindows: null,
      writeLoad: null,
      estimate: { productionBytes: null, initialCopySeconds: null, writeWindowSeconds: null },
    },
  };
}

const table = (database: string, name: string, seconds: number) => ({ database, table: name, bytes: seconds * 1000, seconds, doneAfterSeconds: seconds + 1 });

t.test('the report prints the slowest tables of the copy, as many as the default, in the report\'s order', async (t) => {
  const perTable = [9, 8, 7, 6, 5, 4, 3].map((s) => table('demo', `public.t${s}`, s));
  const text = formatRehearsal(recordWith({ tables: 7, bytes: 42_000, seconds: 10, bytesPerSecond: 4200, databases: [{ database: 'demo', tables: 7, bytes: 42_000 }], perTable }));
  const line = text.split('\n').find((l) => l.includes('slowest tables'));
  t.ok(line, 'a line of the slowest tables');
  t.match(line, /public\.t9 9000 bytes 9\.0 s \(done after 10\.0 s\), public\.t8 /);
  t.equal(line!.match(/public\.t\d/g)!.length, D.REHEARSAL_SLOWEST_TABLES_SHOWN);
  t.notMatch(line, /demo\//, 'no database named when the pair has one');
});

t.test('with several databases each table names its database; without tables, no line', async (t) => {
  const databases = [
    { database: 'one', tables: 1, bytes: 2000 },
    { database: 'two', tables: 1, bytes: 1000 },
  ];
  const text = formatRehearsal(recordWith({ tables: 2, bytes: 3000, seconds: 3, bytesPerSecond: 1000, databases, perTable: [table('one', 'public.a', 2), table('two', 'public.a', 1)] }));
  t.match(text, /slowest tables: one\/public\.a .*, two\/public\.a /);
  t.notMatch(formatRehearsal(recordWith({ tables: 0, bytes: 0, seconds: 0, bytesPerSecond: null, databases: [], perTable: [] })), /slowest tables/);
});

t.test("the demo application's load prints its ledger: the runs by side and what the check on blue found, or why it did not run", async (t) => {
  const record = recordWith(null);
  const ledger = { acknowledged: 94, inDoubt: 0, failed: 2, runs: [{ side: 'blue', writes: 57 }, { side: 'green', writes: 28 }, { side: 'blue', writes: 9 }] };
  const counts = { missing: 1, duplicated: 0, phantom: 0, sequenceReuse: 0, inDoubtPresent: 0, differences: ['invoice x: gone'] };
  record.report!.writeLoad = { kind: 'demo-app', ratePerSecond: 5, writes: 94, errors: 2, longestGapMs: 416, ledger: { ...ledger, checkedOn: 'blue', ...counts } };
  const text = formatRehearsal(record);
  t.match(text, /write load \(the demo application\): 5\/s, 94 writes acknowledged, 2 refused, longest gap 416 ms/);
  t.match(text, /write ledger: 94 acknowledged \(blue 57, then green 28, then blue 9\), 0 in doubt; checked on blue: 1 missing, 0 duplicated, 0 phantom, 0 sequence values reused/);
  record.report!.writeLoad.ledger = { ...ledger, checkedOn: null, checkError: 'connection refused', ...counts, missing: 0, differences: [] };
  t.match(formatRehearsal(record), /write ledger: 94 acknowledged .*; NOT CHECKED: connection refused/);
  record.report!.writeLoad = { kind: 'inserts', ratePerSecond: 10, writes: 30, errors: 1, longestGapMs: 300 };
  t.notMatch(formatRehearsal(record), /write ledger/, 'the INSERT load keeps no ledger');
});
