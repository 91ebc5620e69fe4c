/**
 * The write cutover's crash proof, repeated: test/shift/lab-cutover-crash.test.ts's
 * crash points, each `runs` times. pgshift runs as a child process (src/server.ts) with
 * PGSHIFT_TEST_CRASH_FILE: it kills itself with SIGKILL right after the journal write
 * the file names (`<step>:<started|noted|done>`, src/wiring/crash-hook.ts); the next
 * process must finish the cutover when its writer change was journaled and roll it back
 * otherwise. After each crash: the pair settled at the expected stage, Route 53 (the
 * stand-in's store) holding that stage's weights, the application able to log in on the
 * side taking writes, and not on a frozen blue at green. The lab's demo application
 * writes all along (in this process, 20 writes/s); at the end its ledger is checked on
 * both sides.
 *
 * Per point: runs, ok, the first few failures' reasons and the time from the restart
 * (the new process spawned) to the pair settled, and from its "listening" line. A run
 * whose pair was not ready before the crash was armed (guards not holding, e.g. halted
 * by an auto-revert on a busy machine) is counted apart (notArmed) and repeated.
 *
 * Usage: node --import tsx bench/cutover-soak.ts [--runs 20] [--points all|forward|back];
 * JSON on stdout, progress on stderr.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as D from '../src/defaults.js';
import { Lab } from '../src/local/lab.js';
import { parseWorkloadSettings } from '../src/local/workload/config.js';
import { startLabWorkload } from '../src/local/workload/lab.js';
import { verifyLedger, type LedgerReport } from '../src/local/workload/verify.js';
import { createLogger } from '../src/log.js';
import { withClient } from '../src/postgres/connect.js';
import { guardsHold, replicationSettled, settle, settledAt } from '../test/helpers/cutover.js';
import { BACK_CRASHES, cutoverPairOverrides, FORWARD_CRASHES, STAGE_WEIGHTS } from '../test/helpers/cutover.js';
import { calm, labApi, labServiceConfigText, labServiceEnv, prepareThroughService, standInWeights, type LabApi } from '../test/helpers/lab-service.js';
import { runTs, type RunningProcess } from '../test/helpers/process.js';
import { waitFor } from '../test/helpers/wait.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const runs = Number(arg('runs', '20'));
const points = arg('points', 'all');
if (!['all', 'forward', 'back'].includes(points)) throw new Error(`--points: all, forward or back, not ${points}`);
const RATE = 20;
const CUTOVER = { maxFreezeSeconds: 10 };

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

function stats(values: number[]) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { median: at(0.5), p95: at(0.95), worst: sorted[sorted.length - 1]!, best: sorted[0]! };
}

interface Running {
  url: string;
  process: RunningProcess;
}

/** A run that failed before its crash was armed (the pair not ready for it): not a recovery failure, the run is repeated. */
class NotArmed extends Error {}

