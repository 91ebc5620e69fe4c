import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Type from 'typebox';
import Value from 'typebox/value';
import type { Clock } from '../../clock.js';
import * as D from '../../defaults.js';
import { describeError, isPgshiftError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { withClient, type ConnectTarget } from '../../postgres/connect.js';
import { SnapshotStore, type SnapshotManifest } from '../../clusters/snapshot-store.js';
import { labEndpoint } from '../lab-endpoints.js';
import { RdsApiError, clusterNotFound } from './errors.js';
import type { LabClusterSource, LabClusterView } from './lab-view.js';

export const ENGINE = 'aurora-postgresql';

/** A lab cluster as RDS would describe it right now. */
export interface ClusterRecord {
  id: string;
  arn: string;
  resourceId: string;
  status: 'available' | 'stopped' | 'starting';
  engineVersion: string;
  major: number;
  port: number;
  endpoint: string;
  readerEndpoint: string;
  createdAt: Date;
  earliestRestorableTime: Date;
  latestRestorableTime: Date;
  masterUsername: string;
  instanceId: string;
  availabilityZone: string;
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
}

/** What the stand-in remembers per cluster across restarts: when it first saw it, and the last version it read. */
const ClusterBookSchema = Type.Object({
  version: Type.Literal(1),
  clusters: Type.Record(Type.String(), Type.Object({ createdAt: Type.String(), engineVersion: Type.Optional(Type.String()) })),
});
type ClusterBook = Type.Static<typeof ClusterBookSchema>;

const BOOK_FILE = 'clusters.json';
const TAG_LABEL = 'tag:';
const DAY_MS = 24 * 3600_000;

/**
 * What the RDS stand-in knows: the lab's servers seen as Aurora clusters (status and
 * version read from the real servers at every call) and cluster snapshots made with
 * pg_dump into `<dir>/snapshots`, which outlive the stand-in.
 */
export class RdsState {
  private readonly options: RdsStateOptions;
  private readonly store: SnapshotStore;
  private readonly book: ClusterBook;
  private readonly lastAvailable = new Map<string, number>();
  private bookChanged = false;
  private readonly jobs = new Set<{ abort: AbortController; done: Promise<unknown> }>();

  private constructor(options: RdsStateOptions, book: ClusterBook) {
    this.options = options;
    this.book = book;
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
    return new RdsState(options, book);
  }

  /** Every lab cluster, sorted by identifier. */
  async clusters(): Promise<ClusterRecord[]> {
    const views = [...this.options.source.clusters()].sort((a, b) => a.id.localeCompare(b.id));
    const records = await Promise.all(views.map((view) => this.observe(view)));
    await this.saveBook();
    return records;
  }

  async cluster(id: string): Promise<ClusterRecord> {
    const view = this.view(id);
    if (!view) throw clusterNotFound(id);
    const record = await this.observe(view);
    await this.saveBook();
    return record;
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

  /** Ends running dumps (their snapshots become `failed`) and waits for them. */
  async close(): Promise<void> {
    const jobs = [...this.jobs];
    for (const job of jobs) job.abort.abort(new Error('the RDS stand-in stopped'));
    await Promise.all(jobs.map((job) => job.done));
  }

  private view(id: string): LabClusterView | undefined {
    const wanted = id.toLowerCase();
    return this.options.source.clusters().find((v) => v.id.toLowerCase() === wanted);
  }

  private async observe(view: LabClusterView): Promise<ClusterRecord> {
    const now = this.options.clock.now();
    let entry = this.book.clusters[view.id];
    if (entry === undefined) {
      entry = this.book.clusters[view.id] = { createdAt: new Date(now).toISOString() };
      this.bookChanged = true;
    }
    let status: ClusterRecord['status'] = 'stopped';
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
    return {
      id: view.id,
      arn: this.arn('cluster', view.id),
      resourceId: `cluster-${createHash('sha256').update(view.id).digest('hex').slice(0, 26).toUpperCase()}`,
      status,
      engineVersion: entry.engineVersion ?? String(view.major),
      major: view.major,
      port: view.port,
      endpoint: labEndpoint(view.id, 'writer'),
      readerEndpoint: labEndpoint(view.id, 'reader'),
      createdAt,
      earliestRestorableTime: new Date(Math.min(earliest, latest)),
      latestRestorableTime: new Date(latest),
      masterUsername: view.admin.user,
      instanceId: `${view.id}-instance-1`,
      availabilityZone: `${this.options.region}a`,
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

  private async saveBook(): Promise<void> {
    if (!this.bookChanged) return;
    this.bookChanged = false;
    const path = join(this.options.dir, BOOK_FILE);
    const tmp = `${path}.${randomUUID()}.tmp`;
    await writeFile(tmp, `${JSON.stringify(this.book, null, 2)}\n`);
    await rename(tmp, path);
  }
}
