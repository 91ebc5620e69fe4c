import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/load.js';
import type { PairConfig } from '../../src/config/schema.js';
import type { SnapshotInfo } from '../../src/clusters/catalog.js';
import { checkClusters } from '../../src/clusters/checks.js';
import { createClusterCatalog } from '../../src/clusters/factory.js';
import { PgClusters } from '../../src/clusters/pg-clusters.js';
import type { Lab } from '../../src/local/lab.js';
import { ident, withClient } from '../../src/postgres/connect.js';
import { startTestLab } from '../helpers/lab.js';
import { readManifest, rowCounts, runTool } from './helpers.js';

/** The lab's two servers as a plain-PostgreSQL pair, through the real config loader. */
function plainPair(lab: Lab, snapshotDir: string): PairConfig {
  const s = lab.state.secrets;
  const side = (name: 'blue' | 'green') => ({
    host: '127.0.0.1',
    port: lab.servers[name].port,
    expectedMajor: lab.servers[name].major,
    login: { user: 'pgshift', password: s.pgshiftPassword },
    adminLogin: { user: 'postgres', password: s.adminPassword },
  });
  const config = resolveConfig(
    {
      state: { url: 'postgresql://unused' },
      pairs: [
        {
          id: 'plain',
          databases: ['demo'],
          blue: side('blue'),
          green: side('green'),
          snapshotDir,
          dns: { hostedZoneId: 'ZUNUSED', reader: { name: 'r.example.com' }, writer: { name: 'w.example.com' } },
        },
      ],
    },
    {},
  );
  return config.pairs[0]!;
}

