import { join } from 'node:path';
import t, { type Test } from 'tap';
import * as D from '../../../src/defaults.js';
import { withClient } from '../../../src/postgres/connect.js';
import { parseWorkloadSettings } from '../../../src/local/workload/config.js';
import { startLabWorkload } from '../../../src/local/workload/lab.js';
import { verifyLedger } from '../../../src/local/workload/verify.js';
import type { DemoWorkload, WorkloadSnapshot } from '../../../src/local/workload/workload.js';
import type { Lab } from '../../../src/local/lab.js';
import { startTestLab, testLogger } from '../../helpers/lab.js';
import { calm, labApi, labServiceConfig, startLabService, standInWeights, type LabApi } from '../../helpers/lab-service.js';
import { runTs } from '../../helpers/process.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The lab's demo application through the real service: its queries follow the weighted
 * names as far as the servers themselves say (inet_server_port()), its error counts
 * reach pgshift and can revert a shift, and its ledger proves what a run wrote.
 */

const TTL_SECONDS = D.DEFAULT_RECORD_TTL_SECONDS;
const ALL_BLUE = { reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } };

type BySide = { blue: number; green: number; unknown: number };
const diff = (a: BySide, b: BySide): BySide => ({ blue: b.blue - a.blue, green: b.green - a.green, unknown: b.unknown - a.unknown });
const failures = (s: WorkloadSnapshot) => Object.values(s.totals.errorsByKind).reduce((a, b) => a + b, 0);

async function advanceTo(t: Test, api: LabApi, from: string, to: string): Promise<void> {
  const res = await api.post('/api/v1/pairs/demo/advance', { expectedStage: from, reason: `test: to ${to}` });
  t.equal(res.status, 200, `advance ${from} -> ${to}: ${JSON.stringify(res.body.error ?? '')}`);
}

async function autoReverted(api: LabApi): Promise<{ pair: any; event: any }> {
  const pair = await waitFor(
    'the pair to be reverted and halted',
    async () => {
      const view = (await api.get('/api/v1/pairs/demo')).body;
      return view.halted && view.stage === 'baseline' && !view.transition ? view : undefined;
    },
    45_000,
    100,
  );
  const events = (await api.get('/api/v1/pairs/demo/events?limit=20')).body.events as any[];
  return { pair, event: events.find((e) => e.action === 'auto-revert') };
}

/** Waits until `reads` more reads have finished, and returns what they were. */
async function nextReads(workload: DemoWorkload, reads: number): Promise<{ reads: BySide; writes: BySide }> {
  const before = workload.snapshot().totals;
  const after = await waitFor(
    `${reads} more reads`,
    () => {
      const now = workload.snapshot().totals;
      const d = diff(before.reads, now.reads);
      return d.blue + d.green + d.unknown >= reads ? now : undefined;
    },
    60_000,
    50,
  );
  return { reads: diff(before.reads, after.reads), writes: diff(before.writes, after.writes) };
}

/** Waits until a whole second of reads ran on blue only; returns when that second began. */
async function readsBackOnBlue(workload: DemoWorkload, timeoutMs: number): Promise<number> {
  let mark = { at: Date.now(), totals: workload.snapshot().totals };
  return waitFor(
    'a second in which every read ran on blue',
    () => {
      const now = workload.snapshot().totals;
      if (Date.now() - mark.at < 1_000) return undefined;
      const d = diff(mark.totals.reads, now.reads);
      const begun = mark.at;
      mark = { at: Date.now(), totals: now };
      return d.green === 0 && d.unknown === 0 && d.blue > 0 ? begun : undefined;
    },
    timeoutMs,
    100,
  );
}

/** `npm run workload -- <args>` against the lab's folder, to its end. */
async function workloadCli(lab: Lab, args: string[]): Promise<{ code: number | null; out: any; stderr: string }> {
  const run = runTs('src/local/workload/cli.ts', ['--lab-dir', lab.dir, ...args], { PGSHIFT_LOG_LEVEL: 'warn' });
  run.child.stdin.end();
  const { code } = await run.exited;
  let out: any = null;
  try {
    out = JSON.parse(run.stdout());
  } catch {
    // reported through the assertions below, with stderr
  }
  return { code, out, stderr: run.stderr() };
}

