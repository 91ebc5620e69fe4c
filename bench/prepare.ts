/**
 * The initial copy of `prepare` on the embedded lab (PostgreSQL 13 blue -> 14 green):
 * how fast PostgreSQL's own tablesync fills an empty green through pgshift's
 * preparation steps, how it scales with the number of tables at the same total size,
 * and how it compares with a plain `pg_dump <blue db> | psql <green db>` of the same
 * data on the same machine.
 *
 * For each table count: a fresh database `bench` on blue with that many tables of
 * generated rows (~200 bytes each: bigint primary key, int, timestamptz, numeric,
 * 128-character text), `--gb` of heap in total, vacuumed and analyzed. Then, on the
 * empty green, pgshift's preparation steps for that one database (green login, roles,
 * database, schema, pgshift's tables, publication, subscription, initial copy, verify),
 * run in order by a tiny runner standing in for the shift core, collecting every
 * progress reading. The copy starts when the subscription is created, so the copy time
 * runs from the start of the `subscription` step to the end of `initial-copy`. Row
 * counts are compared, every step is undone in reverse and green is checked empty
 * again. Then the baseline: `pg_dump bench | psql` into a fresh `bench` on green
 * (schema and data in one stream, PostgreSQL 15 client tools; blue's `pgshift` schema,
 * which the `pgshift-tables` step leaves on blue by design, excluded), timed, counted,
 * dropped.
 *
 * MB are 10^6 bytes. Heap MB/s: blue's main-fork size (pg_relation_size, what pgshift's
 * progress counts) per second; total MB/s: blue's pg_total_relation_size (indexes and
 * TOAST included) per second.
 *
 * Usage: node --import tsx bench/prepare.ts [--gb 2] [--tables 1,4,16] [--lab-dir DIR]
 *   [--keep] [--skip-dump]; prints JSON on stdout, progress on stderr. The lab lives in a
 *   temp folder removed at the end unless --keep; a --lab-dir is kept (its green must be
 *   empty: the lab's own, fresh).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import * as D from '../src/defaults.js';
import { Lab } from '../src/local/lab.js';
import { createLogger } from '../src/log.js';
import { ident, withClient } from '../src/postgres/connect.js';
import { greenPreparation } from '../src/replication/prepare.js';
import type { PreparationProgress, PreparationStep, StepDetail } from '../src/shift/ports.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const gb = Number(flag('--gb') ?? 2);
const tableCounts = (flag('--tables') ?? '1,4,16').split(',').map(Number);
const labDirFlag = flag('--lab-dir');
const keep = process.argv.includes('--keep');
const skipDump = process.argv.includes('--skip-dump');
if (!(gb > 0) || tableCounts.some((n) => !Number.isInteger(n) || n < 1)) {
  throw new Error('usage: bench/prepare.ts [--gb 2] [--tables 1,4,16] [--lab-dir DIR] [--keep] [--skip-dump]');
}

const DB = 'bench';
/** Heap bytes a generated row takes (tuple and line pointer), to size the data; the real size is measured. */
const ROW_BYTES_ESTIMATE = 200;
const MB = 1e6;

