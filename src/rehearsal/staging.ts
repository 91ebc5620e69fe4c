import { paginateDescribeDBClusters, RestoreDBClusterFromSnapshotCommand, type RDSClient, type Tag } from '@aws-sdk/client-rds';
import type { Clock } from '../clock.js';
import * as D from '../defaults.js';
import type { CreateGreenConfig, Login } from '../config/schema.js';
import { describeError, isPgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import { AURORA_POSTGRESQL, ensureGreenCluster, greenTags, PAIR_TAG, removeGreenCluster, type GreenClusterResult } from '../clusters/green-creator.js';
import { wrapRdsError } from '../clusters/rds-errors.js';

/** Every staging cluster carries it, valued with its rehearsal's id: how a later start finds what a crash left. */
export const REHEARSAL_TAG = 'pgshift-rehearsal';
export const CREATED_BY_TAG = 'created-by';

export interface StagingIds {
  blue: string;
  green: string;
}

export function stagingIds(rehearsalId: string): StagingIds {
  return { blue: `${D.REHEARSAL_CLUSTER_PREFIX}${rehearsalId}-blue`, green: `${D.REHEARSAL_CLUSTER_PREFIX}${rehearsalId}-green` };
}

/**
 * The `pgshift:pair` value of a rehearsal's clusters: removeGreenCluster deletes only a
 * cluster tagged so, and no real pair's id can take this form (pair ids name no
 * rehearsal), so the clean-up can never delete a real pair's green.
 */
export function stagingOwner(rehearsalId: string): string {
  return `rehearsal-${rehearsalId}`;
}

export interface StagingOptions {
  client: RDSClient;
  rehearsalId: string;
  clock?: Clock;
  log: Logger;
  signal?: AbortSignal;
  pollMinMs?: number;
  pollMaxMs?: number;
}

function stagingSpec(rehearsalId: string, spec: Omit<CreateGreenConfig, 'tags'>, tags: Record<string, string> = {}): CreateGreenConfig {
  return { ...spec, tags: { ...tags, [CREATED_BY_TAG]: 'pgshift', [REHEARSAL_TAG]: rehearsalId } };
}

function pollOptions(options: StagingOptions) {
  return {
    client: options.client,
    pairId: stagingOwner(options.rehearsalId),
    log: options.log,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.pollMinMs === undefined ? {} : { pollMinMs: options.pollMinMs }),
    ...(options.pollMaxMs === undefined ? {} : { pollMaxMs: options.pollMaxMs }),
  };
}

/**
 * Staging blue: RestoreDBClusterFromSnapshot of `snapshotId` at the snapshot's own
 * version (the snapshot's master user comes with it), then its writer instance, and
 * waits until both are available. A cluster of that name already restored (a repeated
 * call) is adopted. Throws a coded PgshiftError.
 */
export async function createStagingBlue(
  options: StagingOptions & { snapshotId: string; engineVersion: string; instance: Omit<CreateGreenConfig, 'engineVersion' | 'tags'>; adminLogin: Login },
): Promise<GreenClusterResult> {
  const clusterId = stagingIds(options.rehearsalId).blue;
  const spec = stagingSpec(options.rehearsalId, { ...options.instance, engineVersion: options.engineVersion });
  try {
    await options.client.send(
      new RestoreDBClusterFromSnapshotCommand({
        DBClusterIdentifier: clusterId,
        SnapshotIdentifier: options.snapshotId,
        Engine: AURORA_POSTGRESQL,
        ...(spec.dbClusterParameterGroup === undefined ? {} : { DBClusterParameterGroupName: spec.dbClusterParameterGroup }),
        ...(spec.subnetGroup === undefined ? {} : { DBSubnetGroupName: spec.subnetGroup }),
        ...(spec.vpcSecurityGroupIds === undefined ? {} : { VpcSecurityGroupIds: spec.vpcSecurityGroupIds }),
        ...(spec.serverless === undefined ? {} : { ServerlessV2ScalingConfiguration: { MinCapacity: spec.serverless.minCapacity, MaxCapacity: spec.serverless.maxCapacity } }),
        Tags: greenTags(stagingOwner(options.rehearsalId), spec, 'staging-blue'),
      }),
    );
    options.log.info({ cluster: clusterId, snapshot: options.snapshotId }, 'rehearsal: staging blue restore started');
  } catch (err) {
    const wrapped = wrapRdsError(err, `restoring snapshot ${options.snapshotId} as staging blue ${clusterId}`);
    if (!isPgshiftError(wrapped, 'PGSHIFT_ERR_CLUSTER_EXISTS')) throw wrapped;
  }
  return ensureGreenCluster({ ...pollOptions(options), clusterId, spec, adminLogin: options.adminLogin, role: 'staging-blue' });
}

