/**
 * The write window of the cutover (reads-100 -> green) and of the way back (revert from
 * green -> baseline) under the lab's demo application writing at a set rate, in its own
 * process, through the pair's weighted names: pgshift in this process (main.ts's wiring)
 * against the Route 53 and RDS stand-ins and real PostgreSQL 13 <-> 14 replication.
 *
 * Per rate: the app is started (read share 0.5, no pushes: the app signal is off), the
 * pair brought to reads-100, then `runs` times: cutover -> the pair's lastWriteWindow
 * (blue->green), revert -> lastWriteWindow (green->blue), advance baseline -> reads-100.
 * Before each cutover every guard of advancing holds and replication blue->green is
 * measured with lag < 2 s; before each revert green->blue is. After each writer change
 * the benchmark waits until the records' TTL (5 s) and a second more have passed since
 * it was submitted, so that every app instance's DNS cache follows it before the next
 * window: each window starts from a steady app. Reported per rate and direction:
 * pgshift's part (freeze -> writer change submitted) and Route 53's (-> INSYNC, the
 * stand-in's delay plus pgshift's polling), the transition's whole step time and each
 * step's, the app's failed writes per window (its live numbers before the transition
 * and a TTL after the writer change) by kind, and from the app's ledger what it saw
 * (last write acknowledged by the old side, first by the new one, back to full rate).
 * If the app's process dies it is restarted (the crash is reported) and the run it died
 * in is not counted. At the end every ledger is checked on both sides as the admin (a
 * frozen side refuses the app's login).
 *
 * Config: config/local.yaml's demo pair as test/helpers/cutover.ts cutoverConfig sets it
 * (steps [100], bakeSeconds 0, signals a busy machine cannot trip) with cutover
 * maxFreezeSeconds 5, maxLagSeconds 5, rollbackWindowSeconds 0.
 *
 * Usage: node --import tsx bench/cutover.ts [--runs 20] [--rates 100,500]; JSON on stdout, progress on stderr.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as D from '../src/defaults.js';
import { Lab } from '../src/local/lab.js';
import { Ledger } from '../src/local/workload/ledger.js';
import { verifyLedger, type LedgerReport } from '../src/local/workload/verify.js';
import { createLogger } from '../src/log.js';
import { startService } from '../src/main.js';
import { guardsHold, replicationSettled, settle, settledAt } from '../test/helpers/cutover.js';
import { cutoverPairOverrides } from '../test/helpers/cutover.js';
import { calm, labApi, labServiceConfigText, labServiceEnv, prepareThroughService, type LabApi } from '../test/helpers/lab-service.js';
import { waitFor } from '../test/helpers/wait.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const runs = Number(arg('runs', '20'));
const rates = arg('rates', '100,500').split(',').map(Number);
const READ_SHARE = '0.5';
/** The lab's records' TTL (config/local.yaml): every app instance's cache follows a change within it. */
const TTL_SECONDS = 5;
const CUTOVER = { maxFreezeSeconds: 5 };

interface Window {
  pgshiftMs: number;
  route53Ms: number | null;
  /** First step started -> last step ended. */
  totalMs: number;
  /** The freeze -> writes opened on the side taking them (pgshift's part plus opening). */
  frozenToOpenMs: number | null;
  steps: Record<string, number>;
  frozenAt: number;
  startedAt: number;
  failed?: { failedWrites: number; byKind: Record<string, number>; acknowledged: number };
  ledgerFile?: string;
  /** What the app saw, from its ledger (filled in once it stopped). */
  app?: AppWindow;
}

/** The application's side of one window, from the acknowledged writes of its ledger (times from the freeze). */
interface AppWindow {
  /** The last write acknowledged by the side giving writes up (its commit returned). */
  lastOnOldMs: number | null;
  /** The first write acknowledged by the side taking them. */
  firstOnNewMs: number | null;
  /** No write acknowledged anywhere between the two. */
  noWritesMs: number | null;
  /** Until acknowledged writes per second are back to 90 % of the rate before the freeze. */
  fullRateMs: number | null;
  /** Writes acknowledged by the side giving writes up after the writer change was submitted (should be none: it is frozen). */
  onOldAfterFlip: number;
}

