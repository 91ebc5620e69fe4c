import t from 'tap';
import { startTestLab } from '../helpers/lab.js';
import { blockers, connectAs, findingsOf, openSession, preflightOf, sql } from './lab-preflight.js';

/**
 * Green must take every row and every login of blue: tables and columns as on blue,
 * the roles behind owners and grants, a compatible database, and application roles
 * that pgshift can freeze. Every database of the pair is checked, and one that green
 * lacks is reported without hiding the others' results.
 */
t.test('parity of green with blue', async (t) => {
  const lab = await startTestLab(t);

  await t.test('roles granted or inherited on blue that green lacks; the remediation creates them', async (t) => {
    await sql(lab, 'blue', `CREATE ROLE auditor NOLOGIN; GRANT SELECT ON customers TO auditor;
                            CREATE ROLE reporter LOGIN PASSWORD 'reporter-pw' IN ROLE auditor`);
    t.teardown(async () => {
      for (const side of ['blue', 'green'] as const) {
        await sql(lab, side, `DROP OWNED BY auditor; DROP ROLE IF EXISTS reporter; DROP ROLE IF EXISTS auditor`).catch(() => {});
      }
    });
    const findings = findingsOf(await preflightOf(lab), 'role-parity');
    t.match(findings, [
      { severity: 'blocker', object: 'role auditor', message: /role auditor does not exist on green, but on blue it is granted on customers/ },
      { severity: 'blocker', object: 'role reporter', message: /is a member of auditor: .* and reporter cannot log in to green/ },
    ]);
    t.equal(findings[1]!.remediation.split('\n').slice(0, 3).join('\n'), '-- on green\nCREATE ROLE reporter WITH LOGIN INHERIT;\nGRANT auditor TO reporter;');
    for (const f of findings) await sql(lab, 'green', f.remediation);
    t.same(findingsOf(await preflightOf(lab), 'role-parity'), []);
  });

  await t.test('a column whose type differs on green', async (t) => {
    await sql(lab, 'green', 'ALTER TABLE customers ALTER COLUMN name TYPE varchar(200)');
    const [finding] = findingsOf(await preflightOf(lab), 'table-parity');
    t.match(finding, {
      severity: 'blocker',
      object: 'column public.customers.name',
      message: 'column name of public.customers is text on blue but character varying(200) on green',
      remediation: '-- on green\nALTER TABLE public.customers ALTER COLUMN name TYPE text USING name::text;',
    });
    await sql(lab, 'green', finding!.remediation);
    t.same(findingsOf(await preflightOf(lab), 'table-parity'), []);
  });

  await t.test('a column blue has and green lacks; NOT NULL only on green; an extra NOT NULL column on green', async (t) => {
    await sql(lab, 'blue', 'ALTER TABLE orders ADD COLUMN note text; ALTER TABLE orders ADD COLUMN tag text');
    await sql(lab, 'green', `ALTER TABLE orders ADD COLUMN tag text NOT NULL DEFAULT '';
                             ALTER TABLE products ADD COLUMN shelf integer NOT NULL DEFAULT 0; ALTER TABLE products ALTER COLUMN shelf DROP DEFAULT`);
    const findings = findingsOf(await preflightOf(lab), 'table-parity');
    t.match(findings, [
      { severity: 'blocker', object: 'column public.orders.note', message: /is missing on green/, remediation: '-- on green\nALTER TABLE public.orders ADD COLUMN note text;' },
      { severity: 'blocker', object: 'column public.orders.tag', message: /NOT NULL on green but nullable on blue/ },
      { severity: 'blocker', object: 'column public.products.shelf', message: /NOT NULL without a default/ },
    ]);
    for (const f of findings) await sql(lab, 'green', f.remediation.replace(/--.*$/gm, ''));
    t.same(findingsOf(await preflightOf(lab), 'table-parity'), []);
  });

  await t.test('a difference replication survives (a nullable column only green has) is still a blocker, as the drift signal counts it', async (t) => {
    // The remediation above made green's extra products.shelf nullable: replication is fine with it, the drift signal is not.
    t.same(findingsOf(await preflightOf(lab), 'table-parity'), []);
    t.match(findingsOf(await preflightOf(lab), 'schema-parity'), [
      { severity: 'blocker', object: 'column public.products.shelf', message: /on green, missing on blue.*pgshift refuses to advance until the schemas match/ },
    ]);
    await sql(lab, 'green', 'ALTER TABLE products DROP COLUMN shelf');
    t.same(findingsOf(await preflightOf(lab), 'schema-parity'), [], 'the schemas match again');
  });

  await t.test('a published table that green lacks', async (t) => {
    await sql(lab, 'blue', 'CREATE TABLE audit_log (id integer PRIMARY KEY, entry text)');
    t.teardown(() => sql(lab, 'blue', 'DROP TABLE IF EXISTS audit_log'));
    t.match(findingsOf(await preflightOf(lab), 'table-parity'), [
      {
        severity: 'blocker',
        object: 'table public.audit_log',
        message: /published on blue but does not exist on green/,
        remediation: /pg_dump --schema-only --table='public\.audit_log'[\s\S]*ALTER SUBSCRIPTION pgshift_sub REFRESH PUBLICATION;/,
      },
    ]);
  });

  await t.test('application roles pgshift cannot freeze', async (t) => {
    await sql(lab, 'blue', `CREATE ROLE streamer LOGIN REPLICATION; CREATE ROLE batch LOGIN PASSWORD 'batch-pw'`);
    await sql(lab, 'green', `CREATE ROLE streamer LOGIN REPLICATION; CREATE ROLE batch LOGIN`);
    t.teardown(async () => {
      for (const side of ['blue', 'green'] as const) await sql(lab, side, 'DROP ROLE IF EXISTS streamer; DROP ROLE IF EXISTS batch');
    });

    const configured = await preflightOf(lab, { appRoles: ['app', 'postgres', 'pgshift', 'streamer', 'ghost'] });
    t.same(
      findingsOf(configured, 'app-roles').map((f) => [f.severity, f.object, f.message.replace(/^.*: /, '')]),
      [
        ['blocker', 'role pgshift', "it is pgshift's own login"],
        ['blocker', 'role postgres', 'it is the admin (master) login'],
        ['blocker', 'role streamer', 'it has REPLICATION, and only a superuser may alter such a role'],
        ['warning', 'role ghost', 'appRoles lists ghost, which does not exist on blue'],
      ],
    );
    t.equal(findingsOf(configured, 'app-roles').find((f) => f.object === 'role streamer')!.remediation, 'ALTER ROLE streamer NOREPLICATION;  -- as the admin login, if the application does not stream WAL');
    // The facts behind the check: pgshift's login (CREATEROLE) really cannot alter these roles.
    await t.rejects(sql(lab, 'blue', 'SET ROLE pgshift; ALTER ROLE streamer NOLOGIN'), /must be superuser/);
    await t.rejects(sql(lab, 'blue', 'SET ROLE pgshift; ALTER ROLE postgres NOLOGIN'), /must be superuser/);

    // Sessions open on blue as roles outside appRoles are warnings: a superuser's psql, and a role not listed.
    const psql = await openSession(lab, 'blue', 'admin', 'psql');
    const app = await openSession(lab, 'blue', 'app', 'shop');
    const batch = await connectAs(lab, 'blue', 'batch', 'batch-pw', 'batch-job');
    t.teardown(() => Promise.all([psql.end(), app.end(), batch.end()]));
    const observed = await preflightOf(lab);
    t.same(
      findingsOf(observed, 'app-roles').map((f) => [f.severity, f.object]),
      [
        ['warning', 'role batch'],
        ['warning', 'role postgres'],
      ],
      'the app role itself is fine; the superuser session and the unlisted role are flagged',
    );
    t.match(findingsOf(observed, 'app-roles').find((f) => f.object === 'role batch'), { message: /batch \(1 session\(s\) on blue now\) is not in the pair's appRoles/ });
    t.match(findingsOf(observed, 'app-roles').find((f) => f.object === 'role postgres'), { message: /cannot be frozen at cutover: it is the admin \(master\) login/ });

    const unlisted = await preflightOf(lab, { appRoles: [] });
    t.match(findingsOf(unlisted, 'app-roles'), [
      { severity: 'warning', object: 'role postgres' },
      { severity: 'info', object: 'pair demo', message: /lists no appRoles/ },
    ]);
  });

  await t.test("pgshift's login without CREATEROLE on green cannot freeze anything there", async (t) => {
    await sql(lab, 'green', 'ALTER ROLE pgshift NOCREATEROLE');
    t.teardown(() => sql(lab, 'green', 'ALTER ROLE pgshift CREATEROLE'));
    t.match(findingsOf(await preflightOf(lab), 'app-roles'), [
      { severity: 'blocker', object: 'role pgshift', message: /on green lacks CREATEROLE/, remediation: '-- on green\nALTER ROLE pgshift CREATEROLE;  -- as the admin login' },
    ]);
  });

  await t.test('every database of the pair: one green lacks, one with another encoding on green', async (t) => {
    await sql(lab, 'blue', `CREATE DATABASE blue_only TEMPLATE template0 ENCODING 'UTF8'`, 'postgres');
    await sql(lab, 'blue', `CREATE DATABASE latin TEMPLATE template0 ENCODING 'UTF8'`, 'postgres');
    await sql(lab, 'green', `CREATE DATABASE latin TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'`, 'postgres');
    t.teardown(async () => {
      await sql(lab, 'blue', 'DROP DATABASE IF EXISTS blue_only', 'postgres');
      await sql(lab, 'blue', 'DROP DATABASE IF EXISTS latin', 'postgres');
      await sql(lab, 'green', 'DROP DATABASE IF EXISTS latin', 'postgres');
    });
    const report = await preflightOf(lab, { databases: ['demo', 'blue_only', 'latin'] });
    const [connect, ...moreConnect] = findingsOf(report, 'connect');
    t.same(moreConnect, []);
    t.match(connect, {
      severity: 'blocker',
      database: 'blue_only',
      object: 'server green',
      message: /cannot check blue_only on green: .*database "blue_only" does not exist.*Not checked because of it: .*extensions.*table-parity/,
      remediation: /^Create database blue_only on green/,
    });
    t.match(findingsOf(report, 'database-compatibility'), [
      { severity: 'blocker', database: 'latin', message: 'latin is UTF8 on blue but LATIN1 on green' },
    ]);
    t.ok(
      report.checks.some((c) => c.check === 'extensions' && c.database === 'demo' && c.outcome === 'passed') &&
        report.checks.some((c) => c.check === 'extensions' && c.database === 'blue_only' && c.outcome === 'skipped') &&
        report.checks.some((c) => c.check === 'unlogged-tables' && c.database === 'blue_only' && c.outcome === 'passed'),
      'checks that only read blue still ran for blue_only; the others are listed as skipped',
    );
    t.same(blockers(report).map((f) => f.check).sort(), ['connect', 'database-compatibility']);
  });
});
