import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import * as D from '../../src/defaults.js';
import { labEndpoint } from '../../src/local/lab-endpoints.js';
import { startTestLab } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';

/** Debian's CLI v2 when installed (CI), else whatever `aws` is on PATH (v1 here). */
function findAwsCli(): string | null {
  if (existsSync('/usr/bin/aws')) return '/usr/bin/aws';
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, 'aws'))) return join(dir, 'aws');
  }
  return null;
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runAws(cli: string, endpoint: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      cli,
      ['--endpoint-url', endpoint, '--output', 'json', ...args],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: D.LAB_AWS_ACCESS_KEY_ID,
          AWS_SECRET_ACCESS_KEY: D.LAB_AWS_SECRET_ACCESS_KEY,
          AWS_DEFAULT_REGION: 'us-east-1',
          AWS_REGION: 'us-east-1',
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_PAGER: '',
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          AWS_MAX_ATTEMPTS: '1',
        },
        timeout: 60_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

t.test('the AWS CLI parses the RDS stand-in', async (t) => {
  const cli = findAwsCli();
  if (!cli) {
    t.fail('no AWS CLI found: install it (CI installs Debian\'s awscli at /usr/bin/aws) or put `aws` on PATH');
    return;
  }
  const lab = await startTestLab(t);
  const url = lab.rds!.url;
  const versions = await lab.versions();
  const aws = (...args: string[]) => runAws(cli, url, args);
  const json = async (...args: string[]) => {
    const result = await aws(...args);
    if (result.code !== 0) throw new Error(`aws ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
    return JSON.parse(result.stdout);
  };

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
