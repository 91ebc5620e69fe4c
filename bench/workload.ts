/**
 * The lab's demo application at a high write rate: `npm run workload -- --rate N
 * --seconds S` in its own process against a lab and pgshift (started here, in this
 * process, as `npm start` would), and where the CPU time goes while it runs.
 *
 * Reported: what the app reached (writes/s, reads/s, latency percentiles, requests it
 * could not start because maxInFlight were busy), the servers' own commit counts, and
 * the CPU seconds per second of the app's process, of this process (pgshift and the
 * stand-ins), and of blue's and green's PostgreSQL processes (postmaster and children,
 * from /proc; Linux only). The machine's other load is shown as what is left of it.
 * Then the ledger check of the run, timed.
 *
 * Usage: node --import tsx bench/workload.ts [--rate 500] [--seconds 60] [--read-share 0.5] [--pool-max N]; prints JSON on stdout.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../src/local/lab.js';
import { createLogger } from '../src/log.js';
import { startService } from '../src/main.js';
import { withClient } from '../src/postgres/connect.js';
import * as D from '../src/defaults.js';
import { Ledger } from '../src/local/workload/ledger.js';
import { verifyLedger } from '../src/local/workload/verify.js';
import { labServiceConfigText, labServiceEnv, prepareThroughService } from '../test/helpers/lab-service.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const rate = arg('rate', '500');
const seconds = Number(arg('seconds', '60'));
const readShare = arg('read-share', '0.5');
const poolMax = arg('pool-max', '');
const TICKS = 100; // USER_HZ on Linux

/** utime + stime of a process and, with `tree`, all its descendants, in seconds. */
async function cpuSeconds(root: number, tree: boolean): Promise<number> {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = await readFile(`/proc/${entry}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const wanted = new Set([root]);
  let grew = true;
  while (grew && tree) {
    grew = false;
    for (const [pid, s] of stats) if (!wanted.has(pid) && wanted.has(s.ppid)) (wanted.add(pid), (grew = true));
  }
  for (const pid of wanted) total += stats.get(pid)?.ticks ?? 0;
  return total / TICKS;
}

async function postmasterPid(dataDir: string): Promise<number> {
  return Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
}

async function commits(lab: Lab, side: 'blue' | 'green'): Promise<number> {
  return withClient(lab.target(side, 'admin'), async (c) =>
    Number((await c.query(`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`)).rows[0].xact_commit),
  );
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-bench-workload-'));
  await chmod(dir, 0o755);
  const lab = await Lab.start({ dir, log: createLogger({ level: 'silent' }) });
  const configPath = join(dir, 'pgshift.yaml');
  await writeFile(configPath, await labServiceConfigText({ signals: { app: { enabled: true } } }));
  const service = await startService({ configPath, env: labServiceEnv(lab, 'bench') });
  try {
    // The lab's green starts empty: prepared through the service, as `npm start` does.
    await prepareThroughService(service.url, lab);
    const pids = { blue: await postmasterPid(lab.servers.blue.dataDir), green: await postmasterPid(lab.servers.green.dataDir) };
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/local/workload/cli.ts', '--rate', rate, '--seconds', String(seconds), '--read-share', readShare, '--lab-dir', dir, '--service', service.url, ...(poolMax ? ['--pool-max', poolMax] : [])],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PGSHIFT_LOG_LEVEL: 'warn' } },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    // Let the app's process load and connect before the window opens.
    await new Promise((r) => setTimeout(r, 3_000));
    const before = {
      at: Date.now(),
      app: await cpuSeconds(child.pid!, false),
      self: process.cpuUsage(),
      blue: await cpuSeconds(pids.blue, true),
      green: await cpuSeconds(pids.green, true),
      commitsBlue: await commits(lab, 'blue'),
      commitsGreen: await commits(lab, 'green'),
      idle: cpus().reduce((a, c) => a + c.times.idle, 0),
    };
    await new Promise((r) => setTimeout(r, (seconds - 5) * 1000));
    const elapsed = (Date.now() - before.at) / 1000;
    const self = process.cpuUsage(before.self);
    const perSecond = (v: number) => Math.round((v / elapsed) * 1000) / 1000;
    const cpu = {
      app: perSecond((await cpuSeconds(child.pid!, false)) - before.app),
      pgshiftAndStandIns: perSecond((self.user + self.system) / 1e6),
      blue: perSecond((await cpuSeconds(pids.blue, true)) - before.blue),
      green: perSecond((await cpuSeconds(pids.green, true)) - before.green),
      idle: perSecond((cpus().reduce((a, c) => a + c.times.idle, 0) - before.idle) / 1000),
      cores: cpus().length,
    };
    const serverCommitsPerSecond = {
      blue: perSecond((await commits(lab, 'blue')) - before.commitsBlue),
      green: perSecond((await commits(lab, 'green')) - before.commitsGreen),
    };
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
    if (code !== 0) throw new Error(`the workload exited ${code}: ${err.slice(-2000)}`);
    const result = JSON.parse(out) as { run: any };
    const run = result.run;
    // The ledger check of the run, as `npm run workload -- --verify` makes it.
    const verifyStarted = Date.now();
    const report = await verifyLedger(await Ledger.load(run.ledger.file), {
      host: '127.0.0.1',
      port: lab.servers.blue.port,
      database: D.LAB_DATABASE,
      login: { user: D.LAB_APP_ROLE, password: lab.state.secrets.appPassword },
    });
    const verify = { ok: report.ok, acknowledged: report.checked.acknowledged, ms: Date.now() - verifyStarted };
    process.stdout.write(
      `${JSON.stringify(
        {
          command: `npm run workload -- --rate ${rate} --seconds ${seconds} --read-share ${readShare}${poolMax ? ` --pool-max ${poolMax}` : ''}`,
          reached: run.reached,
          behind: run.totals.behind,
          errorsByKind: Object.fromEntries(Object.entries(run.totals.errorsByKind).filter(([, n]) => (n as number) > 0)),
          retries: run.totals.retries,
          latencyMs: run.totals.latencyMs,
          operations: run.totals.operations,
          ledger: run.ledger,
          serverCommitsPerSecond,
          cpuSecondsPerSecond: cpu,
          pushes: run.pushes,
          verify,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await service.close();
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
