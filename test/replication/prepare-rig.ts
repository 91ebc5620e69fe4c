import * as D from '../../src/defaults.js';
import type { Lab } from '../../src/local/lab.js';
import { ident, withClient } from '../../src/postgres/connect.js';
import { greenPreparation } from '../../src/replication/prepare.js';
import type { PreparationProgress, PreparationStep, StepDetail, TableCopyReading } from '../../src/shift/ports.js';
import { testLogger } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';

/** Helpers of the prepare tests: an empty green, a tiny step runner, catalog snapshots. */

export type Server = 'blue' | 'green';

export function rowsOn<T>(lab: Lab, server: Server, sql: string, params: unknown[] = [], database: string = D.LAB_DATABASE): Promise<T[]> {
  return withClient(lab.target(server, 'admin', database), async (c) => (await c.query(sql, params)).rows as T[]);
}

/**
 * Turns the lab's green into the empty green of a new pair: no subscription, no demo
 * database, no pgshift or app role; on blue, no slot and no publication. (The lab sets
 * replication up when it starts; a green that starts empty is someone else's change.)
 */
export async function emptyGreen(lab: Lab): Promise<void> {
  const sub = ident(D.DEFAULT_SUBSCRIPTION);
  const hasDemo = (await rowsOn(lab, 'green', 'SELECT 1 FROM pg_database WHERE datname = $1', [D.LAB_DATABASE], 'postgres')).length > 0;
  if (hasDemo) {
    const subs = await rowsOn<{ subenabled: boolean }>(lab, 'green', 'SELECT subenabled FROM pg_subscription WHERE subname = $1', [D.DEFAULT_SUBSCRIPTION]);
    if (subs.length > 0) {
      await withClient(lab.target('green', 'admin'), async (c) => {
        if (subs[0]!.subenabled) await c.query(`ALTER SUBSCRIPTION ${sub} DISABLE`);
        await c.query(`ALTER SUBSCRIPTION ${sub} SET (slot_name = NONE)`);
        await c.query(`DROP SUBSCRIPTION ${sub}`);
      });
    }
  }
  await withClient(lab.target('green', 'admin', 'postgres'), async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${ident(D.LAB_DATABASE)} WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS ${ident(D.LAB_APP_ROLE)}`);
    await c.query(`DROP ROLE IF EXISTS ${ident(D.LAB_PGSHIFT_ROLE)}`);
  });
  await waitFor('blue to release its slots', async () => {
    const active = await rowsOn<{ slot_name: string }>(lab, 'blue', 'SELECT slot_name FROM pg_replication_slots WHERE active');
    return active.length === 0;
  });
  await rowsOn(lab, 'blue', 'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots');
  await rowsOn(lab, 'blue', `DROP PUBLICATION IF EXISTS ${ident(D.DEFAULT_PUBLICATION)}`);
}

/** What the tests compare before and after an undo. */
export interface Catalogs {
  greenRoles: string[];
  greenDatabases: string[];
  blueSlots: string[];
  bluePublications: string[];
}

export async function readCatalogs(lab: Lab): Promise<Catalogs> {
  const names = async (server: Server, sql: string, database = 'postgres') =>
    (await rowsOn<{ name: string }>(lab, server, sql, [], database)).map((r) => r.name);
  return {
    greenRoles: await names('green', 'SELECT rolname AS name FROM pg_roles ORDER BY 1'),
    greenDatabases: await names('green', 'SELECT datname AS name FROM pg_database ORDER BY 1'),
    blueSlots: await names('blue', 'SELECT slot_name AS name FROM pg_replication_slots ORDER BY 1'),
    bluePublications: await names('blue', 'SELECT pubname AS name FROM pg_publication ORDER BY 1', D.LAB_DATABASE),
  };
}

/** The demo pair's preparation on the lab. */
export function labPreparation(lab: Lab): PreparationStep[] {
  const preparation = greenPreparation({
    pairId: 'demo',
    databases: [D.LAB_DATABASE],
    publication: D.DEFAULT_PUBLICATION,
    subscription: D.DEFAULT_SUBSCRIPTION,
    targets: lab.replicationTargets(),
    pgshiftLogin: lab.target('green', 'pgshift').login,
    log: testLogger(),
  });
  return [preparation.greenLogin, ...preparation.replication()];
}

/**
 * Stands in for the shift core's executor: keeps each step's journal detail (notes and
 * the returned detail merged in), runs steps in order, undoes started ones in reverse.
 */
export class StepRunner {
  readonly details = new Map<string, StepDetail>();
  readonly started: string[] = [];
  readonly progress: PreparationProgress[] = [];
  /** The copy's readings table by table, as a caller that asks for them (the rehearsal) gets them. */
  readonly tableReadings: TableCopyReading[] = [];

  constructor(private readonly steps: PreparationStep[]) {}

  async run(options: { signal?: AbortSignal; until?: string; onProgress?: (p: PreparationProgress) => void } = {}): Promise<void> {
    const signal = options.signal ?? new AbortController().signal;
    for (const step of this.steps) {
      if (!this.started.includes(step.name)) this.started.push(step.name);
      const merge = (detail: StepDetail) => this.details.set(step.name, { ...(this.details.get(step.name) ?? {}), ...detail });
      const details = this.details;
      const result = await step.run({
        get detail() {
          return details.get(step.name) ?? {};
        },
        note: async (detail) => {
          merge(detail);
        },
        signal,
        progress: (p) => {
          this.progress.push(p);
          options.onProgress?.(p);
        },
        copyTables: (reading) => {
          this.tableReadings.push(reading);
        },
      });
      if (result) merge(result);
      if (step.name === options.until) return;
    }
  }

  async undo(): Promise<void> {
    const signal = new AbortController().signal;
    for (const step of [...this.steps].reverse()) {
      if (!this.started.includes(step.name) || !step.undo) continue;
      await step.undo(this.details.get(step.name) ?? {}, signal);
    }
  }

  detail(name: string): StepDetail {
    return this.details.get(name) ?? {};
  }
}

export const DEMO_TABLES = ['customers', 'products', 'orders', 'order_lines', 'invoices'];

export async function tableCounts(lab: Lab, server: Server, tables: string[] = DEMO_TABLES): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    counts[table] = Number((await rowsOn<{ n: string }>(lab, server, `SELECT count(*) AS n FROM ${ident(table)}`))[0]!.n);
  }
  return counts;
}
