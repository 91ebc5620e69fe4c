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
import { LAB_DOMAIN, labEndpoint } from '../lab-endpoints.js';
import { RdsApiError, clusterNotFound, instanceNotFound } from './errors.js';
import type { LabClusterSource, LabClusterView, LabServerFactory, LabServerHandle } from './lab-view.js';
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
  /** Its DB instances; the first is the writer. */
  members: { id: string; writer: boolean }[];
  availabilityZone: string;
  parameterGroup: string;
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

/** A cluster made through CreateDBCluster; `phase` is what the stand-in has done with its server. */
const CreatedSchema = Type.Object({
  major: Type.Integer(),
  engineVersion: Type.String(),
  masterUsername: Type.String(),
  parameterGroup: Type.Optional(Type.String()),
  serverless: Type.Optional(Type.Object({ minCapacity: Type.Number(), maxCapacity: Type.Number() })),
  subnetGroup: Type.Optional(Type.String()),
  vpcSecurityGroupIds: Type.Array(Type.String()),
  port: Type.Optional(Type.Integer()),
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
    }),
  ),
  instances: Type.Optional(Type.Record(Type.String(), InstanceSchema)),
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

  /** Every snapshot, oldest first. */
  async snapshots(): Promise<SnapshotRecord[]> {
    return (await this.store.list()).reverse().map((m) => this.toSnapshotRecord(m));
  }

  async snapshot(id: string): Promise<SnapshotRecord | null> {
    const manifest = await this.store.get(id);
    return manifest ? this.toSnapshotRecord(manifest) : null;
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
    if (!cluster.created) return [base(`${cluster.id}-instance-1`, D.LAB_RDS_INSTANCE_CLASS, cluster.createdAt, [], true, false)];
    return Object.entries(this.book.instances ?? {})
      .filter(([, i]) => i.clusterId === cluster.id)
      .sort(([a, x], [b, y]) => x.createdAt.localeCompare(y.createdAt) || a.localeCompare(b))
      .map(([id, i], n) => base(id, i.instanceClass, new Date(i.createdAt), i.tags, n === 0, i.deleting === true));
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
    this.track(async () => {
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
      members: created
        ? Object.entries(this.book.instances ?? {})
            .filter(([, i]) => i.clusterId === view.id)
            .sort(([a, x], [b, y]) => x.createdAt.localeCompare(y.createdAt) || a.localeCompare(b))
            .map(([id], n) => ({ id, writer: n === 0 }))
        : [{ id: `${view.id}-instance-1`, writer: true }],
      availabilityZone: `${this.options.region}a`,
      parameterGroup: created?.parameterGroup ?? `default.${ENGINE}${view.major}`,
      ...(created?.serverless ? { serverless: created.serverless } : {}),
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
