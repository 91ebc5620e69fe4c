import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import Value from 'typebox/value';
import * as D from '../../src/defaults.js';
import type { Lab, LabSide } from '../../src/local/lab.js';
import { withClient } from '../../src/postgres/connect.js';
import { PreflightReportSchema, type PreflightReport } from '../../src/preflight/report.js';
import { runPreflight } from '../../src/preflight/run.js';
import { startTestLab, testLogger } from '../helpers/lab.js';
import { blockers, demoPair, findingsOf, labPreflightTargets, preflightApp, sql } from './lab-preflight.js';

/**
 * Phase `prepare`: preflight of a green that pgshift's prepare step has not filled yet
 * (issue 19). Green is an empty cluster with pgshift's login only: none of the pair's
 * databases, so green is read through its maintenance database and the checks of what
 * prepare creates do not apply.
 */

const OPERATOR = 'operator-token-for-prepare-phase-tests';
const VIEWER = 'viewer-token-for-prepare-phase-tests';
/** Its own name, so that extensions.test.ts running beside this file never sees it. */
const EXTENSION = 'prepare_phase_extension';

/** The checks that compare what prepare creates on green with blue. */
const CREATED_BY_PREPARE = ['extension-parity', 'table-parity', 'role-parity', 'database-compatibility', 'materialized-views', 'foreign-tables'];

/**
 * Makes the lab's green empty, as a fresh cluster is before prepare: the demo database's
 * subscription (without touching blue's slot from green), then the database, then the
 * slot on blue. Only what exists is dropped, so a lab that starts empty is fine too.
 * Answers the subscriptions it dropped.
 * Green's roles stay: pgshift's login exists on green before preflight runs.
 */
