import t, { type Test } from 'tap';
import pg from 'pg';
import { CreateDBClusterSnapshotCommand, DescribeDBClusterSnapshotsCommand, DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { createSnapshotId } from '../../src/clusters/snapshot-id.js';
import * as D from '../../src/defaults.js';
import type { Lab } from '../../src/local/lab.js';
import { clientConfig } from '../../src/postgres/connect.js';
import { createStagingBlue, createStagingGreen, removeStagingClusters, stagingIds, sweepStagingClusters } from '../../src/rehearsal/staging.js';
import { startTestLab, testLogger } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { standInRds } from '../helpers/rds.js';

const POLL = { pollMinMs: 50, pollMaxMs: 200 };


async function snapshotIds(rds: RDSClient): Promise<string[]> {
  const out = await rds.send(new DescribeDBClusterSnapshotsCommand({}));
  return (out.DBClusterSnapshots ?? []).map((s) => s.DBClusterSnapshotIdentifier!).sort();
}

async function takeSnapshot(rds: RDSClient, clusterId: string, id: string): Promise<string> {
  await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: clusterId, DBClusterSnapshotIdentifier: id, Tags: [{ Key: 'created-by', Value: 'pgshift' }] }));
  return id;
}

async function waitAvailable(rds: RDSClient, id: string): Promise<void> {
  await waitFor(
    `snapshot ${id} to be available`,
    async () => {
      const status = (await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }))).DBClusterSnapshots?.[0]?.Status;
      if (status === 'failed') throw new Error(`snapshot ${id} failed`);
      return status === 'available';
    },
    120_000,
  );
}

/** A session on a staging cluster holding an exclusive lock on orders: pg_dump (the stand-in's snapshot) waits for it, so the snapshot stays creating. */
async function holdDump(t: Test, lab: Lab, rds: RDSClient, clusterId: string): Promise<pg.Client> {
  const port = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterId }))).DBClusters![0]!.Port!;
  const holder = new pg.Client(clientConfig({ ...lab.target('blue', 'admin'), endpoint: { host: '127.0.0.1', port } }));
  holder.on('error', () => {});
  await holder.connect();
  t.teardown(() => holder.end().catch(() => {}));
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
  return holder;
}

async function dumpWaiting(holder: pg.Client): Promise<boolean> {
  const { rows } = await holder.query<{ n: string }>(`SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND relation = 'orders'::regclass`);
  return Number(rows[0]!.n) > 0;
}

