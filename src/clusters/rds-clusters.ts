import {
  CreateDBClusterSnapshotCommand,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotsCommand,
  paginateDescribeDBClusterSnapshots,
  type DBCluster,
  type DBClusterSnapshot,
  type RDSClient,
} from '@aws-sdk/client-rds';
import * as D from '../defaults.js';
import { isPgshiftError, PgshiftError } from '../errors.js';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { parseMajor, type ClusterCatalog, type ClusterInfo, type RdsClusterFacts, type SnapshotInfo, type SnapshotOptions, type SnapshotStatus } from './catalog.js';
import { wrapRdsError } from './rds-errors.js';
import { describeRdsFacts } from './rds-facts.js';
import { createSnapshotId, isValidSnapshotId, SNAPSHOT_ID_RULE } from './snapshot-id.js';
import { type Side } from '../shift/model.js';

export interface RdsClustersOptions {
  client: RDSClient;
  /** The RDS cluster identifier of each side this catalog answers for. */
  clusterIds: Partial<Record<Side, string>>;
  clock?: Clock;
  log?: Logger;
  /** Pause between snapshot polls: starts at min, grows by half each poll up to max. */
  pollMinMs?: number;
  pollMaxMs?: number;
}

/** Snapshot states RDS documents as terminal failures (the SDK waiter's failure acceptors). */
const FAILED_SNAPSHOT_STATES = new Set(['failed', 'deleted', 'deleting', 'incompatible-restore', 'incompatible-parameters']);

/** ClusterCatalog on Amazon RDS: Aurora PostgreSQL (or RDS Multi-AZ) clusters by identifier. */
export class RdsClusters implements ClusterCatalog {
  private readonly client: RDSClient;
  private readonly clusterIds: Partial<Record<Side, string>>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly pollMinMs: number;
  private readonly pollMaxMs: number;

  constructor(options: RdsClustersOptions) {
    this.client = options.client;
    this.clusterIds = options.clusterIds;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger();
    this.pollMinMs = options.pollMinMs ?? D.SNAPSHOT_POLL_MIN_MS;
    this.pollMaxMs = options.pollMaxMs ?? D.SNAPSHOT_POLL_MAX_MS;
  }

  get rdsSides(): Side[] {
    return (['blue', 'green'] as const).filter((side) => this.clusterIds[side] !== undefined);
  }

  rdsFacts(side: Side): Promise<RdsClusterFacts> {
    return describeRdsFacts(this.client, this.clusterId(side));
  }

  async describe(side: Side): Promise<ClusterInfo> {
    const clusterId = this.clusterId(side);
    let cluster: DBCluster | undefined;
    try {
      const out = await this.client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterId }));
      cluster = out.DBClusters?.[0];
    } catch (err) {
      throw wrapRdsError(err, `describing ${side} cluster ${clusterId}`);
    }
    if (!cluster) throw notFound(side, clusterId);
    return toClusterInfo(side, cluster);
  }

  async snapshot(side: Side, options: SnapshotOptions = {}): Promise<SnapshotInfo> {
    const clusterId = this.clusterId(side);
    const id = (options.id ?? createSnapshotId(clusterId, this.clock.now())).toLowerCase();
    if (!isValidSnapshotId(id)) {
      throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_ID', `invalid snapshot id "${id}": ${SNAPSHOT_ID_RULE}`, { status: 400 });
    }
    const deadline = this.clock.now() + (options.timeoutMs ?? D.SNAPSHOT_TIMEOUT_MS);
    let current = await this.createOrAdopt(side, clusterId, id);
    this.log.info({ side, clusterId, snapshot: id, status: current.status }, 'cluster snapshot started');
    options.onProgress?.(current);

    let pause = this.pollMinMs;
    while (current.status === 'creating') {
      if (this.clock.now() >= deadline) {
        throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_TIMEOUT', `snapshot ${id} of ${clusterId} not available in time (${current.progress} %)`, {
          status: 504,
          details: { snapshot: current },
        });
      }
      try {
        await this.clock.sleep(Math.min(pause, Math.max(0, deadline - this.clock.now())), options.signal);
      } catch (err) {
        throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_ABORTED', `stopped waiting for snapshot ${id} of ${clusterId}; RDS keeps creating it`, {
          status: 409,
          details: { snapshot: current },
          cause: err,
        });
      }
      pause = Math.min(this.pollMaxMs, Math.round(pause * 1.5));
      const found = await this.readSnapshot(side, id);
      if (!found) throw snapshotGone(id, clusterId);
      current = found;
      options.onProgress?.(current);
    }
    if (current.status === 'failed') {
      throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_FAILED', `snapshot ${id} of ${clusterId} failed`, {
        status: 502,
        details: { snapshot: current },
      });
    }
    this.log.info({ side, clusterId, snapshot: id }, 'cluster snapshot available');
    return current;
  }

  async lastSnapshot(side: Side): Promise<SnapshotInfo | null> {
    const clusterId = this.clusterId(side);
    let newest: DBClusterSnapshot | undefined;
    try {
      const pages = paginateDescribeDBClusterSnapshots({ client: this.client }, { DBClusterIdentifier: clusterId });
      for await (const page of pages) {
        for (const snapshot of page.DBClusterSnapshots ?? []) {
          if (!newest || createdTime(snapshot) > createdTime(newest)) newest = snapshot;
        }
      }
    } catch (err) {
      throw wrapRdsError(err, `listing snapshots of ${side} cluster ${clusterId}`);
    }
    return newest ? toSnapshotInfo(side, newest, this.clock) : null;
  }

  private clusterId(side: Side): string {
    const id = this.clusterIds[side];
    if (id === undefined) {
      throw new PgshiftError('PGSHIFT_ERR_CLUSTER_NOT_CONFIGURED', `the ${side} cluster is not an RDS cluster in this catalog`, { status: 500 });
    }
    return id;
  }

  /** Creates the snapshot; one that already exists for this cluster is adopted (a repeated call). */
  private async createOrAdopt(side: Side, clusterId: string, id: string): Promise<SnapshotInfo> {
    try {
      const out = await this.client.send(
        new CreateDBClusterSnapshotCommand({
          DBClusterIdentifier: clusterId,
          DBClusterSnapshotIdentifier: id,
          Tags: [{ Key: 'created-by', Value: 'pgshift' }],
        }),
      );
      if (!out.DBClusterSnapshot) throw new PgshiftError('PGSHIFT_ERR_RDS', `RDS returned no snapshot for ${id}`, { status: 502 });
      return toSnapshotInfo(side, out.DBClusterSnapshot, this.clock);
    } catch (err) {
      const wrapped = wrapRdsError(err, `creating snapshot ${id} of ${side} cluster ${clusterId}`);
      if (!isPgshiftError(wrapped, 'PGSHIFT_ERR_SNAPSHOT_EXISTS')) throw wrapped;
      const existing = await this.readSnapshot(side, id);
      if (!existing) throw wrapped;
      if (existing.clusterId.toLowerCase() !== clusterId.toLowerCase()) {
        throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_EXISTS', `snapshot ${id} already exists and belongs to cluster ${existing.clusterId}`, {
          status: 409,
          details: { snapshot: existing },
          cause: err,
        });
      }
      return existing;
    }
  }

  private async readSnapshot(side: Side, id: string): Promise<SnapshotInfo | null> {
    try {
      const out = await this.client.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }));
      const found = out.DBClusterSnapshots?.[0];
      return found ? toSnapshotInfo(side, found, this.clock) : null;
    } catch (err) {
      const wrapped = wrapRdsError(err, `reading snapshot ${id}`);
      if (isPgshiftError(wrapped, 'PGSHIFT_ERR_SNAPSHOT_NOT_FOUND')) return null;
      throw wrapped;
    }
  }
}

