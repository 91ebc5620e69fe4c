import t from 'tap';
import {
  DescribeDBClusterParametersCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterParameterGroupCommand,
  paginateDescribeDBClusterParameters,
  RebootDBInstanceCommand,
} from '@aws-sdk/client-rds';
import * as D from '../../src/defaults.js';
import { awsCli, findAwsCli } from '../helpers/aws-cli.js';
import { startTestLab } from '../helpers/lab.js';
import { standInRds } from '../helpers/rds.js';

/**
 * What the RDS stand-in says of capacity and parameter groups, to the real SDK and the
 * AWS CLI, in RDS's shapes: ServerlessV2ScalingConfiguration, DBClusterParameterGroup,
 * the members' DBClusterParameterGroupStatus, DBInstanceClass, and
 * DescribeDBClusterParameters page by page; and the lab settings that create each case.
 */
t.test('capacity and parameter groups in the RDS stand-in', async (t) => {
  const lab = await startTestLab(t);
  const standIn = lab.rds!;
  const rds = standInRds(standIn.url);
  t.teardown(() => rds.destroy());
  const cluster = async (id: string) => (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters![0]!;
  const instanceClass = async (id: string) =>
    (await rds.send(new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-cluster-id', Values: [id] }] }))).DBInstances!.map((i) => i.DBInstanceClass);

  await t.test("each lab cluster has a group of its own, with logical replication on, as its server runs", async (t) => {
    const blue = await cluster('demo-blue');
    t.equal(blue.DBClusterParameterGroup, 'demo-blue-params');
    t.same(blue.DBClusterMembers?.map((m) => m.DBClusterParameterGroupStatus), ['in-sync']);
    t.equal(blue.ServerlessV2ScalingConfiguration, undefined, 'provisioned');
    t.same(await instanceClass('demo-blue'), [D.LAB_RDS_INSTANCE_CLASS]);

    const pages = [];
    for await (const page of paginateDescribeDBClusterParameters({ client: rds, pageSize: 20 }, { DBClusterParameterGroupName: 'demo-blue-params' })) pages.push(page);
    t.equal(pages.length, 2, 'two pages of at most 20, joined by Marker');
    t.equal(pages[0]!.Parameters!.length, 20);
    const all = pages.flatMap((p) => p.Parameters ?? []);
    const names = all.map((p) => p.ParameterName!);
    t.same(names, [...names].sort(), 'sorted by name, none twice');
    t.equal(new Set(names).size, names.length);
    t.match(all.find((p) => p.ParameterName === 'rds.logical_replication'), {
      ParameterValue: '1',
      Source: 'user',
      ApplyType: 'static',
      DataType: 'boolean',
      IsModifiable: true,
      ApplyMethod: 'pending-reboot',
    });
    t.match(all.find((p) => p.ParameterName === 'max_replication_slots'), { ParameterValue: '20', Source: 'engine-default' });
    const workMem = all.find((p) => p.ParameterName === 'work_mem')!;
    t.equal(workMem.ParameterValue, undefined, 'listed without a value when the engine leaves it unset');
    t.equal(workMem.ApplyType, 'dynamic');

    const user = await rds.send(new DescribeDBClusterParametersCommand({ DBClusterParameterGroupName: 'demo-blue-params', Source: 'user' }));
    t.same(user.Parameters?.map((p) => p.ParameterName), ['rds.logical_replication'], 'Source filters');
    const defaults = await rds.send(new DescribeDBClusterParametersCommand({ DBClusterParameterGroupName: 'default.aurora-postgresql14' }));
    t.match(defaults.Parameters?.find((p) => p.ParameterName === 'rds.logical_replication'), { ParameterValue: '0', Source: 'engine-default' });
  });

  await t.test('refuses what RDS refuses', async (t) => {
    const error = (call: Promise<unknown>) =>
      call.then(
        () => ({ name: 'none', status: 200 }),
        (err: { name: string; $metadata?: { httpStatusCode?: number } }) => ({ name: err.name, status: err.$metadata?.httpStatusCode }),
      );
    t.match(await error(rds.send(new DescribeDBClusterParametersCommand({ DBClusterParameterGroupName: 'nope' }))), {
      name: 'DBParameterGroupNotFoundFault',
      status: 404,
    });
    const modify = (group: string, method: 'immediate' | 'pending-reboot', name = 'rds.logical_replication', value = '1') =>
      rds.send(
        new ModifyDBClusterParameterGroupCommand({ DBClusterParameterGroupName: group, Parameters: [{ ParameterName: name, ParameterValue: value, ApplyMethod: method }] }),
      );
    t.match(await error(modify('default.aurora-postgresql13', 'pending-reboot')), { name: 'InvalidDBParameterGroupStateFault', status: 400 });
    t.match(await error(modify('demo-blue-params', 'immediate')), { name: 'InvalidParameterCombination', status: 400 }, 'a static parameter only with pending-reboot');
    t.match(await error(modify('demo-blue-params', 'pending-reboot', 'no_such_parameter')), { name: 'InvalidParameterValue', status: 400 });
    t.match(await error(modify('demo-blue-params', 'pending-reboot', 'rds.logical_replication', 'yes')), { name: 'InvalidParameterValue', status: 400 });
  });

  await t.test('a static change waits for a reboot; RebootDBInstance applies it', async (t) => {
    const out = await rds.send(
      new ModifyDBClusterParameterGroupCommand({
        DBClusterParameterGroupName: 'demo-green-params',
        Parameters: [{ ParameterName: 'max_wal_senders', ParameterValue: '30', ApplyMethod: 'pending-reboot' }],
      }),
    );
    t.equal(out.DBClusterParameterGroupName, 'demo-green-params');
    t.same((await cluster('demo-green')).DBClusterMembers?.map((m) => m.DBClusterParameterGroupStatus), ['pending-reboot']);
    t.same((await cluster('demo-blue')).DBClusterMembers?.map((m) => m.DBClusterParameterGroupStatus), ['in-sync'], "the other group's cluster is untouched");
    const rebooted = await rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: 'demo-green-instance-1' }));
    t.equal(rebooted.DBInstance?.DBInstanceIdentifier, 'demo-green-instance-1');
    t.same((await cluster('demo-green')).DBClusterMembers?.map((m) => m.DBClusterParameterGroupStatus), ['in-sync']);
    const dynamic = await rds.send(
      new ModifyDBClusterParameterGroupCommand({
        DBClusterParameterGroupName: 'demo-green-params',
        Parameters: [{ ParameterName: 'work_mem', ParameterValue: '8192', ApplyMethod: 'immediate' }],
      }),
    );
    t.ok(dynamic.DBClusterParameterGroupName);
    t.same((await cluster('demo-green')).DBClusterMembers?.map((m) => m.DBClusterParameterGroupStatus), ['in-sync'], 'a dynamic change needs no reboot');
    await standIn.lab.setClusterParameter('demo-green', 'max_wal_senders', undefined, { reboot: true });
    await standIn.lab.setClusterParameter('demo-green', 'work_mem', undefined);
  });

  await t.test('lab settings: Serverless v2 and instance classes', async (t) => {
    await standIn.lab.configureCluster('demo-green', { serverless: { minCapacity: 0.5, maxCapacity: 16 } });
    t.same((await cluster('demo-green')).ServerlessV2ScalingConfiguration, { MinCapacity: 0.5, MaxCapacity: 16 });
    t.same(await instanceClass('demo-green'), ['db.serverless']);
    await standIn.lab.configureCluster('demo-green', { serverless: null, instanceClass: 'db.r6g.2xlarge' });
    t.equal((await cluster('demo-green')).ServerlessV2ScalingConfiguration, undefined);
    t.same(await instanceClass('demo-green'), ['db.r6g.2xlarge']);
    await standIn.lab.configureCluster('demo-green', { instanceClass: null });
    t.same(await instanceClass('demo-green'), [D.LAB_RDS_INSTANCE_CLASS]);
  });

  await t.test('the AWS CLI reads and changes the same', async (t) => {
    const path = findAwsCli();
    if (!path) {
      t.fail("no AWS CLI found: install it (CI installs Debian's awscli at /usr/bin/aws) or put `aws` on PATH");
      return;
    }
    const cli = awsCli(path, standIn.url);
    await standIn.lab.configureCluster('demo-blue', { serverless: { minCapacity: 2, maxCapacity: 8 } });
    t.teardown(() => standIn.lab.configureCluster('demo-blue', { serverless: null }));
    const clusters = await cli.json(['rds', 'describe-db-clusters', '--db-cluster-identifier', 'demo-blue']);
    t.match(clusters.DBClusters[0], {
      DBClusterParameterGroup: 'demo-blue-params',
      ServerlessV2ScalingConfiguration: { MinCapacity: 2, MaxCapacity: 8 },
      DBClusterMembers: [{ DBInstanceIdentifier: 'demo-blue-instance-1', DBClusterParameterGroupStatus: 'in-sync' }],
    });
    const instances = await cli.json(['rds', 'describe-db-instances', '--filters', 'Name=db-cluster-id,Values=demo-blue']);
    t.same(instances.DBInstances.map((i: { DBInstanceClass: string }) => i.DBInstanceClass), ['db.serverless']);
    // The CLI follows Marker itself: every parameter in one answer.
    const params = await cli.json(['rds', 'describe-db-cluster-parameters', '--db-cluster-parameter-group-name', 'demo-blue-params', '--page-size', '20']);
    t.ok(params.Parameters.length > 20, `${params.Parameters.length} parameters over several pages`);
    t.match(params.Parameters.find((p: { ParameterName: string }) => p.ParameterName === 'rds.logical_replication'), { ParameterValue: '1', ApplyType: 'static' });

    const modified = await cli.json([
      'rds', 'modify-db-cluster-parameter-group', '--db-cluster-parameter-group-name', 'demo-blue-params',
      '--parameters', 'ParameterName=max_replication_slots,ParameterValue=40,ApplyMethod=pending-reboot',
    ]);
    t.same(modified, { DBClusterParameterGroupName: 'demo-blue-params' });
    t.equal((await cluster('demo-blue')).DBClusterMembers?.[0]?.DBClusterParameterGroupStatus, 'pending-reboot');
    const rebooted = await cli.json(['rds', 'reboot-db-instance', '--db-instance-identifier', 'demo-blue-instance-1']);
    t.equal(rebooted.DBInstance.DBInstanceIdentifier, 'demo-blue-instance-1');
    t.equal((await cluster('demo-blue')).DBClusterMembers?.[0]?.DBClusterParameterGroupStatus, 'in-sync');
    const refused = await cli.run(['rds', 'modify-db-cluster-parameter-group', '--db-cluster-parameter-group-name', 'default.aurora-postgresql13', '--parameters', 'ParameterName=work_mem,ParameterValue=1,ApplyMethod=immediate']);
    t.not(refused.code, 0);
    t.match(refused.stderr, /InvalidDBParameterGroupState/);
    await standIn.lab.setClusterParameter('demo-blue', 'max_replication_slots', undefined, { reboot: true });
  });
});
