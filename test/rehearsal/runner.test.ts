import t from 'tap';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { createClusterCatalog } from '../../src/clusters/factory.js';
import { createRdsClient } from '../../src/clusters/rds-client.js';
import { resolveConfig } from '../../src/config/load.js';
import * as D from '../../src/defaults.js';
import type { Lab } from '../../src/local/lab.js';
import { withClient } from '../../src/postgres/connect.js';
import type { RehearsalLoad } from '../../src/rehearsal/load.js';
import { runRehearsal, stagingRecordNames, type RehearsalProgress } from '../../src/rehearsal/runner.js';
import { stagingIds } from '../../src/rehearsal/staging.js';
import { parseWorkloadSettings } from '../../src/local/workload/config.js';
import { labDemoAppLoad } from '../../src/local/workload/rehearsal-load.js';
import { createRoute53Client } from '../../src/traffic/route53-client.js';
import { Route53Account } from '../../src/traffic/route53-account.js';
import { systemClock } from '../../src/clock.js';
import { startTestLab, testLogger } from '../helpers/lab.js';
import { labServiceConfigText } from '../helpers/lab-service.js';
import { waitFor } from '../helpers/wait.js';

const FAST = { pollMinMs: 100, pollMaxMs: 500 };

/** What a rehearsal must leave as it was: the real pair's records, clusters and replication. */
async function realPair(lab: Lab, rds: ReturnType<typeof createRdsClient>) {
  const route53 = lab.route53!;
  const records = route53.standIn.store.recordSets(route53.zoneId).map((r) => JSON.stringify(r)).sort();
  const clusters = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters!.map((c) => `${c.DBClusterIdentifier} ${c.Status} ${c.Port}`);
  const subscription = await withClient(lab.target('green', 'admin'), async (c) =>
    (await c.query<{ subname: string; subenabled: boolean }>('SELECT subname, subenabled FROM pg_subscription')).rows,
  );
  return { records, clusters, subscription };
}

