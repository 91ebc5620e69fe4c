import t from 'tap';
import { startTestLab } from '../helpers/lab.js';
import { findingsOf, preflightOf, sql } from './lab-preflight.js';

/**
 * What pg_upgrade 14 refuses in a 13 cluster, made for real on the lab's blue: a postfix
 * operator, aggregates and operators on the old array functions, a user-defined encoding
 * conversion, reg* columns, system row types in columns, a prepared transaction. Each
 * remediation is run to show that it fixes what was found; the parts meant for green
 * are run on the real 14 server to show they are valid there.
 */

/** The statements of a remediation meant for one side (`-- on green` starts green's part). */
function part(remediation: string, side: 'blue' | 'green'): string {
  const lines = remediation.split('\n');
  const greenStart = lines.findIndex((l) => l.startsWith('-- on green'));
  const chosen = side === 'green' ? lines.slice(greenStart) : lines.slice(0, greenStart === -1 ? undefined : greenStart);
  return chosen.filter((l) => !l.startsWith('--') && /;\s*(--.*)?$/.test(l)).join('\n');
}

t.test('checks of what PostgreSQL 14 removed or changed', async (t) => {
  const lab = await startTestLab(t);
  const greenMajor = lab.servers.green.major;

  await t.test('applies to this lab: every one of them ran', async (t) => {
    const report = await preflightOf(lab);
    for (const id of ['postfix-operators', 'old-polymorphics', 'encoding-conversions', 'reg-columns', 'system-composite-columns', 'prepared-transactions']) {
      t.match(report.checks.find((c) => c.check === id), { outcome: 'passed' }, id);
    }
  });

  await t.test('a user-defined postfix operator', async (t) => {
    await sql(lab, 'blue', `CREATE FUNCTION pf_fact(bigint) RETURNS numeric LANGUAGE sql AS 'SELECT 1::numeric';
                            CREATE OPERATOR !!! (LEFTARG = bigint, FUNCTION = pf_fact)`);
    t.teardown(() => sql(lab, 'blue', 'DROP FUNCTION IF EXISTS pf_fact(bigint) CASCADE'));
    const [finding, ...more] = findingsOf(await preflightOf(lab), 'postfix-operators');
    t.same(more, []);
    t.match(finding, {
      severity: 'blocker',
      database: 'demo',
      object: 'operator !!!(bigint,NONE)',
      message: `postfix operator !!!(bigint,NONE): PostgreSQL ${greenMajor} has no postfix operators`,
      remediation: /pf_fact\(\.\.\.\)[\s\S]*DROP OPERATOR public\.!!! \(bigint, NONE\);$/,
    });
    await sql(lab, 'blue', part(finding!.remediation, 'blue'));
    t.same(findingsOf(await preflightOf(lab), 'postfix-operators'), [], 'gone after the remediation');
  });

  await t.test('an aggregate over array_append with an anyarray state, and an operator on array_append', async (t) => {
    await sql(
      lab,
      'blue',
      `CREATE AGGREGATE array_accum(anyelement) (SFUNC = array_append, STYPE = anyarray, INITCOND = '{}');
       CREATE OPERATOR ### (LEFTARG = anyarray, RIGHTARG = anyelement, FUNCTION = array_append);
       CREATE AGGREGATE int_accum(integer) (SFUNC = array_append, STYPE = integer[], INITCOND = '{}')`,
    );
    t.teardown(() =>
      sql(lab, 'blue', `DROP AGGREGATE IF EXISTS array_accum(anyelement); DROP OPERATOR IF EXISTS ### (anyarray, anyelement);
                        DROP AGGREGATE IF EXISTS int_accum(integer)`),
    );
    const findings = findingsOf(await preflightOf(lab), 'old-polymorphics');
    t.same(
      findings.map((f) => [f.severity, f.object]),
      [
        ['blocker', 'aggregate array_accum(anyelement)'],
        ['blocker', 'operator ###(anyarray,anyelement)'],
      ],
      'the aggregate with a concrete state type (int_accum) is not flagged',
    );
    t.match(findings[0]!.message, `uses array_append with anyarray/anyelement; PostgreSQL ${greenMajor} changed that function`);

    // Green's part of each remediation is valid on the real 14 server.
    for (const f of findings) await sql(lab, 'green', part(f.remediation, 'green'));
    t.teardown(() =>
      sql(lab, 'green', `DROP AGGREGATE IF EXISTS array_accum(anycompatible); DROP OPERATOR IF EXISTS ### (anycompatiblearray, anycompatible)`),
    );
    const [rows] = await sql(lab, 'green', `SELECT array_accum(x) AS a FROM (VALUES (1), (2)) v(x)`);
    t.same(rows!.rows[0].a, [1, 2], 'the aggregate re-created with anycompatible works on green');

    for (const f of findings) await sql(lab, 'blue', part(f.remediation, 'blue'));
    t.same(findingsOf(await preflightOf(lab), 'old-polymorphics'), [], 'gone once dropped on blue');
  });

  await t.test('a user-defined encoding conversion', async (t) => {
    await sql(lab, 'blue', `CREATE SCHEMA conv; CREATE CONVERSION conv.latin1_to_utf8 FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8`);
    t.teardown(() => sql(lab, 'blue', 'DROP SCHEMA IF EXISTS conv CASCADE'));
    const [finding] = findingsOf(await preflightOf(lab), 'encoding-conversions');
    t.match(finding, {
      severity: 'blocker',
      object: 'conversion conv.latin1_to_utf8',
      message: /LATIN1 to UTF8 by iso8859_1_to_utf8\): conversion functions take different parameters since PostgreSQL 14/,
    });
    await sql(lab, 'green', `CREATE SCHEMA conv; ${part(finding!.remediation, 'green')}`);
    t.teardown(() => sql(lab, 'green', 'DROP SCHEMA IF EXISTS conv CASCADE'));
    await sql(lab, 'blue', part(finding!.remediation, 'blue'));
    t.same(findingsOf(await preflightOf(lab), 'encoding-conversions'), []);
  });

  await t.test('reg* columns, also inside arrays, domains and composite types; regclass, regtype, regrole are fine', async (t) => {
    await sql(
      lab,
      'blue',
      `CREATE SCHEMA regs;
       CREATE DOMAIN regs.proc_ref AS regproc;
       CREATE TYPE regs.op_pair AS (id integer, op regoperator);
       CREATE TABLE regs.refs (id integer PRIMARY KEY, fn regprocedure, schemas regnamespace[], p regs.proc_ref, pair regs.op_pair,
                               rel regclass, typ regtype, who regrole)`,
    );
    t.teardown(() => sql(lab, 'blue', 'DROP SCHEMA IF EXISTS regs CASCADE'));
    const findings = findingsOf(await preflightOf(lab), 'reg-columns');
    t.same(
      findings.map((f) => f.object),
      ['column regs.refs.fn', 'column regs.refs.p', 'column regs.refs.pair', 'column regs.refs.schemas'],
    );
    t.ok(findings.every((f) => f.severity === 'blocker'));
    const fn = findings.find((f) => f.object === 'column regs.refs.fn')!;
    t.equal(fn.remediation, 'ALTER TABLE regs.refs ALTER COLUMN fn TYPE text USING fn::text;');
    const schemas = findings.find((f) => f.object === 'column regs.refs.schemas')!;
    await sql(lab, 'blue', `${fn.remediation} ${schemas.remediation}`);
    t.same(
      findingsOf(await preflightOf(lab), 'reg-columns').map((f) => f.object),
      ['column regs.refs.p', 'column regs.refs.pair'],
      'the columns changed to text are fine now',
    );
  });

  await t.test('a column of a system row type', async (t) => {
    await sql(lab, 'blue', 'CREATE TABLE lang_snapshots (id integer PRIMARY KEY, lang pg_catalog.pg_language)');
    t.teardown(() => sql(lab, 'blue', 'DROP TABLE IF EXISTS lang_snapshots'));
    t.match(findingsOf(await preflightOf(lab), 'system-composite-columns'), [
      { severity: 'blocker', object: 'column public.lang_snapshots.lang', message: /system row type/ },
    ]);
  });

  await t.test('a prepared transaction', async (t) => {
    await sql(lab, 'blue', `BEGIN; PREPARE TRANSACTION 'pgshift-test-gid'`);
    t.teardown(() => sql(lab, 'blue', `ROLLBACK PREPARED 'pgshift-test-gid'`).catch(() => {}));
    const [finding] = findingsOf(await preflightOf(lab), 'prepared-transactions');
    t.match(finding, {
      severity: 'blocker',
      database: 'demo',
      object: 'prepared transaction pgshift-test-gid',
      message: /^blue holds prepared transaction 'pgshift-test-gid'/,
      remediation: /^COMMIT PREPARED 'pgshift-test-gid';  -- or ROLLBACK PREPARED 'pgshift-test-gid';/,
    });
    await sql(lab, 'blue', `ROLLBACK PREPARED 'pgshift-test-gid'`);
    t.same(findingsOf(await preflightOf(lab), 'prepared-transactions'), []);
  });
});
