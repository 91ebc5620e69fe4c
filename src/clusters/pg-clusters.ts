import type { ClusterConfig, PairConfig } from '../config/schema.js';
import * as D from '../defaults.js';
import { describeError, PgshiftError } from '../errors.js';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { withClient, type Endpoint } from '../postgres/connect.js';
import { parseMajor, UNREACHABLE_STATUS, type ClusterCatalog, type ClusterInfo, type SnapshotInfo, type SnapshotOptions } from './catalog.js';
import { buildConnectTarget, type HostOverrides } from './dial.js';
import { createSnapshotId, isValidSnapshotId, SNAPSHOT_ID_RULE } from './snapshot-id.js';
import { SnapshotStore, type SnapshotManifest } from './snapshot-store.js';
import { type Side } from '../shift/model.js';

export interface PgClustersOptions {
  pair: PairConfig;
  hostOverrides?: HostOverrides;
  clock?: Clock;
  log?: Logger;
}

/**
 * ClusterCatalog for plain PostgreSQL (no RDS): endpoints from config, version and
 * status from the server itself, snapshots as pg_dump files in the pair's snapshotDir.
 */
export class PgClusters implements ClusterCatalog {
  private readonly pair: PairConfig;
  private readonly hostOverrides: HostOverrides;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** Last version seen per side, so a server that went down still shows what it runs. */
  private readonly lastVersion: Partial<Record<Side, string>> = {};
  /** Snapshots this catalog is creating, by id: a repeated call joins the running dump. */
  private readonly inFlight = new Map<string, Promise<SnapshotManifest>>();

  constructor(options: PgClustersOptions) {
    this.pair = options.pair;
    this.hostOverrides = options.hostOverrides ?? {};
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger();
  }

  async describe(side: Side): Promise<ClusterInfo> {
    const cluster = this.cluster(side);
    const writer = writerEndpoint(cluster);
    const reader = cluster.readerHost !== undefined && cluster.readerPort !== undefined ? { host: cluster.readerHost, port: cluster.readerPort } : writer;
    const members = [{ id: `${writer.host}:${writer.port}`, writer: true }];
    if (reader !== writer) members.push({ id: `${reader.host}:${reader.port}`, writer: false });
    const base = { side, id: `${writer.host}:${writer.port}`, engine: 'postgres', writer, reader, members, pitr: null };
    const database = this.pair.databases[0]!;
    try {
      const row = await withClient(
        buildConnectTarget(writer, { login: cluster.login, database, ssl: cluster.ssl, hostOverrides: this.hostOverrides }),
        async (client) =>
          (await client.query<{ version: string; recovery: boolean }>(`SELECT current_setting('server_version') AS version, pg_is_in_recovery() AS recovery`))
            .rows[0]!,
      );
      const version = row.version.split(' ')[0]!;
      this.lastVersion[side] = version;
      return {
        ...base,
        version,
        major: parseMajor(version),
        status: row.recovery ? 'in-recovery' : 'available',
        available: !row.recovery,
        ...(row.recovery ? { statusDetail: 'the writer endpoint is a standby in recovery' } : {}),
      };
    } catch (err) {
      const version = this.lastVersion[side] ?? null;
      return {
        ...base,
        version,
        major: version === null ? null : parseMajor(version),
        status: UNREACHABLE_STATUS,
        available: false,
        statusDetail: describeError(err),
      };
    }
  }

