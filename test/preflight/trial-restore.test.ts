import t from 'tap';
import { formatReport } from '../../src/cli/commands/preflight.js';
import * as D from '../../src/defaults.js';
import type { Lab } from '../../src/local/lab.js';
import { ensureRole, PGSHIFT_ROLE_ATTRIBUTES, PGSHIFT_ROLE_GROUPS } from '../../src/local/seed.js';
import { withClient } from '../../src/postgres/connect.js';
import type { PreflightReport } from '../../src/preflight/report.js';
import { runPreflight } from '../../src/preflight/run.js';
import type { PreflightPair, PreflightTargets } from '../../src/preflight/targets.js';
import { replicateDemo, startTestLab, testLogger } from '../helpers/lab.js';
import { demoPair, findingsOf, labPreflightTargets, sql, trialDatabases } from './lab-preflight.js';

/**
 * Preflight's trial restore of blue's schema on the lab's real 14. The object that
 * breaks: a view using hstore's `@` ("contains"), which PostgreSQL 14 removed (hstore
 * 1.7 -> 1.8, with `~` and the same operators of cube, intarray, seg and the geometric
 * types; PostgreSQL 14 release notes, commit 112d411f). It creates on 13 and no
 * catalog check knows it: only a restore finds it.
 */

function trialOf(lab: Lab, pair: Partial<PreflightPair> = {}, targets: PreflightTargets = labPreflightTargets(lab)): Promise<PreflightReport> {
  return runPreflight({ pair: demoPair(lab, pair), targets, phase: 'prepare', log: testLogger() });
}

