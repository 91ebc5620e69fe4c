import { join } from 'node:path';
import type { Test } from 'tap';
import * as D from '../../src/defaults.js';
import type { Lab } from '../../src/local/lab.js';
import { parseWorkloadSettings } from '../../src/local/workload/config.js';
import { startLabWorkload } from '../../src/local/workload/lab.js';
import { verifyLedger, type LedgerReport } from '../../src/local/workload/verify.js';
import type { DemoWorkload } from '../../src/local/workload/workload.js';
import type { Side } from '../../src/shift/model.js';
import { testLogger } from './lab.js';
import { CALM_CANARIES, labServiceConfig, type LabApi, type PairOverrides } from './lab-service.js';
import { waitFor } from './wait.js';

/**
 * The demo pair set up for write cutovers on the lab: one read step (baseline ->
 * reads-100 -> green), no bake time, signals that a busy machine's latency cannot
 * trip (the cutover's own checks are under test, not the canaries). `cutover` is merged
 * over the section below. Benchmarks use it too (labServiceConfigText).
 */
export function cutoverPairOverrides(cutover: Record<string, unknown> = {}): PairOverrides {
  return {
    steps: [100],
    bakeSeconds: 0,
    signals: {
      sampleSeconds: 1,
      // The catch-up test holds green's apply up on purpose; the cutover's own maxLagSeconds is under test.
      lag: { maxSeconds: 30 },
      ...CALM_CANARIES,
    },
    cutover: { maxFreezeSeconds: 10, maxLagSeconds: 5, rollbackWindowSeconds: 0, ...cutover },
  };
}

export function cutoverConfig(t: Test, cutover: Record<string, unknown> = {}, logLevel?: string): Promise<string> {
  return labServiceConfig(t, cutoverPairOverrides(cutover), logLevel);
}

/** What Route 53 holds at each stage a cutover test passes through. */
export const STAGE_WEIGHTS: Record<string, unknown> = {
  baseline: { reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } },
  'reads-100': { reader: { blue: 0, green: 100 }, writer: { blue: 100, green: 0 } },
  green: { reader: { blue: 0, green: 100 }, writer: { blue: 0, green: 100 } },
};

/** Where a crash comes (`<step>:<journal write>`, see src/wiring/crash-hook.ts) and where the pair must land after it: going to green... */
export const FORWARD_CRASHES: [string, string][] = [
  ['checks:done', 'reads-100'],
  ['snapshot:done', 'reads-100'],
  ['freeze:done', 'reads-100'],
  ['catch-up:done', 'reads-100'],
  ['sequences:done', 'reads-100'],
  ['validate:done', 'reads-100'],
  ['switch-replication:done', 'reads-100'],
  ['flip-writer:noted', 'green'],
];

/** ...and on the way back. */
export const BACK_CRASHES: [string, string][] = [
  ['checks:done', 'green'],
  ['reads-back:done', 'green'],
  ['freeze:done', 'green'],
  ['catch-up:done', 'green'],
  ['switch-replication:done', 'green'],
  ['flip-writer:noted', 'baseline'],
  ['reopen-reads:started', 'baseline'],
];

/** The demo application writing through the pair's names, its ledger in the lab's folder. */
export async function startCutoverWorkload(t: Test, lab: Lab, rate = 40): Promise<DemoWorkload> {
  const workload = await startLabWorkload({
    lab,
    serviceUrl: null,
    log: testLogger(),
    ledgerFile: join(lab.dir, `cutover-ledger-${Date.now()}.jsonl`),
    settings: parseWorkloadSettings({ rate, readShare: 0.5, push: false }),
  });
  t.teardown(() => workload.stop());
  return workload;
}

/** The ledger checked on one side, as the admin (a frozen side refuses the app's login). */
export function checkLedger(lab: Lab, workload: DemoWorkload, side: Side): Promise<LedgerReport> {
  const admin = lab.target(side, 'admin', D.LAB_DATABASE);
  return verifyLedger(workload.ledger, { host: admin.endpoint.host, port: admin.endpoint.port, database: D.LAB_DATABASE, login: admin.login });
}

/** Asks for an action and waits until the loop carried it out; returns the intent. */
export async function settle(api: LabApi, action: string, body: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<any> {
  if (action === 'advance') await guardsHold(api);
  const answer = await api.post(`/api/v1/pairs/demo/${action}?wait=false`, body);
  if (answer.status !== 202) throw new Error(`${action} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const id = answer.body.intent.id as string;
  return waitFor(
    `${action} to settle`,
    async () => {
      const { body: b } = await api.get(`/api/v1/pairs/demo/intents/${id}`);
      return b.intent.status === 'pending' ? undefined : b.intent;
    },
    timeoutMs,
    100,
  );
}

/** Waits until the pair is at `stage` with no transition in flight; returns its view. */
export function settledAt(api: LabApi, stage: string, timeoutMs = 120_000): Promise<any> {
  return waitFor(
    `the pair to settle at ${stage}`,
    async () => {
      const view = (await api.get('/api/v1/pairs/demo')).body;
      return view.stage === stage && view.transition === null ? view : undefined;
    },
    timeoutMs,
    100,
  );
}

/** Waits until replication of the stage runs and its lag is known and small, as the cutover's checks want it. */
export async function replicationSettled(api: LabApi, direction: string): Promise<void> {
  await waitFor(
    `replication ${direction} measured and caught up`,
    async () => {
      const view = (await api.get('/api/v1/pairs/demo')).body;
      const r = view.replication;
      return r && r.direction === direction && r.healthy === true && r.lagSeconds !== null && r.lagSeconds < 2 ? true : undefined;
    },
    60_000,
    200,
  );
}

/** Waits until every guard of advancing holds (Route 53 read since the stage began, signals sampled). */
export async function guardsHold(api: LabApi): Promise<void> {
  await waitFor(
    'every guard of advancing to hold',
    async () => {
      const failing = ((await api.get('/api/v1/pairs/demo')).body.guards as { ok: boolean; name: string; detail: string }[]).filter((g) => !g.ok);
      if (failing.length > 0) throw new Error(failing.map((g) => `${g.name}: ${g.detail}`).join('; '));
      return true;
    },
    60_000,
    200,
  );
}
