/**
 * A rehearsal of the demo pair's upgrade end to end, on the embedded lab: runRehearsal
 * (src/rehearsal/runner.ts) as the service runs it, against the RDS and Route 53
 * stand-ins and real PostgreSQL 13 -> 14: blue's snapshot, the two staging clusters,
 * preflight, the preparation with its initial copy, the read stages walked by pgshift's
 * controller on the staging records (each baked `--bake` seconds), the write cutover to
 * green and the way back, the teardown. Wired as test/rehearsal/runner.test.ts wires it
 * (config/local.yaml's demo pair, the lab's RDS client and Route 53 account, polling
 * 100-500 ms); the lab's green follows blue first (pgshift's replication set-up), as in
 * that test.
 *
 * Each run is one rehearsal (ids bench-1, bench-2, ...) with a write load at 20/s from the
 * first read stage to the way back: `inserts` is pgshift's own INSERT load (production's),
 * `demo-app` the lab's demo application through the staging names (labDemoAppLoad with
 * default settings, as the test's case r3), whose ledger is checked on staging blue after
 * the way back. The first run takes blue's snapshot; later ones restore that same
 * snapshot (the runner's default: blue's newest pgshift snapshot), so their `snapshot`
 * step only looks it up.
 *
 * Reported per run: the outcome, every step's seconds, the initial copy (seconds,
 * bytes/s), each read stage's move (transitionMs: the move's start -> Route 53's INSYNC)
 * and hold, both write windows (windowMs: pgshift's part, freeze -> writer change
 * submitted; route53Ms: -> INSYNC; catchUpMs; each step), the load (writes, refused,
 * longest gap between acknowledged writes) and the demo application's ledger. Then
 * median / p95 / worst / best over the runs that completed (passed or blocked; with a
 * handful of runs p95 is the worst). A run that throws, fails or is cancelled is recorded
 * with its error and left out of the stats; the process still exits 0 with the lab
 * stopped and its folder removed.
 *
 * Usage: node --import tsx bench/rehearsal.ts [--runs 3] [--load demo-app|inserts] [--bake 1];
 * JSON on stdout, progress on stderr.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { systemClock } from '../src/clock.js';
import { createClusterCatalog } from '../src/clusters/factory.js';
import { createRdsClient } from '../src/clusters/rds-client.js';
import { resolveConfig } from '../src/config/load.js';
import * as D from '../src/defaults.js';
import { describeError } from '../src/errors.js';
import { Lab } from '../src/local/lab.js';
import { parseWorkloadSettings } from '../src/local/workload/config.js';
import { labDemoAppLoad } from '../src/local/workload/rehearsal-load.js';
import { createLogger } from '../src/log.js';
import { runRehearsal, type RehearsalReport } from '../src/rehearsal/runner.js';
import { createRoute53Client } from '../src/traffic/route53-client.js';
import { Route53Account } from '../src/traffic/route53-account.js';
import { replicateDemo } from '../test/helpers/lab.js';
import { labServiceConfigText } from '../test/helpers/lab-service.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
};
const runs = Math.max(1, Number(arg('runs', '3')) || 3);
const loadKind = arg('load', 'inserts');
if (loadKind !== 'inserts' && loadKind !== 'demo-app') {
  process.stderr.write(`--load must be demo-app or inserts, not ${loadKind}\n`);
  process.exit(2);
}
const bakeSeconds = Number(arg('bake', '1'));
const WRITE_RATE = 20;
const POLL = { pollMinMs: 100, pollMaxMs: 500 };
const LOG_LEVEL = process.env.PGSHIFT_BENCH_LOG ?? 'silent';

function stats(values: (number | null | undefined)[]) {
  const present = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (present.length === 0) return null;
  const sorted = [...present].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { n: sorted.length, median: at(0.5), p95: at(0.95), worst: sorted[sorted.length - 1]!, best: sorted[0]! };
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const load1 = () => round(loadavg()[0]!, 2);

interface RunResult {
  run: number;
  id: string;
  outcome: RehearsalReport['outcome'] | 'threw';
  error?: string;
  findings?: RehearsalReport['findings'];
  /** The step that failed, with its error, when one did. */
  failedStep?: { step: string; error?: string };
  totalSeconds: number;
  loadAverage: { before: number; after: number };
  snapshot?: string | null;
  steps?: Record<string, number>;
  prepareSteps?: Record<string, number>;
  copy?: { seconds: number; bytes: number; tables: number; bytesPerSecond: number | null; slowestTable: { table: string; seconds: number; bytes: number } | null } | null;
  stages?: { stage: string; transitionMs: number; heldSeconds: number }[];
  writeWindows?: Record<'forward' | 'back', { windowMs: number; route53Ms: number | null; catchUpMs: number | null; steps: Record<string, number> }> | null;
  writeLoad?: {
    kind?: string;
    writes: number;
    errors: number;
    longestGapMs: number;
    firstError?: string;
    ledger?: {
      acknowledged: number;
      inDoubt: number;
      failed: number;
      runs: { side: string; writes: number }[];
      checkedOn: string | null;
      checkError?: string;
      missing: number;
      duplicated: number;
      phantom: number;
      sequenceReuse: number;
      inDoubtPresent: number;
      differences: string[];
    };
  } | null;
  estimate?: RehearsalReport['estimate'];
  staging?: { removed: number; notRemoved: RehearsalReport['staging']['notRemoved']; recordsLeft: string[] };
}

