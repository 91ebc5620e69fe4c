import {
  DeleteDBClusterSnapshotCommand,
  DescribeDBClustersCommand,
  ListTagsForResourceCommand,
  paginateDescribeDBClusters,
  paginateDescribeDBClusterSnapshots,
  RestoreDBClusterFromSnapshotCommand,
  type DBClusterSnapshot,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { systemClock, type Clock } from '../clock.js';
import * as D from '../defaults.js';
import type { CreateGreenConfig, Login } from '../config/schema.js';
import { describeError, isPgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import { AURORA_POSTGRESQL, ensureGreenCluster, greenTags, PAIR_TAG, removeGreenCluster, tagValue, type GreenClusterResult } from '../clusters/green-creator.js';
import { wrapRdsError } from '../clusters/rds-errors.js';

/** Every staging cluster carries it, valued with its rehearsal's id: how a later start finds what a crash left. */
const REHEARSAL_TAG = 'pgshift-rehearsal';
const CREATED_BY_TAG = 'created-by';

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
  /** How long the clean-up waits for a staging cluster's snapshot still `creating`; default REHEARSAL_SNAPSHOT_WAIT_MS. */
  snapshotWaitMs?: number;
}

/** What removeStagingClusters did; it never throws, so what it could not do is here. */
export interface StagingRemoval {
  /** Staging clusters deleted. */
  removed: string[];
  /** A cluster not deleted, or a snapshot of it not deleted (the error names the snapshot). */
  failed: { clusterId: string; error: string; snapshotId?: string }[];
  /** Manual snapshots of the staging clusters deleted: the staging pair's cutover snapshots. */
  snapshotsRemoved: string[];
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
 * waits until they are gone. Before each cluster go its manual snapshots (the staging
 * pair's cutover snapshots, which would outlive it): a snapshot still `creating` (a
 * cutover cut short) is waited for, up to `snapshotWaitMs`, then deleted. Only clusters
 * tagged as this rehearsal's are touched, and only snapshots whose source cluster is one
 * of them: the snapshot of the real blue a rehearsal may take is never one. Never throws:
 * what it could not delete is answered, for the report and the next start's sweep.
 */
export async function removeStagingClusters(options: StagingOptions): Promise<StagingRemoval> {
  const removed: string[] = [];
  const snapshotsRemoved: string[] = [];
  const failed: StagingRemoval['failed'] = [];
  const ids = stagingIds(options.rehearsalId);
  // Teardown must run even when the rehearsal was cancelled: it does not take its signal.
  const { signal: _cancelled, ...rest } = options;
  await Promise.all(
    [ids.blue, ids.green].map(async (clusterId) => {
      // The snapshots first, so one still being made finishes from a live cluster (the lab's dump dies with its server).
      const snapshots = await removeStagingSnapshots(rest, clusterId);
      snapshotsRemoved.push(...snapshots.removed);
      failed.push(...snapshots.failed);
      try {
        if ((await removeGreenCluster({ ...pollOptions(rest), clusterId })).removed) removed.push(clusterId);
      } catch (err) {
        failed.push({ clusterId, error: describeError(err) });
        options.log.error({ cluster: clusterId, err: describeError(err) }, 'rehearsal: staging cluster not removed');
      }
    }),
  );
  return { removed: removed.sort(), failed, snapshotsRemoved: snapshotsRemoved.sort() };
}

/**
 * Deletes the manual snapshots whose source cluster is `clusterId`, a staging cluster of
 * the rehearsal: all pages of DescribeDBClusterSnapshots for that cluster, read again
 * while one is still `creating` (RDS deletes only a finished one), until none is or
 * `snapshotWaitMs` has passed. A cluster of that name that is not tagged as the
 * rehearsal's keeps its snapshots. Never throws.
 */
async function removeStagingSnapshots(options: Omit<StagingOptions, 'signal'>, clusterId: string): Promise<Pick<StagingRemoval, 'failed'> & { removed: string[] }> {
  const { client, log } = options;
  const clock = options.clock ?? systemClock;
  const removed: string[] = [];
  const failed = new Map<string, string>();
  // Keyed by snapshot id; '' for what stopped the clean-up before any snapshot was known.
  const answer = () => ({ removed, failed: [...failed].map(([snapshotId, error]) => ({ clusterId, error, ...(snapshotId === '' ? {} : { snapshotId }) })) });
  try {
    const owner = await stagingClusterOwner(client, clusterId);
    if (owner !== null && owner !== stagingOwner(options.rehearsalId)) {
      // removeGreenCluster refuses that cluster too, and says so.
      log.warn({ cluster: clusterId, owner }, 'rehearsal: a cluster of the staging name that is not this rehearsal\'s: its snapshots are left');
      return answer();
    }
  } catch (err) {
    failed.set('', `its cluster snapshots not looked for: ${describeError(err)}`);
    log.error({ cluster: clusterId, err: describeError(err) }, 'rehearsal: staging cluster snapshots not looked for');
    return answer();
  }
  const waitMs = options.snapshotWaitMs ?? D.REHEARSAL_SNAPSHOT_WAIT_MS;
  const deadline = clock.now() + waitMs;
  const max = options.pollMaxMs ?? D.REHEARSAL_POLL_MAX_MS;
  let pause = options.pollMinMs ?? D.REHEARSAL_POLL_MIN_MS;
  // Asked to delete, or given up on: not asked again on the next reading.
  const done = new Set<string>();
  for (;;) {
    let snapshots: DBClusterSnapshot[];
    try {
      snapshots = await listManualSnapshots(client, clusterId);
    } catch (err) {
      failed.set('', `its cluster snapshots not listed: ${describeError(err)}`);
      log.error({ cluster: clusterId, err: describeError(err) }, 'rehearsal: staging cluster snapshots not listed');
      return answer();
    }
    const creating: string[] = [];
    for (const snapshot of snapshots) {
      const id = snapshot.DBClusterSnapshotIdentifier;
      // RDS lists by the source cluster already; a snapshot of another cluster is never deleted.
      if (!id || snapshot.DBClusterIdentifier?.toLowerCase() !== clusterId || done.has(id) || snapshot.Status === 'deleting') continue;
      if (snapshot.Status === 'creating') {
        creating.push(id);
        continue;
      }
      try {
        await client.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: id }));
        done.add(id);
        failed.delete(id);
        removed.push(id);
        log.info({ cluster: clusterId, snapshot: id, status: snapshot.Status }, 'rehearsal: staging cluster snapshot deleted');
      } catch (err) {
        const wrapped = wrapRdsError(err, `deleting cluster snapshot ${id} of staging cluster ${clusterId}`);
        if (isPgshiftError(wrapped, 'PGSHIFT_ERR_SNAPSHOT_NOT_FOUND')) {
          done.add(id);
          continue;
        }
        failed.set(id, describeError(wrapped));
        // Not deletable in its state right now (it turned to creating between the reading and the call): read again.
        if (isPgshiftError(wrapped, 'PGSHIFT_ERR_SNAPSHOT_FAILED')) creating.push(id);
        else done.add(id);
      }
    }
    if (creating.length === 0) break;
    if (clock.now() >= deadline) {
      for (const id of creating) {
        failed.set(id, `cluster snapshot ${id} of staging cluster ${clusterId} still creating after ${waitMs / 1000} s: not deleted`);
      }
      break;
    }
    log.info({ cluster: clusterId, snapshots: creating }, 'rehearsal: waiting for staging cluster snapshots still creating before deleting them');
    await clock.sleep(Math.min(pause, Math.max(0, deadline - clock.now())));
    pause = Math.min(max, Math.round(pause * 1.5));
  }
  for (const [id, error] of failed) log.error({ cluster: clusterId, snapshot: id, err: error }, 'rehearsal: staging cluster snapshot not deleted');
  return answer();
}

