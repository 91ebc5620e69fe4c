/**
 * Sampling overhead of the signals at 1 s sampling, for 1 pair and for 20 pairs, on
 * the embedded lab's real servers. The 20 pairs are 20 samplers (each with its own
 * Replication adapter, sessions and prober, and its own heartbeat key) against the
 * lab's one demo database, because the lab's servers run one subscription per
 * database and allow 16 logical replication workers, fewer than 20.
 *
 * Measured per run, after a warm-up:
 * - transactions per second each server sees (pg_stat_database over all databases),
 *   minus what the same server sees with no sampler running (replication, autovacuum);
 * - pgshift's sessions on each server;
 * - CPU of this process (process.cpuUsage) as a share of one core, and event loop delay;
 * - CPU of each server's processes (postmaster, its backends alive and ended, from
 *   /proc), minus the idle figure: a fresh probe connection costs the server a backend
 *   start and a SCRAM exchange;
 * - the probes' fresh-connection latency (p95 over the window, median over pairs).
 * Each pair count runs twice: probes with a fresh connection every round (the default)
 * and with kept sessions only (connectEveryRounds 3600, i.e. once an hour), so the cost
 * of the fresh connections is the difference.
 * Then, as figures for the cutover's write window: the fence wait and a freeze.
 *
 * Usage: node --import tsx bench/signals.ts [--seconds 20]; prints JSON on stdout.
 */
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Value from 'typebox/value';
import { SignalsSchema, type SignalsConfig } from '../src/config/schema.js';
import * as D from '../src/defaults.js';
import { Lab } from '../src/local/lab.js';
import { createLogger } from '../src/log.js';
import { withClient } from '../src/postgres/connect.js';
import { PostgresReplication } from '../src/replication/postgres-replication.js';
import { createPairSignals } from '../src/signals/create.js';
import type { PairSignals, SignalSnapshot } from '../src/signals/pair-signals.js';
import { replicateDemo } from '../test/helpers/lab.js';

type Server = 'blue' | 'green';
interface Baseline {
  tps: Record<Server, number>;
  serverCpuPercent: Record<Server, number>;
}

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] ?? NaN) || 20;
const WARMUP_MS = 3_000;
const log = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function transactions(lab: Lab, server: Server): Promise<number> {
  return withClient(lab.target(server, 'admin', 'postgres'), async (c) => {
    const { rows } = await c.query<{ n: string }>('SELECT sum(xact_commit + xact_rollback)::text AS n FROM pg_stat_database');
    return Number(rows[0]!.n);
  });
}

async function pgshiftSessions(lab: Lab, server: Server): Promise<number> {
  return withClient(lab.target(server, 'admin', 'postgres'), async (c) => {
    const { rows } = await c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend'`,
      [D.LAB_PGSHIFT_ROLE],
    );
    return rows[0]!.n;
  });
}