t.test('removing a rehearsal\'s staging clusters deletes their snapshots and no other', async (t) => {
  const lab = await startTestLab(t, { green: 'empty' });
  const rds = standInRds(lab.rds!.url);
  t.teardown(() => rds.destroy());
  const log = testLogger();
  const versions = await lab.versions();
  const now = Date.now();

  // What a rehearsal restores: a snapshot of the real blue, named pgshift-rehearsal-<id>-... (runner.ts pickSnapshot).
  const ofRealBlue = await takeSnapshot(rds, 'demo-blue', createSnapshotId('rehearsal-r1', now));
  t.ok(ofRealBlue.startsWith(`${D.REHEARSAL_CLUSTER_PREFIX}r1-`), ofRealBlue);
  await waitAvailable(rds, ofRealBlue);
  // A snapshot named exactly like a staging cutover snapshot, of the real green: its source decides, not its name.
  const lookAlike = await takeSnapshot(rds, 'demo-green', createSnapshotId('rehearsal-r1-demo-green-cutover', now));
  await waitAvailable(rds, lookAlike);

  const staging = (rehearsalId: string) => ({ client: rds, rehearsalId, log, ...POLL });
  const restore = (rehearsalId: string) =>
    createStagingBlue({
      ...staging(rehearsalId),
      snapshotId: ofRealBlue,
      engineVersion: versions.blue,
      instance: { instanceClass: 'db.r6g.large' },
      adminLogin: lab.target('blue', 'admin').login,
    });

  t.test('the cutover snapshots of both staging clusters go, one still creating is waited for', async (t) => {
    const ids = stagingIds('r1');
    await Promise.all([
      restore('r1'),
      createStagingGreen({ ...staging('r1'), spec: { engineVersion: versions.green, instanceClass: 'db.r6g.large' }, adminLogin: lab.target('green', 'admin').login }),
    ]);
    // The controller's cutover snapshots: forward of staging blue, back of staging green (label <staging pair id>-<side>-cutover).
    const forward = await takeSnapshot(rds, ids.blue, createSnapshotId('rehearsal-r1-demo-blue-cutover', now));
    const back = await takeSnapshot(rds, ids.green, createSnapshotId('rehearsal-r1-demo-green-cutover', now + 60_000));
    await Promise.all([waitAvailable(rds, forward), waitAvailable(rds, back)]);
    // A cutover cut short: its snapshot of staging blue is still creating when the clean-up starts.
    const holder = await holdDump(t, lab, rds, ids.blue);
    const cutShort = await takeSnapshot(rds, ids.blue, createSnapshotId('rehearsal-r1-demo-blue-cutover', now + 120_000));
    await waitFor('the cut-short snapshot\'s dump to wait for the lock', () => dumpWaiting(holder));

    const removing = removeStagingClusters(staging('r1'));
    // Both staging clusters' finished snapshots are deleted in the first pass, which also saw the one creating.
    await waitFor('the finished staging snapshots to be deleted', async () => {
      const left = await snapshotIds(rds);
      return !left.includes(forward) && !left.includes(back);
    }, 60_000);
    t.ok((await snapshotIds(rds)).includes(cutShort), 'the creating one is not deleted while it is creating');
    const clusters = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters!.map((c) => c.DBClusterIdentifier);
    t.ok(clusters.includes(ids.blue), 'nor is its cluster, while its snapshot is being made');
    await holder.query('COMMIT');

    const result = await removing;
    t.same(result.failed, []);
    t.same(result.removed, [ids.blue, ids.green]);
    t.same(result.snapshotsRemoved, [back, cutShort, forward].sort());
    t.same(await snapshotIds(rds), [lookAlike, ofRealBlue].sort(), 'the real clusters\' snapshots are kept, pgshift-rehearsal-* names and all');
    const after = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters!.map((c) => c.DBClusterIdentifier);
    t.same(after, ['demo-blue', 'demo-green']);

    const again = await removeStagingClusters(staging('r1'));
    t.same(again, { removed: [], failed: [], snapshotsRemoved: [] }, 'a second clean-up finds nothing to do');
  });

  t.test('a snapshot still creating when the wait ends is reported, not deleted', async (t) => {
    const ids = stagingIds('r2');
    await restore('r2');
    const holder = await holdDump(t, lab, rds, ids.blue);
    const stuck = await takeSnapshot(rds, ids.blue, createSnapshotId('rehearsal-r2-demo-blue-cutover', now));
    await waitFor('the stuck snapshot\'s dump to wait for the lock', () => dumpWaiting(holder));

    const result = await removeStagingClusters({ ...staging('r2'), snapshotWaitMs: 300 });
    t.same(result.snapshotsRemoved, []);
    t.match(result.failed, [{ clusterId: ids.blue, snapshotId: stuck, error: /still creating after 0\.3 s: not deleted/ }]);
    t.same(result.removed, [ids.blue], 'the cluster goes all the same: it costs more than a snapshot');
    t.ok((await snapshotIds(rds)).includes(stuck), 'the snapshot is left');
    // The stand-in's dump died with the cluster's server: a failed snapshot, which a later clean-up may delete.
    await waitFor('the stuck snapshot to end', async () => {
      const s = (await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: stuck }))).DBClusterSnapshots?.[0];
      return s?.Status !== 'creating';
    }, 60_000);
    const later = await removeStagingClusters(staging('r2'));
    t.same(later.snapshotsRemoved, [stuck], 'the snapshot of a staging cluster already deleted is still found by its source');
    t.same(await snapshotIds(rds), [lookAlike, ofRealBlue].sort());
  });

  t.test('the sweep after a crash deletes the staging snapshots too', async (t) => {
    const ids = stagingIds('r3');
    await restore('r3');
    const forward = await takeSnapshot(rds, ids.blue, createSnapshotId('rehearsal-r3-demo-blue-cutover', now));
    await waitAvailable(rds, forward);

    const removed = await sweepStagingClusters({ client: rds, owned: (id) => id !== 'r3', log });
    t.same(removed, [ids.blue]);
    t.same(await snapshotIds(rds), [lookAlike, ofRealBlue].sort(), 'the staging snapshot is gone, the real blue\'s is kept');
  });
});
