import t from 'tap';
import Value from 'typebox/value';
import { PreflightReportSchema, type PreflightReport } from '../../src/preflight/report.js';
import { startTestLab, testLogger } from '../helpers/lab.js';
import { runPreflight } from '../../src/preflight/run.js';
import { demoPair, labPreflightTargets, openSession, preflightApp, sql } from './lab-preflight.js';

const OPERATOR = 'operator-token-for-preflight-tests';
const VIEWER = 'viewer-token-for-preflight-tests';

t.test('preflight API', async (t) => {
  const lab = await startTestLab(t);
  const log = testLogger();
  const app = await preflightApp(t, lab, { [OPERATOR]: 'operator', [VIEWER]: 'viewer' });
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const url = '/api/v1/pairs/demo/preflight';

  await t.test('before any run, the last report is a coded 404', async (t) => {
    const res = await app.inject({ method: 'GET', url, headers: as(VIEWER) });
    t.equal(res.statusCode, 404);
    t.equal(res.json().error.code, 'PGSHIFT_ERR_PREFLIGHT_NOT_RUN');
  });

  await t.test('running needs an operator token; reading needs a viewer token', async (t) => {
    t.equal((await app.inject({ method: 'POST', url })).statusCode, 401);
    t.equal((await app.inject({ method: 'POST', url, headers: as(VIEWER) })).statusCode, 403);
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 401);
  });

  let first: PreflightReport;
  await t.test('POST runs the checks against the real servers and GET answers that report', async (t) => {
    const res = await app.inject({ method: 'POST', url, headers: as(OPERATOR) });
    t.equal(res.statusCode, 200);
    first = res.json();
    t.ok(Value.Check(PreflightReportSchema, first), 'the answer matches the report schema');
    t.match(first, { pair: 'demo', ok: true, blue: { major: lab.servers.blue.major }, green: { major: lab.servers.green.major } });
    t.ok(first.findings.length > 0 && first.findings.every((f) => f.severity !== 'blocker'));

    const last = await app.inject({ method: 'GET', url, headers: as(VIEWER) });
    t.equal(last.statusCode, 200);
    t.same(last.json(), first);

    const restarted = await preflightApp(t, lab, { [VIEWER]: 'viewer' });
    const kept = await restarted.inject({ method: 'GET', url, headers: as(VIEWER) });
    t.same(kept.json(), first, 'the report is kept in the state store: another service instance reads it');
  });

  await t.test('unknown and malformed pairs are coded client errors', async (t) => {
    const unknown = await app.inject({ method: 'POST', url: '/api/v1/pairs/nope/preflight', headers: as(OPERATOR) });
    t.equal(unknown.statusCode, 404);
    t.equal(unknown.json().error.code, 'PGSHIFT_ERR_PAIR_NOT_FOUND');
    const unknownLast = await app.inject({ method: 'GET', url: '/api/v1/pairs/nope/preflight', headers: as(VIEWER) });
    t.equal(unknownLast.json().error.code, 'PGSHIFT_ERR_PAIR_NOT_FOUND');
    const malformed = await app.inject({ method: 'POST', url: '/api/v1/pairs/Not_A_Pair!/preflight', headers: as(OPERATOR) });
    t.equal(malformed.statusCode, 400);
    t.equal(malformed.json().error.code, 'PGSHIFT_ERR_BAD_REQUEST');
    for (const query of ['phase=bogus', 'phase=PREPARE', 'phase=', 'phase=prepare&phase=prepared', 'phases=prepare']) {
      const bad = await app.inject({ method: 'POST', url: `${url}?${query}`, headers: as(OPERATOR) });
      t.equal(bad.statusCode, 400, query);
      t.equal(bad.json().error.code, 'PGSHIFT_ERR_BAD_REQUEST', query);
    }
    const lastOfPhase = await app.inject({ method: 'GET', url: `${url}?phase=prepare`, headers: as(VIEWER) });
    t.equal(lastOfPhase.statusCode, 400, 'the last report takes no phase: refused rather than ignored');
  });

  await t.test('a blocker makes ok false, and the new report replaces the last one', async (t) => {
    await sql(lab, 'blue', 'CREATE TABLE no_key (a integer)');
    t.teardown(() => sql(lab, 'blue', 'DROP TABLE IF EXISTS no_key'));
    const res = await app.inject({ method: 'POST', url, headers: as(OPERATOR) });
    t.equal(res.statusCode, 200);
    t.match(res.json(), { ok: false, findings: [{ check: 'replica-identity', severity: 'blocker', object: 'table public.no_key' }] });
    const last = (await app.inject({ method: 'GET', url, headers: as(VIEWER) })).json();
    t.equal(last.ok, false);
    t.not(last.startedAt, first.startedAt);
  });

  await t.test('green down: the report says so as a blocker, never a silent pass and never a 500', async (t) => {
    await lab.servers.green.stop();
    t.teardown(() => lab.servers.green.start());
    const res = await app.inject({ method: 'POST', url, headers: as(OPERATOR) });
    t.equal(res.statusCode, 200);
    const report: PreflightReport = res.json();
    t.equal(report.ok, false);
    t.same(report.green, { version: null, major: null });
    t.match(report.findings[0], {
      check: 'connect',
      severity: 'blocker',
      database: 'demo',
      object: 'server green',
      message: /cannot check demo on green: .*Not checked because of it: .*extensions/,
      remediation: /Make sure green is running and reachable/,
    });
    t.ok(report.checks.some((c) => c.check === 'extensions' && c.outcome === 'skipped'));
    t.ok(report.checks.some((c) => c.check === 'replica-identity' && c.outcome === 'passed'), 'checks of blue alone still ran');
  });

  await t.test('a check that cannot finish (a lock held on the catalog it reads) is a blocker saying so', async (t) => {
    const holder = await openSession(lab, 'blue', 'admin', 'lock-holder');
    t.teardown(() => holder.end());
    await holder.query('BEGIN; LOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE');
    const report = await runPreflight({ pair: demoPair(lab), targets: labPreflightTargets(lab), log, statementTimeoutMs: 1_000 });
    await holder.query('ROLLBACK');
    t.equal(report.ok, false);
    t.match(
      report.findings.filter((f) => f.check === 'extensions'),
      [
        {
          severity: 'blocker',
          object: 'check extensions',
          message: /check "extensions on blue are available on green" could not run: .*statement timeout; pgshift cannot tell whether it passes/,
          remediation: /statement timeout/,
        },
      ],
    );
    t.match(report.checks.find((c) => c.check === 'extensions'), { outcome: 'failed' });
    t.match(report.checks.find((c) => c.check === 'replica-identity'), { outcome: 'passed' }, 'the other checks still ran');
    t.match(report.checks.find((c) => c.check === 'trial-restore'), { outcome: 'not-applicable', reason: /prepare restored blue's schema on green/ }, 'a prepared green is not made to restore the schema again');
  });

  await t.test('concurrent runs of one pair share a single run', async (t) => {
    const run = () => app.inject({ method: 'POST', url, headers: as(OPERATOR) });
    const [a, b] = await Promise.all([run(), run()]);
    t.equal(a.statusCode, 200);
    t.equal(a.json().startedAt, b.json().startedAt, 'both callers got the one run');
  });
});
