import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import * as D from '../defaults.js';
import type { Logger } from '../log.js';
import { connectionUrl, withClient, type ConnectTarget } from '../postgres/connect.js';
import { fixedReplicationTargets, type FixedSide, type ReplicationTargets } from '../replication/targets.js';
import { labVersions, resolveBinaries } from './binaries.js';
import { canAccessAs, ensureLabUser, type OsUser } from './os-user.js';
import { LabServer } from './pg-server.js';
import { LAB_LOCK_FILE, lockLabFolder } from './lab-lock.js';
import { choosePort, loadLabState, saveLabState, type LabState } from './lab-state.js';
import { ensureDatabase, ensureRole, PGSHIFT_ROLE_ATTRIBUTES, PGSHIFT_ROLE_GROUPS, seedDemo } from './seed.js';
import { labClusterId } from './lab-endpoints.js';
import type { LabClusterSource } from './rds/lab-view.js';
import { startRdsStandIn, type RdsStandIn } from './rds/server.js';
import { labServerFactory } from './rds/lab-servers.js';
import { startLabRoute53, type LabRoute53 } from './route53/lab-zone.js';

export type LabSide = 'blue' | 'green';
export type LabServerName = LabSide | 'state';
export type LabLogin = 'admin' | 'pgshift' | 'app';

export interface LabOptions {
  /** The lab folder; data and secrets survive restarts here. */
  dir: string;
  /** Wipe the lab folder first. */
  fresh?: boolean;
  log: Logger;
  /** max_connections of blue and green (default D.LAB_MAX_CONNECTIONS). */
  maxConnections?: number;
}

export const LAB_STATE_DATABASE = 'pgshift_state';

/**
 * The embedded lab: real PostgreSQL servers from npm (blue on the older major, green
 * on the newer, and a third for pgshift's own state), a demo database on blue, and an
 * empty green that the service prepares. Starting is idempotent and resumes whatever a
 * crash interrupted.
 */
export class Lab {
  readonly dir: string;
  readonly servers: Record<LabServerName, LabServer>;
  readonly state: LabState;
  readonly user: OsUser | null;
  /** The RDS stand-in over blue and green; set once the lab has started. */
  rds: RdsStandIn | null = null;
  /** The Route 53 stand-in with the lab's hosted zone and the demo pair's records; set once the lab has started. */
  route53: LabRoute53 | null = null;
  private readonly log: Logger;

  private unlock: () => Promise<void> = async () => undefined;

  private constructor(dir: string, servers: Record<LabServerName, LabServer>, state: LabState, user: OsUser | null, log: Logger) {
    this.dir = dir;
    this.servers = servers;
    this.state = state;
    this.user = user;
    this.log = log;
  }

  static async start(options: LabOptions): Promise<Lab> {
    const log = options.log.child({ component: 'lab' });
    const dir = resolve(options.dir);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const unlock = await lockLabFolder(dir);
    try {
      if (options.fresh) {
        const entries = await readdir(dir);
        await Promise.all(entries.filter((e) => e !== LAB_LOCK_FILE).map((e) => rm(join(dir, e), { recursive: true, force: true })));
        log.info({ dir }, 'lab folder reset');
      }
      const lab = await Lab.startLocked(dir, log, options.fresh === true, options.maxConnections);
      lab.unlock = unlock;
      return lab;
    } catch (err) {
      await unlock();
      throw err;
    }
  }