function stats(values: number[]) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { median: at(0.5), p95: at(0.95), worst: sorted[sorted.length - 1]!, best: sorted[0]! };
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** The landed transition's write window and step times, from the pair view. */
function windowOf(view: any, direction: string, since: number): Window {
  const w = view.lastWriteWindow;
  if (!w || w.direction !== direction || w.at < since) throw new Error(`no fresh ${direction} write window: ${JSON.stringify(w)}`);
  const steps = (view.lastTransition?.steps ?? []) as { name: string; startedAt: number; endedAt?: number; detail?: Record<string, unknown> }[];
  const byName = Object.fromEntries(steps.map((s) => [s.name, s.endedAt === undefined ? -1 : s.endedAt - s.startedAt]));
  const first = Math.min(...steps.map((s) => s.startedAt));
  const last = Math.max(...steps.map((s) => s.endedAt ?? s.startedAt));
  const frozenAt = steps.find((s) => s.name === 'freeze')?.detail?.frozenAt;
  const openedAt = steps.find((s) => s.name === 'flip-writer')?.detail?.writesOpenedAt;
  return {
    pgshiftMs: w.pgshiftMs,
    route53Ms: w.route53Ms,
    totalMs: last - first,
    frozenToOpenMs: typeof frozenAt === 'number' && typeof openedAt === 'number' ? openedAt - frozenAt : null,
    steps: byName,
    frozenAt: typeof frozenAt === 'number' ? frozenAt : NaN,
    startedAt: first,
  };
}

/** Fills in each window's AppWindow from the app's acknowledged writes. */
function appWindows(acks: { side: string | null; at: number }[], windows: Window[], from: string, to: string, all: Window[]): void {
  const sorted = [...acks].sort((a, b) => a.at - b.at);
  const lowerBound = (t: number) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]!.at < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const inRange = (lo: number, hi: number) => sorted.slice(lowerBound(lo), lowerBound(hi));
  for (const w of windows) {
    const f = w.frozenAt;
    if (!Number.isFinite(f)) continue;
    // Up to the next transition that moves writes (the way back, or the next cutover).
    const end = Math.min(f + 30_000, ...all.filter((o) => o.startedAt > w.startedAt).map((o) => o.startedAt));
    const old = inRange(f - 2_000, end).filter((a) => a.side === from);
    const fresh = inRange(f, end).filter((a) => a.side === to);
    const lastOld = old.length ? old[old.length - 1]!.at : null;
    const firstNew = fresh.length ? fresh[0]!.at : null;
    const before = inRange(f - 6_000, f - 1_000).length / 5;
    let fullRateMs: number | null = null;
    for (let t = f; t < end - 1_000; t += 100) {
      if (t > (firstNew ?? Infinity) && inRange(t, t + 1_000).length >= 0.9 * before) {
        fullRateMs = t - f;
        break;
      }
    }
    w.app = {
      lastOnOldMs: lastOld === null ? null : lastOld - f,
      firstOnNewMs: firstNew === null ? null : firstNew - f,
      noWritesMs: lastOld !== null && firstNew !== null ? Math.max(0, firstNew - lastOld) : null,
      fullRateMs,
      onOldAfterFlip: old.filter((a) => a.at > f + w.pgshiftMs).length,
    };
  }
}

/** Takes the pair to reads-100 from wherever it stands (after a failed run). */
async function toReads100(api: LabApi): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const view = (await api.get('/api/v1/pairs/demo')).body;
    if (view.transition !== null) {
      await waitFor('the transition in flight to land', async () => (await api.get('/api/v1/pairs/demo')).body.transition === null, 120_000, 200);
      continue;
    }
    if (view.halted) await api.post('/api/v1/pairs/demo/resume', { reason: 'bench: recovering' });
    if (view.stage === 'reads-100') return;
    if (view.stage === 'green') {
      await replicationSettled(api, 'green->blue');
      await settle(api, 'revert', { reason: 'bench: recovering' });
    } else {
      await calm(api);
      await settle(api, 'advance', { expectedStage: view.stage });
    }
  }
  await settledAt(api, 'reads-100', 10_000);
}

async function recentEvents(api: LabApi, since: number): Promise<unknown[]> {
  const events = (await api.get('/api/v1/pairs/demo/events?limit=30')).body.events as any[];
  return events.filter((e) => e.at >= since).map((e) => ({ at: e.at, action: e.action, from: e.from, to: e.to, outcome: e.outcome, reason: e.reason, details: e.details }));
}

interface App {
  ledgerFile: string;
  alive(): boolean;
  /** When it exited on its own (a crash), with its stderr's end. */
  crash(): { at: number; code: number | null; stderr: string } | null;
  /** The app's live numbers (GET / of its stats port). */
  snapshot(): Promise<any>;
  /** SIGTERM, then its final JSON's `run` (null when it had died). */
  stop(): Promise<any>;
}