t.test('the trial restore of blue schema on green', async (t) => {
  const lab = await startTestLab(t, { green: 'empty' });
  // pgshift's login on green, as prepare's green-login step makes it before preflight.
  const pgshift = lab.target('green', 'pgshift').login;
  await withClient(lab.target('green', 'admin', D.MAINTENANCE_DATABASE), (c) =>
    ensureRole(c, pgshift.user, pgshift.password, PGSHIFT_ROLE_ATTRIBUTES, PGSHIFT_ROLE_GROUPS),
  );

  await t.test('the demo schema restores: the check passes and leaves nothing on green', async (t) => {
    const rolesBefore = await withClient(lab.target('green', 'admin', D.MAINTENANCE_DATABASE), async (c) => (await c.query('SELECT count(*)::int AS n FROM pg_roles')).rows[0].n);
    const report = await trialOf(lab);
    t.match(report.checks.find((c) => c.check === 'trial-restore'), { outcome: 'passed', database: 'demo' });
    t.equal(report.ok, true);
    t.same(await trialDatabases(lab), [], 'the scratch database is dropped');
    const rolesAfter = await withClient(lab.target('green', 'admin', D.MAINTENANCE_DATABASE), async (c) => (await c.query('SELECT count(*)::int AS n FROM pg_roles')).rows[0].n);
    t.equal(rolesAfter, rolesBefore, 'no role made on green');
  });

  await t.test('a view on an operator 14 removed is a blocker naming it and green error; the fix makes preflight ready and the set-up succeed', async (t) => {
    await sql(
      lab,
      'blue',
      `SET ROLE ${D.LAB_APP_ROLE};
       CREATE VIEW red_products AS SELECT sku, title FROM products WHERE attributes @ 'color=>red'::hstore;
       CREATE VIEW red_titles AS SELECT upper(title) AS title FROM red_products;
       COMMENT ON VIEW red_products IS 'what the red campaign sells'`,
    );
    t.teardown(() => sql(lab, 'blue', 'DROP VIEW IF EXISTS red_titles, red_products'));

    const report = await trialOf(lab);
    const findings = findingsOf(report, 'trial-restore');
    t.equal(findings.length, 1, 'one cause; what depends on it is named in its finding');
    t.match(findings[0], {
      severity: 'blocker',
      database: 'demo',
      object: 'view public.red_products',
      message: /^view public\.red_products does not restore on green \(PostgreSQL 14\.\d+\): operator does not exist: public\.hstore public\.@ public\.hstore \(SQLSTATE 42883\); hint: No operator matches/,
    });
    t.match(findings[0]!.message, /Not restored because of it: comment on view public\.red_products, view public\.red_titles\. The statement:\n\| CREATE VIEW public\.red_products AS\n/);
    t.match(findings[0]!.message, /\n\|   WHERE \(products\.attributes OPERATOR\(public\.@\) '"color"=>"red"'::public\.hstore\);$/);
    const printed = formatReport(report, 100);
    t.match(printed, /\n +\| CREATE VIEW public\.red_products AS\n/, 'the CLI prints the statement as it is');
    t.match(printed, /\n +fix: PostgreSQL 14 removed the containment operators/);
    t.match(findings[0]!.remediation, /write @> \(contains\) or <@ \(is contained by\) instead[\s\S]*DROP VIEW public\.red_products;$/);
    t.same(
      report.findings.filter((f) => f.severity === 'blocker' && f.check !== 'trial-restore'),
      [],
      'no other check knows this one',
    );
    t.equal(report.ok, false);
    t.same(await trialDatabases(lab), [], 'the scratch database is dropped after a failing run too');

    await t.rejects(replicateDemo(lab), { code: 'PGSHIFT_ERR_SCHEMA_COPY', message: /failed at view public\.red_products: operator does not exist/ }, 'the set-up meets the same object');

    await sql(
      lab,
      'blue',
      `CREATE OR REPLACE VIEW red_products AS SELECT sku, title FROM products WHERE attributes @> 'color=>red'::hstore`,
    );
    const fixed = await trialOf(lab);
    t.same(findingsOf(fixed, 'trial-restore'), []);
    t.equal(fixed.ok, true, 'preflight is ready');
    await replicateDemo(lab);
    const [views] = await sql(lab, 'green', `SELECT string_agg(viewname, ',' ORDER BY viewname) AS v FROM pg_views WHERE viewname LIKE 'red_%'`);
    t.equal(views!.rows[0].v, 'red_products,red_titles', 'the set-up restored both views on green');
    t.same(await trialDatabases(lab), []);
  });

  await t.test('out of time: a warning with how far it came, and nothing left', async (t) => {
    const report = await trialOf(lab, { trialRestoreSeconds: 0 });
    t.match(findingsOf(report, 'trial-restore'), [
      { severity: 'warning', object: 'database demo', message: /^the trial restore stopped at its budget of 0 s while pg_dump read blue's schema/ },
    ]);
    t.same(await trialDatabases(lab), []);
  });

  await t.test('a login that may not create a database: a warning, and the other checks run', async (t) => {
    await sql(lab, 'green', `CREATE ROLE trial_no_createdb LOGIN PASSWORD 'x' IN ROLE pg_monitor`, D.MAINTENANCE_DATABASE);
    t.teardown(() => sql(lab, 'green', 'DROP ROLE IF EXISTS trial_no_createdb', D.MAINTENANCE_DATABASE));
    const targets: PreflightTargets = {
      target: (side, database, login) => {
        const target = lab.target(side, login, database);
        return side === 'green' && login === 'admin' ? { ...target, login: { user: 'trial_no_createdb', password: 'x' } } : target;
      },
    };
    const report = await trialOf(lab, {}, targets);
    t.match(findingsOf(report, 'trial-restore'), [
      { severity: 'warning', object: 'role trial_no_createdb', message: /trial_no_createdb may not create a database on green/, remediation: /ALTER ROLE trial_no_createdb CREATEDB;$/ },
    ]);
    t.ok(report.checks.filter((c) => c.check !== 'trial-restore').some((c) => c.outcome === 'passed'), 'the other checks ran');
    t.equal(report.ok, true, 'a warning does not block');
  });
});