/** Staging green: CreateDBCluster at green's version with the pair's green settings, its writer, available. */
export async function createStagingGreen(options: StagingOptions & { spec: Omit<CreateGreenConfig, 'tags'>; adminLogin: Login }): Promise<GreenClusterResult> {
  const clusterId = stagingIds(options.rehearsalId).green;
  return ensureGreenCluster({ ...pollOptions(options), clusterId, spec: stagingSpec(options.rehearsalId, options.spec), adminLogin: options.adminLogin, role: 'staging-green' });
}

/**
 * Deletes both staging clusters of a rehearsal (instances first, no final snapshot) and
 * waits until they are gone. Only clusters tagged as this rehearsal's are touched. Never
 * throws: what it could not delete is answered, for the report and the next start's sweep.
 */
export async function removeStagingClusters(options: StagingOptions): Promise<{ removed: string[]; failed: { clusterId: string; error: string }[] }> {
  const removed: string[] = [];
  const failed: { clusterId: string; error: string }[] = [];
  const ids = stagingIds(options.rehearsalId);
  // Teardown must run even when the rehearsal was cancelled: it does not take its signal.
  const { signal: _cancelled, ...rest } = options;
  await Promise.all(
    [ids.blue, ids.green].map(async (clusterId) => {
      try {
        if ((await removeGreenCluster({ ...pollOptions(rest), clusterId })).removed) removed.push(clusterId);
      } catch (err) {
        failed.push({ clusterId, error: describeError(err) });
        options.log.error({ cluster: clusterId, err: describeError(err) }, 'rehearsal: staging cluster not removed');
      }
    }),
  );
  return { removed: removed.sort(), failed };
}

/**
 * The rehearsals whose staging clusters exist: every cluster carrying REHEARSAL_TAG,
 * by rehearsal id. A listing, as RDS offers no tag filter on DescribeDBClusters.
 */
export async function findStagingClusters(client: RDSClient): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  try {
    for await (const page of paginateDescribeDBClusters({ client }, {})) {
      for (const cluster of page.DBClusters ?? []) {
        const rehearsal = tagValue(cluster.TagList, REHEARSAL_TAG);
        if (rehearsal === undefined || tagValue(cluster.TagList, PAIR_TAG) !== stagingOwner(rehearsal)) continue;
        found.set(rehearsal, [...(found.get(rehearsal) ?? []), cluster.DBClusterIdentifier ?? '']);
      }
    }
  } catch (err) {
    throw wrapRdsError(err, 'listing clusters to find rehearsal leftovers');
  }
  return found;
}

/**
 * Removes the staging clusters of every rehearsal `owned` does not claim (a crash left
 * them), and first what `before` removes. Never throws.
 */
export async function sweepStagingClusters(options: {
  client: RDSClient;
  owned: (rehearsalId: string) => boolean | Promise<boolean>;
  /** Removes the rehearsal's other leftovers (its staging DNS records) before its clusters. Never throws. */
  before?: (rehearsalId: string) => Promise<void>;
  log: Logger;
  clock?: Clock;
}): Promise<string[]> {
  let found: Map<string, string[]>;
  try {
    found = await findStagingClusters(options.client);
  } catch (err) {
    options.log.warn({ err: describeError(err) }, 'rehearsal leftovers not looked for');
    return [];
  }
  const removed: string[] = [];
  for (const rehearsalId of found.keys()) {
    try {
      if (await options.owned(rehearsalId)) continue;
    } catch (err) {
      options.log.warn({ rehearsal: rehearsalId, err: describeError(err) }, 'rehearsal: owner not known; its staging clusters are left');
      continue;
    }
    options.log.warn({ rehearsal: rehearsalId, clusters: found.get(rehearsalId) }, 'rehearsal: removing staging clusters no running rehearsal owns');
    await options.before?.(rehearsalId);
    const result = await removeStagingClusters({ client: options.client, rehearsalId, log: options.log, ...(options.clock ? { clock: options.clock } : {}) });
    removed.push(...result.removed);
  }
  return removed;
}

function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}
