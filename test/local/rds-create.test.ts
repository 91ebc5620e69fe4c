import t from 'tap';
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { AddTagsToResourceCommand, CreateDBClusterCommand, CreateDBInstanceCommand, DescribeDBClustersCommand, ListTagsForResourceCommand } from '@aws-sdk/client-rds';
import { buildConnectTarget } from '../../src/clusters/dial.js';
import { createGreenStep, ensureGreenCluster, greenWriterId, removeGreenCluster } from '../../src/clusters/green-creator.js';
import type { CreateGreenConfig, Login } from '../../src/config/schema.js';
import { isPgshiftError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { Lab } from '../../src/local/lab.js';
import { LAB_DOMAIN } from '../../src/local/lab-endpoints.js';
import { withClient } from '../../src/postgres/connect.js';
import type { PreparationContext, StepDetail } from '../../src/shift/ports.js';
import { awsCli, findAwsCli } from '../helpers/aws-cli.js';
import { testLabDir } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { rdsError, standInRds } from '../helpers/rds.js';

const PAIR = 'orders';
const CLUSTER = 'orders-green-new';
const MASTER: Login = { user: 'green_admin', password: 'Gr33n-master-pw!x' };
const HOST_OVERRIDES = { [`*.${LAB_DOMAIN}`]: '127.0.0.1' };
const FAST = { pollMinMs: 50, pollMaxMs: 300, timeoutMs: 120_000 };


/** Every log line the lab and pgshift write in this file, to prove the master password is in none. */
const logLines: string[] = [];
const log = createLogger(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  }),
);

/** A preparation context as the executor gives one: notes are merged into the detail. */
function stepContext(detail: StepDetail = {}): PreparationContext & { notes: StepDetail[] } {
  const notes: StepDetail[] = [];
  return {
    detail,
    notes,
    async note(more) {
      notes.push(more);
      Object.assign(detail, more);
    },
    signal: new AbortController().signal,
    progress: () => undefined,
  };
}