async function emptyGreen(lab: Lab): Promise<string[]> {
  const slots = await withClient(lab.target('green', 'admin', 'postgres'), async (c) => {
    const { rows } = await c.query<{ subname: string; ident: string; slot: string | null }>(
      `SELECT s.subname, quote_ident(s.subname) AS ident, s.subslotname AS slot
         FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid WHERE d.datname = $1`,
      [D.LAB_DATABASE],
    );
    return rows;
  });
  if (slots.length > 0) {
    await withClient(lab.target('green', 'admin', D.LAB_DATABASE), async (c) => {
      for (const sub of slots) {
        await c.query(`ALTER SUBSCRIPTION ${sub.ident} DISABLE`);
        await c.query(`ALTER SUBSCRIPTION ${sub.ident} SET (slot_name = NONE)`);
        await c.query(`DROP SUBSCRIPTION IF EXISTS ${sub.ident}`);
      }
    });
  }
  await withClient(lab.target('green', 'admin', 'postgres'), (c) => c.query(`DROP DATABASE IF EXISTS ${D.LAB_DATABASE} WITH (FORCE)`));
  const names = slots.map((s) => s.slot).filter((s): s is string => s !== null);
  await withClient(lab.target('blue', 'admin', 'postgres'), async (c) => {
    // The walsender of the disabled subscription lets go of the slot shortly after.
    for (let attempt = 0; ; attempt++) {
      const { rows } = await c.query<{ active: number }>(
        `SELECT count(*) FILTER (WHERE active)::int AS active FROM pg_replication_slots WHERE slot_name = ANY ($1::text[])`,
        [names],
      );
      if (rows[0]!.active === 0 || attempt >= 100) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await c.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ANY ($1::text[])`, [names]);
  });
  return slots.map((s) => `subscription ${s.subname} (slot ${s.slot ?? 'none'})`);
}

function prepareOf(lab: Lab, phase: 'prepare' | 'prepared' = 'prepare'): Promise<PreflightReport> {
  return runPreflight({ pair: demoPair(lab), targets: labPreflightTargets(lab), log: testLogger(), phase });
}

function extensionDir(lab: Lab, side: LabSide): string {
  return join(lab.servers[side].binaries.binDir, '..', 'share', 'postgresql', 'extension');
}

t.test('preflight before prepare', async (t) => {
  const lab = await startTestLab(t);
  t.comment(`dropped on green: ${JSON.stringify(await emptyGreen(lab))}`);
  const greenDatabases = await withClient(lab.target('green', 'admin', 'postgres'), async (c) =>
    (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname = $1`, [D.LAB_DATABASE])).rows,
  );
  t.same(greenDatabases, [], 'green has no demo database');
  const slots = await sql(lab, 'blue', `SELECT slot_name FROM pg_replication_slots`, 'postgres');
  t.same(slots[0]!.rows, [], 'blue has no replication slot');

  await t.test('phase prepare on an empty green has no blocker; the checks of what prepare creates are not applicable', async (t) => {
    const report = await prepareOf(lab);
    t.same(blockers(report), [], 'no blocker');
    t.equal(report.ok, true);
    t.equal(report.phase, 'prepare', 'the report records its phase');
    t.ok(Value.Check(PreflightReportSchema, report), 'the report matches its schema');
    t.equal(report.green.major, lab.servers.green.major, "green's version is read through its maintenance database");
    for (const id of CREATED_BY_PREPARE) {
      t.match(report.checks.filter((c) => c.check === id), [{ outcome: 'not-applicable', database: null, reason: /^prepare creates green's / }], `${id} is not applicable`);
    }
    for (const id of ['server-versions', 'extensions', 'wal-level', 'replication-capacity', 'prepared-transactions', 'app-roles']) {
      t.match(report.checks.find((c) => c.check === id), { outcome: /^(passed|findings)$/ }, `${id} ran against green's server`);
    }
    t.notOk(report.checks.some((c) => c.outcome === 'failed' || c.outcome === 'skipped'), 'nothing failed or was skipped');
    t.same(findingsOf(report, 'connect'), []);
  });

  await t.test('phase prepared (the default) on the same empty green: the missing database is a blocker', async (t) => {
    for (const report of [await prepareOf(lab, 'prepared'), await runPreflight({ pair: demoPair(lab), targets: labPreflightTargets(lab), log: testLogger() })]) {
      t.equal(report.phase, 'prepared');
      t.equal(report.ok, false);
      t.match(findingsOf(report, 'connect'), [
        {
          severity: 'blocker',
          database: 'demo',
          object: 'server green',
          message: /cannot check demo on green: .*does not exist.*Not checked because of it: .*table-parity/,
          remediation: /Create database demo on green/,
        },
      ]);
      t.match(report.checks.find((c) => c.check === 'table-parity'), { outcome: 'skipped' });
    }
  });

  await t.test('phase prepare with an extension green does not offer: the Extension incompatible blocker', async (t) => {
    const files = [join(extensionDir(lab, 'blue'), `${EXTENSION}.control`), join(extensionDir(lab, 'blue'), `${EXTENSION}--1.3.sql`)];
    t.teardown(async () => {
      await sql(lab, 'blue', `DROP TABLE IF EXISTS prepare_codes; DROP EXTENSION IF EXISTS ${EXTENSION} CASCADE`).catch(() => {});
      await Promise.all(files.map((f) => rm(f, { force: true })));
    });
    await writeFile(files[0]!, `comment = 'pgshift preflight test fixture'\ndefault_version = '1.3'\nrelocatable = true\n`, { mode: 0o644 });
    await writeFile(files[1]!, `CREATE DOMAIN ${EXTENSION}_code AS text CHECK (VALUE ~ '^[A-Z]+$');\n`, { mode: 0o644 });
    await sql(lab, 'blue', `CREATE EXTENSION ${EXTENSION}; CREATE TABLE prepare_codes (id int PRIMARY KEY, code ${EXTENSION}_code)`);

    const report = await prepareOf(lab);
    t.equal(report.ok, false);
    t.same(findingsOf(report, 'connect'), [], 'green is reached through its maintenance database');
    const [finding, ...more] = blockers(report);
    t.same(more, [], 'the only blocker');
    t.match(finding, {
      check: 'extensions',
      severity: 'blocker',
      database: 'demo',
      object: `extension ${EXTENSION}`,
      message: `Extension incompatible: ${EXTENSION} v1.3 not compatible with Postgres v${lab.servers.green.major}: green (PostgreSQL ${report.green.version}) does not offer ${EXTENSION} in any version`,
    });
    t.match(finding!.remediation, 'column code of table prepare_codes', 'names what CASCADE would drop');
  });

  await t.test('the API takes the phase as a query field and refuses a bad one', async (t) => {
    const app = await preflightApp(t, lab, { [OPERATOR]: 'operator', [VIEWER]: 'viewer' });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const url = '/api/v1/pairs/demo/preflight';

    const prepare = await app.inject({ method: 'POST', url: `${url}?phase=prepare`, headers: as(OPERATOR) });
    t.equal(prepare.statusCode, 200);
    const report: PreflightReport = prepare.json();
    t.ok(Value.Check(PreflightReportSchema, report), 'the answer matches the report schema');
    t.match(report, { pair: 'demo', phase: 'prepare', ok: true });
    t.match(report.checks.find((c) => c.check === 'table-parity'), { outcome: 'not-applicable', reason: "prepare creates green's tables from blue's schema" });
    const last = await app.inject({ method: 'GET', url, headers: as(VIEWER) });
    t.same(last.json(), report, 'the stored report keeps its phase');

    const prepared = await app.inject({ method: 'POST', url, headers: as(OPERATOR) });
    t.equal(prepared.statusCode, 200);
    t.match(prepared.json(), { phase: 'prepared', ok: false, findings: [{ check: 'connect', object: 'server green' }] }, 'without phase: as before');

    const bad = await app.inject({ method: 'POST', url: `${url}?phase=later`, headers: as(OPERATOR) });
    t.equal(bad.statusCode, 400);
    const error = (bad.json() as { error: { code: string; message: string; details: { path: string; message: string }[] } }).error;
    t.equal(error.code, 'PGSHIFT_ERR_BAD_REQUEST');
    t.match(error.message, /phase/, 'the reason names the field');
    t.match(error.details, [{ path: '/phase', message: /allowed values/ }]);

    const unknownField = await app.inject({ method: 'POST', url: `${url}?phaze=prepare`, headers: as(OPERATOR) });
    t.equal(unknownField.statusCode, 400, 'an unknown query field is refused too');
  });
});