t.test('rehearsals of the demo pair on the lab', async (t) => {
  const lab = await startTestLab(t);
  const config = resolveConfig(YAML.parse(await labServiceConfigText()), lab.env() as Record<string, string>);
  const pair = config.pairs[0]!;
  const rds = createRdsClient(config.aws);
  t.teardown(() => rds.destroy());
  const catalog = createClusterCatalog(pair, config, { rds });
  const route53 = createRoute53Client(config.aws);
  const route53Account = Route53Account.fromConfig(config.aws, { client: route53, clock: systemClock, log: testLogger() });
  t.teardown(() => {
    route53Account.close();
    route53.destroy();
  });
  const zoneNames = () => lab.route53!.standIn.store.recordSets(lab.route53!.zoneId).map((r) => r.name);
  const before = await realPair(lab, rds);

  const rehearse = async (id: string, request: Parameters<typeof runRehearsal>[0] & { expectRecords?: boolean; load?: RehearsalLoad }) => {
    const seen: RehearsalProgress[] = [];
    const ids = stagingIds(id);
    const names = stagingRecordNames(pair, id);
    let appeared = false;
    let recordsSeen = false;
    const watching = waitFor(
      'the staging clusters to appear',
      async () => {
        const listed = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters!.map((c) => c.DBClusterIdentifier);
        return listed.includes(ids.blue) && listed.includes(ids.green) ? (appeared = true) : undefined;
      },
      180_000,
      100,
    ).catch(() => undefined);
    const watchingRecords = request.expectRecords
      ? waitFor('the staging records to appear', async () => (zoneNames().some((n) => n.replace(/\.$/, '') === names.reader) ? (recordsSeen = true) : undefined), 180_000, 50).catch(() => undefined)
      : Promise.resolve();
    const { expectRecords: _expect, load, ...asked } = request;
    const report = await runRehearsal(asked, {
      id,
      pair,
      config,
      rds,
      route53Account,
      instanceId: 'rehearsal-test',
      catalog,
      log: testLogger(),
      signal: new AbortController().signal,
      onProgress: (p) => seen.push(p),
      ...(load ? { load } : {}),
      ...FAST,
    });
    await Promise.all([watching, watchingRecords]);
    t.same(report.staging.recordsLeft, [], 'no staging record left');
    t.ok(appeared, 'the staging clusters appeared');
    if (request.expectRecords) t.ok(recordsSeen, `the staging records ${names.reader} appeared`);
    t.notOk(zoneNames().some((n) => n.includes(D.REHEARSAL_CLUSTER_PREFIX)), 'the staging records are gone');
    const after = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters!.map((c) => c.DBClusterIdentifier);
    t.same(after, ['demo-blue', 'demo-green'], 'the staging clusters are gone');
    t.same(report.staging.removed, [ids.blue, ids.green].sort());
    t.same(await realPair(lab, rds), before, 'the real pair\'s records, clusters and replication are untouched');
    return { report, seen };
  };

  await t.test('a rehearsal from a new snapshot: preflight, the timed copy, the queries, the read stages and both cutovers under the demo application, torn down', async (t) => {
    const { report, seen } = await rehearse('r1', {
      expectRecords: true,
      bakeSeconds: 1,
      writeRate: 20,
      // The lab's demo application as the load, through the staging names (pgshift's own INSERT load runs in test/rehearsal/lab-rehearsal-api.test.ts).
      load: labDemoAppLoad(lab, parseWorkloadSettings({})),
      queries: [
        { name: 'recent orders', sql: 'SELECT id, customer_id FROM orders ORDER BY id DESC LIMIT 20' },
        // PostgreSQL 14's EXTRACT returns numeric, 13's double precision: the printed rows differ.
        { name: 'order age', sql: `SELECT extract(epoch FROM timestamp '2021-06-01 12:00:00.25') AS age` },
      ],
    });
    t.equal(report.outcome, 'blocked', JSON.stringify(report.findings));
    t.match(report.snapshot, /^pgshift-rehearsal-r1-/);
    t.same([...new Set(seen.map((p) => p.step))], ['snapshot', 'staging', 'preflight', 'prepare', 'queries', 'stages', 'cutover', 'teardown']);
    t.ok(seen.some((p) => p.copyPercent === 100), 'the copy percentage reached 100');
    t.same(report.steps.map((s) => s.step), ['snapshot', 'staging', 'preflight', 'prepare', 'queries', 'stages', 'cutover', 'teardown']);
    // Every read stage of the pair's plan, walked by the controller on the staging records, each baked.
    t.same(report.stages.map((s) => s.stage), pair.steps.map((p) => `reads-${p}`), JSON.stringify(report.stages));
    // Each move waits for the stand-in's INSYNC (1 s).
    t.ok(report.stages.every((s) => s.transitionMs >= 1000), 'each move timed to INSYNC');
    // The bake counts from the stage's start, a moment before the move's landing was journaled.
    t.ok(report.stages.every((s) => s.heldSeconds >= 0.9), 'each stage held about its bake time before the next move, the last before the cutover');
    t.same(report.staging.records, stagingRecordNames(pair, 'r1'));
    t.same(report.staging.recordsRemoved.length, 4, 'two weighted records per name deleted');
    t.ok(report.steps.every((s) => s.ok && s.seconds > 0), 'every step ok and timed');
    t.ok(report.prepareSteps.some((s) => s.step === 'initial-copy'), 'the initial copy is timed');
    t.ok(report.copy && report.copy.bytes > 0 && report.copy.tables > 0 && report.copy.seconds > 0, JSON.stringify(report.copy));
    // Each table's copy: every table of the subscription once, inside the step's time, slowest first, adding up to the copy.
    const perTable = report.copy!.perTable;
    t.comment(`tables copied ${JSON.stringify(perTable)}`);
    t.equal(perTable.length, report.copy!.tables, 'every table of the copy is timed');
    t.equal(new Set(perTable.map((x) => `${x.database}/${x.table}`)).size, perTable.length, 'each once');
    const named = perTable.map((x) => x.table);
    for (const table of ['customers', 'products', 'orders', 'order_lines', 'invoices']) t.ok(named.includes(`public.${table}`), `${table} is timed`);
    t.ok(perTable.every((x) => x.database === D.LAB_DATABASE), 'in the demo database');
    t.ok(perTable.every((x) => Number.isInteger(x.bytes) && x.bytes >= 0) && perTable.filter((x) => x.bytes > 0).length >= 4, 'bytes are counted, the seeded tables\' above 0');
    t.ok(perTable.some((x) => x.table === 'public.orders' && x.bytes > 0), 'the seeded orders have bytes');
    t.equal(perTable.reduce((n, x) => n + x.bytes, 0), report.copy!.bytes, 'the tables add up to the copy');
    // Read after the step started and before it ended; a table's copy cannot have begun before the step.
    t.ok(perTable.every((x) => x.seconds >= 0 && x.doneAfterSeconds > 0 && x.doneAfterSeconds >= x.seconds && x.doneAfterSeconds <= report.copy!.seconds), 'times within the step');
    t.ok(perTable.every((x, i) => i === 0 || x.seconds <= perTable[i - 1]!.seconds), 'slowest first');
    t.ok(report.estimate.productionBytes! > 0);
    t.ok(report.estimate.initialCopySeconds !== null, 'an estimate of the production copy');
    t.match(report.writeWindows, {
      forward: { from: 'blue', to: 'green', windowMs: Number, tablesValidated: Number },
      back: { from: 'green', to: 'blue', windowMs: Number },
    });
    t.ok(report.writeWindows!.forward.windowMs > 0 && report.writeWindows!.back.windowMs > 0, 'both windows measured');
    t.ok(report.writeWindows!.forward.tablesValidated! > 0, 'rows validated');
    t.ok(report.writeWindows!.forward.route53Ms !== null, "Route 53's part of the flip measured");
    t.match(report.writeWindows!.forward.steps.map((s) => s.name), ['checks', 'snapshot', 'freeze', 'catch-up', 'sequences', 'validate', 'switch-replication', 'flip-writer']);
    t.match(report.writeWindows!.back.steps.map((s) => s.name), ['checks', 'reads-back', 'snapshot', 'freeze', 'catch-up', 'sequences', 'validate', 'switch-replication', 'flip-writer', 'reopen-reads']);
    t.ok(report.estimate.writeWindowSeconds! >= pair.dns.writer.ttl, 'the estimate adds the writer record\'s TTL');
    // The demo application wrote before, between and after the two cutovers, and lost nothing.
    const load = report.writeLoad!;
    t.equal(load.kind, 'demo-app');
    t.equal(load.ratePerSecond, 20);
    const ledger = load.ledger!;
    t.ok(ledger, 'the ledger is reported');
    t.equal(ledger.acknowledged, load.writes, 'writes are the acknowledged ones');
    // It followed the staging writer name: acknowledged on blue before the cutover, on green between, on blue after the way back.
    t.same(ledger.runs.map((r) => r.side), ['blue', 'green', 'blue'], JSON.stringify(ledger.runs));
    t.ok(ledger.runs.every((r) => r.writes > 0), 'writes on each side');
    t.ok(load.longestGapMs > 0);
    // Checked on staging blue after the way back: every acknowledged order, payment, shipment and invoice is there, once.
    t.equal(ledger.checkedOn, 'blue', ledger.checkError ?? '');
    t.equal(ledger.missing, 0, ledger.differences.join('; '));
    t.equal(ledger.duplicated, 0);
    t.equal(ledger.phantom, 0);
    t.equal(ledger.sequenceReuse, 0);
    t.notOk(report.findings.some((f) => f.source === 'load'), 'no finding from the load');
    t.comment(`write windows ${JSON.stringify(report.writeWindows)}; load ${JSON.stringify(report.writeLoad)}`);
    const [recent, age] = report.queries;
    t.equal(recent!.verdict, 'same', recent!.message);
    t.equal(age!.verdict, 'rows-differ');
    t.match(report.findings, [{ severity: 'blocker', source: 'queries', message: /"order age" returns different rows/ }]);
  });

  await t.test('blue with some_extension 1.3, which green lacks, stops at preflight and still tears down', async (t) => {
    const dir = join(lab.servers.blue.binaries.binDir, '..', 'share', 'postgresql', 'extension');
    const files = [join(dir, 'some_extension.control'), join(dir, 'some_extension--1.3.sql')];
    t.teardown(() => Promise.all(files.map((f) => rm(f, { force: true }))));
    await writeFile(files[0]!, `comment = 'pgshift rehearsal test fixture'\ndefault_version = '1.3'\nrelocatable = true\n`, { mode: 0o644 });
    await writeFile(files[1]!, `CREATE DOMAIN some_extension_code AS text CHECK (VALUE ~ '^[A-Z]+$');\n`, { mode: 0o644 });
    await withClient(lab.target('blue', 'admin'), (c) => c.query('CREATE EXTENSION some_extension; CREATE TABLE gadget_codes (id int PRIMARY KEY, code some_extension_code)'));
    // A snapshot of blue with the extension, named: the rehearsal restores that one.
    const snapshot = await catalog.snapshot('blue', { id: 'with-some-extension' });
    const { report } = await rehearse('r2', { snapshot: snapshot.id });
    t.equal(report.outcome, 'blocked');
    t.equal(report.snapshot, 'with-some-extension');
    t.same(report.steps.map((s) => s.step), ['snapshot', 'staging', 'preflight', 'teardown'], 'nothing after preflight but the teardown');
    t.match(report.findings, [{ severity: 'blocker', source: 'preflight', message: /Extension incompatible: some_extension v1\.3/, remediation: /\S/ }]);
    t.equal(report.copy, null);
  });
});
