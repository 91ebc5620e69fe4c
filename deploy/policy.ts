import { REHEARSAL_CLUSTER_PREFIX, SNAPSHOT_ID_PREFIX } from '../src/defaults.js';
import type { DeployParameters } from './parameters.js';

/**
 * The task role's policy, the one source of both the CDK stack's inline policy and
 * deploy/iam-policy.json (for teams without CDK). Written in the shape CDK
 * synthesizes (one action or resource as a string, several as a list), so the JSON
 * file and the template's policy are the same document: test/deploy checks that.
 */
export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** pgshift writes weighted CNAMEs (src/traffic/route53-router.ts) and changes them with UPSERT only. */
export const RECORD_TYPE = 'CNAME';
export const RECORD_ACTION = 'UPSERT';
/** A rehearsal's staging records are its own: created when its staging pair starts, moved, deleted at the end. */
export const REHEARSAL_RECORD_ACTIONS = ['CREATE', 'UPSERT', 'DELETE'];

/**
 * A record name as Route 53's condition key `route53:ChangeResourceRecordSetsNormalizedRecordNames`
 * holds it: lower case, no final dot, and every character but a-z, 0-9, '-' and '_'
 * within a label written as a backslash and three octal digits (e.g. '*' is \052).
 */
export function normalizeRecordName(name: string): string {
  return name
    .toLowerCase()
    .replace(/\.$/, '')
    .split('.')
    .map((label) => label.replace(/[^a-z0-9_-]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`))
    .join('.');
}

function one<T>(values: T[]): T | T[] {
  return values.length === 1 ? values[0]! : values;
}

export function taskRolePolicy(params: DeployParameters): PolicyDocument {
  const zone = `arn:aws:route53:::hostedzone/${params.dns.hostedZoneId}`;
  const rds = `arn:aws:rds:${params.region}:${params.account}`;
  const clusters = [params.clusters.blue.id, params.clusters.green.id].map((id) => `${rds}:cluster:${id.toLowerCase()}`);
  // Every snapshot pgshift names itself: pgshift-<cluster or pair>-<time> (src/clusters/snapshot-id.ts).
  const snapshots = `${rds}:cluster-snapshot:${SNAPSHOT_ID_PREFIX}-*`;
  const names = [...new Set(params.dns.recordNames.map(normalizeRecordName))].sort();
  const groups = [params.clusters.blue.parameterGroup, params.clusters.green.parameterGroup];
  const parameterGroups = groups.every((g) => g !== undefined)
    ? [...new Set(groups.map((g) => `${rds}:cluster-pg:${g!.toLowerCase()}`))]
    : [`${rds}:cluster-pg:*`];
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ShiftWeightsOfThePairsRecords',
        Effect: 'Allow',
        Action: 'route53:ChangeResourceRecordSets',
        Resource: zone,
        Condition: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': one(names),
            'route53:ChangeResourceRecordSetsRecordTypes': RECORD_TYPE,
            'route53:ChangeResourceRecordSetsActions': RECORD_ACTION,
          },
        },
      },
      { Sid: 'WaitForChangesInsync', Effect: 'Allow', Action: 'route53:GetChange', Resource: 'arn:aws:route53:::change/*' },
      { Sid: 'ReadTheZonesRecords', Effect: 'Allow', Action: 'route53:ListResourceRecordSets', Resource: zone },
      { Sid: 'DescribeTheClusters', Effect: 'Allow', Action: 'rds:DescribeDBClusters', Resource: clusters },
      {
        // Listing a cluster's snapshots is authorized on the cluster, reading one by id on the snapshot.
        Sid: 'DescribeTheirSnapshots',
        Effect: 'Allow',
        Action: 'rds:DescribeDBClusterSnapshots',
        Resource: [...clusters, snapshots],
      },
      {
        // Preflight sizes the clusters' instances (classes, readers). DescribeDBInstances with
        // a db-cluster-id filter is authorized on the instances of the account and region, as
        // their names are not known in advance: still no bare "*".
        Sid: 'PreflightSizesTheInstances',
        Effect: 'Allow',
        Action: 'rds:DescribeDBInstances',
        Resource: `${rds}:db:*`,
      },
      {
        // Preflight reads logical replication and behaviour parameters in both clusters' groups.
        Sid: 'PreflightReadsTheParameterGroups',
        Effect: 'Allow',
        Action: 'rds:DescribeDBClusterParameters',
        Resource: one(parameterGroups),
      },
      {
        // CreateDBClusterSnapshot is authorized on both the cluster and the new snapshot; its
        // Tags (created-by: pgshift) need AddTagsToResource on the snapshot as well.
        Sid: 'SnapshotBeforeCutover',
        Effect: 'Allow',
        Action: ['rds:CreateDBClusterSnapshot', 'rds:AddTagsToResource'],
        Resource: [...clusters, snapshots],
      },
      ...(params.rehearsals ? rehearsalStatements(rds, zone, names) : []),
    ],
  };
}

/**
 * What a rehearsal needs beyond the above (deploy parameter `rehearsals: true`): every
 * write and delete is on the staging clusters and their writers only, named
 * `pgshift-rehearsal-*` (src/rehearsal/staging.ts), never on the pair's clusters; on
 * snapshots named `pgshift-rehearsal-*` (the staging pair's cutover snapshots); and on
 * the staging pair's records, `pgshift-rehearsal-<id>.<name>` for each of the pair's
 * names (src/rehearsal/runner.ts stagingRecordNames). The snapshot restored may be one
 * the operator names, so it is any of the account's; a restore only reads it.
 */
function rehearsalStatements(rds: string, zone: string, names: string[]): PolicyStatement[] {
  const stagingClusters = `${rds}:cluster:${REHEARSAL_CLUSTER_PREFIX}*`;
  const stagingInstances = `${rds}:db:${REHEARSAL_CLUSTER_PREFIX}*`;
  const stagingSnapshots = `${rds}:cluster-snapshot:${REHEARSAL_CLUSTER_PREFIX}*`;
  // StringLike's `*` is a wildcard here, not a name's character: it is not octal-escaped as a name's `*` would be.
  const stagingNames = names.map((name) => `${REHEARSAL_CLUSTER_PREFIX}*.${name}`);
  // Creating a cluster or instance is also authorized on the groups it is placed in.
  const groups = [`${rds}:cluster-pg:*`, `${rds}:subgrp:*`, `${rds}:pg:*`];
  return [
    {
      // The start of every process looks for staging clusters a crash left: a listing.
      Sid: 'RehearsalFindsStagingClusters',
      Effect: 'Allow',
      Action: ['rds:DescribeDBClusters', 'rds:ListTagsForResource'],
      Resource: [`${rds}:cluster:*`, stagingInstances],
    },
    {
      Sid: 'RehearsalRestoresBlueAsStagingBlue',
      Effect: 'Allow',
      Action: 'rds:RestoreDBClusterFromSnapshot',
      Resource: [stagingClusters, `${rds}:cluster-snapshot:*`, ...groups],
    },
    {
      Sid: 'RehearsalCreatesStagingClusters',
      Effect: 'Allow',
      Action: ['rds:CreateDBCluster', 'rds:CreateDBInstance', 'rds:AddTagsToResource'],
      Resource: [stagingClusters, stagingInstances, ...groups],
    },
    {
      Sid: 'RehearsalDeletesStagingClusters',
      Effect: 'Allow',
      Action: ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'],
      Resource: [stagingClusters, stagingInstances],
    },
    {
      // The clean-up lists each staging cluster's snapshots (authorized on the cluster) and reads them.
      Sid: 'RehearsalListsStagingSnapshots',
      Effect: 'Allow',
      Action: 'rds:DescribeDBClusterSnapshots',
      Resource: [stagingClusters, stagingSnapshots],
    },
    {
      // The staging pair's cutover snapshots outlive its clusters unless deleted; the code deletes
      // only those whose source is a staging cluster, never the snapshot of blue a rehearsal takes.
      Sid: 'RehearsalDeletesStagingSnapshots',
      Effect: 'Allow',
      Action: 'rds:DeleteDBClusterSnapshot',
      Resource: stagingSnapshots,
    },
    {
      // The staging pair's own weighted records, one label under each of the pair's names.
      Sid: 'RehearsalChangesStagingRecords',
      Effect: 'Allow',
      Action: 'route53:ChangeResourceRecordSets',
      Resource: zone,
      Condition: {
        'ForAllValues:StringLike': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': one(stagingNames),
        },
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsRecordTypes': RECORD_TYPE,
          'route53:ChangeResourceRecordSetsActions': REHEARSAL_RECORD_ACTIONS,
        },
      },
    },
  ];
}
