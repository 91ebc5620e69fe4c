import type { Test } from 'tap';
import * as D from '../../src/defaults.js';
import type { Lab } from '../../src/local/lab.js';
import { withClient } from '../../src/postgres/connect.js';
import type { Side } from '../../src/shift/model.js';
import { labApi, labServiceEnv, type LabApi } from './lab-service.js';
import { runTs, type RunningProcess } from './process.js';
import { waitFor } from './wait.js';

/** What pgshift's `prepare` may create on a server: compared before and after a refusal or a revert. */
export interface Catalog {
  databases: string[];
  roles: string[];
  subscriptions: string[];
  slots: string[];
  publications: string[];
}

/** A side's databases (templates aside), roles (PostgreSQL's own aside), subscriptions, slots, and the demo database's publications. */
export async function catalogOf(lab: Lab, side: Side): Promise<Catalog> {
  const cluster = await withClient(lab.target(side, 'admin', 'postgres'), async (c) => ({
    databases: (await c.query(`SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1`)).rows.map((r) => r.datname as string),
    roles: (await c.query(`SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1`)).rows.map((r) => r.rolname as string),
    subscriptions: (await c.query(`SELECT subname FROM pg_subscription ORDER BY 1`)).rows.map((r) => r.subname as string),
    slots: (await c.query(`SELECT slot_name FROM pg_replication_slots ORDER BY 1`)).rows.map((r) => r.slot_name as string),
  }));
  const publications = cluster.databases.includes(D.LAB_DATABASE)
    ? await withClient(lab.target(side, 'admin', D.LAB_DATABASE), async (c) =>
        (await c.query(`SELECT pubname FROM pg_publication ORDER BY 1`)).rows.map((r) => r.pubname as string),
      )
    : [];
  return { ...cluster, publications };
}

/** Blue's user tables in the demo database (pgshift's own schema aside), as schema.table. */
export async function blueTables(lab: Lab): Promise<string[]> {
  return withClient(lab.target('blue', 'admin', D.LAB_DATABASE), async (c) =>
    (
      await c.query(
        `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
          WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'pgshift') ORDER BY 1`,
      )
    ).rows.map((r) => r.name as string),
  );
}

/** Row counts of `tables` in the demo database of `side` (connected as `admin` to `target`'s server when given). */
export async function rowCounts(lab: Lab, side: Side, tables: string[], target = lab.target(side, 'admin', D.LAB_DATABASE)): Promise<Record<string, number>> {
  return withClient(target, async (c) => {
    const out: Record<string, number> = {};
    for (const table of tables) out[table] = Number((await c.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    return out;
  });
}

/**
 * A table on blue's demo database big enough that green's initial copy of it takes
 * several seconds, so that a test can act while the copy runs.
 */
export async function createBigTable(lab: Lab, rows: number): Promise<void> {
  await withClient(lab.target('blue', 'admin', D.LAB_DATABASE), async (c) => {
    await c.query(`CREATE TABLE bulk_events (id bigint PRIMARY KEY, payload text NOT NULL)`);
    await c.query(`INSERT INTO bulk_events SELECT g, md5(g::text) || repeat('x', 150) FROM generate_series(1, $1::int) g`, [rows]);
    await c.query(`ANALYZE bulk_events`);
  });
}

export interface ServiceProcess {
  id: string;
  url: string;
  process: RunningProcess;
  api: LabApi;
}

/** pgshift as a child process (src/server.ts) on `lab`, with `env` on top; stopped when the test ends if still running. */
export async function startServiceProcess(t: Test, lab: Lab, config: string, id: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const child = runTs('src/server.ts', ['--config', config, '--port', '0'], { ...labServiceEnv(lab, id), ...env });
  t.teardown(async () => {
    if (child.child.exitCode === null && child.child.signalCode === null) {
      child.child.kill('SIGTERM');
      await child.exited;
    }
  });
  const line = await child.waitForLog((l) => l.msg === 'pgshift listening', 90_000);
  const url = String(line.url);
  return { id, url, process: child, api: labApi(url, lab) };
}

/** Asks for `prepare` without waiting; returns the intent's id. */
export async function requestPrepare(api: LabApi, pair = 'demo'): Promise<string> {
  const answer = await api.post(`/api/v1/pairs/${pair}/prepare?wait=false`, { reason: 'test' });
  if (answer.status !== 202) throw new Error(`prepare answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body.intent.id as string;
}

/** Waits until an intent is no longer pending; returns it. */
export function settledIntent(api: LabApi, id: string, pair = 'demo', timeoutMs = 120_000): Promise<any> {
  return waitFor(
    `intent ${id} to settle`,
    async () => {
      const { body } = await api.get(`/api/v1/pairs/${pair}/intents/${id}`);
      return body.intent && body.intent.status !== 'pending' ? body.intent : undefined;
    },
    timeoutMs,
    200,
  );
}

/** Waits until the pair view's preparation runs `step`; returns the view. */
export function preparationAt(api: LabApi, step: string, pair = 'demo', timeoutMs = 120_000): Promise<any> {
  return waitFor(
    `the preparation to reach ${step}`,
    async () => {
      const view = (await api.get(`/api/v1/pairs/${pair}`)).body;
      return view.preparation?.step === step ? view : undefined;
    },
    timeoutMs,
    100,
  );
}
