import t from 'tap';
import pg from 'pg';
import Value from 'typebox/value';
import { loadConfig } from '../../src/config/load.js';
import type { Config, PairConfig } from '../../src/config/schema.js';
import type { SnapshotInfo } from '../../src/clusters/catalog.js';
import { assertClustersReady, checkClusters, ClusterCheckReportSchema } from '../../src/clusters/checks.js';
import { createClusterCatalog } from '../../src/clusters/factory.js';
import { createRdsClient } from '../../src/clusters/rds-client.js';
import { RdsClusters } from '../../src/clusters/rds-clusters.js';
import { readClustersView } from '../../src/clusters/view.js';
import { ClustersViewSchema } from '../../src/shift/view-schemas.js';
import { labEndpoint } from '../../src/local/lab-endpoints.js';
import { clientConfig } from '../../src/postgres/connect.js';
import { startTestLab } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { restoreSnapshot, rowCounts, startScratchServer } from './helpers.js';

t.test('RdsClusters through the real SDK against the lab stand-in', async (t) => {
  const lab = await startTestLab(t);
  const config: Config = await loadConfig('config/local.yaml', { ...process.env, ...lab.env() });
  const pair = config.pairs[0]!;
  const rds = createRdsClient(config.aws);
  t.teardown(() => rds.destroy());
  const catalog = createClusterCatalog(pair, config, { rds, pollMinMs: 20, pollMaxMs: 100 });
  const versions = await lab.versions();
  const checks = (p: PairConfig, c = catalog) => checkClusters({ catalog: c, pair: p, hostOverrides: config.hostOverrides });

  t.test('config/local.yaml describes both lab clusters through RDS', async (t) => {
    t.ok(catalog instanceof RdsClusters, 'both sides are RDS clusters');
    for (const side of ['blue', 'green'] as const) {
      const info = await catalog.describe(side);
      t.match(info, {
        side,
        id: `demo-${side}`,
        engine: 'aurora-postgresql',
        version: versions[side],
        status: 'available',
        available: true,
        writer: { host: labEndpoint(`demo-${side}`, 'writer'), port: lab.servers[side].port },
        reader: { host: labEndpoint(`demo-${side}`, 'reader'), port: lab.servers[side].port },
        members: [{ id: `demo-${side}-instance-1`, writer: true }],
      });
      t.equal(info.major, side === 'blue' ? 13 : 14);
      t.ok(info.pitr?.earliest && info.pitr.latest && info.pitr.earliest <= info.pitr.latest, 'a PITR window');
    }
    const report = await checks(pair);
    t.ok(Value.Check(ClusterCheckReportSchema, report), 'the report matches its schema');
    t.same(report.blue.problems, []);
    t.same(report.green.problems, []);
    t.equal(report.ok, true, 'checks pass, with real connections through hostOverrides');
  });

  t.test('a snapshot goes creating -> available and its dump restores into an empty server', async (t) => {
    const seen: SnapshotInfo[] = [];
    const snapshot = await catalog.snapshot('blue', { id: 'pre-cutover-1', onProgress: (s) => seen.push(s) });
    t.match(snapshot, { id: 'pre-cutover-1', side: 'blue', clusterId: 'demo-blue', status: 'available', progress: 100, engineVersion: versions.blue });
    t.equal(seen[0]?.status, 'creating', 'the first state reported is creating');
    t.equal(seen.at(-1)?.status, 'available');
    t.match(snapshot.location, /cluster-snapshot:pre-cutover-1$/);

    const again = await catalog.snapshot('blue', { id: 'pre-cutover-1' });
    t.equal(again.createdAt, snapshot.createdAt, 'repeating the call adopts the existing snapshot');
    await t.rejects(catalog.snapshot('green', { id: 'pre-cutover-1' }), { code: 'PGSHIFT_ERR_SNAPSHOT_EXISTS' }, 'the id of another cluster is refused');
    await t.rejects(catalog.snapshot('blue', { id: '1-starts-with-digit' }), { code: 'PGSHIFT_ERR_SNAPSHOT_ID' });

    const last = await catalog.lastSnapshot('blue');
    t.equal(last?.id, 'pre-cutover-1');
    t.equal(await catalog.lastSnapshot('green'), null, 'green has none');

    const scratch = await startScratchServer(t, lab.servers.blue.major);
    const restored = await restoreSnapshot(`${lab.dir}/rds/snapshots/pre-cutover-1`, scratch.admin());
    t.equal(restored.globals.code, 0, 'roles restored');
    for (const [database, result] of Object.entries(restored.databases)) t.equal(result.code, 0, `${database} restored: ${result.stderr}`);
    const original = await rowCounts(lab.target('blue', 'admin'));
    const copy = await rowCounts(scratch.admin('demo'));
    t.ok(Object.keys(original).length >= 5, 'the demo tables are compared');
    t.same(copy, original, 'same row count in every table');
  });

  t.test('the pair view shows both clusters and the last snapshot with its PITR window', async (t) => {
    const view = await readClustersView(catalog);
    t.ok(Value.Check(ClustersViewSchema, view), 'the view matches its schema');
    t.match(view, {
      blue: { id: 'demo-blue', version: versions.blue, status: 'available', available: true },
      green: { id: 'demo-green', version: versions.green, status: 'available', available: true },
      lastSnapshot: { id: 'pre-cutover-1', side: 'blue', status: 'available' },
      pitr: { side: 'blue' },
    });
    t.ok(view.pitr?.earliest && view.pitr.latest);
  });

  t.test('a missing cluster gives the coded error and fails the checks', async (t) => {
    const missing: PairConfig = { ...pair, blue: { ...pair.blue, rdsClusterId: 'demo-missing' } };
    const missingCatalog = createClusterCatalog(missing, config, { rds });
    await t.rejects(missingCatalog.describe('blue'), { code: 'PGSHIFT_ERR_CLUSTER_NOT_FOUND', status: 404 });
    await t.rejects(missingCatalog.snapshot('blue'), { code: 'PGSHIFT_ERR_CLUSTER_NOT_FOUND' });
    const report = await checks(missing, missingCatalog);
    t.equal(report.ok, false);
    t.match(report.blue.problems, [{ code: 'PGSHIFT_ERR_CLUSTER_NOT_FOUND', message: /demo-missing/ }]);
    t.equal(report.green.ok, true);
    await t.rejects(assertClustersReady({ catalog: missingCatalog, pair: missing, hostOverrides: config.hostOverrides }), {
      code: 'PGSHIFT_ERR_CLUSTER_NOT_FOUND',
      details: { ok: false },
    });
    const view = await readClustersView(missingCatalog);
    t.match(view.blue, { status: 'error', available: false, error: { code: 'PGSHIFT_ERR_CLUSTER_NOT_FOUND' } });
    t.ok(Value.Check(ClustersViewSchema, view));
  });

  t.test('a wrong expected major and a wrong password are reported', async (t) => {
    const wrongMajor: PairConfig = { ...pair, green: { ...pair.green, expectedMajor: 15 } };
    const report = await checks(wrongMajor);
    t.match(report.green.problems, [{ code: 'PGSHIFT_ERR_CLUSTER_MAJOR', message: /expects major 15/ }]);
    await t.rejects(assertClustersReady({ catalog, pair: wrongMajor, hostOverrides: config.hostOverrides }), {
      code: 'PGSHIFT_ERR_CLUSTER_MAJOR',
      status: 409,
    });

    const wrongPassword: PairConfig = { ...pair, blue: { ...pair.blue, login: { user: 'pgshift', password: 'not-the-password' } } };
    const unreachable = await checks(wrongPassword);
    t.same(
      unreachable.blue.problems.map((p) => p.code),
      ['PGSHIFT_ERR_CLUSTER_UNREACHABLE', 'PGSHIFT_ERR_CLUSTER_UNREACHABLE'],
      'the writer and the reader endpoint are both dialled',
    );
    t.match(unreachable.blue.problems[0]?.message, /writer endpoint demo-blue\.cluster-.*password authentication failed/);
    t.equal(unreachable.green.ok, true);
  });

  t.test('a snapshot that cannot finish: timeout, abort, then failure', async (t) => {
    // pg_dump waits for a share lock on every table: an exclusive lock held open keeps the dump creating.
    const holder = new pg.Client(clientConfig(lab.target('green', 'admin')));
    holder.on('error', () => {});
    await holder.connect();
    t.teardown(() => holder.end().catch(() => {}));
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE customers IN ACCESS EXCLUSIVE MODE');

    await t.rejects(catalog.snapshot('green', { id: 'blocked', timeoutMs: 300 }), { code: 'PGSHIFT_ERR_SNAPSHOT_TIMEOUT', status: 504 });
    t.match(await catalog.lastSnapshot('green'), { id: 'blocked', status: 'creating' }, 'RDS keeps creating it');

    const stop = new AbortController();
    await t.rejects(catalog.snapshot('green', { id: 'blocked', signal: stop.signal, onProgress: () => stop.abort() }), {
      code: 'PGSHIFT_ERR_SNAPSHOT_ABORTED',
    });

    const seen: SnapshotInfo[] = [];
    const failed = t.rejects(
      catalog.snapshot('green', { id: 'blocked', onProgress: (s) => seen.push(s) }),
      { code: 'PGSHIFT_ERR_SNAPSHOT_FAILED' },
      'the dump cut off by the stop fails the snapshot',
    );
    await waitFor('the repeated call to adopt the snapshot', () => seen.length > 0);
    await lab.servers.green.stop();
    t.teardown(() => lab.servers.green.start());
    await failed;
    t.match(await catalog.lastSnapshot('green'), { id: 'blocked', status: 'failed' });
    await lab.servers.green.start();
  });

  t.test('a stopped lab server is a cluster that is not available', async (t) => {
    await lab.servers.blue.stop();
    t.teardown(() => lab.servers.blue.start());
    const info = await catalog.describe('blue');
    t.match(info, { status: 'stopped', available: false, version: versions.blue });
    const report = await checks(pair);
    t.equal(report.ok, false);
    t.same(
      report.blue.problems.map((p) => p.code),
      ['PGSHIFT_ERR_CLUSTER_UNAVAILABLE'],
    );
    t.match(report.blue.problems[0]?.message, /blue cluster demo-blue is not available \(status stopped\)/);
    t.equal(report.green.ok, true);
    await t.rejects(catalog.snapshot('blue'), { code: 'PGSHIFT_ERR_CLUSTER_UNAVAILABLE' });
    const view = await readClustersView(catalog);
    t.match(view.blue, { status: 'stopped', available: false });
  });
});
