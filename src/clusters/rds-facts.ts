import {
  DescribeDBClustersCommand,
  paginateDescribeDBClusterParameters,
  paginateDescribeDBInstances,
  type RDSClient,
} from '@aws-sdk/client-rds';
import Type from 'typebox';
import { PgshiftError } from '../errors.js';
import { parseMajor } from './catalog.js';
import { wrapRdsError } from './rds-errors.js';

/**
 * What only RDS knows of a cluster, for preflight: the capacity of its instances (their
 * classes, the Serverless v2 ACU range), its DB cluster parameter group with every
 * parameter's value, and whether a change of that group waits for a reboot. Crosses the
 * boundary from AWS, so it is a schema.
 */
export const RdsParameterSchema = Type.Object({
  /** Null: the group lists the parameter without a value (PostgreSQL's own default). */
  value: Type.Union([Type.String(), Type.Null()]),
  /** `static` (a reboot applies a change) or `dynamic`. */
  applyType: Type.Union([Type.String(), Type.Null()]),
  /** `user` when the group sets it, `engine-default` or `system` otherwise. */
  source: Type.Union([Type.String(), Type.Null()]),
});
export type RdsParameter = Type.Static<typeof RdsParameterSchema>;

export const RdsInstanceFactsSchema = Type.Object({
  id: Type.String(),
  instanceClass: Type.String(),
  writer: Type.Boolean(),
  /** The member's DBClusterParameterGroupStatus: `in-sync`, `pending-reboot`, `applying`. */
  parameterGroupStatus: Type.String(),
});
export type RdsInstanceFacts = Type.Static<typeof RdsInstanceFactsSchema>;

export const RdsClusterFactsSchema = Type.Object({
  clusterId: Type.String(),
  major: Type.Union([Type.Integer(), Type.Null()]),
  parameterGroup: Type.String(),
  /** ACUs; null for a cluster without ServerlessV2ScalingConfiguration. */
  serverless: Type.Union([Type.Object({ minCapacity: Type.Number(), maxCapacity: Type.Number() }), Type.Null()]),
  instances: Type.Array(RdsInstanceFactsSchema),
  parameters: Type.Record(Type.String(), RdsParameterSchema),
});
export type RdsClusterFacts = Type.Static<typeof RdsClusterFactsSchema>;

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
