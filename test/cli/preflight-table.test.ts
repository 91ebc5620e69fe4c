import t from 'tap';
import { formatReport } from '../../src/cli/commands/preflight.js';
import { renderTable, wrap } from '../../src/cli/table.js';
import type { PreflightReport } from '../../src/preflight/report.js';

t.test('wrap breaks at spaces within the width and keeps long words whole', async (t) => {
  t.same(wrap('one two three four', 9), ['one two', 'three', 'four']);
  t.same(wrap('a-very-long-word here', 5), ['a-very-long-word', 'here']);
  t.same(wrap('', 10), ['']);
});

t.test('a table wraps only its last column; verbatim lines stay whole under it', async (t) => {
  const text = renderTable(
    ['A', 'B', 'TEXT'],
    [{ cells: ['x', 'yy', 'alpha beta gamma delta'], verbatim: ['fix: SELECT a_long_statement_that_must_not_wrap;'] }],
    40,
  );
  t.equal(
    text,
    [
      'A  B   TEXT',
      'x  yy  alpha beta gamma delta',
      '       fix: SELECT a_long_statement_that_must_not_wrap;',
      '',
    ].join('\n'),
  );
  const narrow = renderTable(['A', 'TEXT'], [{ cells: ['x', 'one two three four five six seven eight nine ten eleven'] }], 35);
  t.ok(narrow.split('\n').slice(1, -1).every((l) => l.startsWith('x  ') || l.startsWith('   ')));
  t.ok(narrow.split('\n').length > 3, 'the long cell wrapped');
});

t.test('the report header says whether the pair may advance', async (t) => {
  const report: PreflightReport = {
    pair: 'orders',
    ok: false,
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:00:00.150Z',
    durationMs: 150,
    blue: { version: '13.12', major: 13 },
    green: { version: null, major: null },
    findings: [
      { check: 'connect', severity: 'blocker', database: 'orders', object: 'server green', message: 'cannot check orders on green', remediation: 'Make sure green is running.\nThen run it again.' },
    ],
    checks: [{ check: 'connect', title: 'c', database: 'orders', outcome: 'findings', findings: 1, durationMs: 3 }],
  };
  const text = formatReport(report, 100);
  t.match(text, 'Preflight of pair orders: blue 13.12 -> green unreachable, 1 check runs in 150 ms');
  t.match(text, 'NOT READY: 1 blocker(s), 0 warning(s), 0 info; pgshift will not advance past baseline');
  t.match(text, /BLOCKER +connect +orders +server green +cannot check orders on green\n +fix: Make sure green is running\.\n +Then run it again\./);
  t.match(formatReport({ ...report, ok: true, findings: [] }), 'READY: no blocker (0 warning(s), 0 info)');
});

t.test('a report of phase prepare says so in its header; older reports without a phase read as before', async (t) => {
  const report: PreflightReport = {
    pair: 'orders',
    phase: 'prepare',
    ok: true,
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:00:00.150Z',
    durationMs: 150,
    blue: { version: '13.12', major: 13 },
    green: { version: '14.9', major: 14 },
    findings: [],
    checks: [
      { check: 'server-versions', title: 'v', database: null, outcome: 'passed', findings: 0, durationMs: 2 },
      { check: 'table-parity', title: 't', database: null, outcome: 'not-applicable', findings: 0, durationMs: 0, reason: "prepare creates green's tables from blue's schema" },
    ],
  };
  t.match(formatReport(report), 'Preflight of pair orders (phase prepare: green not prepared yet): blue 13.12 -> green 14.9, 1 check runs in 150 ms');
  t.match(formatReport({ ...report, phase: 'prepared' }), 'Preflight of pair orders: blue 13.12 -> green 14.9, 1 check runs');
  const { phase: _phase, ...older } = report;
  t.match(formatReport(older), 'Preflight of pair orders: blue 13.12 -> green 14.9');
});