t.test('PgClusters against the lab servers as plain PostgreSQL', async (t) => {
  const lab = await startTestLab(t);
  const snapshotDir = await mkdtemp(join(tmpdir(), 'pgshift-pg-snapshots-'));
  t.teardown(() => rm(snapshotDir, { recursive: true, force: true }));
  const pair = plainPair(lab, snapshotDir);
  const catalog = createClusterCatalog(pair, { aws: { region: 'us-east-1', maxAttempts: 1 }, hostOverrides: {} });
  const versions = await lab.versions();

  t.test('describes each side from the server itself', async (t) => {
    t.ok(catalog instanceof PgClusters);
    for (const side of ['blue', 'green'] as const) {
      const port = lab.servers[side].port;
      t.match(await catalog.describe(side), {
        side,
        id: `127.0.0.1:${port}`,
        engine: 'postgres',
        version: versions[side],
        major: lab.servers[side].major,
        status: 'available',
        available: true,
        writer: { host: '127.0.0.1', port },
        reader: { host: '127.0.0.1', port },
        pitr: null,
      });
    }
    const report = await checkClusters({ catalog, pair });
    t.equal(report.ok, true, `checks pass: ${JSON.stringify(report)}`);
  });

  t.test('a snapshot is a pg_dump per database that restores', async (t) => {
    const seen: SnapshotInfo[] = [];
    const snapshot = await catalog.snapshot('blue', { onProgress: (s) => seen.push(s) });
    t.match(snapshot.id, /^pgshift-plain-blue-\d{8}-\d{6}$/, 'a generated id');
    t.match(snapshot, { side: 'blue', status: 'available', progress: 100, engineVersion: versions.blue, location: join(snapshotDir, snapshot.id) });
    t.equal(seen[0]?.status, 'creating');
    t.equal(seen.at(-1)?.status, 'available');
    const progress = seen.map((s) => s.progress);
    t.same(progress, [...progress].sort((a, b) => a - b), 'progress only rises');
    t.ok(progress.some((p) => p > 0 && p < 100), 'progress in between is reported');

    const manifest = await readManifest(snapshot.location!);
    t.same(manifest.databases.map((d) => d.name), ['demo'], 'the pair databases');
    const dumpFile = join(snapshot.location!, manifest.databases[0]!.file);
    t.equal((await readFile(dumpFile)).subarray(0, 5).toString(), 'PGDMP', 'custom format');
    t.notMatch(await readFile(join(snapshot.location!, 'globals.sql'), 'utf8'), /SCRAM-SHA-256\$/, 'no password hashes in the dump');

    // Restore into a new database next to the original, on the same server.
    await withClient(lab.target('blue', 'admin', 'postgres'), (c) => c.query(`CREATE DATABASE ${ident('restored')}`));
    const target = lab.target('blue', 'admin', 'restored');
    const restore = await runTool('pg_restore', ['--exit-on-error', '-h', '127.0.0.1', '-p', String(target.endpoint.port), '-U', 'postgres', '-d', 'restored', dumpFile], target);
    t.equal(restore.code, 0, restore.stderr);
    t.same(await rowCounts(target), await rowCounts(lab.target('blue', 'admin')), 'same row counts');

    const again = await catalog.snapshot('blue', { id: snapshot.id });
    t.equal(again.createdAt, snapshot.createdAt, 'repeating the call with the id returns the same snapshot');
    await t.rejects(catalog.snapshot('green', { id: snapshot.id }), { code: 'PGSHIFT_ERR_SNAPSHOT_EXISTS' }, "blue's id is not green's");
    t.equal((await catalog.lastSnapshot('blue'))?.id, snapshot.id);
    t.equal(await catalog.lastSnapshot('green'), null);
  });

  t.test('readers polling while a snapshot finishes never turn it failed', async (t) => {
    for (let round = 0; round < 5; round++) {
      let finished = false;
      const statuses = new Set<string>();
      const poll = async () => {
        while (!finished) {
          const last = await catalog.lastSnapshot('blue');
          if (last) statuses.add(last.status);
        }
      };
      const pollers = Array.from({ length: 8 }, poll);
      const snapshot = await catalog.snapshot('blue', { id: `polled-${round}` }).finally(() => (finished = true));
      await Promise.all(pollers);
      t.equal(snapshot.status, 'available');
      t.notOk(statuses.has('failed'), `round ${round}: readers saw ${[...statuses].join(', ')}`);
      t.equal((await catalog.lastSnapshot('blue'))?.status, 'available', 'and it stays available');
    }
  });

  t.test('a stopped call leaves a failed snapshot, and a bad id is refused', async (t) => {
    await t.rejects(catalog.snapshot('green', { id: 'stopped-early', signal: AbortSignal.abort() }), { code: 'PGSHIFT_ERR_SNAPSHOT_ABORTED' });
    t.equal((await catalog.lastSnapshot('green'))?.status, 'failed');
    await t.rejects(catalog.snapshot('green', { id: 'Bad--id' }), { code: 'PGSHIFT_ERR_SNAPSHOT_ID', status: 400 });
    const retried = await catalog.snapshot('green', { id: 'stopped-early' });
    t.equal(retried.status, 'available', 'a failed snapshot is made again under the same id');
    t.ok(existsSync(join(snapshotDir, 'stopped-early', 'globals.sql')));
  });

  t.test('without snapshotDir, snapshots are refused with a coded error', async (t) => {
    const { snapshotDir: _unused, ...rest } = pair;
    const noDir = new PgClusters({ pair: rest as PairConfig });
    await t.rejects(noDir.snapshot('blue'), { code: 'PGSHIFT_ERR_SNAPSHOT_DIR' });
    t.equal(await noDir.lastSnapshot('blue'), null);
  });

  t.test('checks: wrong major, wrong password and a stopped server', async (t) => {
    const wrongMajor: PairConfig = { ...pair, blue: { ...pair.blue, expectedMajor: 12 } };
    const majorReport = await checkClusters({ catalog: new PgClusters({ pair: wrongMajor }), pair: wrongMajor });
    t.match(majorReport.blue.problems, [{ code: 'PGSHIFT_ERR_CLUSTER_MAJOR', message: /expects major 12/ }]);

    const wrongPassword: PairConfig = { ...pair, green: { ...pair.green, login: { user: 'pgshift', password: 'wrong' } } };
    const badLogin = new PgClusters({ pair: wrongPassword });
    t.match(await badLogin.describe('green'), { status: 'unreachable', available: false, version: null, statusDetail: /password authentication failed/ });
    const loginReport = await checkClusters({ catalog: badLogin, pair: wrongPassword });
    t.same(loginReport.green.problems.map((p) => p.code), ['PGSHIFT_ERR_CLUSTER_UNREACHABLE']);
    t.equal(loginReport.blue.ok, true);

    await lab.servers.green.stop();
    t.teardown(() => lab.servers.green.start());
    const stopped = await catalog.describe('green');
    t.match(stopped, { status: 'unreachable', available: false, version: versions.green }, 'the last version seen stays');
    const stoppedReport = await checkClusters({ catalog, pair });
    t.same(stoppedReport.green.problems.map((p) => p.code), ['PGSHIFT_ERR_CLUSTER_UNREACHABLE']);
    t.match(stoppedReport.green.problems[0]?.message, /ECONNREFUSED|connect/);
    await t.rejects(catalog.snapshot('green'), { code: 'PGSHIFT_ERR_CLUSTER_UNAVAILABLE' });
  });
});
