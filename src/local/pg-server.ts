import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isPgshiftError, PgshiftError } from '../errors.js';
import * as D from '../defaults.js';
import type { Logger } from '../log.js';
import type { PgBinaries } from './binaries.js';
import { freePort } from './lab-state.js';
import type { OsUser } from './os-user.js';

export interface LabServerOptions {
  name: string;
  /** Folder owned by the server's OS user: holds `data/` and `server.log`. */
  dir: string;
  binaries: PgBinaries;
  port: number;
  superuserPassword: string;
  /** The bootstrap superuser's name (default D.LAB_ADMIN_ROLE): an RDS cluster's master user. */
  superuser?: string;
  user: OsUser | null;
  log: Logger;
  /** Sessions the server admits (benchmarks with hundreds of pairs raise it). */
  maxConnections?: number;
}

/**
 * One real PostgreSQL server of the lab, managed with initdb and pg_ctl. Every method
 * is safe to repeat: start on a running server adopts it, stop on a stopped one does
 * nothing, and a postmaster.pid left by a killed server does not block the next start.
 */
export class LabServer {
  readonly name: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  private readonly maxConnections: number;
  readonly binaries: PgBinaries;
  port: number;
  private readonly superuserPassword: string;
  private readonly superuser: string;
  private readonly user: OsUser | null;
  private readonly log: Logger;

  constructor(options: LabServerOptions) {
    this.name = options.name;
    this.dir = options.dir;
    this.dataDir = join(options.dir, 'data');
    this.logFile = join(options.dir, 'server.log');
    this.binaries = options.binaries;
    this.port = options.port;
    this.superuserPassword = options.superuserPassword;
    this.superuser = options.superuser ?? D.LAB_ADMIN_ROLE;
    this.user = options.user;
    this.maxConnections = options.maxConnections ?? D.LAB_MAX_CONNECTIONS;
    this.log = options.log.child({ server: options.name });
  }

  get major(): number {
    return this.binaries.major;
  }