const say = (text: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
const seconds = (ms: number) => Math.round(ms / 10) / 100;
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Stands in for the shift core's executor: each step's detail (notes and result merged), undo in reverse. */
class Runner {
  readonly details = new Map<string, StepDetail>();
  readonly started: PreparationStep[] = [];
  readonly stepMs = new Map<string, { startedAt: number; endedAt: number }>();
  readonly progress: PreparationProgress[] = [];
  private readonly abort = new AbortController();

  constructor(private readonly steps: PreparationStep[]) {}

  async run(): Promise<void> {
    for (const step of this.steps) {
      this.started.push(step);
      const details = this.details;
      const merge = (detail: StepDetail) => details.set(step.name, { ...(details.get(step.name) ?? {}), ...detail });
      const startedAt = Date.now();
      say(`  step ${step.name}`);
      const result = await step.run({
        get detail() {
          return details.get(step.name) ?? {};
        },
        note: async (detail) => {
          merge(detail);
        },
        signal: this.abort.signal,
        progress: (p) => {
          this.progress.push(p);
        },
      });
      if (result) merge(result);
      this.stepMs.set(step.name, { startedAt, endedAt: Date.now() });
    }
  }

  async undo(): Promise<void> {
    for (const step of [...this.started].reverse()) {
      if (step.undo) await step.undo(this.details.get(step.name) ?? {}, this.abort.signal);
    }
    this.started.length = 0;
  }
}

/** The admin of `side` without pgshift's statement timeout: loading and counting gigabytes takes longer. */
function admin(lab: Lab, side: 'blue' | 'green', database: string) {
  return { ...lab.target(side, 'admin', database), statementTimeoutMs: 0 };
}

async function rows<T>(lab: Lab, side: 'blue' | 'green', database: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return withClient(admin(lab, side, database), async (c) => (await c.query(sql, params)).rows as T[]);
}

const tableName = (i: number) => `t${String(i).padStart(2, '0')}`;

/** A fresh `bench` on blue: `count` tables sharing `totalRows`, loaded two at a time, then keyed and vacuumed. */
async function generate(lab: Lab, count: number, totalRows: number): Promise<void> {
  await rows(lab, 'blue', 'postgres', `DROP DATABASE IF EXISTS ${ident(DB)} WITH (FORCE)`);
  await rows(lab, 'blue', 'postgres', `CREATE DATABASE ${ident(DB)}`);
  const perTable = Math.ceil(totalRows / count);
  const queue = Array.from({ length: count }, (_, i) => i + 1);
  const worker = async () => {
    await withClient(admin(lab, 'blue', DB), async (c) => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        const t = ident(tableName(i));
        await c.query(
          `CREATE TABLE ${t} (id bigint NOT NULL, account int NOT NULL, created_at timestamptz NOT NULL, amount numeric(12,2) NOT NULL, note text NOT NULL)`,
        );
        await c.query(
          `INSERT INTO ${t} SELECT g, (g % 100000)::int, timestamptz '2026-01-01' + g * interval '1 second', (g % 1000000) / 100.0, repeat(md5(g::text), 4)
             FROM generate_series(1, $1::bigint) g`,
          [perTable],
        );
        await c.query(`ALTER TABLE ${t} ADD PRIMARY KEY (id)`);
        await c.query(`VACUUM ANALYZE ${t}`);
      }
    });
  };
  await Promise.all([worker(), worker()]);
}

interface Sizes {
  rows: number;
  heapBytes: number;
  totalBytes: number;
}

async function sizes(lab: Lab, side: 'blue' | 'green', count: number): Promise<Sizes> {
  const names = Array.from({ length: count }, (_, i) => tableName(i + 1));
  const [r] = await rows<{ heap: string; total: string }>(
    lab,
    side,
    DB,
    `SELECT sum(pg_relation_size(n::regclass)) AS heap, sum(pg_total_relation_size(n::regclass)) AS total FROM unnest($1::text[]) n`,
    [names],
  );
  let n = 0;
  for (const name of names) n += Number((await rows<{ n: string }>(lab, side, DB, `SELECT count(*) AS n FROM ${ident(name)}`))[0]!.n);
  return { rows: n, heapBytes: Number(r!.heap), totalBytes: Number(r!.total) };
}

/** What must be back after undo: green with its admin login and built-in databases only, blue without slots or publication. */
async function emptyState(lab: Lab): Promise<{ greenRoles: string[]; greenDatabases: string[]; blueSlots: string[]; bluePublications: string[] }> {
  const names = async (side: 'blue' | 'green', database: string, sql: string) => (await rows<{ n: string }>(lab, side, database, sql)).map((r) => r.n);
  return {
    greenRoles: await names('green', 'postgres', `SELECT rolname AS n FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1`),
    greenDatabases: await names('green', 'postgres', 'SELECT datname AS n FROM pg_database ORDER BY 1'),
    blueSlots: await names('blue', 'postgres', 'SELECT slot_name AS n FROM pg_replication_slots ORDER BY 1'),
    bluePublications: await names('blue', DB, 'SELECT pubname AS n FROM pg_publication ORDER BY 1'),
  };
}

