import * as D from '../../defaults.js';
import { isValidSnapshotId } from '../../clusters/snapshot-id.js';
import { invalidIdentifier, RdsApiError, snapshotNotFound } from './errors.js';
import { paginate } from './pagination.js';
import {
  readBoolean,
  readFilters,
  readIndexed,
  readInteger,
  readNumber,
  readString,
  readStringList,
  readTags,
  requireString,
  type Filter,
  type QueryParams,
  type Tag,
} from './query.js';
import { ENGINE, type ClusterRecord, type InstanceRecord, type ParameterChange, type ParameterRecord, type RdsState, type SnapshotRecord } from './state.js';
import { xmlList, type XmlList, type XmlObject } from './xml.js';

/**
 * The RDS operations the stand-in serves, from Query parameters to the result
 * element's content (null: the operation has no output). Validation follows the
 * service: identifiers (or ARNs) are case-insensitive, MaxRecords is 20-100, unknown
 * filter names are rejected, a master password is never echoed.
 */
export type ActionHandler = (state: RdsState, params: QueryParams) => Promise<XmlObject | null>;

export const ACTIONS: Record<string, ActionHandler> = {
  DescribeDBClusters: describeDBClusters,
  CreateDBClusterSnapshot: createDBClusterSnapshot,
  DescribeDBClusterSnapshots: describeDBClusterSnapshots,
  DeleteDBClusterSnapshot: deleteDBClusterSnapshot,
  CreateDBCluster: createDBCluster,
  RestoreDBClusterFromSnapshot: restoreDBClusterFromSnapshot,
  CreateDBInstance: createDBInstance,
  DeleteDBInstance: deleteDBInstance,
  DeleteDBCluster: deleteDBCluster,
  DescribeDBInstances: describeDBInstances,
  AddTagsToResource: addTagsToResource,
  ListTagsForResource: listTagsForResource,
  DescribeDBClusterParameters: describeDBClusterParameters,
  ModifyDBClusterParameterGroup: modifyDBClusterParameterGroup,
  RebootDBInstance: rebootDBInstance,
};

/** DescribeDBClusterParameters' Source: the API reference names engine/service/customer, RDS's listings say engine-default/system/user; both are taken. */
const PARAMETER_SOURCES: Record<string, ParameterRecord['source']> = {
  'engine-default': 'engine-default',
  engine: 'engine-default',
  system: 'system',
  service: 'system',
  user: 'user',
  customer: 'user',
};

const INSTANCE_FILTERS = ['db-cluster-id', 'db-instance-id', 'dbi-resource-id', 'domain', 'engine'];
/** Names the engine keeps for itself (RDS refuses them as MasterUsername). */
const RESERVED_USERS = ['rdsadmin', 'rdsrepladmin', 'rds_superuser', 'pg_monitor', 'public', 'user', 'all'];

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

/** The snapshot as it was before the deletion (RDS answers so); its dump folder is gone. */
async function deleteDBClusterSnapshot(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const id = readIdentifier(requireString(params, 'DBClusterSnapshotIdentifier'), 'DBClusterSnapshotIdentifier', 'cluster-snapshot');
  return { DBClusterSnapshot: renderSnapshot(await state.deleteSnapshot(id)) };
}