async function startApp(dir: string, serviceUrl: string, rate: number, n: number): Promise<App> {
  const ledgerFile = join(dir, `ledger-${rate}-${n}.jsonl`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/local/workload/cli.ts', '--lab-dir', dir, '--rate', String(rate), '--seconds', '86400', '--read-share', READ_SHARE, '--service', serviceUrl, '--no-push', '--ledger', ledgerFile],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PGSHIFT_LOG_LEVEL: 'info' } },
  );
  let out = '';
  let err = '';
  let partial = '';
  let statsUrl: string | null = null;
  let crash: { at: number; code: number | null; stderr: string } | null = null;
  let stopping = false;
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const parsed = JSON.parse(line);
        if (typeof parsed.stats === 'string') statsUrl = parsed.stats;
        if (parsed.msg === 'progress') continue;
      } catch {
        // not a log line (a crash's stack)
      }
      err += `${line}\n`;
      if (err.length > 200_000) err = err.slice(-100_000);
    }
  });
  let exited = false;
  const closed = new Promise<number | null>((resolve) =>
    child.on('close', (c) => {
      exited = true;
      if (!stopping) crash = { at: Date.now(), code: c, stderr: (err + partial).slice(-4000) };
      resolve(c);
    }),
  );
  await waitFor('the app to listen', () => statsUrl !== null || exited, 60_000, 100);
  if (exited) throw new Error(`the app exited at start: ${err.slice(-2000)}`);
  return {
    ledgerFile,
    alive: () => !exited,
    crash: () => crash,
    snapshot: async () => (await fetch(statsUrl!)).json(),
    async stop() {
      if (exited) return null;
      stopping = true;
      child.kill('SIGTERM');
      const code = await closed;
      if (code !== 0) throw new Error(`the workload exited ${code}: ${err.slice(-2000)}`);
      return JSON.parse(out).run;
    },
  };
}

/** What failed between two snapshots of the app: writes by kind of error. */
function failedBetween(a: any, b: any): { failedWrites: number; byKind: Record<string, number>; acknowledged: number } {
  const sum = (x: any) => x.blue + x.green + x.unknown;
  const byKind: Record<string, number> = {};
  for (const [kind, n] of Object.entries(b.totals.errorsByKind as Record<string, number>)) {
    const d = n - (a.totals.errorsByKind[kind] ?? 0);
    if (d > 0) byKind[kind] = d;
  }
  return { failedWrites: sum(b.totals.failedWrites) - sum(a.totals.failedWrites), byKind, acknowledged: sum(b.totals.writes) - sum(a.totals.writes) };
}

async function checkLedgerFile(lab: Lab, file: string, side: 'blue' | 'green'): Promise<LedgerReport> {
  const admin = lab.target(side, 'admin', D.LAB_DATABASE);
  return verifyLedger(await Ledger.load(file), { host: admin.endpoint.host, port: admin.endpoint.port, database: D.LAB_DATABASE, login: admin.login });
}

const brief = (r: LedgerReport) => ({
  ok: r.ok,
  checked: r.checked,
  missing: r.missing,
  duplicated: r.duplicated,
  phantom: r.phantom,
  sequenceReuse: r.sequenceReuse,
  inDoubtPresent: r.inDoubtPresent,
  differences: r.differences.slice(0, 5),
  sequenceValues: r.sequenceValues.slice(0, 5),
});