function progressStats(progress: PreparationProgress[], endAt: number, measuredBytesPerSecond: number) {
  const copy = progress.filter((p) => p.tablesTotal > 0);
  const rates = copy.map((p) => p.bytesPerSecond).filter((r): r is number => r !== null);
  const last = copy[copy.length - 1];
  // The copy as pgshift saw it end: its last reading (up to one poll after the real end).
  const seenEndAt = last?.at ?? endAt;
  const eta = [0.1, 0.25, 0.5, 0.75, 0.9].map((fraction) => {
    const p = copy.find((r) => r.bytesTotal > 0 && r.bytesDone / r.bytesTotal >= fraction && r.etaSeconds !== null);
    if (!p) return { fraction, reading: null };
    const actual = (seenEndAt - p.at) / 1000;
    return {
      fraction,
      doneFraction: round(p.bytesDone / p.bytesTotal, 3),
      tablesDone: p.tablesDone,
      bytesPerSecondMBps: round(p.bytesPerSecond! / MB),
      etaSeconds: round(p.etaSeconds!),
      actualRemainingSeconds: round(actual),
      errorPercent: actual > 0 ? round(((p.etaSeconds! - actual) / actual) * 100) : null,
    };
  });
  return {
    readings: copy.length,
    readingsWithRate: rates.length,
    bytesPerSecondPeakMBps: rates.length ? round(Math.max(...rates) / MB) : null,
    bytesPerSecondMeanMBps: rates.length ? round(rates.reduce((a, b) => a + b, 0) / rates.length / MB) : null,
    measuredMBps: round(measuredBytesPerSecond / MB),
    firstReadingDoneFraction: copy[0] && copy[0].bytesTotal > 0 ? round(copy[0].bytesDone / copy[0].bytesTotal, 3) : null,
    lastReading: last ? { tablesDone: last.tablesDone, tablesTotal: last.tablesTotal, bytesDone: last.bytesDone, bytesTotal: last.bytesTotal, etaSeconds: last.etaSeconds } : null,
    eta,
  };
}

/** `pg_dump bench | psql` into a fresh `bench` on green, one stream; returns the wall time in ms. */
async function dumpRestore(lab: Lab): Promise<number> {
  await rows(lab, 'green', 'postgres', `CREATE DATABASE ${ident(DB)}`);
  const env = { ...process.env, PGPASSWORD: lab.state.secrets.adminPassword };
  const conn = (side: 'blue' | 'green') => ['-h', '127.0.0.1', '-p', String(lab.servers[side].port), '-U', D.LAB_ADMIN_ROLE, '-d', DB];
  const startedAt = Date.now();
  await new Promise<void>((resolve, reject) => {
    // pgshift's own schema on blue (the heartbeat, kept after undo by design) is not the data compared.
    const dump = spawn('pg_dump', ['--exclude-schema', D.PGSHIFT_SCHEMA, ...conn('blue')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const restore = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...conn('green')], { env, stdio: ['pipe', 'ignore', 'inherit'] });
    dump.stdout.pipe(restore.stdin);
    restore.stdin.on('error', reject);
    const codes: (number | null)[] = [];
    const exited = (what: string) => (code: number | null) => {
      if (code !== 0) reject(new Error(`${what} exited with ${code}`));
      codes.push(code);
      if (codes.length === 2) resolve();
    };
    dump.on('error', reject);
    restore.on('error', reject);
    dump.on('exit', exited('pg_dump'));
    restore.on('exit', exited('psql'));
  });
  return Date.now() - startedAt;
}