export function toClusterInfo(side: Side, cluster: DBCluster): ClusterInfo {
  const version = cluster.EngineVersion ?? null;
  const status = cluster.Status ?? 'unknown';
  const port = cluster.Port ?? 5432;
  const writer = { host: cluster.Endpoint ?? '', port };
  return {
    side,
    id: cluster.DBClusterIdentifier ?? '',
    engine: cluster.Engine ?? 'unknown',
    version,
    major: version === null ? null : parseMajor(version),
    status,
    available: status === 'available',
    writer,
    reader: cluster.ReaderEndpoint ? { host: cluster.ReaderEndpoint, port } : writer,
    members: (cluster.DBClusterMembers ?? []).map((m) => ({ id: m.DBInstanceIdentifier ?? '', writer: m.IsClusterWriter === true })),
    pitr: {
      earliest: cluster.EarliestRestorableTime?.toISOString() ?? null,
      latest: cluster.LatestRestorableTime?.toISOString() ?? null,
    },
  };
}

export function toSnapshotInfo(side: Side, snapshot: DBClusterSnapshot, clock: Clock): SnapshotInfo {
  const status = snapshotStatus(snapshot.Status);
  return {
    id: snapshot.DBClusterSnapshotIdentifier ?? '',
    side,
    clusterId: snapshot.DBClusterIdentifier ?? '',
    status,
    progress: snapshot.PercentProgress ?? (status === 'available' ? 100 : 0),
    createdAt: (snapshot.SnapshotCreateTime ?? new Date(clock.now())).toISOString(),
    ...(snapshot.EngineVersion ? { engineVersion: snapshot.EngineVersion } : {}),
    ...(snapshot.DBClusterSnapshotArn ? { location: snapshot.DBClusterSnapshotArn } : {}),
    ...(status === 'failed' ? { error: `RDS reports status ${snapshot.Status}` } : {}),
  };
}

function snapshotStatus(status: string | undefined): SnapshotStatus {
  if (status === 'available') return 'available';
  if (status !== undefined && FAILED_SNAPSHOT_STATES.has(status)) return 'failed';
  return 'creating';
}

/** A snapshot still being created may have no time yet: it counts as the newest. */
function createdTime(snapshot: DBClusterSnapshot): number {
  return snapshot.SnapshotCreateTime?.getTime() ?? Number.POSITIVE_INFINITY;
}

function notFound(side: Side, clusterId: string): PgshiftError {
  return new PgshiftError('PGSHIFT_ERR_CLUSTER_NOT_FOUND', `${side} cluster ${clusterId} not found in RDS`, { status: 404 });
}

function snapshotGone(id: string, clusterId: string): PgshiftError {
  return new PgshiftError('PGSHIFT_ERR_SNAPSHOT_FAILED', `snapshot ${id} of ${clusterId} disappeared while it was being created`, {
    status: 502,
  });
}
