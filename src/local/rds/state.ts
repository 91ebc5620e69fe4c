import { createHash, randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Type from 'typebox';
import Value from 'typebox/value';
import type { Clock } from '../../clock.js';
import * as D from '../../defaults.js';
import { describeError, isPgshiftError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { withClient, type ConnectTarget } from '../../postgres/connect.js';
import { SnapshotStore, type SnapshotManifest } from '../../clusters/snapshot-store.js';
import { GLOBALS_FILE, restoreDatabases } from '../../clusters/dump.js';
import { LAB_DOMAIN, labEndpoint } from '../lab-endpoints.js';
import { RdsApiError, clusterNotFound, instanceNotFound, snapshotNotFound } from './errors.js';
import type { LabClusterSource, LabClusterView, LabServerFactory, LabServerHandle } from './lab-view.js';
import { defaultParameterGroup, ENGINE_PARAMETERS, parameterGroupFamily, parameterSpec, type ParameterSpec } from './parameters.js';
import type { Tag } from './query.js';

export const ENGINE = 'aurora-postgresql';

export type ClusterStatus = 'available' | 'stopped' | 'starting' | 'creating' | 'deleting' | 'failed';

/** A lab cluster as RDS would describe it right now. */
export interface ClusterRecord {
  id: string;
  arn: string;
  resourceId: string;
  status: ClusterStatus;
  engineVersion: string;
  major: number;
  port: number;
  endpoint: string;
  readerEndpoint: string;
  createdAt: Date;
  earliestRestorableTime: Date;
  latestRestorableTime: Date;
  masterUsername: string;
  /** Its DB instances; the first is the writer. `pending-reboot`: static changes of its parameter group wait for a reboot. */
  members: { id: string; writer: boolean; parameterGroupStatus: 'in-sync' | 'pending-reboot' }[];
  availabilityZone: string;
  parameterGroup: string;
  /** The parameter group family of its major, e.g. aurora-postgresql14. */
  family: string;
  serverless?: { minCapacity: number; maxCapacity: number };
  subnetGroup?: string;
  vpcSecurityGroupIds: string[];
  tags: Tag[];
  /** Made through CreateDBCluster (and so deletable), not one of the lab's own servers. */
  created: boolean;
}

/** A DB instance: the lab's own clusters have one writer each; created clusters what CreateDBInstance made. */
export interface InstanceRecord {
  id: string;
  arn: string;
  resourceId: string;
  clusterId: string;
  instanceClass: string;
  status: ClusterStatus;
  engineVersion: string;
  port: number;
  endpoint: string;
  createdAt: Date;
  masterUsername: string;
  availabilityZone: string;
  parameterGroup: string;
  writer: boolean;
  tags: Tag[];
}

/** A parameter of a DB cluster parameter group as DescribeDBClusterParameters lists it. */
export interface ParameterRecord {
  spec: ParameterSpec;
  value: string | undefined;
  source: 'engine-default' | 'system' | 'user';
}

/** One parameter of ModifyDBClusterParameterGroup; `value` undefined puts the engine default back. */
export interface ParameterChange {
  name: string;
  value: string | undefined;
  applyMethod: 'immediate' | 'pending-reboot';
}

/**
 * What the lab can make a cluster look like to RDS callers without real AWS: Serverless
 * v2 with an ACU range (its instances then are `db.serverless`; null: provisioned
 * again), or another instance class. Tests set these to create each capacity condition.
 */
export interface RdsLabClusterSettings {
  serverless?: { minCapacity: number; maxCapacity: number } | null;
  instanceClass?: string | null;
}

function checkParameterValue(spec: ParameterSpec, value: string): void {
  const ok =
    spec.dataType === 'boolean' ? /^[01]$/.test(value) : spec.dataType === 'integer' ? /^-?\d+$/.test(value) || /^[A-Z]+\(.*\)$/.test(value) : true;
  if (!ok) throw new RdsApiError('InvalidParameterValue', 400, `Value ${value} for parameter ${spec.name} is invalid: it must be ${spec.dataType === 'boolean' ? '0 or 1' : 'an integer'}.`);
}

/** A group of the stand-in's clusters' own: logical replication on, as the lab's servers run (wal_level = logical). */
const LAB_GROUP_VALUES: Readonly<Record<string, string>> = { 'rds.logical_replication': '1' };
const MAX_PARAMETERS_PER_MODIFY = 20;

export interface CreateClusterInput {
  id: string;
  engineVersion: string;
  major: number;
  masterUsername: string;
  masterPassword: string;
  parameterGroup?: string;
  serverless?: { minCapacity: number; maxCapacity: number };
  subnetGroup?: string;
  vpcSecurityGroupIds: string[];
  tags: Tag[];
}

/** RestoreDBClusterFromSnapshot: the new cluster runs the snapshot's major with its master user. */
export interface RestoreClusterInput {
  id: string;
  snapshotId: string;
  /** Must be of the snapshot's major when given: the stand-in restores, it does not upgrade. */
  engineVersion?: string;
  parameterGroup?: string;
  serverless?: { minCapacity: number; maxCapacity: number };
  subnetGroup?: string;
  vpcSecurityGroupIds: string[];
  tags: Tag[];
}

export interface CreateInstanceInput {
  id: string;
  clusterId: string;
  instanceClass: string;
  tags: Tag[];
}

export interface SnapshotRecord {
  manifest: SnapshotManifest;
  arn: string;
  engineVersion: string;
  port: number;
  clusterCreatedAt: Date;
  masterUsername: string;
  availabilityZone: string;
  tags: { key: string; value: string }[];
}

export interface RdsStateOptions {
  /** The stand-in's folder: cluster creation times and the snapshots. */
  dir: string;
  source: LabClusterSource;
  clock: Clock;
  log: Logger;
  region: string;
  account: string;
  /** Servers for CreateDBCluster; without it the stand-in refuses to create clusters. */
  servers?: LabServerFactory;
}

const TagSchema = Type.Object({ key: Type.String(), value: Type.String() });
const ServerlessSchema = Type.Object({ minCapacity: Type.Number(), maxCapacity: Type.Number() });
const ParameterGroupSchema = Type.Object({ family: Type.String(), description: Type.String(), values: Type.Record(Type.String(), Type.String()) });

/** A cluster made through CreateDBCluster; `phase` is what the stand-in has done with its server. */
const CreatedSchema = Type.Object({
  major: Type.Integer(),
  engineVersion: Type.String(),
  masterUsername: Type.String(),
  parameterGroup: Type.Optional(Type.String()),
  serverless: Type.Optional(ServerlessSchema),
  subnetGroup: Type.Optional(Type.String()),
  vpcSecurityGroupIds: Type.Array(Type.String()),
  port: Type.Optional(Type.Integer()),
  /** RestoreDBClusterFromSnapshot: the snapshot whose dump fills the new server before it is `available`. */
  restoredFrom: Type.Optional(Type.String()),
  phase: Type.Union([Type.Literal('creating'), Type.Literal('available'), Type.Literal('deleting'), Type.Literal('failed')]),
});
type Created = Type.Static<typeof CreatedSchema>;

const InstanceSchema = Type.Object({
  clusterId: Type.String(),
  instanceClass: Type.String(),
  createdAt: Type.String(),
  tags: Type.Array(TagSchema),
  deleting: Type.Optional(Type.Boolean()),
});

/**
 * What the stand-in remembers across restarts: per cluster when it first saw it, the
 * last version it read, its tags, and for a created cluster how it was asked for; the
 * created clusters' instances. Master passwords live apart, in a 0600 file.
 */
const ClusterBookSchema = Type.Object({
  version: Type.Literal(1),
  clusters: Type.Record(
    Type.String(),
    Type.Object({
      createdAt: Type.String(),
      engineVersion: Type.Optional(Type.String()),
      tags: Type.Optional(Type.Array(TagSchema)),
      created: Type.Optional(CreatedSchema),
      /** The lab's own clusters: the DB cluster parameter group they were given at first sight. */
      parameterGroup: Type.Optional(Type.String()),
      /** Lab settings (RdsLabSettings): what RDS would report had the cluster been made so. */
      serverless: Type.Optional(ServerlessSchema),
      instanceClass: Type.Optional(Type.String()),
      /** Instances with static parameter changes of their group waiting for a reboot. */
      pendingReboot: Type.Optional(Type.Array(Type.String())),
    }),
  ),
  instances: Type.Optional(Type.Record(Type.String(), InstanceSchema)),
  /** Custom DB cluster parameter groups: the values set in them (RDS's default groups are not stored). */
  parameterGroups: Type.Optional(Type.Record(Type.String(), ParameterGroupSchema)),
});
type ClusterBook = Type.Static<typeof ClusterBookSchema>;

const SecretsSchema = Type.Record(Type.String(), Type.String());
const SECRETS_FILE = 'master-passwords.json';

const BOOK_FILE = 'clusters.json';
const TAG_LABEL = 'tag:';
const DAY_MS = 24 * 3600_000;
const MAX_TAGS = 50;

/**
 * What the RDS stand-in knows: the lab's servers seen as Aurora clusters (status and
 * version read from the real servers at every call), clusters created through
 * CreateDBCluster (each a new real server the lab starts, remembered in the book so a
 * restart brings it back), their DB instances, tags, and cluster snapshots made with
 * pg_dump into `<dir>/snapshots`, which outlive the stand-in.
 */
export class RdsState {
  private readonly options: RdsStateOptions;
  private readonly store: SnapshotStore;
  private readonly book: ClusterBook;
  private readonly passwords: Record<string, string>;
  private readonly lastAvailable = new Map<string, number>();
  private bookChanged = false;
  private saving: Promise<void> = Promise.resolve();
  private readonly jobs = new Set<{ abort: AbortController; done: Promise<unknown> }>();
  /** Servers of created clusters, once started. */
  private readonly handles = new Map<string, LabServerHandle>();
  /** Created clusters whose server is being started again after a restart. */
  private readonly resuming = new Set<string>();
  private closed = false;
  private readonly createdViews = new WeakSet<LabClusterView>();

  private constructor(options: RdsStateOptions, book: ClusterBook, passwords: Record<string, string>) {
    this.options = options;
    this.book = book;
    this.passwords = passwords;
    this.store = new SnapshotStore(join(options.dir, 'snapshots'), options.clock);
  }

  static async open(options: RdsStateOptions): Promise<RdsState> {
    await mkdir(options.dir, { recursive: true });
    let book: ClusterBook = { version: 1, clusters: {} };
    try {
      const parsed: unknown = JSON.parse(await readFile(join(options.dir, BOOK_FILE), 'utf8'));
      if (Value.Check(ClusterBookSchema, parsed)) book = parsed;
    } catch {
      // First start: clusters are "created" now.
    }
    let passwords: Record<string, string> = {};
    try {
      const parsed: unknown = JSON.parse(await readFile(join(options.dir, SECRETS_FILE), 'utf8'));
      if (Value.Check(SecretsSchema, parsed)) passwords = parsed;
    } catch {
      // No created cluster yet.
    }
    const state = new RdsState(options, book, passwords);
    state.resumeCreated();
    return state;
  }

  /** Every cluster, the lab's and the created ones, sorted by identifier. */
  async clusters(): Promise<ClusterRecord[]> {
    const views = this.views().sort((a, b) => a.id.localeCompare(b.id));
    const records = await Promise.all(views.map((view) => this.observe(view).catch((err: unknown) => {
      if (err instanceof RdsApiError && err.code === 'DBClusterNotFoundFault') return null;
      throw err;
    })));
    await this.saveBook();
    return records.filter((r): r is ClusterRecord => r !== null);
  }

  async cluster(id: string): Promise<ClusterRecord> {
    const view = this.view(id);
    if (!view) throw clusterNotFound(id);
    const record = await this.observe(view);
    await this.saveBook();
    return record;
  }

  /** Every DB instance, sorted by identifier. */
  async instances(): Promise<InstanceRecord[]> {
    const clusters = await this.clusters();
    return clusters.flatMap((c) => this.instancesOf(c)).sort((a, b) => a.id.localeCompare(b.id));
  }

  async instance(id: string): Promise<InstanceRecord> {
    const found = (await this.instances()).find((i) => i.id === id);
    if (!found) throw instanceNotFound(id);
    return found;
  }

  /**
   * Records the cluster as `creating` and has the lab start a new server for it in the
   * background; the cluster is `available` once the server answers.
   */
  async createCluster(input: CreateClusterInput): Promise<ClusterRecord> {
    const servers = this.options.servers;
    if (!servers) throw new RdsApiError('InvalidParameterCombination', 400, 'This RDS stand-in was started without servers for new clusters.');
    if (this.view(input.id)) throw new RdsApiError('DBClusterAlreadyExistsFault', 400, 'DB Cluster already exists');
    if (!servers.majors().includes(input.major)) {
      throw new RdsApiError(
        'InvalidParameterCombination',
        400,
        `Cannot find version ${input.engineVersion} for ${ENGINE} (the lab runs majors ${servers.majors().join(', ')})`,
      );
    }
    const created: Created = {
      major: input.major,
      engineVersion: input.engineVersion,
      masterUsername: input.masterUsername,
      ...(input.parameterGroup === undefined ? {} : { parameterGroup: input.parameterGroup }),
      ...(input.serverless === undefined ? {} : { serverless: input.serverless }),
      ...(input.subnetGroup === undefined ? {} : { subnetGroup: input.subnetGroup }),
      vpcSecurityGroupIds: input.vpcSecurityGroupIds,
      phase: 'creating',
    };
    this.book.clusters[input.id] = { createdAt: new Date(this.options.clock.now()).toISOString(), tags: input.tags, created };
    this.passwords[input.id] = input.masterPassword;
    await this.savePasswords();
    this.bookChanged = true;
    await this.saveBook();
    this.options.log.info({ cluster: input.id, major: input.major }, 'rds stand-in: creating cluster');
    this.startServer(input.id, 'creating');
    return this.cluster(input.id);
  }

  /**
   * Records a cluster restored from an available snapshot as `creating`; the lab starts
   * a server of the snapshot's major and restores the snapshot's dump into it before the
   * cluster is `available` (`failed` when the restore fails). The master password is the
   * source cluster's (RDS keeps the one of the snapshot's time; the stand-in keeps no
   * password with a snapshot), so the source cluster must still exist.
   */
  async restoreCluster(input: RestoreClusterInput): Promise<ClusterRecord> {
    const servers = this.options.servers;
    if (!servers) throw new RdsApiError('InvalidParameterCombination', 400, 'This RDS stand-in was started without servers for new clusters.');
    if (this.view(input.id)) throw new RdsApiError('DBClusterAlreadyExistsFault', 400, 'DB Cluster already exists');
    const snapshot = await this.snapshot(input.snapshotId);
    if (!snapshot) throw new RdsApiError('DBClusterSnapshotNotFoundFault', 404, `DBClusterSnapshot ${input.snapshotId} not found.`);
    if (snapshot.manifest.status !== 'available') {
      throw new RdsApiError('InvalidDBClusterSnapshotStateFault', 400, `DBClusterSnapshot ${snapshot.manifest.id} is not available (status ${snapshot.manifest.status}).`);
    }
    const snapshotVersion = snapshot.engineVersion;
    const major = Number(/^(\d+)/.exec(snapshotVersion)?.[1] ?? NaN);
    if (!Number.isInteger(major) || !servers.majors().includes(major)) {
      throw new RdsApiError('InvalidParameterCombination', 400, `Cannot restore a snapshot of ${ENGINE} ${snapshotVersion}: the lab runs majors ${servers.majors().join(', ')}.`);
    }
    const engineVersion = input.engineVersion ?? snapshotVersion;
    if (Number(/^(\d+)/.exec(engineVersion)?.[1]) !== major) {
      throw new RdsApiError('InvalidParameterCombination', 400, `This RDS stand-in restores a snapshot at its own major (${major}), not at ${engineVersion}.`);
    }
    const source = this.view(snapshot.manifest.clusterId);
    if (!source) {
      throw new RdsApiError('InvalidParameterCombination', 400, `The stand-in takes the master password of the snapshot's cluster ${snapshot.manifest.clusterId}, which no longer exists.`);
    }
    const created: Created = {
      major,
      engineVersion,
      masterUsername: snapshot.masterUsername || source.admin.user,
      ...(input.parameterGroup === undefined ? {} : { parameterGroup: input.parameterGroup }),
      ...(input.serverless === undefined ? {} : { serverless: input.serverless }),
      ...(input.subnetGroup === undefined ? {} : { subnetGroup: input.subnetGroup }),
      vpcSecurityGroupIds: input.vpcSecurityGroupIds,
      restoredFrom: snapshot.manifest.id,
      phase: 'creating',
    };
    this.book.clusters[input.id] = { createdAt: new Date(this.options.clock.now()).toISOString(), tags: input.tags, created };
    this.passwords[input.id] = source.admin.password;
    await this.savePasswords();
    this.bookChanged = true;
    await this.saveBook();
    this.options.log.info({ cluster: input.id, snapshot: snapshot.manifest.id, major }, 'rds stand-in: restoring cluster from snapshot');
    this.startServer(input.id, 'creating');
    return this.cluster(input.id);
  }

  async createInstance(input: CreateInstanceInput): Promise<InstanceRecord> {
    const cluster = await this.cluster(input.clusterId);
    const entry = this.book.clusters[cluster.id];
    if (!cluster.created || !entry?.created) {
      throw new RdsApiError('InvalidParameterCombination', 400, `DBCluster ${cluster.id} is one of the lab's own clusters; its instance is fixed.`);
    }
    if ((await this.instances()).some((i) => i.id === input.id)) throw new RdsApiError('DBInstanceAlreadyExists', 400, 'DB instance already exists');
    if (entry.created.phase === 'deleting' || entry.created.phase === 'failed') {
      throw new RdsApiError('InvalidDBClusterStateFault', 400, `DBCluster ${cluster.id} is in ${cluster.status} state.`);
    }
    if (input.instanceClass === 'db.serverless' && entry.created.serverless === undefined) {
      throw new RdsApiError(
        'InvalidParameterCombination',
        400,
        `The DB instance class db.serverless needs a DB cluster with ServerlessV2ScalingConfiguration; ${cluster.id} has none.`,
      );
    }
    const instances = (this.book.instances ??= {});
    instances[input.id] = { clusterId: cluster.id, instanceClass: input.instanceClass, createdAt: new Date(this.options.clock.now()).toISOString(), tags: input.tags };
    this.bookChanged = true;
    await this.saveBook();
    return this.instance(input.id);
  }

  /** Marks the instance `deleting`; it is gone a moment later. */
  async deleteInstance(id: string): Promise<InstanceRecord> {
    const record = await this.instance(id);
    const entry = this.book.instances?.[record.id];
    if (!entry) throw new RdsApiError('InvalidParameterCombination', 400, `DBInstance ${record.id} belongs to one of the lab's own clusters and cannot be deleted.`);
    if (entry.deleting) throw new RdsApiError('InvalidDBInstanceState', 400, `Instance ${record.id} is already being deleted.`);
    entry.deleting = true;
    this.bookChanged = true;
    await this.saveBook();
    this.track(async (signal) => {
      await this.options.clock.sleep(D.LAB_RDS_DELETE_DELAY_MS, signal).catch(() => undefined);
      if (this.book.instances) delete this.book.instances[record.id];
      this.bookChanged = true;
      await this.saveBook();
      this.options.log.info({ instance: record.id }, 'rds stand-in: instance deleted');
    });
    return { ...record, status: 'deleting' };
  }

  /** Marks the cluster `deleting`, then stops its server and removes its data in the background. */
  async deleteCluster(id: string, options: { skipFinalSnapshot: boolean; finalSnapshotId?: string }): Promise<ClusterRecord> {
    const record = await this.cluster(id);
    const entry = this.book.clusters[record.id];
    if (!record.created || !entry?.created) {
      throw new RdsApiError('InvalidDBClusterStateFault', 400, `DBCluster ${record.id} is one of the lab's own clusters and cannot be deleted.`);
    }
    if (!options.skipFinalSnapshot) {
      throw new RdsApiError(
        'InvalidParameterCombination',
        400,
        options.finalSnapshotId === undefined
          ? 'FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.'
          : 'This RDS stand-in takes no final snapshots: delete with SkipFinalSnapshot.',
      );
    }
    if (entry.created.phase === 'creating' || entry.created.phase === 'deleting') {
      throw new RdsApiError('InvalidDBClusterStateFault', 400, `DBCluster ${record.id} is in ${record.status} state.`);
    }
    const members = Object.values(this.book.instances ?? {}).filter((i) => i.clusterId === record.id && !i.deleting);
    if (members.length > 0) {
      throw new RdsApiError('InvalidDBClusterStateFault', 400, 'Cluster cannot be deleted, it still contains DB instances in non-deleting state.');
    }
    entry.created.phase = 'deleting';
    this.bookChanged = true;
    await this.saveBook();
    this.removeServer(record.id);
    return { ...record, status: 'deleting' };
  }

  /** Tags of a cluster or instance, by ARN. */
  async tags(arn: string): Promise<Tag[]> {
    const target = this.parseArn(arn);
    if (target.kind === 'cluster') return (await this.cluster(target.id)).tags;
    return (await this.instance(target.id)).tags;
  }

  /** Adds tags (a key given again gets the new value) to a cluster or instance, by ARN. */
  async addTags(arn: string, tags: Tag[]): Promise<void> {
    const target = this.parseArn(arn);
    let current: Tag[];
    let store: (tags: Tag[]) => void;
    if (target.kind === 'cluster') {
      const record = await this.cluster(target.id);
      const entry = this.book.clusters[record.id]!;
      current = entry.tags ?? [];
      store = (next) => (entry.tags = next);
    } else {
      const record = await this.instance(target.id);
      const entry = this.book.instances?.[record.id];
      if (!entry) throw new RdsApiError('InvalidParameterCombination', 400, `DBInstance ${record.id} belongs to one of the lab's own clusters; tag its cluster.`);
      current = entry.tags;
      store = (next) => (entry.tags = next);
    }
    const merged = new Map(current.map((t) => [t.key, t.value]));
    for (const tag of tags) merged.set(tag.key, tag.value);
    if (merged.size > MAX_TAGS) throw new RdsApiError('TagQuotaPerResourceExceeded', 400, `A resource can have at most ${MAX_TAGS} tags.`);
    store([...merged].map(([key, value]) => ({ key, value })));
    this.bookChanged = true;
    await this.saveBook();
  }

  /** Starts a pg_dump of every database of the cluster; returns the `creating` snapshot. */
  async createSnapshot(clusterId: string, snapshotId: string, tags: { key: string; value: string }[]): Promise<SnapshotRecord> {
    const cluster = await this.cluster(clusterId);
    if (await this.store.get(snapshotId)) {
      throw new RdsApiError(
        'DBClusterSnapshotAlreadyExistsFault',
        400,
        `Cannot create the cluster snapshot because one with the identifier ${snapshotId} already exists.`,
      );
    }
    if (cluster.status !== 'available') {
      throw new RdsApiError('InvalidDBClusterStateFault', 400, `DBCluster ${cluster.id} is not in the available state (status ${cluster.status}).`);
    }
    const view = this.view(clusterId)!;
    const target = (database: string): ConnectTarget => ({
      endpoint: { host: '127.0.0.1', port: view.port },
      database,
      login: view.admin,
    });
    const databases = await withClient(target('postgres'), async (c) =>
      (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname`)).rows.map(
        (r) => r.datname,
      ),
    ).catch((err: unknown) => {
      throw new RdsApiError('InvalidDBClusterStateFault', 400, `DBCluster ${cluster.id} does not answer: ${(err as Error).message}`);
    });

    const abort = new AbortController();
    let started;
    try {
      started = await this.store.start({
        id: snapshotId,
        clusterId: cluster.id,
        engineVersion: cluster.engineVersion,
        labels: {
          port: String(cluster.port),
          clusterCreatedAt: cluster.createdAt.toISOString(),
          masterUsername: cluster.masterUsername,
          ...Object.fromEntries(tags.map((t) => [`${TAG_LABEL}${t.key}`, t.value])),
        },
        dump: { databases, targetFor: target },
        signal: abort.signal,
      });
    } catch (err) {
      if (isPgshiftError(err, 'PGSHIFT_ERR_SNAPSHOT_EXISTS')) {
        throw new RdsApiError(
          'DBClusterSnapshotAlreadyExistsFault',
          400,
          `Cannot create the cluster snapshot because one with the identifier ${snapshotId} already exists.`,
        );
      }
      throw new RdsApiError('InternalFailure', 500, `cannot store snapshot ${snapshotId}: ${describeError(err)}`);
    }
    const job = { abort, done: started.done };
    this.jobs.add(job);
    void started.done.then((final) => {
      this.jobs.delete(job);
      this.options.log.info({ snapshot: snapshotId, cluster: cluster.id, status: final.status, error: final.error }, 'rds stand-in: snapshot finished');
    });
    this.options.log.info({ snapshot: snapshotId, cluster: cluster.id, databases }, 'rds stand-in: snapshot started');
    return this.toSnapshotRecord(started.manifest);
  }

  /**
   * DeleteDBClusterSnapshot: the snapshot and its dump are gone at once; answers it as it
   * was (RDS's own answer shows the snapshot's last state, e.g. `available`). RDS deletes
   * only a snapshot that is not being made: one `creating` is
   * InvalidDBClusterSnapshotStateFault, and so (the stand-in's own limit: the restore reads
   * its dump) is one a cluster is still being restored from. A `failed` one may go.
   */
  async deleteSnapshot(id: string): Promise<SnapshotRecord> {
    const found = await this.snapshot(id);
    if (!found) throw snapshotNotFound(id);
    const notNow = (why: string) => new RdsApiError('InvalidDBClusterSnapshotStateFault', 400, `DBClusterSnapshot ${found.manifest.id} cannot be deleted: ${why}.`);
    if (found.manifest.status === 'creating') throw notNow(`it is creating (${found.manifest.progress}%)`);
    const restoring = Object.entries(this.book.clusters).find(([, e]) => e.created?.restoredFrom === found.manifest.id && e.created.phase === 'creating');
    if (restoring) throw notNow(`cluster ${restoring[0]} is being restored from it`);
    try {
      await this.store.remove(found.manifest.id);
    } catch (err) {
      if (isPgshiftError(err, 'PGSHIFT_ERR_SNAPSHOT_CREATING')) throw notNow('it is creating');
      throw new RdsApiError('InternalFailure', 500, `cannot delete snapshot ${found.manifest.id}: ${describeError(err)}`);
    }
    this.options.log.info({ snapshot: found.manifest.id, cluster: found.manifest.clusterId }, 'rds stand-in: snapshot deleted');
    return found;
  }

  /** Every snapshot, oldest first. */
  async snapshots(): Promise<SnapshotRecord[]> {
    return (await this.store.list()).reverse().map((m) => this.toSnapshotRecord(m));
  }

  async snapshot(id: string): Promise<SnapshotRecord | null> {
    const manifest = await this.store.get(id);
    return manifest ? this.toSnapshotRecord(manifest) : null;
  }

  /** Every parameter of a DB cluster parameter group, sorted by name, with the value the group sets or the engine default. */
  async parameters(groupName: string): Promise<ParameterRecord[]> {
    const values = this.groupValues(groupName);
    return ENGINE_PARAMETERS.map((spec): ParameterRecord => {
      const set = values[spec.name];
      if (set !== undefined) return { spec, value: set, source: 'user' };
      return { spec, value: spec.defaultValue, source: spec.modifiable === false ? 'system' : 'engine-default' };
    });
  }

  /**
   * ModifyDBClusterParameterGroup (and ResetDBClusterParameterGroup's effect, with
   * undefined values): RDS's default groups cannot be changed, static parameters only
   * with `pending-reboot`, which leaves every instance of the clusters using the group
   * `pending-reboot` until it is rebooted.
   */
  async modifyParameters(groupName: string, changes: readonly ParameterChange[]): Promise<string> {
    const name = groupName.toLowerCase();
    const values = this.groupValues(name);
    if (this.isDefaultGroup(name)) throw new RdsApiError('InvalidDBParameterGroupState', 400, `Default parameter groups cannot be modified: ${name}`);
    if (changes.length === 0 || changes.length > MAX_PARAMETERS_PER_MODIFY) {
      throw new RdsApiError('InvalidParameterValue', 400, `Between 1 and ${MAX_PARAMETERS_PER_MODIFY} parameters can be modified in a single request.`);
    }
    let reboot = false;
    for (const change of changes) {
      const spec = parameterSpec(change.name);
      if (!spec) throw new RdsApiError('InvalidParameterValue', 400, `Could not find parameter with name: ${change.name}`);
      if (spec.modifiable === false) throw new RdsApiError('InvalidParameterValue', 400, `The parameter ${change.name} cannot be modified.`);
      if (spec.applyType === 'static' && change.applyMethod === 'immediate') {
        throw new RdsApiError('InvalidParameterCombination', 400, `cannot use immediate apply method for static parameter ${change.name}`);
      }
      if (change.value !== undefined) checkParameterValue(spec, change.value);
      reboot ||= spec.applyType === 'static';
    }
    for (const change of changes) {
      if (change.value === undefined) delete values[change.name];
      else values[change.name] = change.value;
    }
    if (reboot) {
      for (const cluster of await this.clusters()) {
        if (cluster.parameterGroup !== name) continue;
        this.book.clusters[cluster.id]!.pendingReboot = cluster.members.map((m) => m.id);
      }
    }
    this.bookChanged = true;
    await this.saveBook();
    return name;
  }

  /** RebootDBInstance: static parameter changes of its cluster's group are now in effect on it. */
  async rebootInstance(id: string): Promise<InstanceRecord> {
    const instance = await this.instance(id);
    const entry = this.book.clusters[instance.clusterId];
    if (entry?.pendingReboot?.includes(instance.id)) {
      entry.pendingReboot = entry.pendingReboot.filter((m) => m !== instance.id);
      this.bookChanged = true;
      await this.saveBook();
    }
    this.options.log.info({ instance: instance.id }, 'rds stand-in: instance rebooted');
    return instance;
  }

  /** Lab settings: see RdsLabClusterSettings. */
  async configureCluster(id: string, settings: RdsLabClusterSettings): Promise<ClusterRecord> {
    const record = await this.cluster(id);
    const entry = this.book.clusters[record.id]!;
    if (settings.serverless !== undefined) {
      if (settings.serverless === null) delete entry.serverless;
      else entry.serverless = settings.serverless;
    }
    if (settings.instanceClass !== undefined) {
      if (settings.instanceClass === null) delete entry.instanceClass;
      else entry.instanceClass = settings.instanceClass;
    }
    this.bookChanged = true;
    return this.cluster(record.id);
  }

  /**
   * Lab setting: a parameter of the cluster's group set (undefined: back to the engine
   * default) as an operator would with ModifyDBClusterParameterGroup; a static one
   * leaves the instances `pending-reboot` unless `reboot` says they were rebooted since.
   */
  async setClusterParameter(id: string, name: string, value: string | undefined, options: { reboot?: boolean } = {}): Promise<void> {
    const record = await this.cluster(id);
    const entry = this.book.clusters[record.id]!;
    let group = record.parameterGroup;
    if (this.isDefaultGroup(group)) {
      group = `${record.id}-params`;
      this.ensureGroup(group, record.family);
      if (entry.created) entry.created.parameterGroup = group;
      else entry.parameterGroup = group;
    }
    const spec = parameterSpec(name);
    await this.modifyParameters(group, [{ name, value, applyMethod: spec?.applyType === 'dynamic' ? 'immediate' : 'pending-reboot' }]);
    if (options.reboot) {
      delete entry.pendingReboot;
      this.bookChanged = true;
      await this.saveBook();
    }
  }

  private isDefaultGroup(name: string): boolean {
    return /^default\.aurora-postgresql\d+$/.test(name.toLowerCase());
  }

  /** The values a group sets; RDS's default groups set none. Throws RDS's not-found fault for a group it does not have. */
  private groupValues(groupName: string): Record<string, string> {
    const name = groupName.toLowerCase();
    if (this.isDefaultGroup(name)) return {};
    const group = this.book.parameterGroups?.[name];
    if (!group) throw new RdsApiError('DBParameterGroupNotFound', 404, `DBClusterParameterGroup not found: ${groupName}`);
    return group.values;
  }

  private ensureGroup(name: string, family: string): void {
    const groups = (this.book.parameterGroups ??= {});
    const key = name.toLowerCase();
    if (groups[key]) return;
    groups[key] = { family, description: `${family} with logical replication`, values: { ...LAB_GROUP_VALUES } };
    this.bookChanged = true;
  }

  /** Ends running dumps (their snapshots become `failed`), waits for every job, and stops the created clusters' servers. */
  async close(): Promise<void> {
    this.closed = true;
    const jobs = [...this.jobs];
    for (const job of jobs) job.abort.abort(new Error('the RDS stand-in stopped'));
    await Promise.all(jobs.map((job) => job.done));
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map((h) => h.stop().catch((err: unknown) => this.options.log.warn({ err: describeError(err) }, 'rds stand-in: cannot stop a server'))));
    await this.saving;
  }

  private view(id: string): LabClusterView | undefined {
    const wanted = id.toLowerCase();
    return this.views().find((v) => v.id.toLowerCase() === wanted);
  }

  /** The lab's clusters and the created ones. */
  private views(): LabClusterView[] {
    const views = [...this.options.source.clusters()];
    for (const [id, entry] of Object.entries(this.book.clusters)) {
      const created = entry.created;
      if (!created) continue;
      const handles = this.handles;
      const password = this.passwords[id] ?? '';
      const view: LabClusterView = {
        id,
        major: created.major,
        get port() {
          return handles.get(id)?.port ?? created.port ?? 0;
        },
        admin: { user: created.masterUsername, password },
        running: async () => {
          const handle = handles.get(id);
          return handle ? handle.running() : false;
        },
      };
      this.createdViews.add(view);
      views.push(view);
    }
    return views;
  }

  private instancesOf(cluster: ClusterRecord): InstanceRecord[] {
    const base = (id: string, instanceClass: string, createdAt: Date, tags: Tag[], writer: boolean, deleting: boolean): InstanceRecord => ({
      id,
      arn: this.arn('db', id),
      resourceId: `db-${createHash('sha256').update(id).digest('hex').slice(0, 26).toUpperCase()}`,
      clusterId: cluster.id,
      instanceClass,
      status: deleting ? 'deleting' : cluster.status,
      engineVersion: cluster.engineVersion,
      port: cluster.port,
      endpoint: `${id}.c0lab.${this.options.region}.rds.${LAB_DOMAIN}`,
      createdAt,
      masterUsername: cluster.masterUsername,
      availabilityZone: cluster.availabilityZone,
      parameterGroup: `default.${ENGINE}${cluster.major}`,
      writer,
      tags,
    });
    const settings = this.book.clusters[cluster.id];
    // Serverless v2 capacity comes from db.serverless instances; a lab setting stands for a cluster made so.
    const labClass = settings?.serverless ? 'db.serverless' : settings?.instanceClass;
    if (!cluster.created) return [base(`${cluster.id}-instance-1`, labClass ?? D.LAB_RDS_INSTANCE_CLASS, cluster.createdAt, [], true, false)];
    return Object.entries(this.book.instances ?? {})
      .filter(([, i]) => i.clusterId === cluster.id)
      .sort(([a, x], [b, y]) => x.createdAt.localeCompare(y.createdAt) || a.localeCompare(b))
      .map(([id, i], n) => base(id, labClass ?? i.instanceClass, new Date(i.createdAt), i.tags, n === 0, i.deleting === true));
  }

  private parseArn(arn: string): { kind: 'cluster' | 'db'; id: string } {
    const match = /^arn:aws[a-z-]*:rds:[a-z0-9-]*:\d*:([a-z-]+):(.+)$/.exec(arn);
    if (!match) throw new RdsApiError('InvalidParameterValue', 400, `The specified resource name does not match an RDS resource in this region: ${arn}`);
    const kind = match[1]!;
    if (kind !== 'cluster' && kind !== 'db') {
      throw new RdsApiError('InvalidParameterValue', 400, `This RDS stand-in tags clusters and DB instances only, not ${kind}: ${arn}`);
    }
    return { kind, id: match[2]!.toLowerCase() };
  }

  /** Starts (or creates) a created cluster's server in the background. */
  private startServer(id: string, from: 'creating' | 'available'): void {
    const servers = this.options.servers;
    const entry = this.book.clusters[id];
    const created = entry?.created;
    if (!servers || !created) return;
    if (from === 'available') this.resuming.add(id);
    this.track(async (signal) => {
      try {
        const handle = await servers.start({
          clusterId: id,
          major: created.major,
          masterUsername: created.masterUsername,
          masterPassword: this.passwords[id] ?? '',
          ...(created.port === undefined ? {} : { port: created.port }),
        });
        if (this.closed) {
          await handle.stop();
          return;
        }
        this.handles.set(id, handle);
        created.port = handle.port;
        if (created.phase === 'creating' && created.restoredFrom !== undefined) await this.restoreInto(id, handle, created.restoredFrom, signal);
        if (created.phase === 'creating') created.phase = 'available';
        this.options.log.info({ cluster: id, port: handle.port }, 'rds stand-in: cluster server up');
      } catch (err) {
        if (created.phase === 'creating') created.phase = 'failed';
        this.options.log.error({ cluster: id, err: describeError(err) }, 'rds stand-in: cluster server did not start');
      } finally {
        this.resuming.delete(id);
        this.bookChanged = true;
        await this.saveBook();
      }
    });
  }

  /** Fills a restored cluster's new server from the snapshot's dump, as its master user. */
  private async restoreInto(id: string, handle: LabServerHandle, snapshotId: string, signal: AbortSignal): Promise<void> {
    const manifest = await this.store.get(snapshotId);
    if (!manifest || manifest.status !== 'available') throw new Error(`snapshot ${snapshotId} is no longer available`);
    const login = { user: this.book.clusters[id]!.created!.masterUsername, password: this.passwords[id] ?? '' };
    await restoreDatabases({
      dir: this.store.folder(snapshotId),
      globalsFile: manifest.globalsFile ?? GLOBALS_FILE,
      databases: manifest.databases,
      targetFor: (database) => ({ endpoint: { host: '127.0.0.1', port: handle.port }, database, login }),
      signal,
    });
    this.options.log.info({ cluster: id, snapshot: snapshotId }, 'rds stand-in: snapshot restored');
  }

  /** Stops a deleted cluster's server, removes its data, then forgets it. */
  private removeServer(id: string): void {
    const servers = this.options.servers;
    this.track(async () => {
      // Instances go first, as in RDS.
      while (Object.values(this.book.instances ?? {}).some((i) => i.clusterId === id) && !this.closed) {
        await this.options.clock.sleep(50);
      }
      if (this.closed) return;
      const handle = this.handles.get(id);
      this.handles.delete(id);
      try {
        await handle?.stop();
        await servers?.remove(id);
      } catch (err) {
        this.options.log.error({ cluster: id, err: describeError(err) }, 'rds stand-in: cannot remove the cluster server');
        return;
      }
      delete this.book.clusters[id];
      delete this.passwords[id];
      this.lastAvailable.delete(id);
      await this.savePasswords();
      this.bookChanged = true;
      await this.saveBook();
      this.options.log.info({ cluster: id }, 'rds stand-in: cluster deleted');
    });
  }

  /** After a restart: servers of created clusters come back, interrupted creations and deletions go on. */
  private resumeCreated(): void {
    for (const [id, entry] of Object.entries(this.book.clusters)) {
      const phase = entry.created?.phase;
      if (phase === 'available') this.startServer(id, 'available');
      else if (phase === 'creating') this.startServer(id, 'creating');
      else if (phase === 'deleting') this.removeServer(id);
    }
  }

  private track(work: (signal: AbortSignal) => Promise<void>): void {
    const abort = new AbortController();
    const job = { abort, done: Promise.resolve() as Promise<unknown> };
    job.done = work(abort.signal)
      .catch((err: unknown) => this.options.log.error({ err: describeError(err) }, 'rds stand-in: background job failed'))
      .finally(() => this.jobs.delete(job));
    this.jobs.add(job);
  }

  private async observe(view: LabClusterView): Promise<ClusterRecord> {
    const now = this.options.clock.now();
    let entry = this.book.clusters[view.id];
    // A created cluster deleted since its view was taken is gone, not new.
    if (entry === undefined && this.createdViews.has(view)) throw clusterNotFound(view.id);
    if (entry === undefined) {
      entry = this.book.clusters[view.id] = { createdAt: new Date(now).toISOString() };
      this.bookChanged = true;
    }
    let status: ClusterStatus = 'stopped';
    if (await view.running()) {
      try {
        const version = await withClient(
          { endpoint: { host: '127.0.0.1', port: view.port }, database: 'postgres', login: view.admin },
          async (c) => (await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v,
        );
        const engineVersion = version.split(' ')[0]!;
        if (entry.engineVersion !== engineVersion) {
          entry.engineVersion = engineVersion;
          this.bookChanged = true;
        }
        this.lastAvailable.set(view.id, now);
        status = 'available';
      } catch {
        status = 'starting';
      }
    }
    const createdAt = new Date(entry.createdAt);
    const latest = this.lastAvailable.get(view.id) ?? createdAt.getTime();
    const earliest = Math.max(createdAt.getTime(), now - D.LAB_RDS_BACKUP_RETENTION_DAYS * DAY_MS);
    const created = entry.created;
    const family = parameterGroupFamily(ENGINE, view.major);
    // The lab's own clusters get a custom group with logical replication, as an operator
    // sets one up; a group named at CreateDBCluster is taken as such a group too.
    if (!created && entry.parameterGroup === undefined) {
      entry.parameterGroup = `${view.id}-params`;
      this.bookChanged = true;
    }
    const groupName = created?.parameterGroup ?? entry.parameterGroup ?? defaultParameterGroup(family);
    if (groupName !== defaultParameterGroup(family)) this.ensureGroup(groupName, family);
    const pending = new Set(entry.pendingReboot ?? []);
    const serverless = entry.serverless ?? created?.serverless;
    if (created) {
      // RDS reports the version asked for; the lab's server runs the newest minor of that major.
      if (created.phase !== 'available') status = created.phase;
      else if (this.resuming.has(view.id)) status = 'starting';
    }
    return {
      id: view.id,
      arn: this.arn('cluster', view.id),
      resourceId: `cluster-${createHash('sha256').update(view.id).digest('hex').slice(0, 26).toUpperCase()}`,
      status,
      engineVersion: created ? created.engineVersion : (entry.engineVersion ?? String(view.major)),
      major: view.major,
      port: view.port,
      endpoint: labEndpoint(view.id, 'writer'),
      readerEndpoint: labEndpoint(view.id, 'reader'),
      createdAt,
      earliestRestorableTime: new Date(Math.min(earliest, latest)),
      latestRestorableTime: new Date(latest),
      masterUsername: view.admin.user,
      members: (created
        ? Object.entries(this.book.instances ?? {})
            .filter(([, i]) => i.clusterId === view.id)
            .sort(([a, x], [b, y]) => x.createdAt.localeCompare(y.createdAt) || a.localeCompare(b))
            .map(([id], n) => ({ id, writer: n === 0 }))
        : [{ id: `${view.id}-instance-1`, writer: true }]
      ).map((m) => ({ ...m, parameterGroupStatus: pending.has(m.id) ? ('pending-reboot' as const) : ('in-sync' as const) })),
      availabilityZone: `${this.options.region}a`,
      parameterGroup: groupName,
      family,
      ...(serverless ? { serverless } : {}),
      ...(created?.subnetGroup ? { subnetGroup: created.subnetGroup } : {}),
      vpcSecurityGroupIds: created?.vpcSecurityGroupIds ?? [],
      tags: entry.tags ?? [],
      created: created !== undefined,
    };
  }

  private toSnapshotRecord(manifest: SnapshotManifest): SnapshotRecord {
    return {
      manifest,
      arn: this.arn('cluster-snapshot', manifest.id),
      engineVersion: manifest.engineVersion ?? '',
      port: Number(manifest.labels.port ?? 0),
      clusterCreatedAt: new Date(manifest.labels.clusterCreatedAt ?? manifest.createdAt),
      masterUsername: manifest.labels.masterUsername ?? '',
      availabilityZone: `${this.options.region}a`,
      tags: Object.entries(manifest.labels)
        .filter(([key]) => key.startsWith(TAG_LABEL))
        .map(([key, value]) => ({ key: key.slice(TAG_LABEL.length), value })),
    };
  }

  private arn(kind: string, id: string): string {
    return `arn:aws:rds:${this.options.region}:${this.options.account}:${kind}:${id}`;
  }

  /** Writes the book when it changed; writes are serialised so an older one never lands last. */
  private async saveBook(): Promise<void> {
    if (!this.bookChanged) return this.saving;
    this.bookChanged = false;
    const path = join(this.options.dir, BOOK_FILE);
    const text = `${JSON.stringify(this.book, null, 2)}\n`;
    this.saving = this.saving.then(async () => {
      const tmp = `${path}.${randomUUID()}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, path);
    });
    return this.saving;
  }

  private async savePasswords(): Promise<void> {
    const path = join(this.options.dir, SECRETS_FILE);
    const tmp = `${path}.${randomUUID()}.tmp`;
    await writeFile(tmp, `${JSON.stringify(this.passwords)}\n`, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, path);
  }
}
