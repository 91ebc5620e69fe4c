import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import Type from 'typebox';
import Value from 'typebox/value';
import * as D from '../defaults.js';
import { describeError, PgshiftError } from '../errors.js';
import type { Clock } from '../clock.js';
import { dumpDatabases, type DumpRequest } from './dump.js';
import { isProcessAlive } from '../process-alive.js';

/**
 * A folder of pg_dump snapshots, one sub-folder per snapshot id with a manifest that
 * records what is in it and how far it got. Used by PgClusters (the pair's
 * snapshotDir) and by the lab's RDS stand-in (its cluster snapshots), so both survive
 * restarts. A manifest still `creating` whose process is gone is reported `failed`.
 */
export const SnapshotManifestSchema = Type.Object({
  version: Type.Literal(1),
  id: Type.String(),
  clusterId: Type.String(),
  status: Type.Union([Type.Literal('creating'), Type.Literal('available'), Type.Literal('failed')]),
  progress: Type.Integer({ minimum: 0, maximum: 100 }),
  createdAt: Type.String(),
  finishedAt: Type.Optional(Type.String()),
  engineVersion: Type.Optional(Type.String()),
  databases: Type.Array(Type.Object({ name: Type.String(), file: Type.String(), bytes: Type.Integer(), tables: Type.Integer() })),
  globalsFile: Type.Optional(Type.String()),
  bytes: Type.Integer({ minimum: 0 }),
  error: Type.Optional(Type.String()),
  /** Who writes this manifest while it is `creating`. */
  owner: Type.Object({ host: Type.String(), pid: Type.Integer() }),
  /** Free-form facts of the caller (side, pair, RDS tags, port). */
  labels: Type.Record(Type.String(), Type.String()),
});
export type SnapshotManifest = Type.Static<typeof SnapshotManifestSchema>;

export interface StartDumpOptions {
  id: string;
  clusterId: string;
  engineVersion?: string;
  labels?: Record<string, string>;
  dump: Omit<DumpRequest, 'dir' | 'onProgress' | 'signal'>;
  onProgress?: (manifest: SnapshotManifest) => void;
  signal?: AbortSignal;
}

export interface StartedDump {
  /** The manifest as first written (`creating`, 0 %). */
  manifest: SnapshotManifest;
  /** Settles with the final manifest (`available` or `failed`); never rejects. */
  done: Promise<SnapshotManifest>;
}

/** Dumps running in this process, by snapshot folder: a `creating` manifest of ours not listed here was interrupted. */
const running = new Set<string>();

export class SnapshotStore {
  readonly dir: string;
  private readonly clock: Clock;

  constructor(dir: string, clock: Clock) {
    this.dir = resolve(dir);
    this.clock = clock;
  }

  /** Where a snapshot's files are. */
  folder(id: string): string {
    return join(this.dir, id);
  }

