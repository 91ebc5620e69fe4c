import t from 'tap';
import pg from 'pg';
import { Lab } from '../../src/local/lab.js';
import { withClient } from '../../src/postgres/connect.js';
import { startLab } from '../../src/local/lab-main.js';
import { labServiceConfig, labServiceEnv } from '../helpers/lab-service.js';
import { replicateDemo, testLabDir, testLogger } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';

const TABLES = ['customers', 'products', 'orders', 'order_lines', 'invoices'];

async function counts(lab: Lab, side: 'blue' | 'green'): Promise<Record<string, number>> {
  return withClient(lab.target(side, 'admin'), async (c) => {
    const out: Record<string, number> = {};
    for (const table of TABLES) out[table] = Number((await c.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    return out;
  });
}

async function insertOrderOnBlue(lab: Lab, total: number): Promise<string> {
  return withClient(lab.target('blue', 'app'), async (c) =>
    String((await c.query('INSERT INTO orders (customer_id, total_cents) VALUES (1, $1) RETURNING id', [total])).rows[0].id),
  );
}

function orderOnGreen(lab: Lab, id: string): Promise<number | undefined> {
  return withClient(lab.target('green', 'admin'), async (c) => {
    const { rows } = await c.query('SELECT total_cents FROM orders WHERE id = $1', [id]);
    return rows[0] ? Number(rows[0].total_cents) : undefined;
  });
}

/** Green's databases (templates aside) and roles (PostgreSQL's own aside). */
function greenContents(lab: Lab): Promise<{ databases: string[]; roles: string[] }> {
  return withClient(lab.target('green', 'admin', 'postgres'), async (c) => ({
    databases: (await c.query(`SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1`)).rows.map((r) => r.datname as string),
    roles: (await c.query(`SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1`)).rows.map((r) => r.rolname as string),
  }));
}

t.test('the lab', async (t) => {
  const dir = await testLabDir(t, 'pgshift-lab-test-');
  const log = testLogger();
  let lab = await Lab.start({ dir, log });
  t.teardown(() => lab.stop());

  await t.test('runs blue on 13 and green on 14, as the servers themselves report', async (t) => {
    const versions = await lab.versions();
    t.match(versions.blue, /^13\.\d+/);
    t.match(versions.green, /^14\.\d+/);
  });

  await t.test('seeds blue and leaves green empty, as a fresh cluster is, for the service to prepare', async (t) => {
    const blue = await counts(lab, 'blue');
    t.ok(blue.orders! >= 5000 && blue.customers! >= 2000, 'several thousand rows');
    t.same(await greenContents(lab), { databases: ['postgres'], roles: ['postgres'] });
  });

  await t.test("pgshift's set-up copies every row to green", async (t) => {
    await replicateDemo(lab);
    t.same(await counts(lab, 'green'), await counts(lab, 'blue'));
  });

  await t.test('lets the application log in to green but not write there', async (t) => {
    // A plain application session, without the settings pgshift gives its own.
    const target = lab.target('green', 'app');
    const c = new pg.Client({ ...target.endpoint, database: target.database, user: target.login.user, password: target.login.password });
    await c.connect();
    t.teardown(() => c.end());
    const { rows } = await c.query('SELECT count(*) AS n FROM products WHERE attributes ? $1', ['color']);
    t.ok(Number(rows[0].n) > 0, 'hstore data arrived');
    await t.rejects(c.query('INSERT INTO customers (name, email) VALUES ($1, $2)', ['x', 'x@example.com']), /read-only transaction/);
  });

  await t.test('replicates a row inserted on blue to green within seconds', async (t) => {
    const id = await insertOrderOnBlue(lab, 900000001);
    t.equal(await waitFor('the row on green', () => orderOnGreen(lab, id), 10_000), 900000001);
  });

  await t.test('adopts running servers when started again', async (t) => {
    const ports = { blue: lab.servers.blue.port, green: lab.servers.green.port, state: lab.servers.state.port };
    const pid = await lab.servers.blue.pid();
    const again = await Lab.start({ dir, log });
    t.same({ blue: again.servers.blue.port, green: again.servers.green.port, state: again.servers.state.port }, ports);
    t.equal(await again.servers.blue.pid(), pid, 'the same postmaster');
    lab = again;
  });

  await t.test('keeps data and ports across a stop and start', async (t) => {
    const id = await insertOrderOnBlue(lab, 900000002);
    await waitFor('the row on green', () => orderOnGreen(lab, id), 10_000);
    const port = lab.servers.green.port;
    await lab.stop();
    t.notOk(await lab.servers.blue.isRunning());
    lab = await Lab.start({ dir, log });
    t.equal(lab.servers.green.port, port);
    t.equal(await orderOnGreen(lab, id), 900000002);
  });

  await t.test('recovers from a killed server and resumes replication', async (t) => {
    const pid = await lab.servers.blue.pid();
    t.ok(pid);
    process.kill(pid!, 'SIGKILL');
    await waitFor('blue to be down', async () => !(await lab.servers.blue.isRunning()));
    lab = await Lab.start({ dir, log });
    t.ok(await lab.servers.blue.isRunning());
    const id = await insertOrderOnBlue(lab, 900000003);
    t.equal(await waitFor('the row on green after recovery', () => orderOnGreen(lab, id), 15_000), 900000003);
  });

  await t.test('finishes a setup that crashed after the slot was made but before the subscription', async (t) => {
    // What a crash inside CREATE SUBSCRIPTION leaves: a slot on blue, no subscription,
    // empty tables on green.
    await withClient(lab.target('green', 'admin'), async (c) => {
      await c.query('ALTER SUBSCRIPTION pgshift_sub DISABLE');
      await c.query('ALTER SUBSCRIPTION pgshift_sub SET (slot_name = NONE)');
      await c.query('DROP SUBSCRIPTION pgshift_sub');
      await c.query(`TRUNCATE ${TABLES.join(', ')} CASCADE`);
    });
    const slots = await withClient(lab.target('blue', 'admin'), async (c) =>
      (await c.query(`SELECT slot_name FROM pg_replication_slots`)).rows.map((r) => r.slot_name),
    );
    t.same(slots, ['pgshift_sub_demo'], 'the orphaned slot is there');
    await replicateDemo(lab);
    t.same(await counts(lab, 'green'), await counts(lab, 'blue'));
    const id = await insertOrderOnBlue(lab, 900000004);
    t.equal(await waitFor('replication after the repair', () => orderOnGreen(lab, id), 10_000), 900000004);
  });

  await t.test('starts over from nothing with fresh', async (t) => {
    await lab.stop();
    lab = await Lab.start({ dir, fresh: true, log });
    t.same(await greenContents(lab), { databases: ['postgres'], roles: ['postgres'] });
    await withClient(lab.target('blue', 'admin'), async (c) => {
      const { rows } = await c.query('SELECT count(*) AS n FROM orders WHERE total_cents IN (900000001, 900000002, 900000003, 900000004)');
      t.equal(Number(rows[0].n), 0, 'earlier rows are gone');
    });
  });

  await t.test("the lab's entry point starts only the service for a configuration without a lab section", async (t) => {
    const configPath = await labServiceConfig(t);
    const running = await startLab({ configPath, env: labServiceEnv(lab, 'lab-entry'), port: 0 });
    t.teardown(() => running.close());
    t.equal(running.lab, null, 'no second lab');
    await waitFor('/readyz to answer 200', async () => (await fetch(`${running.url}/readyz`)).status === 200, 30_000, 100);
    await running.close();
    t.equal(await fetch(`${running.url}/healthz`).then(() => 'answered', () => 'closed'), 'closed', 'close stops the service');
    t.ok(await lab.servers.blue.isRunning(), "and leaves the lab it did not start alone");
  });
});