function figures(report: RehearsalReport): Partial<RunResult> {
  const failed = report.steps.find((s) => !s.ok) ?? report.prepareSteps.find((s) => !s.ok);
  const windowOf = (w: NonNullable<RehearsalReport['writeWindows']>['forward']) => ({
    windowMs: w.windowMs,
    route53Ms: w.route53Ms,
    catchUpMs: w.catchUpMs,
    steps: Object.fromEntries(w.steps.map((s) => [s.name, s.ms])),
  });
  const slowest = report.copy?.perTable[0];
  return {
    outcome: report.outcome,
    ...(report.findings.length > 0 ? { findings: report.findings } : {}),
    ...(failed ? { failedStep: { step: failed.step, ...(failed.error ? { error: failed.error } : {}) } } : {}),
    snapshot: report.snapshot,
    steps: Object.fromEntries(report.steps.map((s) => [s.step, round(s.seconds)])),
    prepareSteps: Object.fromEntries(report.prepareSteps.map((s) => [s.step, round(s.seconds)])),
    copy: report.copy
      ? {
          seconds: report.copy.seconds,
          bytes: report.copy.bytes,
          tables: report.copy.tables,
          bytesPerSecond: report.copy.bytesPerSecond === null ? null : Math.round(report.copy.bytesPerSecond),
          slowestTable: slowest ? { table: slowest.table, seconds: slowest.seconds, bytes: slowest.bytes } : null,
        }
      : null,
    stages: report.stages.map((s) => ({ stage: s.stage, transitionMs: s.transitionMs, heldSeconds: s.heldSeconds })),
    writeWindows: report.writeWindows ? { forward: windowOf(report.writeWindows.forward), back: windowOf(report.writeWindows.back) } : null,
    writeLoad: report.writeLoad
      ? {
          kind: report.writeLoad.kind,
          writes: report.writeLoad.writes,
          errors: report.writeLoad.errors,
          longestGapMs: report.writeLoad.longestGapMs,
          ...(report.writeLoad.firstError ? { firstError: report.writeLoad.firstError } : {}),
          ...(report.writeLoad.ledger ? { ledger: report.writeLoad.ledger } : {}),
        }
      : null,
    estimate: report.estimate,
    staging: { removed: report.staging.removed.length, notRemoved: report.staging.notRemoved, recordsLeft: report.staging.recordsLeft },
  };
}