  async snapshot(side: Side, options: SnapshotOptions = {}): Promise<SnapshotInfo> {
    const store = this.store();
    const clusterId = this.clusterId(side);
    const id = (options.id ?? createSnapshotId(`${this.pair.id}-${side}`, this.clock.now())).toLowerCase();
    if (!isValidSnapshotId(id)) {
      throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_ID', `invalid snapshot id "${id}": ${SNAPSHOT_ID_RULE}`, { status: 400 });
    }
    const report = (manifest: SnapshotManifest) => options.onProgress?.(toSnapshotInfo(side, manifest, store));

    let done = this.inFlight.get(id);
    if (!done) {
      const existing = await store.get(id);
      if (existing && !this.belongsTo(existing, side)) {
        throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_EXISTS', `snapshot ${id} already exists and belongs to ${existing.clusterId}`, {
          status: 409,
        });
      }
      if (existing?.status === 'available') {
        report(existing);
        return toSnapshotInfo(side, existing, store);
      }
      done =
        existing?.status === 'creating'
          ? this.followDump(store, existing, report)
          : this.startDump(store, side, clusterId, id, report, options.signal);
    }
    const final = await waitWithin(done, options, id, clusterId, this.clock);
    if (final.status === 'failed') {
      throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_FAILED', `snapshot ${id} of ${clusterId} failed: ${final.error ?? 'unknown error'}`, {
        status: 502,
        details: { snapshot: toSnapshotInfo(side, final, store) },
      });
    }
    return toSnapshotInfo(side, final, store);
  }

  async lastSnapshot(side: Side): Promise<SnapshotInfo | null> {
    if (this.pair.snapshotDir === undefined) return null;
    const store = this.store();
    const newest = (await store.list()).find((m) => this.belongsTo(m, side));
    return newest ? toSnapshotInfo(side, newest, store) : null;
  }

  private async startDump(
    store: SnapshotStore,
    side: Side,
    clusterId: string,
    id: string,
    report: (m: SnapshotManifest) => void,
    signal: AbortSignal | undefined,
  ): Promise<SnapshotManifest> {
    const cluster = this.cluster(side);
    const info = await this.describe(side);
    if (!info.available) {
      throw new PgshiftError('PGSHIFT_ERR_CLUSTER_UNAVAILABLE', `cannot snapshot ${side} cluster ${clusterId}: ${info.statusDetail ?? info.status}`, {
        status: 409,
      });
    }
    const started = await store.start({
      id,
      clusterId,
      ...(info.version === null ? {} : { engineVersion: info.version }),
      labels: { pair: this.pair.id, side },
      dump: {
        databases: this.pair.databases,
        // pg_dump must read every table: the admin login (Aurora's master user) can.
        targetFor: (database) =>
          buildConnectTarget(writerEndpoint(cluster), { login: cluster.adminLogin, database, ssl: cluster.ssl, hostOverrides: this.hostOverrides }),
      },
      onProgress: report,
      ...(signal ? { signal } : {}),
    });
    this.log.info({ side, clusterId, snapshot: id, dir: store.folder(id) }, 'pg_dump snapshot started');
    report(started.manifest);
    const done = started.done.finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, done);
    return done;
  }

  /** Another process is writing this snapshot: follow its manifest until it finishes (or is found interrupted). */
  private async followDump(store: SnapshotStore, first: SnapshotManifest, report: (m: SnapshotManifest) => void): Promise<SnapshotManifest> {
    let current = first;
    report(current);
    let pause = D.SNAPSHOT_POLL_MIN_MS;
    while (current.status === 'creating') {
      await this.clock.sleep(pause);
      pause = Math.min(D.SNAPSHOT_POLL_MAX_MS, Math.round(pause * 1.5));
      const next = await store.get(first.id);
      if (!next) return { ...current, status: 'failed', error: 'the snapshot folder disappeared' };
      if (next.progress !== current.progress || next.status !== current.status) report(next);
      current = next;
    }
    return current;
  }

  /** Snapshots are the pair's side's, whatever host the side had then (a snapshotDir may serve several pairs). */
  private belongsTo(manifest: SnapshotManifest, side: Side): boolean {
    return manifest.labels.pair === this.pair.id && manifest.labels.side === side;
  }

  private cluster(side: Side): ClusterConfig {
    return this.pair[side];
  }

  private clusterId(side: Side): string {
    const endpoint = writerEndpoint(this.cluster(side));
    return `${endpoint.host}:${endpoint.port}`;
  }

  private store(): SnapshotStore {
    if (this.pair.snapshotDir === undefined) {
      throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_DIR', `pair ${this.pair.id}: snapshotDir is not configured; plain PostgreSQL snapshots are pg_dump files`, {
        status: 500,
      });
    }
    return new SnapshotStore(this.pair.snapshotDir, this.clock);
  }
}

function writerEndpoint(cluster: ClusterConfig): Endpoint {
  if (cluster.host === undefined || cluster.port === undefined) {
    throw new PgshiftError('PGSHIFT_ERR_CLUSTER_NOT_CONFIGURED', 'a plain PostgreSQL cluster needs host and port', { status: 500 });
  }
  return { host: cluster.host, port: cluster.port };
}

function toSnapshotInfo(side: Side, manifest: SnapshotManifest, store: SnapshotStore): SnapshotInfo {
  return {
    id: manifest.id,
    side,
    clusterId: manifest.clusterId,
    status: manifest.status,
    progress: manifest.progress,
    createdAt: manifest.createdAt,
    ...(manifest.engineVersion === undefined ? {} : { engineVersion: manifest.engineVersion }),
    location: store.folder(manifest.id),
    ...(manifest.error === undefined ? {} : { error: manifest.error }),
  };
}

/** Waits for the dump, bounded by the caller's timeout and signal; the dump itself is ended by the signal. */
async function waitWithin(
  done: Promise<SnapshotManifest>,
  options: SnapshotOptions,
  id: string,
  clusterId: string,
  clock: Clock,
): Promise<SnapshotManifest> {
  const timeoutMs = options.timeoutMs ?? D.SNAPSHOT_TIMEOUT_MS;
  const stopTimer = new AbortController();
  const timeout = clock.sleep(timeoutMs, stopTimer.signal).then(
    () => {
      throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_TIMEOUT', `snapshot ${id} of ${clusterId} not finished in ${timeoutMs} ms`, { status: 504 });
    },
    () => new Promise<never>(() => {}),
  );
  try {
    const final = await Promise.race([done, timeout]);
    if (final.status === 'failed' && options.signal?.aborted) {
      throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_ABORTED', `snapshot ${id} of ${clusterId} was stopped`, { status: 409, cause: options.signal.reason });
    }
    return final;
  } finally {
    stopTimer.abort();
  }
}
