/**
 * How long preflight of the lab's demo pair takes, against real PostgreSQL servers.
 * Starts a lab of its own in a temp folder (not timed), runs preflight a few times and
 * prints one JSON object: every run's duration, the median and the slowest, and the
 * slowest checks of the median run. The target is well under 2 s. Then the trial restore
 * (check `trial-restore`: blue's schema dumped and restored object by object into a
 * scratch database on green) on its own: for the demo schema, and for a generated schema
 * of `tables` tables with a sequence, key, index, view and function each, made on blue.
 *
 *   node --import tsx bench/preflight.ts [runs] [tables]
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as D from '../src/defaults.js';
import { Lab } from '../src/local/lab.js';
import { silentLogger } from '../src/log.js';
import { runPreflight } from '../src/preflight/run.js';
import { spawn } from 'node:child_process';
import { withClient } from '../src/postgres/connect.js';
import { runTrialRestore } from '../src/preflight/trial-restore.js';
import { dumpSchema, restoreSchema } from '../src/replication/schema-restore.js';
import { finished, toolArgs, toolEnv } from '../src/replication/tools.js';
import { replicateDemo } from '../test/helpers/lab.js';
import { createGeneratedSchema } from '../test/helpers/schema.js';

const runs = Number(process.argv[2] ?? 7);
const tables = Number(process.argv[3] ?? 1000);
const dir = await mkdtemp(join(tmpdir(), 'pgshift-bench-preflight-'));
await chmod(dir, 0o755);
const lab = await Lab.start({ dir, log: silentLogger() });
try {
  // The lab's green starts empty; preflight (phase shift) checks a green that follows blue.
  await replicateDemo(lab);
  const pair = {
    id: 'demo',
    databases: [D.LAB_DATABASE],
    appRoles: [D.LAB_APP_ROLE],
    publication: D.DEFAULT_PUBLICATION,
    subscription: D.DEFAULT_SUBSCRIPTION,
    expectedMajor: { blue: lab.servers.blue.major, green: lab.servers.green.major },
  };
  const targets = { target: (side: 'blue' | 'green', database: string, login: 'pgshift' | 'admin') => lab.target(side, login, database) };
  const reports = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const report = await runPreflight({ pair, targets });
    reports.push({ wallMs: performance.now() - started, report });
  }
  const sorted = [...reports].sort((a, b) => a.wallMs - b.wallMs);

  const trial = async () => {
    let reports = 0;
    const outcome = await runTrialRestore({
      pairId: 'demo',
      blue: lab.target('blue', 'admin', D.LAB_DATABASE),
      greenAdmin: lab.target('green', 'admin', D.MAINTENANCE_DATABASE),
      budgetMs: D.DEFAULT_TRIAL_RESTORE_SECONDS * 1000,
      log: silentLogger(),
      onProgress: () => (reports += 1),
    });
    if (!outcome.ran) throw new Error('the lab admin may not create a database on green');
    const { result } = outcome;
    return { entries: result.total, failures: result.failures.length, ms: outcome.ms, progressReports: reports };
  };
  const demoTrial = await trial();
  const objects = await createGeneratedSchema(lab, tables);
  const generatedTrial = await trial();

  // The set-up's restore (one transaction) against psql's of the same script, restore only.
  const green = lab.target('green', 'admin', D.MAINTENANCE_DATABASE);
  const blue = lab.target('blue', 'admin', D.LAB_DATABASE);
  const intoFreshDatabase = async (restore: (target: typeof green) => Promise<void>) => {
    const database = 'bench_restore';
    await withClient(green, (c) => c.query(`CREATE DATABASE ${database} TEMPLATE template0`));
    try {
      const started = performance.now();
      await restore({ ...green, database });
      return Math.round(performance.now() - started);
    } finally {
      await withClient(green, (c) => c.query(`DROP DATABASE ${database} WITH (FORCE)`));
    }
  };
  const dump = await dumpSchema(blue, { withoutOwnership: true });
  const setUpMs = await intoFreshDatabase(async (target) => void (await restoreSchema(dump, target, { mode: 'all' })));
  const script = [dump.preamble, ...dump.entries.map((e) => `${e.settings}\n${e.sql}`)].join('\n');
  const psqlMs = await intoFreshDatabase(async (target) => {
    const child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', ...toolArgs(target)], { env: toolEnv(target), stdio: ['pipe', 'ignore', 'pipe'] });
    child.stdin.end(script);
    const { code, stderr } = await finished(child);
    if (code !== 0) throw new Error(`psql failed: ${stderr}`);
  });
  const median = sorted[Math.floor(sorted.length / 2)]!;
  console.log(
    JSON.stringify(
      {
        benchmark: 'preflight of the demo pair',
        blue: median.report.blue.version,
        green: median.report.green.version,
        runs,
        checkRuns: median.report.checks.length,
        ok: median.report.ok,
        findings: median.report.findings.length,
        wallMs: reports.map((r) => Math.round(r.wallMs)),
        medianMs: Math.round(median.wallMs),
        maxMs: Math.round(sorted[sorted.length - 1]!.wallMs),
        firstRunMs: Math.round(reports[0]!.wallMs),
        slowestChecksOfMedianRun: [...median.report.checks]
          .sort((a, b) => b.durationMs - a.durationMs)
          .slice(0, 5)
          .map((c) => ({ check: c.check, ms: c.durationMs })),
        trialRestore: {
          note: 'dump of blue + restore into the scratch database, one pg_dump entry at a time + drop',
          demoSchema: demoTrial,
          generatedSchema: { tables, blueObjects: objects, ...generatedTrial },
          restoreOnlyOfTheGeneratedSchema: { setUpOneTransactionMs: setUpMs, psqlSingleTransactionMs: psqlMs },
        },
      },
      null,
      2,
    ),
  );
} finally {
  await lab.stop();
  await rm(dir, { recursive: true, force: true });
}