  private static async startLocked(dir: string, log: Logger, fresh: boolean, maxConnections?: number): Promise<Lab> {
    const state = await loadLabState(dir);
    const user = await ensureLabUser();
    const serverRoot = await chooseServerRoot(dir, user, log, fresh);
    const versions = labVersions();
    const majors: Record<LabServerName, number> = { blue: versions.blue, green: versions.green, state: versions.green };

    const servers = {} as Record<LabServerName, LabServer>;
    for (const name of ['blue', 'green', 'state'] as const) {
      const binaries = await resolveBinaries(majors[name], user);
      const server = new LabServer({
        name,
        dir: join(serverRoot, name),
        binaries,
        port: state.ports[name] ?? 0,
        superuserPassword: state.secrets.adminPassword,
        user,
        log,
        ...(maxConnections !== undefined && name !== 'state' ? { maxConnections } : {}),
      });
      await server.init();
      server.port = await choosePort(state, name, await server.isRunning());
      servers[name] = server;
    }
    await saveLabState(dir, state);
    await Promise.all(Object.values(servers).map(async (s) => (state.ports[s.name] = await s.startOnFreePort())));
    await saveLabState(dir, state);

    const lab = new Lab(dir, servers, state, user, log);
    await lab.bootstrap();
    await lab.writePgpass();

    // RDS stand-in: blue and green as Aurora clusters; snapshots live in <dir>/rds.
    // Clusters created through it are new servers in <serverRoot>/rds-<id>, started
    // again by the stand-in on the next lab start.
    lab.rds = await startRdsStandIn({
      dir: join(dir, 'rds'),
      port: await choosePort(state, 'rds'),
      source: lab.rdsClusterSource(),
      servers: labServerFactory({ root: serverRoot, majors: [...new Set(Object.values(versions))], user, log }),
      log,
    });
    await saveLabState(dir, state);

    // Route 53 stand-in: hosted zone lab.pgshift.internal (persisted in <dir>/route53.json)
    // and the demo pair's weighted reader/writer records.
    lab.route53 = await startLabRoute53({ dir, state, log });
    await saveLabState(dir, state);
    return lab;
  }

  /** How to reach one of the lab's servers as one of its logins. */
  target(server: LabServerName, login: LabLogin, database = D.LAB_DATABASE): ConnectTarget {
    const secrets = this.state.secrets;
    const logins = {
      admin: { user: D.LAB_ADMIN_ROLE, password: secrets.adminPassword },
      pgshift: { user: D.LAB_PGSHIFT_ROLE, password: secrets.pgshiftPassword },
      app: { user: D.LAB_APP_ROLE, password: secrets.appPassword },
    };
    return {
      endpoint: { host: '127.0.0.1', port: this.servers[server].port },
      database,
      login: logins[login],
    };
  }

  /** How pgshift reaches blue and green for replication control and signals. */
  replicationTargets(): ReplicationTargets {
    const side = (name: LabSide): FixedSide => ({
      writer: this.target(name, 'pgshift').endpoint,
      login: this.target(name, 'pgshift').login,
      adminLogin: this.target(name, 'admin').login,
    });
    return fixedReplicationTargets({ blue: side('blue'), green: side('green') });
  }

  /** Environment for `${PGSHIFT_LAB_...}` references in config/local.yaml. */
  env(): Record<string, string> {
    const s = this.state.secrets;
    return {
      PGSHIFT_LAB_DIR: this.dir,
      PGSHIFT_LAB_BLUE_PORT: String(this.servers.blue.port),
      PGSHIFT_LAB_GREEN_PORT: String(this.servers.green.port),
      PGSHIFT_LAB_BLUE_MAJOR: String(this.servers.blue.major),
      PGSHIFT_LAB_GREEN_MAJOR: String(this.servers.green.major),
      PGSHIFT_LAB_ADMIN_PASSWORD: s.adminPassword,
      PGSHIFT_LAB_PGSHIFT_PASSWORD: s.pgshiftPassword,
      PGSHIFT_LAB_STATE_URL: connectionUrl(this.target('state', 'pgshift', LAB_STATE_DATABASE)),
      PGSHIFT_LAB_OPERATOR_TOKEN_SHA256: sha256(s.operatorToken),
      PGSHIFT_LAB_VIEWER_TOKEN_SHA256: sha256(s.viewerToken),
      ...(this.rds ? { PGSHIFT_LAB_RDS_ENDPOINT: this.rds.url } : {}),
      ...(this.route53 ? this.route53.env() : {}),
      PGSHIFT_LAB_AWS_ACCESS_KEY_ID: D.LAB_AWS_ACCESS_KEY_ID,
      PGSHIFT_LAB_AWS_SECRET_ACCESS_KEY: D.LAB_AWS_SECRET_ACCESS_KEY,
    };
  }