function appTarget(lab: Lab, side: 'blue' | 'green') {
  return { host: '127.0.0.1', port: lab.servers[side].port, database: D.LAB_DATABASE, login: { user: D.LAB_APP_ROLE, password: lab.state.secrets.appPassword } };
}

t.test('the demo application on the lab, through pgshift', async (t) => {
  const lab = await startTestLab(t);
  const config = await labServiceConfig(t, {
    bakeSeconds: 0,
    signals: {
      sampleSeconds: 1,
      consecutiveBreaches: 2,
      // pg_stat_database's rollbacks would see green's refusals too, and canary latency on
      // a machine this busy can refuse an advance; the app's own signal is the one under test.
      dbErrors: { maxErrorRate: 1 },
      probe: { maxP95Ms: 10_000, relativeP95: { factor: 1000, marginMs: 600_000 } },
      app: { enabled: true, windowSeconds: 5, maxErrorRate: 0.05 },
    },
  });
  const service = await startLabService(t, lab, config);
  const api = labApi(service.url, lab);
  // 40 writes/s and 360 reads/s: 2,000 reads in under 6 s, light enough for a busy machine.
  const workload = await startLabWorkload({
    lab,
    serviceUrl: service.url,
    log: testLogger(),
    ledgerFile: join(lab.dir, 'test-ledger.jsonl'),
    settings: parseWorkloadSettings({ rate: 40, readShare: 0.9, pushIntervalMs: 500 }),
  });
  t.teardown(() => workload.stop());
  await calm(api);

  await t.test('at baseline every query runs on blue, as the servers say', async (t) => {
    const { reads, writes } = await nextReads(workload, 1_000);
    t.equal(reads.green, 0, 'no read on green');
    t.equal(writes.green, 0, 'no write on green');
    t.equal(reads.unknown + writes.unknown, 0, 'every request answered');
    t.ok(writes.blue > 0, `${writes.blue} writes on blue`);
    const stats = (await (await fetch(workload.url!)).json()) as WorkloadSnapshot;
    t.ok(stats.totals.reads.blue >= 1_000, "the app's own endpoint shows its numbers");
    t.match(stats.window.latencyMs.read, { p50: Number, p95: Number, p99: Number });
  });

  await t.test('at reads-25, one TTL and a second after the change, about a quarter of reads run on green and no write does', async (t) => {
    const preflight = await api.post('/api/v1/pairs/demo/preflight');
    t.equal(preflight.body.ok, true, 'the demo pair has no blocker');
    await advanceTo(t, api, 'baseline', 'reads-10');
    await advanceTo(t, api, 'reads-10', 'reads-25');
    const changed = Date.now();
    await waitFor('one TTL and a second after the change', () => Date.now() >= changed + (TTL_SECONDS + 1) * 1000, 30_000);
    // 4,000 reads span about two TTLs of 500 caches. Runs on the busy CI machine have seen
    // 19.1 % and 29.2 %, more spread than independent draws would give (requests are not
    // spread evenly over the caches): 15-35 % tells a shifted fleet from one that is not.
    const { reads, writes } = await nextReads(workload, 4_000);
    const share = reads.green / (reads.blue + reads.green);
    t.comment(`reads-25: ${reads.green} of ${reads.blue + reads.green} reads on green (${(share * 100).toFixed(1)} %)`);
    t.ok(share >= 0.15 && share <= 0.35, `green's share of reads ${(share * 100).toFixed(1)} % is within 15-35 %`);
    t.equal(writes.green, 0, 'no write on green');
    t.ok(writes.blue > 0);
  });

  await t.test('an auto-revert at reads-50 brings reads back to blue; the errors the app saw are reported', async (t) => {
    await advanceTo(t, api, 'reads-25', 'reads-50');
    await waitFor('reads on green at reads-50', async () => (await nextReads(workload, 200)).reads.green > 0, 30_000);
    const before = workload.snapshot();
    const green = lab.target('green', 'admin');
    await withClient(green, (c) => c.query(`ALTER SUBSCRIPTION ${D.DEFAULT_SUBSCRIPTION} DISABLE`));
    let enabled = false;
    t.teardown(async () => {
      if (!enabled) await withClient(green, (c) => c.query(`ALTER SUBSCRIPTION ${D.DEFAULT_SUBSCRIPTION} ENABLE`));
    });
    const { event } = await autoReverted(api);
    const revertedAt = Date.now();
    t.match(event, { fromStage: 'reads-50', toStage: 'baseline', reason: /replication/ });
    t.same(standInWeights(lab), ALL_BLUE);

    // Within the TTL, every cache has asked again; pgshift drains green one TTL after the revert.
    const backAt = await readsBackOnBlue(workload, (TTL_SECONDS * 2 + 15) * 1000);
    t.comment(`reads back on blue ${((backAt - revertedAt) / 1000).toFixed(1)} s after the revert was seen`);
    const drain = await waitFor(
      "the drain of green's application sessions",
      async () => ((await api.get('/api/v1/pairs/demo/events?limit=20')).body.events as any[]).find((e) => e.action === 'drain' && e.id > event.id),
      30_000,
      200,
    );
    await nextReads(workload, 500);
    const after = workload.snapshot();
    const errors: Record<string, number> = {};
    for (const [kind, n] of Object.entries(after.totals.errorsByKind)) {
      const d = n - before.totals.errorsByKind[kind as keyof typeof before.totals.errorsByKind];
      if (d > 0) errors[kind] = d;
    }
    const requests = (s: WorkloadSnapshot) =>
      [s.totals.reads, s.totals.writes, s.totals.failedReads, s.totals.failedWrites].reduce((a, b) => a + b.blue + b.green + b.unknown, 0);
    t.comment(
      `during the revert: ${failures(after) - failures(before)} failed of ${requests(after) - requests(before)} requests ${JSON.stringify(errors)}, ` +
        `${after.totals.retries - before.totals.retries} retries, ${after.idleConnectionsLost - before.idleConnectionsLost} idle connections ended under the pools`,
    );
    const noticed = after.idleConnectionsLost - before.idleConnectionsLost + after.totals.retries - before.totals.retries + failures(after) - failures(before);
    if (drain.details?.ended > 0) t.ok(noticed > 0, `the drain ended ${drain.details.ended} of the app's sessions on green, and the app noticed`);
    t.equal(diff(before.totals.writes, after.totals.writes).green, 0, 'no write ran on green');

    await withClient(green, (c) => c.query(`ALTER SUBSCRIPTION ${D.DEFAULT_SUBSCRIPTION} ENABLE`));
    enabled = true;
    t.equal((await api.post('/api/v1/pairs/demo/resume', { reason: 'test: replication back' })).status, 200);
    await calm(api);
  });

  await t.test("the app's error rate reaches pgshift's signals and /metrics; a burst of errors at reads-25 reverts reads", async (t) => {
    const signal = await waitFor('the pushed counts in the app signal', async () => {
      const signals = (await api.get('/api/v1/pairs/demo/signals')).body.signals as any[];
      const app = signals.find((s) => s.name === 'app.error_rate');
      return app?.measurement?.value !== null && app?.measurement?.detail?.bySide?.blue?.requests > 0 ? app : undefined;
    });
    t.match(signal.measurement.detail, { sources: ['lab-demo-shop'] });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    t.match(metrics, /pgshift_signal_value\{[^}]*signal="app\.error_rate"[^}]*\} [0-9.e-]+/, 'the app error rate is on /metrics');

    await advanceTo(t, api, 'baseline', 'reads-10');
    await advanceTo(t, api, 'reads-10', 'reads-25');
    // Green starts refusing the app's reads: the app's own errors are the only signal of it.
    const green = lab.target('green', 'admin');
    await withClient(green, (c) => c.query(`REVOKE SELECT ON orders, products FROM ${D.LAB_APP_ROLE}`));
    let granted = false;
    t.teardown(async () => {
      if (!granted) await withClient(green, (c) => c.query(`GRANT SELECT ON orders, products TO ${D.LAB_APP_ROLE}`));
    });
    const { event } = await autoReverted(api);
    t.match(event, { fromStage: 'reads-25', toStage: 'baseline', reason: /app\.error_rate/ });
    t.same(standInWeights(lab), ALL_BLUE);
    t.ok(workload.snapshot().totals.errorsByKind.permission > 0, "the app counted green's refusals");
    await readsBackOnBlue(workload, (TTL_SECONDS * 2 + 15) * 1000);
    await withClient(green, (c) => c.query(`GRANT SELECT ON orders, products TO ${D.LAB_APP_ROLE}`));
    granted = true;
    t.equal((await api.post('/api/v1/pairs/demo/resume', { reason: 'test: grants back' })).status, 200);
  });

  await t.test("sessions ended under the app mid-request are retried; the ledger below shows nothing lost or doubled", async (t) => {
    const before = workload.snapshot();
    for (let i = 0; i < 5; i++) {
      await nextReads(workload, 100);
      await withClient(lab.target('blue', 'admin'), (c) =>
        c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'demo-shop' AND pid <> pg_backend_pid()`),
      );
    }
    await nextReads(workload, 200);
    const after = workload.snapshot();
    const noticed = after.totals.retries - before.totals.retries + after.idleConnectionsLost - before.idleConnectionsLost;
    t.ok(noticed > 0, `${after.totals.retries - before.totals.retries} retries, ${after.idleConnectionsLost - before.idleConnectionsLost} idle connections lost`);
    t.comment(
      `ended sessions: ${failures(after) - failures(before)} requests failed after retries; ` +
        `${after.ledger.recoveredAfterLostCommit} writes found committed after their connection was lost, ${after.ledger.inDoubt} in doubt`,
    );
  });

  await t.test('the ledger check passes after the shifts and reverts, and fails when an acknowledged row is gone', async (t) => {
    await workload.stop();
    const ledger = workload.ledger;
    const passed = await verifyLedger(ledger, appTarget(lab, 'blue'));
    t.comment(`ledger: ${JSON.stringify({ ...passed.checked, inDoubtPresent: passed.inDoubtPresent })}`);
    t.equal(passed.ok, true, `blue holds every acknowledged write once: ${JSON.stringify(passed.differences.slice(0, 3))}`);
    t.ok(passed.checked.acknowledged > 500, `${passed.checked.acknowledged} acknowledged writes checked`);
    await waitFor('green to hold every acknowledged write too', async () => (await verifyLedger(ledger, appTarget(lab, 'green'))).ok, 30_000, 500);

    // The same app in its own process, as `npm run workload` runs it: names answered from
    // the stand-in's zone file, then its own ledger checked.
    const cli = await workloadCli(lab, ['--rate', '30', '--seconds', '3', '--no-push', '--verify', '--ledger', join(lab.dir, 'cli-ledger.jsonl')]);
    t.equal(cli.code, 0, `npm run workload -- --verify exits 0: ${cli.stderr.slice(-500)}`);
    t.ok(cli.out?.run?.totals?.writes?.blue > 0, 'the separate process wrote through the writer name');
    t.match(cli.out?.verify, { ok: true, side: 'blue', missing: 0 });

    const invoice = [...ledger.acknowledged.values()].find((w) => w.kind === 'invoice');
    t.ok(invoice, 'the run issued invoices');
    await withClient(lab.target('blue', 'admin'), (c) => c.query('DELETE FROM invoices WHERE request_id = $1', [invoice!.id]));
    const failed = await verifyLedger(ledger, appTarget(lab, 'blue'));
    t.equal(failed.ok, false, 'a deleted acknowledged row fails the check');
    t.equal(failed.missing, 1);
    t.match(failed.differences, [{ id: invoice!.id, kind: 'invoice', problem: /not in the database/ }]);
    const verify = await workloadCli(lab, ['--verify', '--ledger', ledger.file!]);
    t.equal(verify.code, 1, 'npm run workload -- --verify exits 1 when the database lost a write');
    t.match(verify.out?.verify, { ok: false, missing: 1, differences: [{ id: invoice!.id }] });
  });
});
