/**
 * How fast pgshift takes reads back to blue when a guard breaks, on the embedded lab:
 * pgshift's own wiring (main.ts) against the Route 53 and RDS stand-ins and real
 * PostgreSQL 13 -> 14 replication, 1 s sampling.
 *
 * Each run: advance baseline -> reads-10, disable green's subscription (replication
 * broken: an immediate breach), wait until the pair is reverted and halted, then
 * re-enable, resume and wait for healthy signals. From the auto-revert's audit event:
 * - breachToSubmitMs: the breaching sample -> the change accepted by Route 53;
 * - breachToInsyncMs: the breaching sample -> the change INSYNC;
 * and, measured here, faultToInsyncMs: the subscription disabled -> INSYNC (detection
 * included). The stand-in's INSYNC delay stands for Route 53's propagation.
 *
 * With --store-stopped, the state database is stopped before the subscription is
 * disabled and started again once the records are back on blue: the revert must not
 * wait for it (its record follows when the store is back).
 *
 * Usage: node --import tsx bench/revert.ts [--runs 20] [--store-stopped]; prints JSON on stdout.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as D from '../src/defaults.js';
import { Lab } from '../src/local/lab.js';
import { createLogger } from '../src/log.js';
import { startService } from '../src/main.js';
import { withClient } from '../src/postgres/connect.js';
import { calm, labApi, labServiceConfigText, labServiceEnv, prepareThroughService, standInWeights } from '../test/helpers/lab-service.js';
import { waitFor } from '../test/helpers/wait.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] ?? NaN) || 20;
const storeStopped = process.argv.includes('--store-stopped');

interface Run {
  breachToSubmitMs: number;
  breachToInsyncMs: number;
  faultToInsyncMs: number;
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p90: at(0.9), worst: sorted[sorted.length - 1]!, best: sorted[0]! };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-bench-revert-'));
  await chmod(dir, 0o755);
  const lab = await Lab.start({ dir, log: createLogger({ level: 'silent' }) });
  const configPath = join(dir, 'pgshift.yaml');
  await writeFile(configPath, await labServiceConfigText({ bakeSeconds: 0, signals: { sampleSeconds: 1 } }));
  const service = await startService({ configPath, env: labServiceEnv(lab, 'bench') });
  // The lab's green starts empty: prepared through the service, as `npm start` does.
  await prepareThroughService(service.url, lab);
  const api = labApi(service.url, lab);
  const green = lab.target('green', 'admin');
  const subscription = (enable: boolean) =>
    withClient(green, (c) => c.query(`ALTER SUBSCRIPTION ${D.DEFAULT_SUBSCRIPTION} ${enable ? 'ENABLE' : 'DISABLE'}`));
  const results: Run[] = [];
  try {
    await api.post('/api/v1/pairs/demo/preflight');
    for (let i = 0; i < runs; i++) {
      await calm(api);
      const advanced = await api.post('/api/v1/pairs/demo/advance', { expectedStage: 'baseline' });
      if (advanced.status !== 200) throw new Error(`advance refused: ${JSON.stringify(advanced.body)}`);
      if (storeStopped) await lab.servers.state.stop();
      const faultAt = Date.now();
      await subscription(false);
      if (storeStopped) {
        await waitFor('reads back on blue', () => standInWeights(lab).reader.green === 0, 60_000, 10);
        await lab.servers.state.start();
      }
      const event = await waitFor(
        'the auto-revert',
        async () => {
          const events = (await api.get('/api/v1/pairs/demo/events?limit=5')).body.events as any[];
          return events.find((e) => e.action === 'auto-revert' && e.at >= faultAt);
        },
        60_000,
        20,
      );
      // The revert's transition starts at the breaching sample.
      const breachAt = (await api.get('/api/v1/pairs/demo')).body.lastTransition.startedAt as number;
      const insyncAt = breachAt + event.details.breachToInsyncMs;
      results.push({
        breachToSubmitMs: event.details.breachToSubmitMs,
        breachToInsyncMs: event.details.breachToInsyncMs,
        faultToInsyncMs: Math.round(insyncAt - faultAt),
      });
      await subscription(true);
      const resumed = await api.post('/api/v1/pairs/demo/resume', { reason: 'bench' });
      if (resumed.status !== 200) throw new Error(`resume refused: ${JSON.stringify(resumed.body)}`);
      process.stderr.write(`run ${i + 1}/${runs}: ${JSON.stringify(results[results.length - 1])}\n`);
    }
  } finally {
    await service.close();
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const insyncDelayMs = D.LAB_ROUTE53_INSYNC_DELAY_MS;
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'revert',
        stateStore: storeStopped ? 'stopped during the revert' : 'running',
        runs,
        sampleSeconds: 1,
        standInInsyncDelayMs: insyncDelayMs,
        breachToSubmitMs: stats(results.map((r) => r.breachToSubmitMs)),
        breachToInsyncMs: stats(results.map((r) => r.breachToInsyncMs)),
        faultToInsyncMs: stats(results.map((r) => r.faultToInsyncMs)),
        results,
      },
      null,
      2,
    )}\n`,
  );
}

await main();