/** Stats over the runs that completed (passed or blocked); a failed, cancelled or thrown run is counted in `outcomes` only. */
function summary(all: RunResult[]) {
  const results = all.filter((r) => r.outcome === 'passed' || r.outcome === 'blocked');
  const stepNames = [...new Set(results.flatMap((r) => Object.keys(r.steps ?? {})))];
  const prepareNames = [...new Set(results.flatMap((r) => Object.keys(r.prepareSteps ?? {})))];
  const stageNames = [...new Set(results.flatMap((r) => (r.stages ?? []).map((s) => s.stage)))];
  const windowFigures = (direction: 'forward' | 'back') => {
    const windows = results.map((r) => r.writeWindows?.[direction]).filter((w) => w !== undefined && w !== null);
    const names = [...new Set(windows.flatMap((w) => Object.keys(w.steps)))];
    return {
      windowMs: stats(windows.map((w) => w.windowMs)),
      route53Ms: stats(windows.map((w) => w.route53Ms)),
      catchUpMs: stats(windows.map((w) => w.catchUpMs)),
      stepsMs: Object.fromEntries(names.map((n) => [n, stats(windows.map((w) => w.steps[n]))])),
    };
  };
  const ledgers = results.map((r) => r.writeLoad?.ledger).filter((l) => l !== undefined);
  return {
    outcomes: all.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.outcome]: (acc[r.outcome] ?? 0) + 1 }), {}),
    statsOverRuns: results.map((r) => r.run),
    totalSeconds: stats(results.map((r) => r.totalSeconds)),
    stepSeconds: Object.fromEntries(stepNames.map((n) => [n, stats(results.map((r) => r.steps?.[n]))])),
    prepareStepSeconds: Object.fromEntries(prepareNames.map((n) => [n, stats(results.map((r) => r.prepareSteps?.[n]))])),
    initialCopy: {
      seconds: stats(results.map((r) => r.copy?.seconds)),
      bytesPerSecond: stats(results.map((r) => r.copy?.bytesPerSecond)),
      bytes: stats(results.map((r) => r.copy?.bytes)),
    },
    stageTransitionMs: {
      all: stats(results.flatMap((r) => (r.stages ?? []).map((s) => s.transitionMs))),
      ...Object.fromEntries(stageNames.map((n) => [n, stats(results.map((r) => r.stages?.find((s) => s.stage === n)?.transitionMs))])),
    },
    stageHeldSeconds: stats(results.flatMap((r) => (r.stages ?? []).map((s) => s.heldSeconds))),
    writeWindows: { forward: windowFigures('forward'), back: windowFigures('back') },
    writeLoad: {
      writes: stats(results.map((r) => r.writeLoad?.writes)),
      errors: stats(results.map((r) => r.writeLoad?.errors)),
      longestGapMs: stats(results.map((r) => r.writeLoad?.longestGapMs)),
    },
    ...(loadKind === 'demo-app'
      ? {
          ledger: {
            acknowledged: stats(ledgers.map((l) => l.acknowledged)),
            missing: stats(ledgers.map((l) => l.missing)),
            missingTotal: ledgers.reduce((n, l) => n + l.missing, 0),
            duplicatedTotal: ledgers.reduce((n, l) => n + l.duplicated, 0),
            phantomTotal: ledgers.reduce((n, l) => n + l.phantom, 0),
            sequenceReuseTotal: ledgers.reduce((n, l) => n + l.sequenceReuse, 0),
            inDoubt: stats(ledgers.map((l) => l.inDoubt)),
            checked: ledgers.filter((l) => l.checkedOn !== null).length,
          },
        }
      : {}),
  };
}