/** Every manual snapshot whose source cluster is `clusterId`, all pages. */
async function listManualSnapshots(client: RDSClient, clusterId: string): Promise<DBClusterSnapshot[]> {
  const found: DBClusterSnapshot[] = [];
  try {
    for await (const page of paginateDescribeDBClusterSnapshots({ client }, { DBClusterIdentifier: clusterId, SnapshotType: 'manual' })) {
      found.push(...(page.DBClusterSnapshots ?? []));
    }
  } catch (err) {
    throw wrapRdsError(err, `listing the cluster snapshots of staging cluster ${clusterId}`);
  }
  return found;
}

/** The PAIR_TAG value of the cluster of that name ('' when untagged), or null when there is no such cluster. */
async function stagingClusterOwner(client: RDSClient, clusterId: string): Promise<string | null> {
  try {
    const cluster = (await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterId }))).DBClusters?.[0];
    if (!cluster) return null;
    let tags = cluster.TagList;
    if (tags === undefined && cluster.DBClusterArn) tags = (await client.send(new ListTagsForResourceCommand({ ResourceName: cluster.DBClusterArn }))).TagList;
    return tagValue(tags, PAIR_TAG) ?? '';
  } catch (err) {
    const wrapped = wrapRdsError(err, `describing staging cluster ${clusterId}`);
    if (isPgshiftError(wrapped, 'PGSHIFT_ERR_CLUSTER_NOT_FOUND')) return null;
    throw wrapped;
  }
}

/**
 * The rehearsals whose staging clusters exist: every cluster carrying REHEARSAL_TAG,
 * by rehearsal id. A listing, as RDS offers no tag filter on DescribeDBClusters.
 */
async function findStagingClusters(client: RDSClient): Promise<Map<string, string[]>> {
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
    if (result.snapshotsRemoved.length > 0) options.log.warn({ rehearsal: rehearsalId, snapshots: result.snapshotsRemoved }, 'rehearsal: cutover snapshots of staging clusters no running rehearsal owns removed');
  }
  return removed;
}

