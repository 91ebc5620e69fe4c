import * as D from '../../defaults.js';
import { isValidSnapshotId } from '../../clusters/snapshot-id.js';
import { invalidIdentifier, RdsApiError, snapshotNotFound } from './errors.js';
import { paginate } from './pagination.js';
import { readFilters, readInteger, readString, readTags, requireString, type Filter, type QueryParams } from './query.js';
import { ENGINE, type ClusterRecord, type RdsState, type SnapshotRecord } from './state.js';
import { xmlList, type XmlObject } from './xml.js';

/**
 * The three RDS operations the stand-in serves, from Query parameters to the result
 * element's content. Validation follows the service: identifiers (or ARNs) are
 * case-insensitive, MaxRecords is 20-100, unknown filter names are rejected.
 */
export type ActionHandler = (state: RdsState, params: QueryParams) => Promise<XmlObject>;

export const ACTIONS: Record<string, ActionHandler> = {
  DescribeDBClusters: describeDBClusters,
  CreateDBClusterSnapshot: createDBClusterSnapshot,
  DescribeDBClusterSnapshots: describeDBClusterSnapshots,
};

const CLUSTER_FILTERS = ['clone-group-id', 'db-cluster-id', 'db-cluster-resource-id', 'domain', 'engine'];
const SNAPSHOT_FILTERS = ['db-cluster-id', 'db-cluster-snapshot-id', 'snapshot-type', 'engine'];
const SNAPSHOT_TYPES = ['automated', 'manual', 'shared', 'public', 'awsbackup'];

async function describeDBClusters(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const filters = checkFilters(readFilters(params), CLUSTER_FILTERS);
  const wanted = readString(params, 'DBClusterIdentifier');
  let clusters: ClusterRecord[];
  if (wanted !== undefined) {
    clusters = [await state.cluster(readIdentifier(wanted, 'DBClusterIdentifier', 'cluster'))];
  } else {
    clusters = await state.clusters();
  }
  clusters = clusters.filter((c) => filters.every((f) => clusterMatches(c, f)));
  const page = paginate(clusters, (c) => c.id, readString(params, 'Marker'), readInteger(params, 'MaxRecords'));
  return { Marker: page.marker, DBClusters: xmlList('DBCluster', page.items.map(renderCluster)) };
}

async function createDBClusterSnapshot(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const snapshotId = requireString(params, 'DBClusterSnapshotIdentifier');
  if (!isValidSnapshotId(snapshotId)) throw invalidIdentifier('DBClusterSnapshotIdentifier');
  const clusterId = readIdentifier(requireString(params, 'DBClusterIdentifier'), 'DBClusterIdentifier', 'cluster');
  const snapshot = await state.createSnapshot(clusterId, snapshotId.toLowerCase(), readTags(params));
  return { DBClusterSnapshot: renderSnapshot(snapshot) };
}

async function describeDBClusterSnapshots(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const filters = checkFilters(readFilters(params), SNAPSHOT_FILTERS);
  const clusterParam = readString(params, 'DBClusterIdentifier');
  const snapshotParam = readString(params, 'DBClusterSnapshotIdentifier');
  if (clusterParam !== undefined && snapshotParam !== undefined) {
    throw new RdsApiError('InvalidParameterCombination', 400, 'Specify either DBClusterIdentifier or DBClusterSnapshotIdentifier, not both');
  }
  const type = readString(params, 'SnapshotType');
  if (type !== undefined && !SNAPSHOT_TYPES.includes(type)) {
    throw new RdsApiError('InvalidParameterValue', 400, `Invalid value ${type} for SnapshotType. Must be one of ${SNAPSHOT_TYPES.join(', ')}`);
  }

  let snapshots: SnapshotRecord[];
  if (snapshotParam !== undefined) {
    const id = readIdentifier(snapshotParam, 'DBClusterSnapshotIdentifier', 'cluster-snapshot');
    const found = await state.snapshot(id);
    if (!found) throw snapshotNotFound(id);
    snapshots = [found];
  } else {
    snapshots = await state.snapshots();
    if (clusterParam !== undefined) {
      const clusterId = readIdentifier(clusterParam, 'DBClusterIdentifier', 'cluster');
      snapshots = snapshots.filter((s) => s.manifest.clusterId === clusterId);
    }
  }
  // Every snapshot the stand-in makes is manual.
  if (type !== undefined && type !== 'manual') snapshots = [];
  snapshots = snapshots.filter((s) => filters.every((f) => snapshotMatches(s, f)));
  const page = paginate(snapshots, (s) => `${s.manifest.createdAt}|${s.manifest.id}`, readString(params, 'Marker'), readInteger(params, 'MaxRecords'));
  return { Marker: page.marker, DBClusterSnapshots: xmlList('DBClusterSnapshot', page.items.map(renderSnapshot)) };
}

