import t from 'tap';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotsCommand,
  RestoreDBClusterFromSnapshotCommand,
} from '@aws-sdk/client-rds';
import * as D from '../../src/defaults.js';
import { createLogger } from '../../src/log.js';
import { Lab } from '../../src/local/lab.js';
import { withClient } from '../../src/postgres/connect.js';
import { testLabDir } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { rdsError, standInRds } from '../helpers/rds.js';

const STAGING = 'pgshift-rehearsal-r1-blue';
const TAGS = [
  { Key: 'created-by', Value: 'pgshift' },
  { Key: 'pgshift-rehearsal', Value: 'r1' },
];



t.test('RestoreDBClusterFromSnapshot starts a new server of the snapshot\'s major holding the snapshot\'s data', async (t) => {
  const dir = await testLabDir(t);
  const lab = await Lab.start({ dir, log: createLogger({ level: 'silent' }) });
  t.teardown(() => lab.stop());
  const rds = standInRds(lab.rds!.url);
  const blueMajor = lab.servers.blue.major;

  // A row only the snapshot can carry into the new cluster.
  await withClient(lab.target('blue', 'admin'), (c) => c.query(`CREATE TABLE rehearsal_marker (note text); INSERT INTO rehearsal_marker VALUES ('from blue')`));
  await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'demo-blue', DBClusterSnapshotIdentifier: 'blue-for-staging' }));
  await waitFor(
    'the snapshot to be available',
    async () => (await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: 'blue-for-staging' }))).DBClusterSnapshots![0]!.Status === 'available',
    120_000,
    100,
  );
  // Written after the snapshot: the restore must not have it.
  await withClient(lab.target('blue', 'admin'), (c) => c.query(`INSERT INTO rehearsal_marker VALUES ('after the snapshot')`));

  t.test('bad input is refused and makes nothing', async (t) => {
    const base = { DBClusterIdentifier: 'bad-restore', Engine: 'aurora-postgresql', SnapshotIdentifier: 'blue-for-staging' };
    t.match(await rdsError(rds.send(new RestoreDBClusterFromSnapshotCommand({ ...base, SnapshotIdentifier: 'no-such-snapshot' }))), {
      name: 'DBClusterSnapshotNotFoundFault',
    });
    t.match(await rdsError(rds.send(new RestoreDBClusterFromSnapshotCommand({ ...base, EngineVersion: String(blueMajor + 1) }))), {
      name: 'InvalidParameterCombination',
      message: /at its own major/,
    });
    t.match(await rdsError(rds.send(new RestoreDBClusterFromSnapshotCommand({ ...base, DBClusterIdentifier: 'demo-green' }))), {
      name: 'DBClusterAlreadyExistsFault',
    });
    const listed = await rds.send(new DescribeDBClustersCommand({}));
    t.same(listed.DBClusters!.map((c) => c.DBClusterIdentifier), ['demo-blue', 'demo-green']);
  });

  t.test('the restored cluster is creating, then available, tagged, with the data of the snapshot\'s time', async (t) => {
    const started = await rds.send(
      new RestoreDBClusterFromSnapshotCommand({
        DBClusterIdentifier: STAGING,
        SnapshotIdentifier: 'arn:aws:rds:us-east-1:000000000000:cluster-snapshot:blue-for-staging',
        Engine: 'aurora-postgresql',
        Tags: TAGS,
      }),
    );
    t.equal(started.DBCluster!.Status, 'creating');
    const cluster = await waitFor(
      'the restored cluster to be available',
      async () => {
        const c = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: STAGING }))).DBClusters![0]!;
        if (c.Status === 'failed') throw new Error('the restore failed: see the lab log');
        return c.Status === 'available' ? c : undefined;
      },
      120_000,
      100,
    );
    t.equal(cluster.MasterUsername, D.LAB_ADMIN_ROLE, 'the snapshot\'s master user');
    t.same(cluster.TagList, TAGS);
    // A listing carries the tags, which is how RDS lets a caller find its clusters by tag.
    const listed = await rds.send(new DescribeDBClustersCommand({}));
    const mine = listed.DBClusters!.filter((c) => c.TagList?.some((tag) => tag.Key === 'pgshift-rehearsal'));
    t.same(mine.map((c) => c.DBClusterIdentifier), [STAGING]);

    const target = { ...lab.target('blue', 'admin'), endpoint: { host: '127.0.0.1', port: cluster.Port! } };
    const seen = await withClient(target, async (c) => ({
      major: Number((await c.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v.slice(0, 2)),
      notes: (await c.query<{ note: string }>('SELECT note FROM rehearsal_marker')).rows.map((r) => r.note),
      orders: Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM orders')).rows[0]!.n),
      roles: (await c.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname = $1`, [D.LAB_APP_ROLE])).rowCount,
    }));
    const blueOrders = await withClient(lab.target('blue', 'admin'), async (c) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM orders')).rows[0]!.n));
    t.equal(seen.major, blueMajor);
    t.same(seen.notes, ['from blue']);
    t.equal(seen.orders, blueOrders);
    t.equal(seen.roles, 1, 'the roles came with the globals');
    t.not(cluster.Port, lab.servers.blue.port, 'a server of its own');
  });

  t.test('deleting the instance and the cluster stops the server and forgets it', async (t) => {
    await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: `${STAGING}-writer`, DBClusterIdentifier: STAGING, DBInstanceClass: 'db.r6g.large', Engine: 'aurora-postgresql' }));
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: `${STAGING}-writer` }));
    await waitFor(
      'the cluster to accept its deletion',
      async () =>
        rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: STAGING, SkipFinalSnapshot: true })).then(
          () => true,
          (err: Error) => (err.name === 'InvalidDBClusterStateFault' ? false : Promise.reject(err)),
        ),
      30_000,
      100,
    );
    await waitFor(
      'the cluster to be gone',
      async () => !(await rds.send(new DescribeDBClustersCommand({}))).DBClusters!.some((c) => c.DBClusterIdentifier === STAGING),
      60_000,
      100,
    );
    t.pass('gone');
  });
});
