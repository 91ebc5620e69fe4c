import t from 'tap';
import * as D from '../../src/defaults.js';
import { startTestLab } from '../helpers/lab.js';
import { DEMO_TABLES, emptyGreen, labPreparation, readCatalogs, rowsOn, StepRunner, tableCounts } from './prepare-rig.js';

const objectsOf = async (lab: Parameters<typeof rowsOn>[0]) => ({
  schemas: (await rowsOn<{ n: string }>(lab, 'green', `SELECT nspname AS n FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1`)).map((r) => r.n),
  extensions: (await rowsOn<{ n: string }>(lab, 'green', 'SELECT extname AS n FROM pg_extension ORDER BY 1')).map((r) => r.n),
  functions: (await rowsOn<{ n: string }>(lab, 'green', `SELECT proname AS n FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1`)).map((r) => r.n),
  tables: (await rowsOn<{ n: string }>(lab, 'green', `SELECT relname AS n FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 1`)).map((r) => r.n),
  settings: (
    await rowsOn<{ s: string }>(lab, 'green', `SELECT unnest(setconfig) AS s FROM pg_db_role_setting WHERE setrole = 0 AND setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())`)
  ).map((r) => r.s),
});

t.test('preparing a green whose database exists already', async (t) => {
  const lab = await startTestLab(t);
  await emptyGreen(lab);
  await rowsOn(lab, 'green', `CREATE DATABASE ${D.LAB_DATABASE}`, [], 'postgres');
  await rowsOn(lab, 'green', `CREATE SCHEMA keep`);
  await rowsOn(lab, 'green', `CREATE FUNCTION public.keep_me() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
  await rowsOn(lab, 'green', `CREATE EXTENSION pg_trgm`);
  const catalogs = await readCatalogs(lab);
  const objects = await objectsOf(lab);

  await t.test('it is filled and replicates; undo removes what the preparation added and keeps what was there', async (t) => {
    const runner = new StepRunner(labPreparation(lab));
    await runner.run();
    t.match(runner.detail('databases'), { created: [], readOnlySet: [D.LAB_DATABASE] });
    t.match(runner.detail('schema'), { filled: [D.LAB_DATABASE], before: { [D.LAB_DATABASE]: ['extension pg_trgm', 'extension plpgsql', /^routine:f public\.keep_me\(\)$/, 'schema keep', 'schema public'] } });
    t.same(await tableCounts(lab, 'green'), await tableCounts(lab, 'blue', DEMO_TABLES));
    await runner.undo();
    t.same(await readCatalogs(lab), catalogs, 'roles, databases, slots and publications as before');
    t.same(await objectsOf(lab), objects, "the database's own objects and settings as before");
  });

  await t.test('a schema that does not restore is a final error, and undo keeps the database as it was', async (t) => {
    await rowsOn(lab, 'green', `CREATE TYPE public.customers AS (x int)`);
    const withType = await objectsOf(lab);
    const runner = new StepRunner(labPreparation(lab));
    await t.rejects(runner.run({ until: 'schema' }), { code: 'PGSHIFT_ERR_SCHEMA_COPY', message: /already exists/, details: { final: true, database: D.LAB_DATABASE } });
    await runner.undo();
    t.same(await readCatalogs(lab), catalogs);
    t.same(await objectsOf(lab), withType);
  });
});
