import t from 'tap';
import { systemClock } from '../../../src/clock.js';
import * as D from '../../../src/defaults.js';
import { labClusterId, labEndpoint, labRecordName } from '../../../src/local/lab-endpoints.js';
import { normaliseName } from '../../../src/local/route53/names.js';
import { parseWorkloadSettings } from '../../../src/local/workload/config.js';
import { labDemoAppLoad } from '../../../src/local/workload/rehearsal-load.js';
import { withClient } from '../../../src/postgres/connect.js';
import { writeLoadFindings, type WriteLoadOptions } from '../../../src/rehearsal/load.js';
import { SIDES } from '../../../src/shift/model.js';
import { startTestLab, testLogger } from '../../helpers/lab.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The demo application as a rehearsal's load, on the lab's own pair (all on blue): a
 * write it acknowledged and that is gone when it stops is counted as lost, named, and
 * made a blocker of the rehearsal. The run through a whole rehearsal, where nothing is
 * lost, is in test/rehearsal/runner.test.ts.
 */

t.test('an acknowledged invoice deleted on blue before the load stops is one lost write, and a blocker naming it', async (t) => {
  const lab = await startTestLab(t, { green: 'empty' });
  const app = lab.target('blue', 'app');
  const options: WriteLoadOptions = {
    target: (side) => lab.target(side, 'app'),
    writer: () => 'blue',
    names: { reader: labRecordName('reader'), writer: labRecordName('writer') },
    endpoint: (name) => {
      for (const side of SIDES) {
        for (const kind of ['writer', 'reader'] as const) {
          if (normaliseName(labEndpoint(labClusterId(side), kind)) === normaliseName(name)) return { side, host: '127.0.0.1', port: lab.servers[side].port };
        }
      }
      return null;
    },
    database: D.LAB_DATABASE,
    login: app.login,
    ratePerSecond: 50,
    clock: systemClock,
    log: testLogger(),
  };
  const load = labDemoAppLoad(lab, parseWorkloadSettings({})).start(options);
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await load.stop();
  });

  // An invoice of the application's own (the seeded ones have no request id): the last step of an order, so nothing written later depends on it.
  const invoice = await waitFor(
    'an invoice the demo application wrote',
    () =>
      withClient(lab.target('blue', 'admin'), async (c) => (await c.query<{ request_id: string }>('SELECT request_id FROM invoices WHERE request_id IS NOT NULL LIMIT 1')).rows[0]?.request_id),
    60_000,
    100,
  );
  // Its COMMIT returned before the row was visible to us; a few more acknowledged writes make sure the app has recorded it.
  const seen = load.acknowledged();
  await waitFor('more acknowledged writes', () => load.acknowledged() >= seen + 5, 30_000, 20);
  const deleted = await withClient(lab.target('blue', 'admin'), (c) => c.query('DELETE FROM invoices WHERE request_id = $1', [invoice]));
  t.equal(deleted.rowCount, 1, `invoice ${invoice} deleted`);

  const result = await load.stop();
  stopped = true;
  t.comment(JSON.stringify(result));
  t.equal(result.kind, 'demo-app');
  t.ok(result.writes > seen, 'writes acknowledged');
  const ledger = result.ledger!;
  t.equal(ledger.checkedOn, 'blue', ledger.checkError ?? '');
  t.equal(ledger.acknowledged, result.writes);
  t.same(ledger.runs, [{ side: 'blue', writes: result.writes }], 'every write on blue');
  t.equal(ledger.missing, 1, 'exactly the deleted invoice is missing');
  t.equal(ledger.duplicated + ledger.phantom + ledger.sequenceReuse, 0);
  t.match(ledger.differences, [new RegExp(`^invoice ${invoice}: acknowledged invoice of order \\d+ is not in the database$`)]);

  const findings = writeLoadFindings(result);
  t.equal(findings.length, 1);
  t.match(findings[0], { severity: 'blocker', source: 'load', message: new RegExp(`1 acknowledged write\\(s\\) missing \\(of ${result.writes} acknowledged\\): invoice ${invoice}`) });
});

t.test('a load without a ledger, or a ledger that could not be checked, is no blocker', async (t) => {
  t.same(writeLoadFindings(null), []);
  t.same(writeLoadFindings({ kind: 'inserts', ratePerSecond: 10, writes: 30, errors: 2, longestGapMs: 400 }), []);
  const unchecked = writeLoadFindings({
    kind: 'demo-app',
    ratePerSecond: 10,
    writes: 30,
    errors: 0,
    longestGapMs: 200,
    ledger: { acknowledged: 30, inDoubt: 0, failed: 0, runs: [{ side: 'blue', writes: 30 }], checkedOn: null, checkError: 'connection refused', missing: 0, duplicated: 0, phantom: 0, sequenceReuse: 0, inDoubtPresent: 0, differences: [] },
  });
  t.match(unchecked, [{ severity: 'warning', source: 'load', message: /30 acknowledged writes\) was not checked: connection refused/ }]);
});
