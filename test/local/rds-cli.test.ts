import t from 'tap';
import { labEndpoint } from '../../src/local/lab-endpoints.js';
import { awsCli, findAwsCli } from '../helpers/aws-cli.js';
import { startTestLab } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';

/** Debian's CLI v2 when installed (CI), else whatever `aws` is on PATH (v1 here). */
t.test('the AWS CLI parses the RDS stand-in', async (t) => {
  const cli = findAwsCli();
  if (!cli) {
    t.fail('no AWS CLI found: install it (CI installs Debian\'s awscli at /usr/bin/aws) or put `aws` on PATH');
    return;
  }
  const lab = await startTestLab(t);
  const url = lab.rds!.url;
  const versions = await lab.versions();
  const standIn = awsCli(cli, url);
  const aws = (...args: string[]) => standIn.run(args);
  const json = async (...args: string[]): Promise<any> => standIn.json(args);

  t.test('describe-db-clusters lists both lab clusters', async (t) => {
    const out = await json('rds', 'describe-db-clusters');
    t.same(
      out.DBClusters.map((c: { DBClusterIdentifier: string }) => c.DBClusterIdentifier),
      ['demo-blue', 'demo-green'],
    );
    const blue = out.DBClusters[0];
    t.match(blue, {
      Engine: 'aurora-postgresql',
      EngineVersion: versions.blue,
      Status: 'available',
      Endpoint: labEndpoint('demo-blue', 'writer'),
      ReaderEndpoint: labEndpoint('demo-blue', 'reader'),
      Port: lab.servers.blue.port,
      DBClusterMembers: [{ DBInstanceIdentifier: 'demo-blue-instance-1', IsClusterWriter: true }],
    });
    t.equal(out.DBClusters[1].EngineVersion, versions.green);
    const one = await json('rds', 'describe-db-clusters', '--db-cluster-identifier', 'demo-green', '--filters', 'Name=engine,Values=aurora-postgresql');
    t.equal(one.DBClusters.length, 1);
  });

  t.test('a missing cluster is the service error the CLI knows', async (t) => {
    const missing = await aws('rds', 'describe-db-clusters', '--db-cluster-identifier', 'demo-missing');
    t.not(missing.code, 0);
    t.match(missing.stderr, /An error occurred \(DBClusterNotFoundFault\).*DBCluster demo-missing not found\./);
  });

  t.test('create-db-cluster-snapshot, describe, and wait', async (t) => {
    const created = await json(
      'rds',
      'create-db-cluster-snapshot',
      '--db-cluster-identifier',
      'demo-blue',
      '--db-cluster-snapshot-identifier',
      'cli-snapshot',
      '--tags',
      'Key=made-by,Value=cli',
    );
    t.match(created.DBClusterSnapshot, { DBClusterSnapshotIdentifier: 'cli-snapshot', DBClusterIdentifier: 'demo-blue', Status: 'creating', PercentProgress: 0 });
    const done = await waitFor(
      'the snapshot to be available',
      async () => {
        const out = await json('rds', 'describe-db-cluster-snapshots', '--db-cluster-snapshot-identifier', 'cli-snapshot');
        const snapshot = out.DBClusterSnapshots[0];
        return snapshot.Status === 'available' ? snapshot : undefined;
      },
      60_000,
      200,
    );
    t.match(done, { PercentProgress: 100, EngineVersion: versions.blue, TagList: [{ Key: 'made-by', Value: 'cli' }] });
    const waited = await aws('rds', 'wait', 'db-cluster-snapshot-available', '--db-cluster-snapshot-identifier', 'cli-snapshot');
    t.equal(waited.code, 0, `the CLI waiter accepts the answer: ${waited.stderr}`);
    const duplicate = await aws('rds', 'create-db-cluster-snapshot', '--db-cluster-identifier', 'demo-blue', '--db-cluster-snapshot-identifier', 'cli-snapshot');
    t.match(duplicate.stderr, /DBClusterSnapshotAlreadyExistsFault/);
  });
});