/** Transactions per second on each server over `ms`; the admin's own reads are 2 per server and subtracted. */
async function measureTps(lab: Lab, ms: number): Promise<Record<Server, number>> {
  const before = { blue: await transactions(lab, 'blue'), green: await transactions(lab, 'green') };
  await sleep(ms);
  // Statistics reach pg_stat_database up to half a second late.
  await sleep(600);
  const after = { blue: await transactions(lab, 'blue'), green: await transactions(lab, 'green') };
  const rate = (s: Server) => Math.max(0, after[s] - before[s] - 2) / ((ms + 600) / 1000);
  return { blue: round(rate('blue')), green: round(rate('green')) };
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function config(connectEveryRounds: number): SignalsConfig {
  return Value.Default(SignalsSchema, { sampleSeconds: 1, probe: { connectEveryRounds } }) as SignalsConfig;
}

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds used so far by a server: the postmaster's own time, its ended children's
 * (reaped by the postmaster: cutime/cstime) and its live children's.
 */
async function serverCpuSeconds(lab: Lab, server: Server): Promise<number> {
  const postmaster = Number((await readFile(join(lab.servers[server].dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const stat = async (pid: string) => {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    if (!text) return null;
    // Fields after the command name (which may hold spaces), 1-based from field 3.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
  };
  let ticks = 0;
  const own = await stat(String(postmaster));
  if (own) ticks += own.utime + own.stime + own.cutime + own.cstime;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const s = await stat(pid);
    if (s?.ppid === postmaster) ticks += s.utime + s.stime;
  }
  return ticks / TICKS_PER_SECOND;
}

async function serversCpu(lab: Lab): Promise<Record<Server, number>> {
  return { blue: await serverCpuSeconds(lab, 'blue'), green: await serverCpuSeconds(lab, 'green') };
}

/** Failed over finished probes of each kind, summed over every pair's and side's last window. */
function probeFailures(snapshots: SignalSnapshot[]): Record<'session' | 'connect', string> {
  const sum = { session: { failed: 0, probes: 0 }, connect: { failed: 0, probes: 0 } };
  for (const s of snapshots) {
    if (s.name !== 'probe.error_rate') continue;
    const detail = s.measurement?.detail as Partial<Record<'session' | 'connect', { failed: number; probes: number }>> | undefined;
    for (const kind of ['session', 'connect'] as const) {
      sum[kind].failed += detail?.[kind]?.failed ?? 0;
      sum[kind].probes += detail?.[kind]?.probes ?? 0;
    }
  }
  return { session: `${sum.session.failed}/${sum.session.probes}`, connect: `${sum.connect.failed}/${sum.connect.probes}` };
}

async function runPairs(lab: Lab, pairs: number, baseline: Baseline, connectEveryRounds: number) {
  const replications: PostgresReplication[] = [];
  const samplers: PairSignals[] = [];
  for (let i = 0; i < pairs; i++) {
    const pairId = `bench-${String(i + 1).padStart(2, '0')}`;
    const replication = new PostgresReplication({
      pairId,
      databases: [D.LAB_DATABASE],
      publication: D.DEFAULT_PUBLICATION,
      subscription: D.DEFAULT_SUBSCRIPTION,
      targets: lab.replicationTargets(),
      log,
    });
    replications.push(replication);
    samplers.push(
      createPairSignals({
        pairId,
        databases: [D.LAB_DATABASE],
        config: config(connectEveryRounds),
        replication,
        direction: () => 'blue->green',
        // Green at a read stage: a breach of green or of the pair would revert.
        exposed: () => true,
        targets: lab.replicationTargets(),
        log,
      }),
    );
  }
  for (const s of samplers) s.start();
  await sleep(WARMUP_MS);

  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = await serversCpu(lab);
  const wallBefore = performance.now();
  const tps = await measureTps(lab, seconds * 1000);
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpuAfter = await serversCpu(lab);
  const wallMs = performance.now() - wallBefore;
  loop.disable();
  const sessions = { blue: await pgshiftSessions(lab, 'blue'), green: await pgshiftSessions(lab, 'green') };

  const snapshots = samplers.flatMap((s) => s.latest());
  await Promise.all(samplers.map((s) => s.stop()));
  await Promise.all(replications.map((r) => r.close()));

  const net = (s: Server) => round(Math.max(0, tps[s] - baseline.tps[s]));
  const serverCpu = (s: Server) => round(Math.max(0, ((serverCpuAfter[s] - serverCpuBefore[s]) / (wallMs / 1000)) * 100 - baseline.serverCpuPercent[s]), 2);
  const connectP95s = snapshots
    .filter((s) => s.name === 'probe.error_rate')
    .map((s) => (s.measurement?.detail as { connect?: { p95Ms: number | null } } | undefined)?.connect?.p95Ms)
    .filter((v): v is number => typeof v === 'number')
    .sort((a, b) => a - b);
  return {
    pairs,
    probes: connectEveryRounds === 1 ? 'kept session + fresh connection every round' : 'kept session only',
    transactionsPerSecond: { blue: net('blue'), green: net('green') },
    transactionsPerSecondPerPair: { blue: round(net('blue') / pairs, 2), green: round(net('green') / pairs, 2) },
    pgshiftSessions: sessions,
    cpuPercentOfOneCore: round(((cpu.user + cpu.system) / 1000 / wallMs) * 100, 2),
    serverCpuPercentOfOneCore: { blue: serverCpu('blue'), green: serverCpu('green') },
    freshConnectP95MsMedian: connectP95s.length === 0 ? null : connectP95s[Math.floor(connectP95s.length / 2)]!,
    probesFailedInLastWindow: probeFailures(snapshots),
    eventLoopDelayP99Ms: round(loop.percentile(99) / 1e6, 2),
    signals: snapshots.length,
    samples: snapshots.reduce((n, s) => n + s.samples, 0),
    samplesWithoutValue: Object.fromEntries(
      [...new Set(snapshots.map((s) => s.name))].map((name) => [
        name,
        snapshots.filter((s) => s.name === name).reduce((n, s) => n + s.failedSamples, 0),
      ]),
    ),
  };
}

/**
 * Beside the sampling: how long the catch-up proof of a cutover takes (fence row
 * written on blue until green shows it), and a freeze of blue with open application
 * sessions (NOLOGIN, terminate, wait until gone) and its unfreeze.
 */
async function measureCutoverSteps(lab: Lab) {
  const replication = new PostgresReplication({
    pairId: 'bench-cutover',
    databases: [D.LAB_DATABASE],
    publication: D.DEFAULT_PUBLICATION,
    subscription: D.DEFAULT_SUBSCRIPTION,
    targets: lab.replicationTargets(),
    log,
  });
  try {
    const fences: number[] = [];
    for (let i = 0; i < 50; i++) {
      await withClient(lab.target('blue', 'app'), (c) => c.query(`INSERT INTO customers (name, email) VALUES ('bench', 'bench-' || gen_random_uuid() || '@example.com')`));
      const started = performance.now();
      await replication.waitForApplied('blue->green');
      fences.push(performance.now() - started);
    }
    const freezes: number[] = [];
    const unfreezes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const sessions = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const c = new (await import('pg')).default.Client({
            host: '127.0.0.1',
            port: lab.servers.blue.port,
            database: D.LAB_DATABASE,
            user: D.LAB_APP_ROLE,
            password: lab.state.secrets.appPassword,
          });
          c.on('error', () => {});
          await c.connect();
          return c;
        }),
      );
      let started = performance.now();
      await replication.freeze('blue');
      freezes.push(performance.now() - started);
      started = performance.now();
      await replication.unfreeze('blue');
      unfreezes.push(performance.now() - started);
      await Promise.all(sessions.map((c) => c.end().catch(() => {})));
    }
    const pct = (values: number[], p: number) => round([...values].sort((a, b) => a - b)[Math.ceil((p / 100) * values.length) - 1]!, 1);
    return {
      fenceWaitMs: { runs: fences.length, p50: pct(fences, 50), p95: pct(fences, 95), max: pct(fences, 100) },
      freezeWithFiveOpenSessionsMs: { runs: freezes.length, p50: pct(freezes, 50), max: pct(freezes, 100) },
      unfreezeMs: { runs: unfreezes.length, p50: pct(unfreezes, 50), max: pct(unfreezes, 100) },
    };
  } finally {
    await replication.close();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-bench-signals-'));
  await chmod(dir, 0o755);
  const lab = await Lab.start({ dir, log });
  try {
    // The lab's green starts empty; the samplers measure a green that follows blue.
    await replicateDemo(lab);
    const versions = await lab.versions();
    await sleep(WARMUP_MS);
    const cpuBefore = await serversCpu(lab);
    const wallBefore = performance.now();
    const tps = await measureTps(lab, seconds * 1000);
    const cpuAfter = await serversCpu(lab);
    const wall = (performance.now() - wallBefore) / 1000;
    const baseline: Baseline = {
      tps,
      serverCpuPercent: { blue: ((cpuAfter.blue - cpuBefore.blue) / wall) * 100, green: ((cpuAfter.green - cpuBefore.green) / wall) * 100 },
    };
    const runs = [];
    for (const pairs of [1, 20]) {
      for (const connectEveryRounds of [1, 3600]) runs.push(await runPairs(lab, pairs, baseline, connectEveryRounds));
    }
    const cutoverSteps = await measureCutoverSteps(lab);
    const result = {
      bench: 'signals',
      lab: versions,
      cpus: (await import('node:os')).cpus().length,
      sampleSeconds: 1,
      measuredSeconds: seconds,
      setup: '20 pairs = 20 samplers against the demo database of the same lab servers',
      perSampleAndPair:
        'lag (1 read on each side + 1 heartbeat write on blue), health (1 read on each side), pg_stat_database (1 read on each side), probes SELECT 1 over a kept session (1 per second per side: the lab has no separate reader endpoints) and a fresh connection with SCRAM and SELECT 1 (1 per second per side, in the default runs)',
      idleTransactionsPerSecond: baseline.tps,
      idleServerCpuPercentOfOneCore: { blue: round(baseline.serverCpuPercent.blue, 2), green: round(baseline.serverCpuPercent.green, 2) },
      notes: [
        'transactionsPerSecond is net of the idle baseline; on green it includes the apply of the heartbeat rows',
        'samplesWithoutValue: app.error_rate has no value because nothing pushes application metrics here; db.error_rate and replication.lag_seconds have none on their first sample by design',
      ],
      runs,
      cutoverSteps,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