  /** Every snapshot in the folder, newest first. Unreadable entries are skipped. */
  async list(): Promise<SnapshotManifest[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_STORE', `cannot read snapshot folder ${this.dir}`, { cause: err });
    }
    const manifests: SnapshotManifest[] = [];
    for (const name of names) {
      const manifest = await this.get(name);
      if (manifest) manifests.push(manifest);
    }
    return manifests.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  }

  /** One snapshot, or null when there is none with this id. */
  async get(id: string): Promise<SnapshotManifest | null> {
    const parsed = await this.read(id);
    if (parsed?.status === 'creating' && this.isInterrupted(parsed)) {
      // The dump may have finished between the read and the check: it writes its final
      // manifest before it leaves `running`, so a second read tells.
      const again = await this.read(id);
      if (!again || again.status !== 'creating') return again;
      const failed: SnapshotManifest = {
        ...parsed,
        status: 'failed',
        error: 'interrupted: the process that was writing this snapshot ended',
        finishedAt: new Date(this.clock.now()).toISOString(),
      };
      await this.write(failed);
      return failed;
    }
    return parsed;
  }

  /**
   * Creates the snapshot's folder and manifest, then dumps in the background. Throws
   * PGSHIFT_ERR_SNAPSHOT_EXISTS when a snapshot with this id exists (a failed one is
   * replaced).
   */
  async start(options: StartDumpOptions): Promise<StartedDump> {
    const folder = this.folder(options.id);
    const existing = await this.get(options.id);
    // No await between this check and running.add: two concurrent starts cannot both pass.
    if (running.has(folder) || (existing && existing.status !== 'failed')) {
      throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_EXISTS', `snapshot ${options.id} already exists`, {
        status: 409,
        details: { id: options.id, clusterId: existing?.clusterId ?? options.clusterId, status: existing?.status ?? 'creating' },
      });
    }
    running.add(folder);
    let manifest: SnapshotManifest = {
      version: 1,
      id: options.id,
      clusterId: options.clusterId,
      status: 'creating',
      progress: 0,
      createdAt: new Date(this.clock.now()).toISOString(),
      ...(options.engineVersion === undefined ? {} : { engineVersion: options.engineVersion }),
      databases: [],
      bytes: 0,
      owner: { host: hostname(), pid: process.pid },
      labels: { ...(options.labels ?? {}) },
    };
    try {
      await rm(folder, { recursive: true, force: true });
      await mkdir(folder, { recursive: true, mode: 0o700 });
      await this.write(manifest);
    } catch (err) {
      running.delete(folder);
      throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_STORE', `cannot write snapshot ${options.id} into ${this.dir}: ${describeError(err)}`, {
        status: 500,
        cause: err,
      });
    }
    const first = manifest;

    // Progress writes are chained so that the final manifest is always written last.
    let writes = Promise.resolve();
    // The dump reports progress from a child process's output: a throwing callback must not reach that event handler.
    const notify = (next: SnapshotManifest) => {
      try {
        options.onProgress?.(next);
      } catch {
        // The caller's progress display failed; the snapshot goes on.
      }
    };
    const publish = (next: SnapshotManifest) => {
      manifest = next;
      writes = writes.then(() => this.write(next)).catch(() => {});
      notify(next);
    };
    const done = dumpDatabases({
      ...options.dump,
      dir: folder,
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (percent) => {
        if (percent > manifest.progress) publish({ ...manifest, progress: percent });
      },
    })
      .then((result) => ({
        ...manifest,
        status: 'available' as const,
        progress: 100,
        databases: result.databases,
        globalsFile: result.globalsFile,
        bytes: result.bytes,
        finishedAt: new Date(this.clock.now()).toISOString(),
      }))
      .catch((err: unknown) => ({
        ...manifest,
        status: 'failed' as const,
        error: describeError(err),
        finishedAt: new Date(this.clock.now()).toISOString(),
      }))
      .then(async (final) => {
        manifest = final;
        await writes;
        await this.write(final).catch(() => {});
        running.delete(folder);
        notify(final);
        return final;
      });
    return { manifest: first, done };
  }

  /**
   * Deletes a snapshot and its files; answers the manifest it had, or null when there is
   * none. The manifest goes first, so from then on no reader sees the snapshot, and a
   * folder left without one by a crash is cleared by the next start() of that id. Throws
   * PGSHIFT_ERR_SNAPSHOT_CREATING (409) while it is `creating`: its dump still writes there.
   */
  async remove(id: string): Promise<SnapshotManifest | null> {
    const folder = this.folder(id);
    const manifest = await this.get(id);
    if (!manifest) return null;
    // No await between this check and running.add: a dump cannot start (or be removed twice) meanwhile.
    if (running.has(folder) || manifest.status === 'creating') {
      throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_CREATING', `snapshot ${id} is still being created`, {
        status: 409,
        details: { id, status: manifest.status, progress: manifest.progress },
      });
    }
    running.add(folder);
    try {
      await rm(join(folder, D.SNAPSHOT_MANIFEST_FILE), { force: true });
      await rm(folder, { recursive: true, force: true });
    } catch (err) {
      throw new PgshiftError('PGSHIFT_ERR_SNAPSHOT_STORE', `cannot delete snapshot ${id} from ${this.dir}: ${describeError(err)}`, { status: 500, cause: err });
    } finally {
      running.delete(folder);
    }
    return manifest;
  }

  private async read(id: string): Promise<SnapshotManifest | null> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(join(this.folder(id), D.SNAPSHOT_MANIFEST_FILE), 'utf8'));
    } catch {
      return null;
    }
    return Value.Check(SnapshotManifestSchema, parsed) ? parsed : null;
  }

  private isInterrupted(manifest: SnapshotManifest): boolean {
    if (manifest.owner.host !== hostname()) return false;
    if (manifest.owner.pid === process.pid) return !running.has(this.folder(manifest.id));
    return !isProcessAlive(manifest.owner.pid);
  }

  private async write(manifest: SnapshotManifest): Promise<void> {
    const path = join(this.folder(manifest.id), D.SNAPSHOT_MANIFEST_FILE);
    // A tmp name of its own per write: readers may rewrite an interrupted manifest concurrently.
    const tmp = `${path}.${randomUUID()}.tmp`;
    await writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, path);
  }
}