  /** Creates the data folder with initdb unless a complete one is there. */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.own(this.dir);
    if (existsSync(join(this.dataDir, 'PG_VERSION')) && existsSync(join(this.dataDir, 'global', 'pg_control'))) {
      const version = (await readFile(join(this.dataDir, 'PG_VERSION'), 'utf8')).trim();
      if (Number(version) !== this.major) {
        throw new PgshiftError(
          'PGSHIFT_ERR_LAB_DATA_VERSION',
          `${this.dataDir} holds PostgreSQL ${version} data but this server runs ${this.major}; start with --fresh`,
        );
      }
      return;
    }
    // A data folder without pg_control is what an interrupted initdb leaves behind.
    await rm(this.dataDir, { recursive: true, force: true });
    const pwfile = join(this.dir, '.initdb-pw');
    await writeFile(pwfile, `${this.superuserPassword}\n`, { mode: 0o600 });
    await this.own(pwfile);
    try {
      await this.exec(this.binaries.initdb, [
        '-D', this.dataDir,
        '-U', this.superuser,
        '--pwfile', pwfile,
        '--auth', 'scram-sha-256',
        '--encoding', 'UTF8',
        '--locale', 'C',
        '--no-sync',
      ]);
    } finally {
      await rm(pwfile, { force: true });
    }
    this.log.info({ dataDir: this.dataDir }, 'lab server initialised');
  }

  /** Writes the lab's settings; takes effect at the next start. */
  async configure(): Promise<void> {
    const settings = [
      `port = ${this.port}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = ''`,
      `password_encryption = 'scram-sha-256'`,
      `wal_level = logical`,
      `max_wal_senders = 40`,
      `max_replication_slots = 40`,
      `max_logical_replication_workers = 16`,
      `max_worker_processes = 32`,
      `max_connections = ${this.maxConnections}`,
      // Prepared transactions block a major upgrade; preflight's tests create one for real.
      `max_prepared_transactions = 10`,
      `shared_buffers = 32MB`,
      // A lab is disposable: skipping fsync only risks data on an OS crash, and a
      // killed server still loses no committed row because WAL reaches the OS first.
      `fsync = off`,
      `full_page_writes = off`,
      `track_commit_timestamp = on`,
      `wal_sender_timeout = 10s`,
      `wal_receiver_timeout = 10s`,
      `wal_retrieve_retry_interval = 1s`,
      `log_min_messages = warning`,
    ];
    await this.writeOwned(join(this.dataDir, 'postgresql.auto.conf'), `${settings.join('\n')}\n`);
    const hba = [
      'host all all 127.0.0.1/32 scram-sha-256',
      'host replication all 127.0.0.1/32 scram-sha-256',
    ];
    await this.writeOwned(join(this.dataDir, 'pg_hba.conf'), `${hba.join('\n')}\n`);
  }

  async isRunning(): Promise<boolean> {
    const code = await this.exec(this.binaries.pgCtl, ['status', '-D', this.dataDir], { allowFailure: true });
    return code === 0;
  }

  /** Starts the server, or adopts it when it already runs on the configured port. */
  async start(): Promise<void> {
    if (await this.isRunning()) {
      const runningPort = await this.runningPort();
      if (runningPort === this.port) return;
      this.log.warn({ runningPort, port: this.port }, 'lab server runs on another port; restarting it');
      await this.stop();
    }
    // pg_ctl status said no server: a postmaster.pid still here is stale.
    await rm(join(this.dataDir, 'postmaster.pid'), { force: true });
    await this.configure();
    const logStart = await fileSize(this.logFile);
    try {
      await this.exec(this.binaries.pgCtl, [
        'start',
        '-D', this.dataDir,
        '-l', this.logFile,
        '-w',
        '-t', String(Math.ceil(D.LAB_SERVER_START_TIMEOUT_MS / 1000)),
      ]);
    } catch (err) {
      // pg_ctl only says "see the log": the reason is in what the server wrote.
      const serverSaid = (await readFile(this.logFile, 'utf8').catch(() => '')).slice(logStart).trim().slice(-1500);
      const portTaken = /could not bind|Address already in use/i.test(serverSaid);
      throw new PgshiftError(
        portTaken ? 'PGSHIFT_ERR_LAB_PORT_TAKEN' : 'PGSHIFT_ERR_LAB_SERVER',
        `${this.name}: the server did not start on port ${this.port}: ${serverSaid || (err as Error).message}`,
        { cause: err },
      );
    }
    this.log.info({ port: this.port, major: this.major }, 'lab server started');
  }

  /**
   * start(), on another free port when the chosen one was taken between choosing it and
   * the server binding it (several labs starting at once). Returns the port it runs on.
   */
  async startOnFreePort(attempts = 3): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.start();
        return this.port;
      } catch (err) {
        if (!isPgshiftError(err, 'PGSHIFT_ERR_LAB_PORT_TAKEN') || attempt >= attempts) throw err;
        this.port = await freePort();
      }
    }
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!(await this.isRunning())) return;
    await this.exec(this.binaries.pgCtl, ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', '30']);
    this.log.info('lab server stopped');
  }

  /** The postmaster's PID, or null when the server does not run. */
  async pid(): Promise<number | null> {
    try {
      const first = (await readFile(join(this.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0];
      const pid = Number(first);
      return Number.isInteger(pid) && pid > 0 && (await this.isRunning()) ? pid : null;
    } catch {
      return null;
    }
  }

  private async runningPort(): Promise<number | null> {
    try {
      const lines = (await readFile(join(this.dataDir, 'postmaster.pid'), 'utf8')).split('\n');
      return Number(lines[3]);
    } catch {
      return null;
    }
  }

  private async own(path: string): Promise<void> {
    if (this.user) await chown(path, this.user.uid, this.user.gid);
  }

  private async writeOwned(path: string, text: string): Promise<void> {
    await writeFile(path, text, { mode: 0o600 });
    await this.own(path);
  }

  private exec(command: string, args: string[], options: { allowFailure?: boolean } = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        cwd: this.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' },
        ...(this.user ? { uid: this.user.uid, gid: this.user.gid } : {}),
        // pg_ctl start leaves the postmaster running: it must not belong to our process group.
        detached: true,
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('error', (err) =>
        reject(new PgshiftError('PGSHIFT_ERR_LAB_SERVER', `${this.name}: cannot run ${command}`, { cause: err })),
      );
      child.on('exit', (code) => {
        if (code === 0 || options.allowFailure) return resolve(code ?? 1);
        reject(
          new PgshiftError(
            'PGSHIFT_ERR_LAB_SERVER',
            `${this.name}: ${command.split('/').pop()} ${args[0]} failed (exit ${code}): ${output.trim().slice(-2000)}`,
          ),
        );
      });
    });
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
