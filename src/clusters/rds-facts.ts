import {
  DescribeDBClustersCommand,
  paginateDescribeDBClusterParameters,
  paginateDescribeDBInstances,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { PgshiftError } from '../errors.js';
import { parseMajor, type RdsClusterFacts, type RdsParameter } from './catalog.js';
import { wrapRdsError } from './rds-errors.js';

/**
 * DescribeDBClusters, DescribeDBInstances (filtered to the cluster) and
 * DescribeDBClusterParameters (every page) for one cluster. The members' classes come
 * from the instances, their parameter group status from the cluster's member list.
 */
export async function describeRdsFacts(client: RDSClient, clusterId: string): Promise<RdsClusterFacts> {
  const doing = (what: string) => `${what} of cluster ${clusterId}`;
  let cluster;
  try {
    cluster = (await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterId }))).DBClusters?.[0];
  } catch (err) {
    throw wrapRdsError(err, doing('describing'));
  }
  if (!cluster) throw new PgshiftError('PGSHIFT_ERR_CLUSTER_NOT_FOUND', `cluster ${clusterId} not found in RDS`, { status: 404 });
  const parameterGroup = cluster.DBClusterParameterGroup ?? '';

  const classes = new Map<string, string>();
  try {
    for await (const page of paginateDescribeDBInstances({ client }, { Filters: [{ Name: 'db-cluster-id', Values: [clusterId] }] })) {
      for (const instance of page.DBInstances ?? []) classes.set(instance.DBInstanceIdentifier ?? '', instance.DBInstanceClass ?? 'unknown');
    }
  } catch (err) {
    throw wrapRdsError(err, doing('describing the instances'));
  }

  const parameters: Record<string, RdsParameter> = {};
  try {
    for await (const page of paginateDescribeDBClusterParameters({ client }, { DBClusterParameterGroupName: parameterGroup })) {
      for (const p of page.Parameters ?? []) {
        if (!p.ParameterName) continue;
        parameters[p.ParameterName] = { value: p.ParameterValue ?? null, applyType: p.ApplyType ?? null, source: p.Source ?? null };
      }
    }
  } catch (err) {
    throw wrapRdsError(err, doing(`reading parameter group ${parameterGroup}`));
  }

  const scaling = cluster.ServerlessV2ScalingConfiguration;
  return {
    clusterId: cluster.DBClusterIdentifier ?? clusterId,
    major: cluster.EngineVersion ? parseMajor(cluster.EngineVersion) : null,
    parameterGroup,
    serverless:
      scaling?.MinCapacity !== undefined && scaling.MaxCapacity !== undefined ? { minCapacity: scaling.MinCapacity, maxCapacity: scaling.MaxCapacity } : null,
    instances: (cluster.DBClusterMembers ?? []).map((m) => ({
      id: m.DBInstanceIdentifier ?? '',
      instanceClass: classes.get(m.DBInstanceIdentifier ?? '') ?? 'unknown',
      writer: m.IsClusterWriter === true,
      parameterGroupStatus: m.DBClusterParameterGroupStatus ?? 'in-sync',
    })),
    parameters,
  };
}