async function createDBCluster(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const id = readNewIdentifier(params, 'DBClusterIdentifier');
  requireEngine(params);
  const engineMode = readString(params, 'EngineMode');
  if (engineMode !== undefined && engineMode !== 'provisioned') {
    throw new RdsApiError('InvalidParameterValue', 400, `The engine mode ${engineMode} isn't supported for ${ENGINE} in this stand-in; use provisioned (Serverless v2 is provisioned with db.serverless instances).`);
  }
  // RDS would pick a default version; the stand-in wants it said, as pgshift always does.
  const engineVersion = requireString(params, 'EngineVersion');
  const versionMatch = /^(\d+)(?:\.\d+)*$/.exec(engineVersion.trim());
  if (!versionMatch) throw new RdsApiError('InvalidParameterValue', 400, `Invalid EngineVersion ${engineVersion}`);
  const masterUsername = readString(params, 'MasterUsername');
  if (masterUsername === undefined) throw new RdsApiError('InvalidParameterValue', 400, 'The parameter MasterUsername must be provided and must not be blank.');
  if (!/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(masterUsername)) {
    throw new RdsApiError('InvalidParameterValue', 400, 'The parameter MasterUsername is not a valid identifier: 1 to 63 letters, digits or underscores, starting with a letter.');
  }
  if (RESERVED_USERS.includes(masterUsername.toLowerCase())) {
    throw new RdsApiError('InvalidParameterValue', 400, `MasterUsername ${masterUsername} cannot be used as it is a reserved word used by the engine`);
  }
  const masterPassword = params.get('MasterUserPassword');
  if (masterPassword === undefined || masterPassword === '') {
    throw new RdsApiError('InvalidParameterValue', 400, 'The parameter MasterUserPassword must be provided and must not be blank.');
  }
  if (masterPassword.length < 8 || masterPassword.length > 128) {
    throw new RdsApiError('InvalidParameterValue', 400, 'The parameter MasterUserPassword is not a valid password because it is not 8 to 128 characters long.');
  }
  if (!/^[\x21-\x7e]+$/.test(masterPassword) || /[/@"]/.test(masterPassword)) {
    throw new RdsApiError('InvalidParameterValue', 400, `The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '"', ' ' may be used.`);
  }
  const cluster = await state.createCluster({
    id,
    engineVersion: engineVersion.trim(),
    major: Number(versionMatch[1]),
    masterUsername,
    masterPassword,
    ...readClusterSettings(params),
  });
  return { DBCluster: renderCluster(cluster) };
}

/** What CreateDBCluster and RestoreDBClusterFromSnapshot both take about the new cluster. */
function readClusterSettings(params: QueryParams) {
  const serverless = readServerless(params);
  const parameterGroup = readString(params, 'DBClusterParameterGroupName');
  const subnetGroup = readString(params, 'DBSubnetGroupName');
  return {
    ...(parameterGroup === undefined ? {} : { parameterGroup }),
    ...(serverless === undefined ? {} : { serverless }),
    ...(subnetGroup === undefined ? {} : { subnetGroup }),
    vpcSecurityGroupIds: readStringList(params, 'VpcSecurityGroupIds.VpcSecurityGroupId'),
    tags: checkTags(readTags(params)),
  };
}

/** SnapshotIdentifier takes a cluster snapshot's identifier or ARN; the cluster keeps the snapshot's master user. */
async function restoreDBClusterFromSnapshot(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const id = readNewIdentifier(params, 'DBClusterIdentifier');
  requireEngine(params);
  const snapshotId = readIdentifier(requireString(params, 'SnapshotIdentifier'), 'SnapshotIdentifier', 'cluster-snapshot');
  const engineVersion = readString(params, 'EngineVersion');
  const cluster = await state.restoreCluster({
    id,
    snapshotId,
    ...(engineVersion === undefined ? {} : { engineVersion: engineVersion.trim() }),
    ...readClusterSettings(params),
  });
  return { DBCluster: renderCluster(cluster) };
}

async function createDBInstance(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const id = readNewIdentifier(params, 'DBInstanceIdentifier');
  const instanceClass = requireString(params, 'DBInstanceClass');
  if (!/^db\.(serverless|[a-z0-9]+\.[a-z0-9]+)$/.test(instanceClass)) {
    throw new RdsApiError('InvalidParameterValue', 400, `Invalid DB Instance class: ${instanceClass}`);
  }
  requireEngine(params);
  const clusterParam = readString(params, 'DBClusterIdentifier');
  if (clusterParam === undefined) {
    throw new RdsApiError('InvalidParameterCombination', 400, `A DB instance of ${ENGINE} belongs to a DB cluster: DBClusterIdentifier is required.`);
  }
  const instance = await state.createInstance({
    id,
    clusterId: readIdentifier(clusterParam, 'DBClusterIdentifier', 'cluster'),
    instanceClass,
    tags: checkTags(readTags(params)),
  });
  return { DBInstance: renderInstance(instance) };
}

async function deleteDBInstance(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const id = readIdentifier(requireString(params, 'DBInstanceIdentifier'), 'DBInstanceIdentifier', 'db');
  // Aurora instances have no snapshots of their own: SkipFinalSnapshot does not apply.
  readBoolean(params, 'SkipFinalSnapshot');
  return { DBInstance: renderInstance(await state.deleteInstance(id)) };
}

async function deleteDBCluster(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const id = readIdentifier(requireString(params, 'DBClusterIdentifier'), 'DBClusterIdentifier', 'cluster');
  const finalSnapshotId = readString(params, 'FinalDBSnapshotIdentifier');
  const cluster = await state.deleteCluster(id, {
    skipFinalSnapshot: readBoolean(params, 'SkipFinalSnapshot') ?? false,
    ...(finalSnapshotId === undefined ? {} : { finalSnapshotId }),
  });
  return { DBCluster: renderCluster(cluster) };
}

async function describeDBInstances(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const filters = checkFilters(readFilters(params), INSTANCE_FILTERS);
  const wanted = readString(params, 'DBInstanceIdentifier');
  let instances: InstanceRecord[];
  if (wanted !== undefined) {
    instances = [await state.instance(readIdentifier(wanted, 'DBInstanceIdentifier', 'db'))];
  } else {
    instances = await state.instances();
  }
  instances = instances.filter((i) => filters.every((f) => instanceMatches(i, f)));
  const page = paginate(instances, (i) => i.id, readString(params, 'Marker'), readInteger(params, 'MaxRecords'));
  return { Marker: page.marker, DBInstances: xmlList('DBInstance', page.items.map(renderInstance)) };
}

async function describeDBClusterParameters(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const group = requireString(params, 'DBClusterParameterGroupName');
  const sourceParam = readString(params, 'Source');
  const source = sourceParam === undefined ? undefined : PARAMETER_SOURCES[sourceParam];
  if (sourceParam !== undefined && source === undefined) {
    throw new RdsApiError('InvalidParameterValue', 400, `Invalid value ${sourceParam} for Source. Must be one of ${Object.keys(PARAMETER_SOURCES).join(', ')}`);
  }
  // "This parameter isn't currently supported." (API reference), and RDS ignores it.
  readFilters(params);
  const listed = (await state.parameters(group)).filter((p) => source === undefined || p.source === source);
  const page = paginate(listed, (p) => p.spec.name, readString(params, 'Marker'), readInteger(params, 'MaxRecords'));
  return { Parameters: xmlList('Parameter', page.items.map(renderParameter)), Marker: page.marker };
}

async function modifyDBClusterParameterGroup(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const group = requireString(params, 'DBClusterParameterGroupName');
  const changes = readIndexed(params, 'Parameters.Parameter').map((n): ParameterChange => {
    const name = readString(params, `Parameters.Parameter.${n}.ParameterName`);
    if (name === undefined) throw new RdsApiError('InvalidParameterValue', 400, `Parameter ${n} has no ParameterName`);
    const method = readString(params, `Parameters.Parameter.${n}.ApplyMethod`) ?? 'pending-reboot';
    if (method !== 'immediate' && method !== 'pending-reboot') {
      throw new RdsApiError('InvalidParameterValue', 400, `Invalid ApplyMethod ${method} for ${name}: immediate or pending-reboot`);
    }
    const value = readString(params, `Parameters.Parameter.${n}.ParameterValue`);
    if (value === undefined) throw new RdsApiError('InvalidParameterValue', 400, `Parameter ${name} has no ParameterValue`);
    return { name, value, applyMethod: method };
  });
  return { DBClusterParameterGroupName: await state.modifyParameters(group, changes) };
}

async function rebootDBInstance(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const id = readIdentifier(requireString(params, 'DBInstanceIdentifier'), 'DBInstanceIdentifier', 'db');
  return { DBInstance: renderInstance(await state.rebootInstance(id)) };
}

function renderParameter(p: ParameterRecord): XmlObject {
  return {
    ParameterName: p.spec.name,
    ParameterValue: p.value,
    Description: p.spec.description,
    Source: p.source,
    ApplyType: p.spec.applyType,
    DataType: p.spec.dataType,
    AllowedValues: p.spec.allowedValues,
    IsModifiable: p.spec.modifiable !== false,
    ApplyMethod: p.spec.applyType === 'static' ? 'pending-reboot' : 'immediate',
    SupportedEngineModes: xmlList('member', ['provisioned']),
  };
}

async function addTagsToResource(state: RdsState, params: QueryParams): Promise<null> {
  const arn = requireString(params, 'ResourceName');
  const tags = checkTags(readTags(params));
  if (tags.length === 0) throw new RdsApiError('MissingParameter', 400, 'The request must contain the parameter Tags');
  await state.addTags(arn, tags);
  return null;
}

async function listTagsForResource(state: RdsState, params: QueryParams): Promise<XmlObject> {
  const arn = requireString(params, 'ResourceName');
  return { TagList: renderTags(await state.tags(arn)) };
}

function readNewIdentifier(params: QueryParams, parameter: string): string {
  const id = requireString(params, parameter);
  if (!isValidSnapshotId(id)) throw invalidIdentifier(parameter);
  return id.toLowerCase();
}

function requireEngine(params: QueryParams): void {
  const engine = requireString(params, 'Engine');
  if (engine !== ENGINE) throw new RdsApiError('InvalidParameterValue', 400, `Invalid DB engine: ${engine} (this stand-in serves ${ENGINE})`);
}

/** `ServerlessV2ScalingConfiguration.MinCapacity` / `.MaxCapacity`: ACUs in half steps, 0-256, min <= max. */
function readServerless(params: QueryParams): { minCapacity: number; maxCapacity: number } | undefined {
  const min = readNumber(params, 'ServerlessV2ScalingConfiguration.MinCapacity');
  const max = readNumber(params, 'ServerlessV2ScalingConfiguration.MaxCapacity');
  if (min === undefined && max === undefined) return undefined;
  if (min === undefined || max === undefined) {
    throw new RdsApiError('InvalidParameterCombination', 400, 'ServerlessV2ScalingConfiguration needs both MinCapacity and MaxCapacity.');
  }
  for (const [name, value] of [['MinCapacity', min], ['MaxCapacity', max]] as const) {
    if (value < 0 || value > 256 || !Number.isInteger(value * 2)) {
      throw new RdsApiError('InvalidParameterValue', 400, `Invalid ${name} ${value}: ACUs go from 0 to 256 in steps of 0.5.`);
    }
  }
  if (max < 1 || min > max) {
    throw new RdsApiError('InvalidParameterCombination', 400, `Serverless v2 MinCapacity ${min} must not exceed MaxCapacity ${max}, and MaxCapacity must be at least 1.`);
  }
  return { minCapacity: min, maxCapacity: max };
}

function checkTags(tags: Tag[]): Tag[] {
  for (const tag of tags) {
    if (tag.key.length > 128 || tag.value.length > 256) throw new RdsApiError('InvalidParameterValue', 400, `Tag ${tag.key}: keys have at most 128 characters, values 256.`);
    if (tag.key.toLowerCase().startsWith('aws:')) throw new RdsApiError('InvalidParameterValue', 400, `Tag keys may not begin with aws: (${tag.key}).`);
  }
  return tags;
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

function instanceMatches(instance: InstanceRecord, filter: Filter): boolean {
  switch (filter.name) {
    case 'db-cluster-id':
      return filter.values.some((v) => v.toLowerCase() === instance.clusterId || v.toLowerCase().endsWith(`:cluster:${instance.clusterId}`));
    case 'db-instance-id':
      return filter.values.some((v) => v.toLowerCase() === instance.id || v === instance.arn);
    case 'dbi-resource-id':
      return filter.values.includes(instance.resourceId);
    case 'engine':
      return filter.values.includes(ENGINE);
    default:
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
    DBClusterParameterGroup: c.parameterGroup,
    DBSubnetGroup: c.subnetGroup,
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
    DBClusterMembers: xmlList(
      'DBClusterMember',
      c.members.map((m) => ({ DBInstanceIdentifier: m.id, IsClusterWriter: m.writer, DBClusterParameterGroupStatus: m.parameterGroupStatus, PromotionTier: 1 })),
    ),
    VpcSecurityGroups: xmlList(
      'VpcSecurityGroupMembership',
      c.vpcSecurityGroupIds.map((id) => ({ VpcSecurityGroupId: id, Status: 'active' })),
    ),
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
    TagList: renderTags(c.tags),
    ServerlessV2ScalingConfiguration: c.serverless ? { MinCapacity: c.serverless.minCapacity, MaxCapacity: c.serverless.maxCapacity } : undefined,
    StorageType: 'aurora',
  };
}

function renderInstance(i: InstanceRecord): XmlObject {
  return {
    DBInstanceIdentifier: i.id,
    DBInstanceClass: i.instanceClass,
    Engine: ENGINE,
    DBInstanceStatus: i.status,
    MasterUsername: i.masterUsername,
    // No endpoint until the instance is first up, as in RDS.
    Endpoint: i.status === 'creating' ? undefined : { Address: i.endpoint, Port: i.port, HostedZoneId: 'Z2R2ITUGPM61AM' },
    AllocatedStorage: 1,
    InstanceCreateTime: i.createdAt,
    PreferredBackupWindow: '07:00-07:30',
    BackupRetentionPeriod: D.LAB_RDS_BACKUP_RETENTION_DAYS,
    DBSecurityGroups: xmlList('DBSecurityGroup', []),
    VpcSecurityGroups: xmlList('VpcSecurityGroupMembership', []),
    DBParameterGroups: xmlList('DBParameterGroup', [{ DBParameterGroupName: i.parameterGroup, ParameterApplyStatus: 'in-sync' }]),
    AvailabilityZone: i.availabilityZone,
    PreferredMaintenanceWindow: 'sun:08:00-sun:08:30',
    MultiAZ: false,
    EngineVersion: i.engineVersion,
    AutoMinorVersionUpgrade: true,
    LicenseModel: 'postgresql-license',
    PubliclyAccessible: false,
    StorageType: 'aurora',
    DbInstancePort: 0,
    DBClusterIdentifier: i.clusterId,
    StorageEncrypted: false,
    DbiResourceId: i.resourceId,
    PromotionTier: 1,
    DBInstanceArn: i.arn,
    IAMDatabaseAuthenticationEnabled: false,
    PerformanceInsightsEnabled: false,
    DeletionProtection: false,
    TagList: renderTags(i.tags),
    CopyTagsToSnapshot: false,
  };
}

function renderTags(tags: readonly Tag[]): XmlList {
  return xmlList(
    'Tag',
    tags.map((t) => ({ Key: t.key, Value: t.value })),
  );
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
