import { createHash } from 'node:crypto';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import * as D from '../defaults.js';
import type { Logger } from '../log.js';
import { withClient, type ConnectTarget } from '../postgres/connect.js';
import { setUpReplication } from '../replication/setup.js';
import { labVersions, resolveBinaries } from './binaries.js';
import { canAccessAs, ensureLabUser, type OsUser } from './os-user.js';
import { LabServer } from './pg-server.js';
import { choosePort, loadLabState, saveLabState, type LabState } from './lab-state.js';
import { ensureDatabase, ensureRole, PGSHIFT_ROLE_ATTRIBUTES, PGSHIFT_ROLE_GROUPS, seedDemo } from './seed.js';

export type LabSide = 'blue' | 'green';
export type LabServerName = LabSide | 'state';
export type LabLogin = 'admin' | 'pgshift' | 'app';

export interface LabOptions {
  /** The lab folder; data and secrets survive restarts here. */
  dir: string;
  /** Wipe the lab folder first. */
  fresh?: boolean;
  log: Logger;
}

export const LAB_STATE_DATABASE = 'pgshift_state';

/**
 * The embedded lab: real PostgreSQL servers from npm (blue on the older major, green
 * on the newer, and a third for pgshift's own state), a demo database on blue, and
 * logical replication blue -> green. Starting is idempotent and resumes whatever a
 * crash interrupted.
 */
export class Lab {
  readonly dir: string;
  readonly servers: Record<LabServerName, LabServer>;
  readonly state: LabState;
  readonly user: OsUser | null;
  private readonly log: Logger;

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
    if (options.fresh) {
      await rm(dir, { recursive: true, force: true });
      log.info({ dir }, 'lab folder reset');
    }
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const state = await loadLabState(dir);
    const user = await ensureLabUser();
    const serverRoot = await chooseServerRoot(dir, user, log, options.fresh === true);
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
      });
      await server.init();
      server.port = await choosePort(state, name, await server.isRunning());
      servers[name] = server;
    }
    await saveLabState(dir, state);
    await Promise.all(Object.values(servers).map((s) => s.start()));

    const lab = new Lab(dir, servers, state, user, log);
    await lab.bootstrap();
    await lab.writePgpass();
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

  /** Environment for `${PGSHIFT_LAB_...}` references in config/local.yaml. */
  env(): Record<string, string> {
    const s = this.state.secrets;
    const state = this.servers.state;
    return {
      PGSHIFT_LAB_DIR: this.dir,
      PGSHIFT_LAB_BLUE_PORT: String(this.servers.blue.port),
      PGSHIFT_LAB_GREEN_PORT: String(this.servers.green.port),
      PGSHIFT_LAB_BLUE_MAJOR: String(this.servers.blue.major),
      PGSHIFT_LAB_GREEN_MAJOR: String(this.servers.green.major),
      PGSHIFT_LAB_ADMIN_PASSWORD: s.adminPassword,
      PGSHIFT_LAB_PGSHIFT_PASSWORD: s.pgshiftPassword,
      PGSHIFT_LAB_STATE_URL: `postgresql://${D.LAB_PGSHIFT_ROLE}:${encodeURIComponent(s.pgshiftPassword)}@127.0.0.1:${state.port}/${LAB_STATE_DATABASE}`,
      PGSHIFT_LAB_OPERATOR_TOKEN_SHA256: sha256(s.operatorToken),
      PGSHIFT_LAB_VIEWER_TOKEN_SHA256: sha256(s.viewerToken),
    };
  }

  /** Server versions as the servers report them, e.g. { blue: '13.23', green: '14.23' }. */
  async versions(): Promise<Record<LabSide, string>> {
    const read = (side: LabSide) =>
      withClient(this.target(side, 'admin', 'postgres'), async (c) => (await c.query('SHOW server_version')).rows[0].server_version as string);
    return { blue: await read('blue'), green: await read('green') };
  }

  async stop(): Promise<void> {
    await Promise.all(Object.values(this.servers).map((s) => s.stop()));
  }

  private async bootstrap(): Promise<void> {
    const s = this.state.secrets;
    for (const name of ['blue', 'green', 'state'] as const) {
      await withClient(this.target(name, 'admin', 'postgres'), (c) =>
        ensureRole(c, D.LAB_PGSHIFT_ROLE, s.pgshiftPassword, PGSHIFT_ROLE_ATTRIBUTES, PGSHIFT_ROLE_GROUPS),
      );
    }
    await withClient(this.target('state', 'admin', 'postgres'), (c) =>
      ensureDatabase(c, LAB_STATE_DATABASE, D.LAB_PGSHIFT_ROLE),
    );
    // The application role exists on blue only: green gets it by pgshift's role copy,
    // as a production green would.
    await withClient(this.target('blue', 'admin', 'postgres'), async (c) => {
      await ensureRole(c, D.LAB_APP_ROLE, s.appPassword, 'LOGIN NOSUPERUSER');
      await ensureDatabase(c, D.LAB_DATABASE, D.LAB_APP_ROLE);
    });
    if (await seedDemo(this.target('blue', 'admin'))) this.log.info('demo database seeded on blue');

    const report = await setUpReplication({
      from: { admin: this.target('blue', 'admin', 'postgres'), pgshiftUser: D.LAB_PGSHIFT_ROLE },
      to: { admin: this.target('green', 'admin', 'postgres'), pgshiftUser: D.LAB_PGSHIFT_ROLE },
      fromAsSeenByTo: this.target('blue', 'admin'),
      database: D.LAB_DATABASE,
      publication: D.DEFAULT_PUBLICATION,
      subscription: D.DEFAULT_SUBSCRIPTION,
      copyData: true,
      readOnlyTo: true,
      log: this.log,
    });
    this.log.info({ tables: report.tables, slot: report.slot }, 'replication blue -> green in sync');
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