  /** Server versions as the servers report them, e.g. { blue: '13.23', green: '14.23' }. */
  async versions(): Promise<Record<LabSide, string>> {
    const read = (side: LabSide) =>
      withClient(this.target(side, 'admin', 'postgres'), async (c) => (await c.query('SHOW server_version')).rows[0].server_version as string);
    return { blue: await read('blue'), green: await read('green') };
  }

  async stop(): Promise<void> {
    await this.rds?.close();
    this.rds = null;
    await this.route53?.stop();
    this.route53 = null;
    await Promise.all(Object.values(this.servers).map((s) => s.stop()));
    await this.unlock();
  }

  /** Blue and green as the RDS stand-in sees them: Aurora cluster ids over the real servers. */
  private rdsClusterSource(): LabClusterSource {
    const view = (side: LabSide) => {
      const server = this.servers[side];
      const admin = this.target(side, 'admin').login;
      return {
        id: labClusterId(side),
        major: server.major,
        get port() {
          return server.port;
        },
        admin,
        running: () => server.isRunning(),
      };
    };
    const views = [view('blue'), view('green')];
    return { clusters: () => views };
  }

  /**
   * What an operator has before pgshift: pgshift's login on blue and on the state server,
   * blue with the demo data, and a green that holds nothing but its admin login, as a
   * fresh Aurora cluster does. Preparing green is the service's job (`prepare`).
   */
  private async bootstrap(): Promise<void> {
    const s = this.state.secrets;
    for (const name of ['blue', 'state'] as const) {
      await withClient(this.target(name, 'admin', 'postgres'), (c) =>
        ensureRole(c, D.LAB_PGSHIFT_ROLE, s.pgshiftPassword, PGSHIFT_ROLE_ATTRIBUTES, PGSHIFT_ROLE_GROUPS),
      );
    }
    await withClient(this.target('state', 'admin', 'postgres'), (c) =>
      ensureDatabase(c, LAB_STATE_DATABASE, D.LAB_PGSHIFT_ROLE),
    );
    await withClient(this.target('blue', 'admin', 'postgres'), async (c) => {
      await ensureRole(c, D.LAB_APP_ROLE, s.appPassword, 'LOGIN NOSUPERUSER');
      await ensureDatabase(c, D.LAB_DATABASE, D.LAB_APP_ROLE);
    });
    if (await seedDemo(this.target('blue', 'admin'))) this.log.info('demo database seeded on blue');
  }

  /** A pgpass file, so people can psql into the lab without a password on the screen. */
  private async writePgpass(): Promise<void> {
    const s = this.state.secrets;
    const lines: string[] = [];
    for (const name of ['blue', 'green', 'state'] as const) {
      const port = this.servers[name].port;
      lines.push(`127.0.0.1:${port}:*:${D.LAB_ADMIN_ROLE}:${s.adminPassword}`);
      lines.push(`127.0.0.1:${port}:*:${D.LAB_PGSHIFT_ROLE}:${s.pgshiftPassword}`);
      lines.push(`127.0.0.1:${port}:*:${D.LAB_APP_ROLE}:${s.appPassword}`);
    }
    const path = join(this.dir, 'pgpass');
    await writeFile(path, `${lines.join('\n')}\n`, { mode: 0o600 });
    await chmod(path, 0o600);
  }
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The servers' folders must be reachable by the OS user that runs them. A project under
 * a private home folder (/root/...) is not, so the servers then live under the system
 * temp folder, keyed by the lab folder's path so that restarts find them again.
 */
async function chooseServerRoot(dir: string, user: OsUser | null, log: Logger, fresh: boolean): Promise<string> {
  const preferred = join(dir, 'servers');
  await mkdir(preferred, { recursive: true, mode: 0o755 });
  if (!user || (await canAccessAs(user, preferred, 'x'))) return preferred;
  const fallback = join(tmpdir(), `pgshift-lab-${sha256(dir).slice(0, 12)}`);
  if (fresh) await rm(fallback, { recursive: true, force: true });
  await mkdir(fallback, { recursive: true, mode: 0o755 });
  log.warn({ dir: preferred, fallback }, `OS user ${user.name} cannot reach the lab folder; servers live in the fallback folder`);
  return fallback;
}