t.test('pgshift creates green through the RDS stand-in', async (t) => {
  const cli = findAwsCli();
  if (!cli) {
    t.fail('no AWS CLI found: install it (apt-get install -y awscli) or put `aws` on PATH');
    return;
  }
  const dir = await testLabDir(t);
  let lab = await Lab.start({ dir, log });
  t.teardown(() => lab.stop());
  const greenMajor = lab.servers.green.major;
  const spec: CreateGreenConfig = {
    engineVersion: `${greenMajor}.12`,
    dbClusterParameterGroup: 'pgshift-logical-replication',
    instanceClass: 'db.r6g.large',
    tags: { team: 'orders' },
  };
  let rds = standInRds(lab.rds!.url);
  let aws = awsCli(cli, lab.rds!.url);
  const step = () => createGreenStep({ pairId: PAIR, clusterId: CLUSTER, spec, adminLogin: MASTER, client: rds, log, ...FAST });
  const masterTarget = (endpoint: { host: string; port: number }) =>
    buildConnectTarget(endpoint, { login: MASTER, database: 'postgres', hostOverrides: HOST_OVERRIDES });
  let detail: StepDetail = {};

  t.test('the stand-in refuses bad CreateDBCluster and CreateDBInstance input as RDS does', async (t) => {
    const base = { DBClusterIdentifier: 'bad-input', Engine: 'aurora-postgresql', EngineVersion: spec.engineVersion, MasterUsername: 'admin_user', MasterUserPassword: 'long-enough-pw' };
    const noVersion = await rdsError(rds.send(new CreateDBClusterCommand({ ...base, EngineVersion: undefined })));
    t.match(noVersion, { name: 'MissingParameter', message: /EngineVersion/ });
    const duplicate = await rdsError(rds.send(new CreateDBClusterCommand({ ...base, DBClusterIdentifier: 'demo-blue' })));
    t.match(duplicate, { name: 'DBClusterAlreadyExistsFault' });
    const unknownMajor = await rdsError(rds.send(new CreateDBClusterCommand({ ...base, EngineVersion: '9.6' })));
    t.match(unknownMajor, { name: 'InvalidParameterCombination', message: /Cannot find version 9\.6/ });
    const badPassword = 'has@sign-in-it';
    const password = await rdsError(rds.send(new CreateDBClusterCommand({ ...base, MasterUserPassword: badPassword })));
    t.match(password, { name: 'InvalidParameterValue', message: /MasterUserPassword is not a valid password/ });
    t.notMatch(password.message, badPassword, 'the password is not echoed');
    const engine = await rdsError(rds.send(new CreateDBClusterCommand({ ...base, Engine: 'mysql' })));
    t.match(engine, { name: 'InvalidParameterValue', message: /Invalid DB engine: mysql/ });
    const acu = await rdsError(
      rds.send(new CreateDBClusterCommand({ ...base, ServerlessV2ScalingConfiguration: { MinCapacity: 8, MaxCapacity: 4 } })),
    );
    t.match(acu, { name: 'InvalidParameterCombination', message: /MinCapacity 8 must not exceed MaxCapacity 4/ });
    const badId = await rdsError(rds.send(new CreateDBClusterCommand({ ...base, DBClusterIdentifier: 'ends-with-' })));
    t.match(badId, { name: 'InvalidParameterValue', message: /not a valid identifier/ });
    const orphan = await rdsError(
      rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'orphan-1', DBClusterIdentifier: 'no-such-cluster', DBInstanceClass: 'db.r6g.large', Engine: 'aurora-postgresql' })),
    );
    t.match(orphan, { name: 'DBClusterNotFoundFault' });
    // Nothing was made by the refused calls.
    const listed = await aws.json(['rds', 'describe-db-clusters']);
    t.same(listed.DBClusters.map((c: { DBClusterIdentifier: string }) => c.DBClusterIdentifier), ['demo-blue', 'demo-green']);
  });

  t.test('the create-green step creates the cluster and its writer, tagged, and waits until available', async (t) => {
    const ctx = stepContext();
    const result = (await step().run(ctx)) as StepDetail;
    t.same(ctx.notes, [{ creating: CLUSTER }], 'noted before creating');
    t.match(result, { created: true, clusterId: CLUSTER, instanceId: greenWriterId(CLUSTER), engineVersion: spec.engineVersion });
    detail = { ...ctx.detail, ...result };

    const out = await aws.json(['rds', 'describe-db-clusters', '--db-cluster-identifier', CLUSTER]);
    const cluster = out.DBClusters[0];
    t.match(cluster, {
      DBClusterIdentifier: CLUSTER,
      Status: 'available',
      Engine: 'aurora-postgresql',
      EngineVersion: spec.engineVersion,
      MasterUsername: MASTER.user,
      DBClusterParameterGroup: 'pgshift-logical-replication',
      DBClusterMembers: [{ DBInstanceIdentifier: `${CLUSTER}-writer`, IsClusterWriter: true }],
    });
    t.same(
      Object.fromEntries(cluster.TagList.map((tag: { Key: string; Value: string }) => [tag.Key, tag.Value])),
      { 'pgshift:pair': PAIR, 'pgshift:role': 'green', team: 'orders' },
      'the CLI sees its tags',
    );
    const instances = await aws.json(['rds', 'describe-db-instances', '--filters', `Name=db-cluster-id,Values=${CLUSTER}`]);
    t.match(instances.DBInstances, [
      { DBInstanceIdentifier: `${CLUSTER}-writer`, DBInstanceClass: 'db.r6g.large', DBInstanceStatus: 'available', DBClusterIdentifier: CLUSTER, Endpoint: { Port: cluster.Port } },
    ]);
    const tags = await aws.json(['rds', 'list-tags-for-resource', '--resource-name', cluster.DBClusterArn]);
    t.equal(tags.TagList.length, 3);
    const added = await aws.run(['rds', 'add-tags-to-resource', '--resource-name', cluster.DBClusterArn, '--tags', 'Key=owner,Value=dba']);
    t.equal(added.code, 0, added.stderr);
    const after = await aws.json(['rds', 'list-tags-for-resource', '--resource-name', cluster.DBClusterArn]);
    t.match(after.TagList, [{}, {}, {}, { Key: 'owner', Value: 'dba' }]);
    // The SDK reads the answer without a result element, and a key given again takes the new value.
    await rds.send(new AddTagsToResourceCommand({ ResourceName: cluster.DBClusterArn, Tags: [{ Key: 'owner', Value: 'platform' }] }));
    const sdkTags = await rds.send(new ListTagsForResourceCommand({ ResourceName: cluster.DBClusterArn }));
    t.match(sdkTags.TagList, [{}, {}, {}, { Key: 'owner', Value: 'platform' }]);

    // Its endpoint answers, through the lab's host overrides, as the master user, on green's major.
    const answer = await withClient(masterTarget({ host: cluster.Endpoint, port: cluster.Port }), async (c) =>
      (await c.query<{ v: string; u: string; su: string }>(`SELECT current_setting('server_version') AS v, current_user AS u, current_setting('is_superuser') AS su`)).rows[0]!,
    );
    t.equal(Number(answer.v.split('.')[0]), greenMajor);
    t.equal(answer.u, MASTER.user);
    t.not(cluster.Port, lab.servers.green.port, 'a server of its own, not the lab\'s green');
  });

  t.test('running again adopts the cluster', async (t) => {
    const ctx = stepContext();
    const again = (await step().run(ctx)) as StepDetail;
    t.same(ctx.notes, [], 'nothing to note: no creation');
    t.match(again, { created: false, clusterId: CLUSTER });
    const direct = await ensureGreenCluster({ client: rds, pairId: PAIR, clusterId: CLUSTER, spec, adminLogin: MASTER, ...FAST });
    t.match(direct, { created: false, instanceCreated: false, ours: true });
    // A resumed run after a crash between the note and the end still knows it created green.
    const resumed = (await step().run(stepContext({ creating: CLUSTER }))) as StepDetail;
    t.equal(resumed.created, true);
  });

  t.test('adopting checks the engine major', async (t) => {
    const wrong = await ensureGreenCluster({ client: rds, pairId: PAIR, clusterId: 'demo-blue', spec, adminLogin: MASTER, ...FAST }).catch((err: unknown) => err);
    t.ok(isPgshiftError(wrong, 'PGSHIFT_ERR_GREEN_MAJOR'), String(wrong));
    t.equal((wrong as { details: { final: boolean } }).details.final, true);
  });

  t.test('a lab restart brings the created cluster back', async (t) => {
    await lab.stop();
    lab = await Lab.start({ dir, log });
    rds = standInRds(lab.rds!.url);
    aws = awsCli(cli, lab.rds!.url);
    const cluster = await waitFor(
      'the created cluster to be available again',
      async () => {
        const out = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: CLUSTER }));
        return out.DBClusters![0]!.Status === 'available' ? out.DBClusters![0]! : undefined;
      },
      60_000,
      100,
    );
    t.match(cluster.TagList, [{ Key: 'pgshift:pair', Value: PAIR }, {}, {}, { Key: 'owner' }]);
    const major = await withClient(masterTarget({ host: cluster.Endpoint!, port: cluster.Port! }), async (c) =>
      Number((await c.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v.slice(0, 2)),
    );
    t.equal(major, greenMajor);
  });

  t.test('removing refuses a cluster pgshift did not create', async (t) => {
    const lab1 = await removeGreenCluster({ client: rds, pairId: PAIR, clusterId: 'demo-green', ...FAST }).catch((err: unknown) => err);
    t.ok(isPgshiftError(lab1, 'PGSHIFT_ERR_GREEN_NOT_OURS'), String(lab1));
    const otherPair = await removeGreenCluster({ client: rds, pairId: 'billing', clusterId: CLUSTER, ...FAST }).catch((err: unknown) => err);
    t.ok(isPgshiftError(otherPair, 'PGSHIFT_ERR_GREEN_NOT_OURS'), 'another pair\'s tag is not enough');
    const still = await aws.json(['rds', 'describe-db-clusters', '--db-cluster-identifier', CLUSTER]);
    t.equal(still.DBClusters[0].Status, 'available');
    // An undo whose detail says the step did not create green leaves it alone.
    await step().undo!({ created: false, clusterId: CLUSTER }, new AbortController().signal);
    t.equal((await aws.json(['rds', 'describe-db-clusters', '--db-cluster-identifier', CLUSTER])).DBClusters[0].Status, 'available');
  });

  t.test('undo deletes what the step created, and stops its server', async (t) => {
    const before = (await aws.json(['rds', 'describe-db-clusters', '--db-cluster-identifier', CLUSTER])).DBClusters[0];
    const target = masterTarget({ host: before.Endpoint, port: before.Port });
    await step().undo!(detail, new AbortController().signal);
    const gone = await aws.run(['rds', 'describe-db-clusters', '--db-cluster-identifier', CLUSTER]);
    t.not(gone.code, 0);
    t.match(gone.stderr, /DBClusterNotFoundFault/);
    const noInstance = await aws.run(['rds', 'describe-db-instances', '--db-instance-identifier', `${CLUSTER}-writer`]);
    t.match(noInstance.stderr, /DBInstanceNotFound/);
    const refused = await withClient(target, (c) => c.query('SELECT 1')).then(
      () => null,
      (err: Error) => err,
    );
    t.ok(refused, 'its server no longer answers');
    t.notOk(existsSync(`${dir}/servers/rds-${CLUSTER}`), 'its data is removed');
    // Idempotent.
    await step().undo!(detail, new AbortController().signal);
    t.same(await removeGreenCluster({ client: rds, pairId: PAIR, clusterId: CLUSTER, ...FAST }), { removed: false });
  });

  t.test('the AWS CLI creates and deletes a Serverless v2 cluster', async (t) => {
    const id = 'cli-serverless';
    const created = await aws.json([
      'rds', 'create-db-cluster',
      '--db-cluster-identifier', id,
      '--engine', 'aurora-postgresql',
      '--engine-version', spec.engineVersion,
      '--master-username', 'cli_admin',
      '--master-user-password', 'cli-master-pw',
      '--serverless-v2-scaling-configuration', 'MinCapacity=0.5,MaxCapacity=4',
      '--tags', 'Key=made-by,Value=cli',
    ]);
    t.match(created.DBCluster, { DBClusterIdentifier: id, Status: 'creating', ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 } });
    const duplicate = await aws.run(['rds', 'create-db-cluster', '--db-cluster-identifier', id, '--engine', 'aurora-postgresql', '--engine-version', spec.engineVersion, '--master-username', 'x_admin', '--master-user-password', 'cli-master-pw']);
    t.match(duplicate.stderr, /DBClusterAlreadyExistsFault/);
    const instance = await aws.json(['rds', 'create-db-instance', '--db-instance-identifier', `${id}-1`, '--db-cluster-identifier', id, '--engine', 'aurora-postgresql', '--db-instance-class', 'db.serverless']);
    t.match(instance.DBInstance, { DBInstanceIdentifier: `${id}-1`, DBInstanceClass: 'db.serverless' });
    await waitFor(
      'the CLI cluster to be available',
      async () => (await aws.json(['rds', 'describe-db-clusters', '--db-cluster-identifier', id])).DBClusters[0].Status === 'available',
      60_000,
      200,
    );
    const busy = await aws.run(['rds', 'delete-db-cluster', '--db-cluster-identifier', id, '--skip-final-snapshot']);
    t.match(busy.stderr, /InvalidDBClusterStateFault.*still contains DB instances/);
    const noSnapshot = await aws.run(['rds', 'delete-db-instance', '--db-instance-identifier', 'demo-blue-instance-1']);
    t.not(noSnapshot.code, 0, 'the lab\'s own instances cannot be deleted');
    const deleting = await aws.json(['rds', 'delete-db-instance', '--db-instance-identifier', `${id}-1`]);
    t.equal(deleting.DBInstance.DBInstanceStatus, 'deleting');
    await waitFor(
      'the instance to be gone',
      async () => (await aws.run(['rds', 'describe-db-instances', '--db-instance-identifier', `${id}-1`])).code !== 0,
      30_000,
      100,
    );
    const needsSkip = await aws.run(['rds', 'delete-db-cluster', '--db-cluster-identifier', id]);
    t.match(needsSkip.stderr, /FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot/);
    const deleted = await aws.json(['rds', 'delete-db-cluster', '--db-cluster-identifier', id, '--skip-final-snapshot']);
    t.equal(deleted.DBCluster.Status, 'deleting');
    await waitFor(
      'the cluster to be gone',
      async () => (await aws.run(['rds', 'describe-db-clusters', '--db-cluster-identifier', id])).code !== 0,
      30_000,
      100,
    );
  });

  t.test('the master password is in no log line', async (t) => {
    t.ok(logLines.length > 0);
    for (const secret of [MASTER.password, 'cli-master-pw']) {
      t.notOk(logLines.some((line) => line.includes(secret)), `${secret.length}-character password not logged`);
    }
  });
});