/** An identifier or the ARN of one (`arn:aws:rds:<region>:<account>:<kind>:<id>`), lowercased. */
function readIdentifier(raw: string, parameter: string, kind: string): string {
  const arn = /^arn:aws[a-z-]*:rds:[a-z0-9-]*:\d*:([a-z-]+):(.+)$/.exec(raw);
  if (arn && arn[1] !== kind) throw new RdsApiError('InvalidParameterValue', 400, `The parameter ${parameter} is not a ${kind} ARN: ${raw}`);
  const id = arn ? arn[2]! : raw;
  if (!isValidSnapshotId(id)) throw invalidIdentifier(parameter);
  return id.toLowerCase();
}

function checkFilters(filters: Filter[], known: string[]): Filter[] {
  for (const filter of filters) {
    if (!known.includes(filter.name)) throw new RdsApiError('InvalidParameterValue', 400, `Unrecognized filter name: ${filter.name}`);
  }
  return filters;
}

function clusterMatches(cluster: ClusterRecord, filter: Filter): boolean {
  switch (filter.name) {
    case 'db-cluster-id':
      return filter.values.some((v) => v.toLowerCase() === cluster.id || v === cluster.arn);
    case 'db-cluster-resource-id':
      return filter.values.includes(cluster.resourceId);
    case 'engine':
      return filter.values.includes(ENGINE);
    default:
      // Lab clusters belong to no clone group and no directory domain.
      return false;
  }
}

function snapshotMatches(snapshot: SnapshotRecord, filter: Filter): boolean {
  switch (filter.name) {
    case 'db-cluster-id':
      return filter.values.some((v) => v.toLowerCase() === snapshot.manifest.clusterId || v.toLowerCase().endsWith(`:cluster:${snapshot.manifest.clusterId}`));
    case 'db-cluster-snapshot-id':
      return filter.values.some((v) => v.toLowerCase() === snapshot.manifest.id || v === snapshot.arn);
    case 'snapshot-type':
      return filter.values.includes('manual');
    case 'engine':
      return filter.values.includes(ENGINE);
    default:
      return false;
  }
}

function renderCluster(c: ClusterRecord): XmlObject {
  return {
    AllocatedStorage: 1,
    AvailabilityZones: xmlList('AvailabilityZone', [c.availabilityZone]),
    BackupRetentionPeriod: D.LAB_RDS_BACKUP_RETENTION_DAYS,
    DBClusterIdentifier: c.id,
    DBClusterParameterGroup: `default.${ENGINE}${c.major}`,
    Status: c.status,
    EarliestRestorableTime: c.earliestRestorableTime,
    Endpoint: c.endpoint,
    ReaderEndpoint: c.readerEndpoint,
    MultiAZ: false,
    Engine: ENGINE,
    EngineVersion: c.engineVersion,
    LatestRestorableTime: c.latestRestorableTime,
    Port: c.port,
    MasterUsername: c.masterUsername,
    PreferredBackupWindow: '07:00-07:30',
    PreferredMaintenanceWindow: 'sun:08:00-sun:08:30',
    DBClusterMembers: xmlList('DBClusterMember', [
      { DBInstanceIdentifier: c.instanceId, IsClusterWriter: true, DBClusterParameterGroupStatus: 'in-sync', PromotionTier: 1 },
    ]),
    VpcSecurityGroups: xmlList('VpcSecurityGroupMembership', []),
    HostedZoneId: 'Z2R2ITUGPM61AM',
    StorageEncrypted: false,
    DbClusterResourceId: c.resourceId,
    DBClusterArn: c.arn,
    IAMDatabaseAuthenticationEnabled: false,
    ClusterCreateTime: c.createdAt,
    EngineMode: 'provisioned',
    DeletionProtection: false,
    HttpEndpointEnabled: false,
    CopyTagsToSnapshot: false,
    CrossAccountClone: false,
    TagList: xmlList('Tag', []),
    StorageType: 'aurora',
  };
}

function renderSnapshot(s: SnapshotRecord): XmlObject {
  const m = s.manifest;
  return {
    AvailabilityZones: xmlList('AvailabilityZone', [s.availabilityZone]),
    DBClusterSnapshotIdentifier: m.id,
    DBClusterIdentifier: m.clusterId,
    SnapshotCreateTime: new Date(m.createdAt),
    Engine: ENGINE,
    EngineMode: 'provisioned',
    AllocatedStorage: m.status === 'available' ? Math.max(1, Math.ceil(m.bytes / 1024 ** 3)) : 0,
    Status: m.status,
    Port: s.port,
    ClusterCreateTime: s.clusterCreatedAt,
    MasterUsername: s.masterUsername,
    EngineVersion: s.engineVersion,
    LicenseModel: 'postgresql-license',
    SnapshotType: 'manual',
    PercentProgress: m.progress,
    StorageEncrypted: false,
    DBClusterSnapshotArn: s.arn,
    IAMDatabaseAuthenticationEnabled: false,
    TagList: xmlList(
      'Tag',
      s.tags.map((t) => ({ Key: t.key, Value: t.value })),
    ),
    StorageType: 'aurora',
  };
}