async function main(): Promise<{ results: RunResult[]; error?: string; cleanupErrors: string[] }> {
  const results: RunResult[] = [];
  const cleanup: (() => unknown)[] = [];
  const cleanupErrors: string[] = [];
  let error: string | undefined;
  try {
    const dir = await mkdtemp(join(tmpdir(), 'pgshift-bench-rehearsal-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await chmod(dir, 0o755);
    const logger = createLogger({ level: LOG_LEVEL });
    log(`starting the lab in ${dir}`);
    const lab = await Lab.start({ dir, log: logger });
    cleanup.push(() => lab.stop());
    await replicateDemo(lab);
    const config = resolveConfig(YAML.parse(await labServiceConfigText()), lab.env());
    const pair = config.pairs[0]!;
    const rds = createRdsClient(config.aws);
    cleanup.push(() => rds.destroy());
    const catalog = createClusterCatalog(pair, config, { rds });
    const route53 = createRoute53Client(config.aws);
    const route53Account = Route53Account.fromConfig(config.aws, { client: route53, clock: systemClock, log: logger });
    cleanup.push(() => {
      route53Account.close();
      route53.destroy();
    });
    log(`lab up; ${runs} rehearsal(s) of ${pair.id}, load ${loadKind} at ${WRITE_RATE}/s, bake ${bakeSeconds} s, read stages ${JSON.stringify(pair.steps)}`);

    for (let i = 1; i <= runs; i++) {
      const id = `bench-${i}`;
      const before = load1();
      const started = Date.now();
      let lastStep = '';
      let result: RunResult;
      try {
        const report = await runRehearsal(
          { bakeSeconds, writeRate: WRITE_RATE },
          {
            id,
            pair,
            config,
            rds,
            route53Account,
            instanceId: 'bench-rehearsal',
            catalog,
            log: logger,
            signal: new AbortController().signal,
            onProgress: (p) => {
              if (p.milestone) log(`run ${i}: ${p.step} ${p.milestone}`);
              else if (p.step !== lastStep) log(`run ${i}: ${p.step}`);
              lastStep = p.step;
            },
            ...(loadKind === 'demo-app' ? { load: labDemoAppLoad(lab, parseWorkloadSettings({})) } : {}),
            ...POLL,
          },
        );
        result = {
          run: i,
          id,
          totalSeconds: round((Date.now() - started) / 1000),
          loadAverage: { before, after: load1() },
          ...figures(report),
        } as RunResult;
      } catch (err) {
        result = { run: i, id, outcome: 'threw', error: describeError(err), totalSeconds: round((Date.now() - started) / 1000), loadAverage: { before, after: load1() } };
      }
      results.push(result);
      const w = result.writeWindows;
      const ledger = result.writeLoad?.ledger;
      log(
        `run ${i}/${runs}: ${result.outcome} in ${result.totalSeconds} s` +
          (result.error ? ` (${result.error})` : '') +
          (result.failedStep ? ` (step ${result.failedStep.step}: ${result.failedStep.error ?? '?'})` : '') +
          (w ? `; windows ${w.forward.windowMs} / ${w.back.windowMs} ms` : '') +
          (result.writeLoad ? `; longest gap ${result.writeLoad.longestGapMs} ms` : '') +
          (ledger ? `; ledger ${ledger.acknowledged} acknowledged, ${ledger.missing} missing` : ''),
      );
    }
  } catch (err) {
    error = describeError(err);
    log(`the benchmark stopped: ${error}`);
  } finally {
    for (const step of cleanup.reverse()) {
      try {
        await step();
      } catch (err) {
        cleanupErrors.push(describeError(err));
      }
    }
  }
  return { results, ...(error ? { error } : {}), cleanupErrors };
}

const startedAt = new Date().toISOString();
const loadBefore = loadavg().map((n) => round(n, 2));
let outcome: Awaited<ReturnType<typeof main>>;
try {
  outcome = await main();
} catch (err) {
  outcome = { results: [], error: describeError(err), cleanupErrors: [] };
}
const document = {
  benchmark: 'rehearsal',
  startedAt,
  endedAt: new Date().toISOString(),
  settings: {
    runs,
    load: loadKind,
    writeRatePerSecond: WRITE_RATE,
    bakeSeconds,
    poll: POLL,
    standInInsyncDelayMs: D.LAB_ROUTE53_INSYNC_DELAY_MS,
  },
  machine: { cpus: cpus().length, loadAverageBefore: loadBefore, loadAverageAfter: loadavg().map((n) => round(n, 2)) },
  ...(outcome.error ? { error: outcome.error } : {}),
  ...(outcome.cleanupErrors.length > 0 ? { cleanupErrors: outcome.cleanupErrors } : {}),
  summary: summary(outcome.results),
  runs: outcome.results,
};
process.stdout.write(`${JSON.stringify(document, null, 2)}\n`, () => process.exit(0));
