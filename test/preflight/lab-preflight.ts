import { spawn } from 'node:child_process';
import pg from 'pg';
import type { Lab, LabSide } from '../../src/local/lab.js';
import { clientConfig, withClient } from '../../src/postgres/connect.js';
import type { Finding, PreflightReport } from '../../src/preflight/report.js';
import { runPreflight } from '../../src/preflight/run.js';
import type { PreflightPair, PreflightTargets } from '../../src/preflight/targets.js';
import * as D from '../../src/defaults.js';
import type { Test } from 'tap';
import YAML from 'yaml';
import { buildApp, type App } from '../../src/app.js';
import { hashToken } from '../../src/api/auth.js';
import { systemClock } from '../../src/clock.js';
import { resolveConfig } from '../../src/config/load.js';
import type { Role } from '../../src/config/schema.js';
import { createPreflightService } from '../../src/preflight/service.js';
import { StateStorePreflightReports } from '../../src/preflight/store.js';
import { MINIMAL_ENV, minimalConfigYaml } from '../helpers/config.js';
import { testLogger } from '../helpers/lab.js';
import { labStateStore } from '../helpers/lab-service.js';

/** Preflight's view of the lab: each side's database as pgshift's login or the admin. */
export function labPreflightTargets(lab: Lab): PreflightTargets {
  return { target: (side, database, login) => lab.target(side, login, database) };
}

/** The lab's demo pair as config/local.yaml describes it. */
export function demoPair(lab: Lab, overrides: Partial<PreflightPair> = {}): PreflightPair {
  return {
    id: 'demo',
    databases: [D.LAB_DATABASE],
    appRoles: [D.LAB_APP_ROLE],
    publication: D.DEFAULT_PUBLICATION,
    subscription: D.DEFAULT_SUBSCRIPTION,
    expectedMajor: { blue: lab.servers.blue.major, green: lab.servers.green.major },
    ...overrides,
  };
}

export function preflightOf(lab: Lab, overrides: Partial<PreflightPair> = {}): Promise<PreflightReport> {
  return runPreflight({ pair: demoPair(lab, overrides), targets: labPreflightTargets(lab), log: testLogger() });
}

/** Runs SQL as the admin login (the lab's superuser) on one side. */
export async function sql(lab: Lab, side: LabSide, text: string, database: string = D.LAB_DATABASE): Promise<pg.QueryResult[]> {
  return withClient(lab.target(side, 'admin', database), async (c) => {
    const result = (await c.query(text)) as pg.QueryResult | pg.QueryResult[];
    return Array.isArray(result) ? result : [result];
  });
}

/** Green's scratch databases of trial restores. */
export async function trialDatabases(lab: Lab): Promise<string[]> {
  return withClient(lab.target('green', 'admin', D.MAINTENANCE_DATABASE), async (c) =>
    (await c.query(`SELECT datname FROM pg_database WHERE datname LIKE 'pgshift\\_trial\\_%' ORDER BY 1`)).rows.map((r) => r.datname as string),
  );
}

export function findingsOf(report: PreflightReport, check: string): Finding[] {
  return report.findings.filter((f) => f.check === check);
}

export function blockers(report: PreflightReport): Finding[] {
  return report.findings.filter((f) => f.severity === 'blocker');
}

/** A session held open on `side`, as applications hold theirs. */
export async function openSession(lab: Lab, side: LabSide, login: 'admin' | 'app' | 'pgshift', applicationName: string): Promise<pg.Client> {
  const client = new pg.Client(clientConfig({ ...lab.target(side, login), applicationName }));
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** A session as any role of the lab's servers (password authentication). */
export async function connectAs(lab: Lab, side: LabSide, user: string, password: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client(clientConfig({ ...lab.target(side, 'app'), login: { user, password }, applicationName }));
  client.on('error', () => {});
  await client.connect();
  return client;
}

/**
 * Restarts a lab server with extra `-c name=value` settings on the command line, which
 * win over the lab's own configuration. `lab.servers[side].stop()` then `.start()`
 * brings the lab's settings back.
 */
export async function restartWithSettings(lab: Lab, side: LabSide, settings: Record<string, string>): Promise<void> {
  const server = lab.servers[side];
  await server.stop();
  const options = Object.entries(settings)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(server.binaries.pgCtl, ['start', '-D', server.dataDir, '-l', server.logFile, '-w', '-o', options], {
      cwd: server.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' },
      ...(lab.user ? { uid: lab.user.uid, gid: lab.user.gid } : {}),
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl start failed (${code}): ${output}`))));
  });
}

/**
 * The API with preflight only, over the lab, keeping reports where the service keeps
 * them: in the lab's state store (migrated here). `tokens` maps each bearer token to
 * its role.
 */
export async function preflightApp(t: Test, lab: Lab, tokens: Record<string, Role>): Promise<App> {
  const log = testLogger();
  const lines = Object.entries(tokens).map(([token, role], i) => `    - { name: ${role}-${i}, role: ${role}, sha256: ${hashToken(token)} }`);
  const config = resolveConfig(YAML.parse(minimalConfigYaml({ top: `auth:\n  tokens:\n${lines.join('\n')}\n` })), MINIMAL_ENV);
  const store = labStateStore(t, lab);
  await store.migrate();
  const preflight = createPreflightService({
    pairs: [demoPair(lab)],
    targetsFor: () => labPreflightTargets(lab),
    store: new StateStorePreflightReports(store, systemClock),
    log,
  });
  const app = await buildApp({ config, log, readiness: [], preflight });
  t.teardown(() => app.close());
  return app;
}