async function main(): Promise<void> {
  const startedAt = Date.now();
  const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? null, loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100) };
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-bench-cutover-'));
  await chmod(dir, 0o755);
  const lab = await Lab.start({ dir, log: createLogger({ level: 'silent' }) });
  const configPath = join(dir, 'pgshift.yaml');
  await writeFile(
    configPath,
    await labServiceConfigText(cutoverPairOverrides(CUTOVER)),
  );
  const service = await startService({ configPath, env: labServiceEnv(lab, 'bench') });
  const perRate: any[] = [];
  const ledgers: { rate: number; file: string }[] = [];
  let ledgerChecks: any[] = [];
  try {
    // The lab's green starts empty: prepared through the service, as `npm start` does.
    await prepareThroughService(service.url, lab);
    const api = labApi(service.url, lab);
    const preflight = (await api.post('/api/v1/pairs/demo/preflight')).body;
    if (preflight.ok !== true) throw new Error(`preflight: ${JSON.stringify(preflight)}`);
    for (const rate of rates) {
      const rateStarted = Date.now();
      const forward: Window[] = [];
      const back: Window[] = [];
      const failures: unknown[] = [];
      const crashes: unknown[] = [];
      const apps: App[] = [];
      const finals: any[] = [];
      /** The app, restarted when it died (its crash recorded), running for 5 s before a window is timed. */
      const liveApp = async (): Promise<App> => {
        let app = apps[apps.length - 1];
        if (app?.alive()) return app;
        if (app) {
          crashes.push(app.crash());
          log(`rate ${rate}: the app died: ${JSON.stringify(app.crash()).slice(0, 300)}`);
        }
        log(`rate ${rate}: starting the app (${apps.length + 1})`);
        app = await startApp(dir, service.url, rate, apps.length + 1);
        apps.push(app);
        // Let the app's process load and reach its rate before a window.
        await new Promise((r) => setTimeout(r, 5_000));
        return app;
      };
      /** Until every app instance's DNS cache has seen the last writer change (its TTL after the submission) and a second more. */
      const dwell = async (view: any) => {
        const at = view.lastWriteWindow?.at ?? Date.now();
        const left = at + (TTL_SECONDS + 1) * 1000 - Date.now();
        if (left > 0) await new Promise((r) => setTimeout(r, left));
      };
      try {
        await liveApp();
        await toReads100(api);
        let attempts = 0;
        while (forward.length < runs && attempts < runs * 2) {
          attempts += 1;
          const i = forward.length;
          const runStarted = Date.now();
          const app = await liveApp();
          try {
            await guardsHold(api);
            await replicationSettled(api, 'blue->green');
            const s0 = await app.snapshot();
            const cut = await settle(api, 'advance', { expectedStage: 'reads-100' });
            if (cut.status !== 'done') throw new Error(`cutover ${cut.status}: ${JSON.stringify(cut.result)}`);
            const atGreen = await settledAt(api, 'green');
            const f = windowOf(atGreen, 'blue->green', runStarted);
            await Promise.all([dwell(atGreen), replicationSettled(api, 'green->blue')]);
            const s1 = await app.snapshot();
            const revertStarted = Date.now();
            const rev = await settle(api, 'revert', { reason: 'bench: the way back' });
            if (rev.status !== 'done') throw new Error(`revert ${rev.status}: ${JSON.stringify(rev.result)}`);
            const atBaseline = await settledAt(api, 'baseline');
            const b = windowOf(atBaseline, 'green->blue', revertStarted);
            await dwell(atBaseline);
            const s2 = await app.snapshot();
            const adv = await settle(api, 'advance', { expectedStage: 'baseline' });
            if (adv.status !== 'done') throw new Error(`advance to reads-100 ${adv.status}: ${JSON.stringify(adv.result)}`);
            await settledAt(api, 'reads-100');
            if (!app.alive()) throw new Error('the app died during the run: its windows are not counted');
            f.failed = failedBetween(s0, s1);
            b.failed = failedBetween(s1, s2);
            f.ledgerFile = app.ledgerFile;
            b.ledgerFile = app.ledgerFile;
            forward.push(f);
            back.push(b);
            log(`rate ${rate} run ${i + 1}/${runs}: forward ${f.pgshiftMs} + ${f.route53Ms} ms (total ${f.totalMs}, ${f.failed.failedWrites} writes failed), back ${b.pgshiftMs} + ${b.route53Ms} ms (total ${b.totalMs}, ${b.failed.failedWrites} failed); cycle ${Date.now() - runStarted} ms`);
          } catch (err) {
            const reason = (err as Error).message;
            log(`rate ${rate} run ${i + 1}/${runs} FAILED: ${reason}`);
            failures.push({ run: i + 1, reason, events: await recentEvents(api, runStarted).catch(() => []), view: (await api.get('/api/v1/pairs/demo')).body });
            await toReads100(api);
          }
        }
      } finally {
        for (const app of apps) finals.push(await app.stop().catch((err: Error) => ({ error: err.message })));
        const last = apps[apps.length - 1];
        if (last && last.crash() && !crashes.includes(last.crash())) crashes.push(last.crash());
      }
      for (const app of apps) {
        const acks = [...(await Ledger.load(app.ledgerFile)).acknowledged.values()];
        const mine = (ws: Window[]) => ws.filter((w) => w.ledgerFile === app.ledgerFile);
        appWindows(acks, mine(forward), 'blue', 'green', [...forward, ...back]);
        appWindows(acks, mine(back), 'green', 'blue', [...forward, ...back]);
      }
      const appStats = (windows: Window[], key: keyof AppWindow) => stats(windows.flatMap((w) => (w.app && typeof w.app[key] === 'number' ? [w.app[key] as number] : [])));
      const kinds = (windows: Window[]) => {
        const out: Record<string, number> = {};
        for (const w of windows) for (const [k, n] of Object.entries(w.failed?.byKind ?? {})) out[k] = (out[k] ?? 0) + n;
        return out;
      };
      const direction = (windows: Window[]) => ({
        runs: windows.length,
        pgshiftMs: stats(windows.map((w) => w.pgshiftMs)),
        route53Ms: stats(windows.flatMap((w) => (w.route53Ms === null ? [] : [w.route53Ms]))),
        totalStepMs: stats(windows.map((w) => w.totalMs)),
        frozenToWritesOpenMs: stats(windows.flatMap((w) => (w.frozenToOpenMs === null ? [] : [w.frozenToOpenMs]))),
        stepMsMedian: Object.fromEntries(Object.keys(windows[0]?.steps ?? {}).map((name) => [name, stats(windows.map((w) => w.steps[name] ?? -1))!.median])),
        pgshiftMsAll: windows.map((w) => w.pgshiftMs),
        // The app between the snapshot before the transition and the one a TTL after the writer change (errors: reads and writes).
        failedWritesPerWindow: stats(windows.map((w) => w.failed?.failedWrites ?? 0)),
        failedWritesTotal: windows.reduce((n, w) => n + (w.failed?.failedWrites ?? 0), 0),
        errorsByKind: kinds(windows),
        // The application's view, from its ledger: times from the freeze (pgshift's clock, same machine).
        app: {
          lastWriteOnOldSideMs: appStats(windows, 'lastOnOldMs'),
          firstWriteOnNewSideMs: appStats(windows, 'firstOnNewMs'),
          noWriteAcknowledgedMs: appStats(windows, 'noWritesMs'),
          backToFullRateMs: appStats(windows, 'fullRateMs'),
          acknowledgedOnOldSideAfterFlip: windows.reduce((n, w) => n + (w.app?.onOldAfterFlip ?? 0), 0),
        },
      });
      for (const app of apps) ledgers.push({ rate, file: app.ledgerFile });
      const summary = (run: any) =>
        !run || run.error
          ? run
          : {
              reached: run.reached,
              seconds: run.seconds,
              writes: run.totals.writes,
              failedWrites: run.totals.failedWrites,
              failedReads: run.totals.failedReads,
              errorsByKind: Object.fromEntries(Object.entries(run.totals.errorsByKind).filter(([, n]) => (n as number) > 0)),
              retries: run.totals.retries,
              behind: run.totals.behind,
              latencyMs: run.totals.latencyMs,
              ledger: run.ledger,
              idleConnectionsLost: run.idleConnectionsLost,
            };
      perRate.push({
        rate,
        seconds: Math.round((Date.now() - rateStarted) / 1000),
        'blue->green': direction(forward),
        'green->blue': direction(back),
        failures,
        appCrashes: crashes,
        // The app's own final JSON (null: it had died, see appCrashes).
        app: finals.map(summary),
      });
      log(`rate ${rate} done in ${Math.round((Date.now() - rateStarted) / 1000)} s`);
    }
    // Nothing lost: every rate's ledger on the side taking writes (blue, at reads-100) and on green once it caught up.
    const writer = (await api.get('/api/v1/pairs/demo')).body.stage === 'green' ? 'green' : 'blue';
    const other = writer === 'blue' ? 'green' : 'blue';
    ledgerChecks = [];
    for (const { rate, file } of ledgers) {
      const started = Date.now();
      const onWriter = await checkLedgerFile(lab, file, writer);
      let onOther = await checkLedgerFile(lab, file, other);
      const deadline = Date.now() + 30_000;
      while (!onOther.ok && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        onOther = await checkLedgerFile(lab, file, other);
      }
      ledgerChecks.push({ rate, [writer]: brief(onWriter), [other]: brief(onOther), ms: Date.now() - started });
    }
  } finally {
    await service.close();
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'cutover',
        runs,
        rates,
        readShare: Number(READ_SHARE),
        cutover: cutoverPairOverrides(CUTOVER).cutover,
        standInInsyncDelayMs: D.LAB_ROUTE53_INSYNC_DELAY_MS,
        machine: { ...machine, loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
        seconds: Math.round((Date.now() - startedAt) / 1000),
        perRate,
        ledger: ledgerChecks,
      },
      null,
      2,
    )}\n`,
  );
}

await main();