async function canLogIn(lab: Lab, side: 'blue' | 'green'): Promise<boolean> {
  return withClient(lab.target(side, 'app'), async () => true).catch(() => false);
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? null, loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100) };
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-bench-soak-'));
  await chmod(dir, 0o755);
  const lab = await Lab.start({ dir, log: createLogger({ level: 'silent' }) });
  // As test/helpers/cutover.ts cutoverConfig; info, so that the child's "listening" line is seen.
  const config = join(dir, 'pgshift.yaml');
  await writeFile(
    config,
    await labServiceConfigText(cutoverPairOverrides(CUTOVER), 'info'),
  );
  const crashFile = join(dir, 'crash-at');
  let n = 0;
  let service: Running | null = null;
  const startProcess = async (): Promise<Running> => {
    const child = runTs('src/server.ts', ['--config', config, '--port', '0'], { ...labServiceEnv(lab, `soak-${n++}`), PGSHIFT_TEST_CRASH_FILE: crashFile });
    const line = await child.waitForLog((l) => l.msg === 'pgshift listening', 90_000);
    return { url: String(line.url), process: child };
  };
  const stopProcess = async (s: Running | null) => {
    if (s && s.process.child.exitCode === null && s.process.child.signalCode === null) {
      s.process.child.kill('SIGTERM');
      await s.process.exited;
    }
  };
  const results: Record<string, any> = {};
  let workload: Awaited<ReturnType<typeof startLabWorkload>> | null = null;
  let ledger: Record<string, unknown> = {};
  let app: Record<string, unknown> = {};
  try {
    service = await startProcess();
    let api: LabApi = labApi(service.url, lab);
    // The lab's green starts empty: prepared through the service, as `npm start` does.
    await prepareThroughService(service.url, lab);
    const preflight = (await api.post('/api/v1/pairs/demo/preflight')).body;
    if (preflight.ok !== true) throw new Error(`preflight: ${JSON.stringify(preflight)}`);
    workload = await startLabWorkload({
      lab,
      serviceUrl: null,
      log: createLogger({ level: 'silent' }),
      ledgerFile: join(dir, 'soak-ledger.jsonl'),
      settings: parseWorkloadSettings({ rate: RATE, readShare: 0.5, push: false }),
    });

    /** Takes the pair to `target` (reads-100 or green) from wherever it stands: baseline -> reads-100 -> green -> (revert) baseline. */
    const bringTo = async (target: string): Promise<void> => {
      for (let i = 0; i < 6; i++) {
        const view = (await api.get('/api/v1/pairs/demo')).body;
        if (view.transition !== null) {
          await waitFor('the transition in flight to land', async () => (await api.get('/api/v1/pairs/demo')).body.transition === null, 120_000, 200);
          continue;
        }
        if (view.halted) await api.post('/api/v1/pairs/demo/resume', { reason: 'soak: recovering' });
        if (view.stage === target) return;
        let intent;
        if (view.stage === 'green') {
          await replicationSettled(api, 'green->blue');
          intent = await settle(api, 'revert', { reason: 'soak: back for the next run' });
        } else {
          await calm(api);
          if (view.stage === 'reads-100') await replicationSettled(api, 'blue->green');
          intent = await settle(api, 'advance', { expectedStage: view.stage });
        }
        if (intent.status !== 'done') log(`  on the way to ${target}: ${intent.action ?? ''} from ${view.stage} ${intent.status}: ${JSON.stringify(intent.result)}`);
      }
      await settledAt(api, target, 10_000);
    };

    /** Arms the hook, asks for `action`, waits for the process to die, starts the next and checks where the pair landed. */
    const crashOnce = async (action: 'advance' | 'revert', point: string, landing: string): Promise<{ recoverMs: number; listeningToSettledMs: number; outcome: string }> => {
      const direction = action === 'advance' ? 'blue->green' : 'green->blue';
      try {
        if (action === 'advance') await guardsHold(api);
        await replicationSettled(api, direction);
      } catch (err) {
        throw new NotArmed(`before arming: ${(err as Error).message}`);
      }
      await writeFile(crashFile, point);
      const answer = await api.post(`/api/v1/pairs/demo/${action}?wait=false`, action === 'advance' ? { expectedStage: 'reads-100', reason: `soak: ${point}` } : { reason: `soak: ${point}` });
      if (answer.status !== 202) {
        await rm(crashFile, { force: true });
        throw new Error(`${action} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      }
      const intentId = answer.body.intent.id as string;
      const dead = service!;
      // Killed, or the intent settled without the hook firing (the point never reached).
      const exit = await Promise.race([
        dead.process.exited,
        waitFor(
          'the intent to settle or the process to die',
          async () => {
            const { body } = await api.get(`/api/v1/pairs/demo/intents/${intentId}`);
            return body.intent.status === 'pending' ? undefined : ({ intent: body.intent } as const);
          },
          180_000,
          250,
        ).catch((err: Error) => ({ error: err.message })),
      ]);
      if (!('signal' in exit)) {
        await rm(crashFile, { force: true });
        const alive = dead.process.child.exitCode === null && dead.process.child.signalCode === null;
        if (!alive) throw new Error(`died but not seen as exited: ${JSON.stringify(await dead.process.exited)}`);
        throw new Error(`not killed after ${point}: ${'intent' in exit ? `intent ${exit.intent.status}: ${JSON.stringify(exit.intent.result)}` : exit.error}`);
      }
      if (exit.signal !== 'SIGKILL') throw new Error(`exited ${JSON.stringify(exit)} instead of SIGKILL; stderr ${dead.process.stderr().slice(-1000)}`);
      const restartAt = Date.now();
      service = await startProcess();
      const listeningAt = Date.now();
      api = labApi(service.url, lab);
      let view;
      try {
        view = await settledAt(api, landing, 180_000);
      } catch (err) {
        const now = (await api.get('/api/v1/pairs/demo').catch(() => ({ body: null }))).body;
        throw new Error(`${(err as Error).message}; the pair: stage ${now?.stage}, transition ${JSON.stringify(now?.transition)?.slice(0, 600)}, halted ${now?.halted}`);
      }
      const settledMs = Date.now();
      const problems: string[] = [];
      const weights = standInWeights(lab);
      if (JSON.stringify(weights) !== JSON.stringify(STAGE_WEIGHTS[landing])) problems.push(`Route 53 holds ${JSON.stringify(weights)}, not ${landing}'s weights`);
      const writer = landing === 'green' ? 'green' : 'blue';
      if (!(await canLogIn(lab, writer))) problems.push(`the application cannot log in on ${writer}`);
      if (landing === 'green' && (await canLogIn(lab, 'blue'))) problems.push('blue is not frozen at green: the application logs in');
      const expectedOutcome = (action === 'advance') === (landing === 'green') ? 'finished' : 'rolled-back';
      const outcome = view.lastTransition?.outcome ?? 'none';
      if (outcome !== expectedOutcome) problems.push(`the last transition ${outcome}, expected ${expectedOutcome}`);
      if (problems.length > 0) throw new Error(problems.join('; '));
      return { recoverMs: settledMs - restartAt, listeningToSettledMs: settledMs - listeningAt, outcome };
    };

    const plan: { action: 'advance' | 'revert'; start: string; point: string; landing: string }[] = [
      ...(points !== 'back' ? FORWARD_CRASHES.map(([point, landing]) => ({ action: 'advance' as const, start: 'reads-100', point, landing })) : []),
      ...(points !== 'forward' ? BACK_CRASHES.map(([point, landing]) => ({ action: 'revert' as const, start: 'green', point, landing })) : []),
    ];
    for (const { action, start, point, landing } of plan) {
      const key = `${action === 'advance' ? 'forward' : 'back'} ${point}`;
      const result = { runs: 0, ok: 0, landing, failures: [] as string[], notArmed: [] as string[], recoverMs: [] as number[], listeningToSettledMs: [] as number[] };
      results[key] = result;
      for (let i = 0; i < runs; i++) {
        result.runs += 1;
        try {
          try {
            await bringTo(start);
          } catch (err) {
            throw new NotArmed(`before arming: ${(err as Error).message}`);
          }
          const r = await crashOnce(action, point, landing);
          result.ok += 1;
          result.recoverMs.push(r.recoverMs);
          result.listeningToSettledMs.push(r.listeningToSettledMs);
          log(`${key} ${i + 1}/${runs}: ok, ${r.outcome} at ${landing}, restart -> settled ${r.recoverMs} ms`);
        } catch (err) {
          const reason = (err as Error).message;
          if (err instanceof NotArmed && result.notArmed.length < runs) {
            // The pair was not ready for the crash (e.g. halted by an auto-revert on a busy machine): not counted, repeated.
            result.notArmed.push(reason);
            result.runs -= 1;
            i -= 1;
            log(`${key}: not armed, repeated: ${reason}`);
            continue;
          }
          if (result.failures.length < 5) result.failures.push(reason);
          log(`${key} ${i + 1}/${runs}: FAILED ${reason}`);
          // The process may be dead (killed with no restart yet) or the pair anywhere.
          if (service.process.child.exitCode !== null || service.process.child.signalCode !== null) {
            service = await startProcess();
            api = labApi(service.url, lab);
          }
        }
      }
    }

    // Nothing lost over every crash: the ledger on the side taking writes and on the other once it caught up.
    await bringTo('reads-100').catch((err: Error) => log(`back to reads-100 failed: ${err.message}`));
    await workload.stop();
    const final = workload.snapshot();
    app = {
      writes: final.totals.writes,
      failedWrites: final.totals.failedWrites,
      errorsByKind: Object.fromEntries(Object.entries(final.totals.errorsByKind).filter(([, v]) => (v as number) > 0)),
      retries: final.totals.retries,
      ledger: final.ledger,
    };
    const stage = (await api.get('/api/v1/pairs/demo')).body.stage;
    const writer = stage === 'green' ? 'green' : 'blue';
    const other = writer === 'blue' ? 'green' : 'blue';
    const check = (side: 'blue' | 'green') => {
      const admin = lab.target(side, 'admin', D.LAB_DATABASE);
      return verifyLedger(workload!.ledger, { host: admin.endpoint.host, port: admin.endpoint.port, database: D.LAB_DATABASE, login: admin.login });
    };
    const brief = (r: LedgerReport) => ({ ok: r.ok, checked: r.checked, missing: r.missing, duplicated: r.duplicated, phantom: r.phantom, sequenceReuse: r.sequenceReuse, inDoubtPresent: r.inDoubtPresent, differences: r.differences.slice(0, 5), sequenceValues: r.sequenceValues.slice(0, 5) });
    const onWriter = await check(writer);
    let onOther = await check(other);
    const deadline = Date.now() + 30_000;
    while (!onOther.ok && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      onOther = await check(other);
    }
    ledger = { stage, [writer]: brief(onWriter), [other]: brief(onOther) };
  } finally {
    await workload?.stop().catch(() => undefined);
    await rm(crashFile, { force: true });
    await stopProcess(service);
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'cutover-soak',
        runs,
        points,
        appWritesPerSecond: RATE,
        cutover: cutoverPairOverrides(CUTOVER).cutover,
        machine: { ...machine, loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
        seconds: Math.round((Date.now() - startedAt) / 1000),
        perPoint: Object.fromEntries(
          Object.entries(results).map(([key, r]) => [
            key,
            {
              runs: r.runs,
              ok: r.ok,
              landing: r.landing,
              failures: r.failures,
              // Runs repeated because the pair was not ready before the crash was armed (not recovery failures).
              notArmed: r.notArmed.length,
              notArmedReasons: r.notArmed.slice(0, 3),
              medianRecoverMs: stats(r.recoverMs)?.median ?? null,
              recoverMs: stats(r.recoverMs),
              listeningToSettledMs: stats(r.listeningToSettledMs),
            },
          ]),
        ),
        app,
        ledger,
      },
      null,
      2,
    )}\n`,
  );
}

await main();
