import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import Value from 'typebox/value';
import type { Lab, LabSide } from '../../src/local/lab.js';
import { PreflightReportSchema } from '../../src/preflight/report.js';
import { startTestLab } from '../helpers/lab.js';
import { blockers, findingsOf, preflightOf, sql } from './lab-preflight.js';

/**
 * The failure pgshift exists for: an extension on blue that green does not have at
 * blue's version (`Extension incompatible: some_extension v1.3 not compatible with
 * Postgres v14`). The test installs a real extension's files into each server's
 * extension folder; the name is fixed because the finding must name it.
 */
const EXTENSION = 'some_extension';

function extensionDir(lab: Lab, side: LabSide): string {
  return join(lab.servers[side].binaries.binDir, '..', 'share', 'postgresql', 'extension');
}

const control = (defaultVersion: string) =>
  `comment = 'pgshift preflight test fixture'\ndefault_version = '${defaultVersion}'\nrelocatable = true\n`;
const versionFunction = (version: string) =>
  `CREATE OR REPLACE FUNCTION some_extension_version() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT '${version}'::text $$;\n`;
const install = (version: string) => `${versionFunction(version)}CREATE DOMAIN some_extension_code AS text CHECK (VALUE ~ '^[A-Z]+$');\n`;

t.test('extensions', async (t) => {
  const lab = await startTestLab(t);
  const written: string[] = [];
  const put = async (side: LabSide, file: string, text: string) => {
    const path = join(extensionDir(lab, side), file);
    await writeFile(path, text, { mode: 0o644 });
    written.push(path);
  };
  t.teardown(async () => {
    for (const side of ['blue', 'green'] as const) {
      await sql(lab, side, `DROP EXTENSION IF EXISTS ${EXTENSION} CASCADE`).catch(() => {});
    }
    await Promise.all(written.map((p) => rm(p, { force: true })));
  });
  const greenMajor = lab.servers.green.major;

  await t.test('the demo pair as the lab sets it up has no blocker', async (t) => {
    const report = await preflightOf(lab);
    t.same(blockers(report), [], 'no blocker');
    t.equal(report.ok, true);
    t.ok(Value.Check(PreflightReportSchema, report), 'the report matches its schema');
    t.equal(report.blue.major, lab.servers.blue.major);
    t.equal(report.green.major, greenMajor);
    t.notOk(report.checks.some((c) => c.outcome === 'failed' || c.outcome === 'skipped'), 'every check ran');
    // The lab's green was made by pg_dump, so hstore got green's default version.
    t.match(findingsOf(report, 'extension-parity'), [{ severity: 'info', object: 'extension hstore', message: /1\.7 on blue and 1\.8 on green/ }]);
    t.match(findingsOf(report, 'sequences'), [{ severity: 'info', message: /invoice_number_seq/ }]);
  });

  await t.test('an extension green does not offer at all is a blocker naming it, its version and the target major', async (t) => {
    await put('blue', `${EXTENSION}.control`, control('1.3'));
    await put('blue', `${EXTENSION}--1.3.sql`, install('1.3'));
    await sql(lab, 'blue', `CREATE EXTENSION ${EXTENSION}; CREATE TABLE gadget_codes (id int PRIMARY KEY, code some_extension_code)`);

    const report = await preflightOf(lab);
    t.equal(report.ok, false);
    const [finding, ...more] = findingsOf(report, 'extensions');
    t.same(more, []);
    t.match(finding, {
      severity: 'blocker',
      database: 'demo',
      object: `extension ${EXTENSION}`,
      message: `Extension incompatible: ${EXTENSION} v1.3 not compatible with Postgres v${greenMajor}: green (PostgreSQL ${report.green.version}) does not offer ${EXTENSION} in any version`,
    });
    t.match(finding!.remediation, `DROP EXTENSION ${EXTENSION} CASCADE;`);
    t.match(finding!.remediation, 'column code of table gadget_codes', 'names what CASCADE would drop');
    await sql(lab, 'blue', 'DROP TABLE gadget_codes');
  });

  await t.test('green offers another version but blue has no update path to it', async (t) => {
    await put('green', `${EXTENSION}.control`, control('1.4'));
    await put('green', `${EXTENSION}--1.4.sql`, install('1.4'));

    const [finding] = findingsOf(await preflightOf(lab), 'extensions');
    t.match(finding, {
      severity: 'blocker',
      message: `Extension incompatible: ${EXTENSION} v1.3 not compatible with Postgres v${greenMajor}: green offers 1.4 (default 1.4); blue has no update path from 1.3 to any of them`,
    });
    t.match(finding!.remediation, /update from 1\.3 to one of 1\.4/);
  });

  await t.test('with an update path the remediation is the ALTER EXTENSION that fixes it', async (t) => {
    await put('blue', `${EXTENSION}--1.3--1.4.sql`, versionFunction('1.4'));

    const [finding] = findingsOf(await preflightOf(lab), 'extensions');
    t.match(finding, { severity: 'blocker', message: /green offers 1\.4 \(default 1\.4\); blue can update to 1\.4 \(path 1\.3--1\.4\)/ });
    t.equal(finding!.remediation, `ALTER EXTENSION ${EXTENSION} UPDATE TO '1.4';`);

    await sql(lab, 'blue', finding!.remediation);
    const after = await preflightOf(lab);
    t.same(findingsOf(after, 'extensions'), [], 'the incompatibility is gone once blue runs the remediation');
    const [parity] = findingsOf(after, 'extension-parity').filter((f) => f.object === `extension ${EXTENSION}`);
    t.match(parity, { severity: 'blocker', message: /not created on green/ });
    t.equal(parity!.remediation, `-- on green\nCREATE EXTENSION IF NOT EXISTS ${EXTENSION} VERSION '1.4' SCHEMA public;`);

    await sql(lab, 'green', parity!.remediation);
    const clean = await preflightOf(lab);
    t.same(blockers(clean), [], 'with the extension at 1.4 on both sides the pair is clean');
  });

  await t.test('an extension Aurora does not support on green (rds.extensions) is a blocker', async (t) => {
    await sql(lab, 'green', `ALTER DATABASE demo SET "rds.extensions" = 'plpgsql,${EXTENSION}'`);
    t.teardown(() => sql(lab, 'green', 'ALTER DATABASE demo RESET "rds.extensions"'));
    const report = await preflightOf(lab);
    t.match(findingsOf(report, 'extensions'), [
      {
        severity: 'blocker',
        object: 'extension hstore',
        message: `Extension incompatible: hstore v1.7 not compatible with Postgres v${greenMajor}: green does not support it (it is not in rds.extensions)`,
        remediation: /DROP EXTENSION hstore CASCADE;.*column attributes of table products/,
      },
    ]);
  });

  await t.test('an extension of blue that green may not create (rds.allowed_extensions), then not created on green', async (t) => {
    await sql(lab, 'blue', 'CREATE EXTENSION citext');
    t.teardown(() => sql(lab, 'blue', 'DROP EXTENSION IF EXISTS citext'));
    await sql(lab, 'green', `ALTER DATABASE demo SET "rds.allowed_extensions" = 'hstore'`);
    t.match(
      findingsOf(await preflightOf(lab), 'extensions'),
      [
        {
          severity: 'blocker',
          object: 'extension citext',
          message: /rds\.allowed_extensions does not allow it/,
          remediation: /Add citext to rds\.allowed_extensions/,
        },
      ],
      'only citext: what green already has is not subject to the list',
    );
    await sql(lab, 'green', 'ALTER DATABASE demo RESET "rds.allowed_extensions"');

    const report = await preflightOf(lab);
    t.same(findingsOf(report, 'extensions'), []);
    const [finding] = findingsOf(report, 'extension-parity').filter((f) => f.object === 'extension citext');
    t.match(finding, { severity: 'blocker', remediation: /CREATE EXTENSION IF NOT EXISTS citext VERSION '1\.6' SCHEMA public;/ });
    await sql(lab, 'green', finding!.remediation);
    t.teardown(() => sql(lab, 'green', 'DROP EXTENSION IF EXISTS citext'));
    t.same(blockers(await preflightOf(lab)), []);
  });
});