async function runFor(lab: Lab, count: number, totalRows: number) {
  say(`${count} table(s): generating ${totalRows} rows on blue`);
  const genAt = Date.now();
  await generate(lab, count, totalRows);
  const generateSeconds = seconds(Date.now() - genAt);
  const blue = await sizes(lab, 'blue', count);
  say(`  generated in ${generateSeconds} s: ${blue.rows} rows, heap ${round(blue.heapBytes / MB)} MB, total ${round(blue.totalBytes / MB)} MB`);

  const preparation = greenPreparation({
    pairId: 'bench',
    databases: [DB],
    publication: D.DEFAULT_PUBLICATION,
    subscription: D.DEFAULT_SUBSCRIPTION,
    targets: lab.replicationTargets(),
    pgshiftLogin: lab.target('green', 'pgshift').login,
    log: createLogger({ level: 'silent' }),
  });
  const runner = new Runner([preparation.greenLogin, ...preparation.replication()]);
  let copyMs = 0;
  let green: Sizes = { rows: 0, heapBytes: 0, totalBytes: 0 };
  let stepSeconds: Record<string, number> = {};
  let stats: ReturnType<typeof progressStats> | null = null;
  try {
    await runner.run();
    const subscription = runner.stepMs.get('subscription')!;
    const copyStep = runner.stepMs.get('initial-copy')!;
    copyMs = copyStep.endedAt - subscription.startedAt;
    green = await sizes(lab, 'green', count);
    if (green.rows !== blue.rows) throw new Error(`green holds ${green.rows} rows, blue ${blue.rows}`);
    stepSeconds = Object.fromEntries([...runner.stepMs].map(([name, t]) => [name, seconds(t.endedAt - t.startedAt)]));
    stats = progressStats(runner.progress, copyStep.endedAt, blue.heapBytes / (copyMs / 1000));
  } finally {
    say('  undoing');
    await runner.undo();
  }
  const after = await emptyState(lab);
  const emptyAgain =
    after.greenRoles.join() === D.LAB_ADMIN_ROLE && after.greenDatabases.join() === 'postgres,template0,template1' && after.blueSlots.length === 0 && after.bluePublications.length === 0;
  if (!emptyAgain) throw new Error(`green not empty after undo: ${JSON.stringify(after)}`);
  const copySeconds = copyMs / 1000;
  say(`  initial copy ${round(copySeconds)} s (${round(blue.heapBytes / MB / copySeconds)} MB/s heap)`);

  let dump: Record<string, unknown> = { skipped: true };
  if (!skipDump) {
    say('  pg_dump | psql');
    const ms = await dumpRestore(lab);
    const restored = await sizes(lab, 'green', count);
    if (restored.rows !== blue.rows) throw new Error(`pg_dump | psql restored ${restored.rows} rows, blue holds ${blue.rows}`);
    await rows(lab, 'green', 'postgres', `DROP DATABASE ${ident(DB)} WITH (FORCE)`);
    say(`  pg_dump | psql ${seconds(ms)} s`);
    dump = {
      pgDumpPsqlSeconds: seconds(ms),
      pgDumpPsqlMBps: round(blue.heapBytes / MB / (ms / 1000)),
      pgDumpPsqlTotalMBps: round(blue.totalBytes / MB / (ms / 1000)),
      pgDumpPsqlRowsPerSecond: Math.round(blue.rows / (ms / 1000)),
      ratio: round(ms / copyMs, 2),
    };
  }
  return {
    tables: count,
    rows: blue.rows,
    heapBytes: blue.heapBytes,
    totalBytes: blue.totalBytes,
    greenHeapBytes: green.heapBytes,
    greenTotalBytes: green.totalBytes,
    generateSeconds,
    initialCopySeconds: round(copySeconds, 2),
    MBps: round(blue.heapBytes / MB / copySeconds),
    totalMBps: round(blue.totalBytes / MB / copySeconds),
    rowsPerSecond: Math.round(blue.rows / copySeconds),
    stepSeconds,
    ...dump,
    progress: stats,
    emptyAfterUndo: emptyAgain,
  };
}

async function clientVersion(command: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(command, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', () => resolve('unavailable'));
    child.on('exit', () => resolve(out.trim()));
  });
}

async function main(): Promise<void> {
  const dir = labDirFlag ?? (await mkdtemp(join(tmpdir(), 'pgshift-bench-prepare-')));
  await chmod(dir, 0o755);
  say(`lab in ${dir}`);
  const lab = await Lab.start({ dir, log: createLogger({ level: 'silent' }) });
  const totalRows = Math.round((gb * 1024 ** 3) / ROW_BYTES_ESTIMATE);
  const results = [];
  const loadBefore = loadavg();
  const startedAt = Date.now();
  const settings: Record<string, string> = {};
  try {
    const empty = await emptyState(lab).catch(() => null);
    if (empty && (empty.greenRoles.join() !== D.LAB_ADMIN_ROLE || empty.blueSlots.length > 0)) {
      throw new Error(`the lab's green is not empty: ${JSON.stringify(empty)}`);
    }
    for (const name of ['max_sync_workers_per_subscription', 'max_logical_replication_workers', 'shared_buffers', 'fsync']) {
      settings[name] = (await rows<Record<string, string>>(lab, 'green', 'postgres', `SHOW ${name}`))[0]![name]!;
    }
    for (const count of tableCounts) results.push(await runFor(lab, count, totalRows));
    await rows(lab, 'blue', 'postgres', `DROP DATABASE IF EXISTS ${ident(DB)} WITH (FORCE)`);
    const versions = await lab.versions();
    const cpu = cpus();
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'prepare',
          gb,
          machine: {
            cores: cpu.length,
            cpu: cpu[0]?.model,
            memoryGB: round(totalmem() / 1024 ** 3),
            node: process.version,
            loadAverageBefore: loadBefore.map((l) => round(l, 2)),
            loadAverageAfter: loadavg().map((l) => round(l, 2)),
          },
          postgres: { blue: versions.blue, green: versions.green, pgDump: await clientVersion('pg_dump'), psql: await clientVersion('psql') },
          greenSettings: settings,
          wallSeconds: seconds(Date.now() - startedAt),
          results,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await lab.stop();
    if (!keep && !labDirFlag) await rm(dir, { recursive: true, force: true });
  }
}

await main();
