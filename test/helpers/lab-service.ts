import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Test } from 'tap';
import YAML from 'yaml';
import type { Lab } from '../../src/local/lab.js';
import { startService, type RunningService } from '../../src/main.js';
import { createStatePool } from '../../src/store/state-db.js';
import { PgShiftStore } from '../../src/store/pg-store.js';
import { writeConfigFile } from './config.js';
import { testLogger } from './lab.js';
import { ROOT } from './process.js';
import { waitFor } from './wait.js';

/** Deep-merged into the demo pair of config/local.yaml. */
export type PairOverrides = Record<string, unknown>;

/**
 * Canaries a busy machine cannot trip (the suite runs two lab files at once, each with
 * its own servers and processes): for tests of something else than the signals.
 */
export const CALM_CANARIES = {
  dbErrors: { maxErrorRate: 1 },
  probe: { maxP95Ms: 10_000, relativeP95: { factor: 1000, marginMs: 600_000 }, maxErrorRate: 1, timeoutMs: 5_000 },
};

/**
 * config/local.yaml without its `lab` section (the test runs the lab itself, so several
 * services can share it), listening on a free port, with the demo pair changed by
 * `pair` (e.g. no bake time, tighter signal limits). Child processes need `logLevel`
 * info, so that the test sees their "pgshift listening" line.
 */
export async function labServiceConfig(t: Test, pair: PairOverrides = {}, logLevel = process.env.PGSHIFT_TEST_LOG ?? 'silent'): Promise<string> {
  return writeConfigFile(t, await labServiceConfigText(pair, logLevel));
}

/** The YAML text of labServiceConfig (benchmarks write it themselves). */
export async function labServiceConfigText(pair: PairOverrides = {}, logLevel = 'silent'): Promise<string> {
  const doc = YAML.parse(await readFile(join(ROOT, 'config', 'local.yaml'), 'utf8')) as Record<string, unknown>;
  delete doc.lab;
  (doc.service as Record<string, unknown>).port = 0;
  (doc.service as Record<string, unknown>).logLevel = logLevel;
  const pairs = doc.pairs as Record<string, unknown>[];
  // The lab's demo application does not run here (it is part of the lab section), so
  // nothing pushes application metrics: the app signal is off unless `pair` turns it on.
  pairs[0] = merge(merge(pairs[0]!, { signals: { app: { enabled: false } } }), pair);
  return YAML.stringify(doc);
}

function merge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const old = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && old && typeof old === 'object' && !Array.isArray(old)
        ? merge(old as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

/** The environment a service on `lab` needs: the lab's variables and who the process is. */
export function labServiceEnv(lab: Lab, instanceId: string): Record<string, string> {
  return { ...(process.env as Record<string, string>), ...lab.env(), PGSHIFT_INSTANCE_ID: instanceId };
}

/** pgshift in this process on `lab`, closed when the test ends (or earlier by the test). */
export async function startLabService(t: Test, lab: Lab, configPath: string, instanceId = 'in-process', options: { prepare?: boolean } = {}): Promise<RunningService> {
  const service = await startService({ configPath, env: labServiceEnv(lab, instanceId) });
  let closed = false;
  const close = service.close;
  service.close = async () => {
    if (closed) return;
    closed = true;
    await close();
  };
  t.teardown(() => service.close());
  if (options.prepare !== false) await prepareThroughService(service.url, lab);
  return service;
}

/**
 * A pair of the lab (the demo pair unless `pairId` names another on the same servers)
 * brought to `baseline` as an operator would: `prepare` through the API. On a lab whose
 * green already follows blue (startTestLab's default) that adopts and checks the
 * replication; on an empty green it sets it up. Does nothing when prepared.
 */
export async function prepareThroughService(url: string, lab: Lab, pairId = 'demo'): Promise<void> {
  const api = labApi(url, lab);
  const pair = await waitFor(`the ${pairId} pair`, async () => {
    const answer = await api.get(`/api/v1/pairs/${pairId}`);
    return answer.status === 200 ? answer.body : undefined;
  });
  if (pair.stage !== 'unprepared') return;
  const answer = await api.post(`/api/v1/pairs/${pairId}/prepare?wait=false`, {});
  if (answer.status !== 202) throw new Error(`prepare answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const intent = answer.body.intent.id as string;
  const done = await waitFor('the preparation', async () => {
    const { body } = await api.get(`/api/v1/pairs/${pairId}/intents/${intent}`);
    return body.intent.status === 'pending' ? undefined : body.intent;
  }, 120_000, 200);
  if (done.status !== 'done') throw new Error(`prepare ${done.status}: ${JSON.stringify(done.result)}`);
}

/** The lab's state store, read as the service stores it. */
export function labStateStore(t: Test, lab: Lab): PgShiftStore {
  const pool = createStatePool(lab.env().PGSHIFT_LAB_STATE_URL!, testLogger());
  t.teardown(() => pool.end());
  return new PgShiftStore(pool);
}

/** The demo pair's weights as the Route 53 stand-in holds them, per name and set identifier. */
export function standInWeights(lab: Lab): { reader: { blue: number; green: number }; writer: { blue: number; green: number } } {
  const route53 = lab.route53!;
  const records = route53.standIn.store.recordSets(route53.zoneId);
  const weight = (kind: 'reader' | 'writer', side: 'blue' | 'green') => {
    const record = records.find((r) => r.name.startsWith(`${kind}.demo.`) && r.setIdentifier === side);
    if (!record || record.weight === undefined) throw new Error(`no ${kind} ${side} record in the stand-in`);
    return record.weight;
  };
  return {
    reader: { blue: weight('reader', 'blue'), green: weight('reader', 'green') },
    writer: { blue: weight('writer', 'blue'), green: weight('writer', 'green') },
  };
}

export function operatorHeaders(lab: Lab): Record<string, string> {
  return { authorization: `Bearer ${lab.state.secrets.operatorToken}`, 'content-type': 'application/json' };
}

export interface LabApi {
  get(path: string): Promise<{ status: number; body: any }>;
  post(path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/** pgshift's REST API at `url`, as the lab's operator. */
export function labApi(url: string, lab: Lab): LabApi {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: operatorHeaders(lab),
      ...(method === 'GET' ? {} : { body: JSON.stringify(body ?? {}) }),
    });
    return { status: res.status, body: await res.json() };
  };
  return { get: (path) => call('GET', path), post: (path, body) => call('POST', path, body) };
}

/** Waits until every signal of the demo pair is healthy, so that a test starts from a calm pair. */
export async function calm(api: LabApi): Promise<void> {
  await waitFor(
    'every signal of the pair to be healthy',
    async () => {
      const pair = (await api.get('/api/v1/pairs/demo')).body;
      const unwell = (pair.signals as { state: string; summary: string }[]).filter((s) => s.state !== 'healthy');
      // Thrown, so that a timeout says which signal kept the pair from calm.
      if (pair.signals.length === 0 || unwell.length > 0) throw new Error(unwell.map((s) => s.summary).join('; ') || 'no signal sampled yet');
      return true;
    },
    30_000,
    200,
  );
}

/** Waits until the demo pair is back at baseline and halted by an auto-revert; returns it and the audit event. */
export async function haltedByAutoRevert(client: LabApi): Promise<{ pair: any; event: any }> {
  const pair = await waitFor(
    'the pair to be reverted and halted',
    async () => {
      const view = (await client.get('/api/v1/pairs/demo')).body;
      return view.halted && view.stage === 'baseline' && view.transition === null ? view : undefined;
    },
    30_000,
    100,
  );
  const events = (await client.get('/api/v1/pairs/demo/events?limit=20')).body.events as any[];
  return { pair, event: events.find((e) => e.action === 'auto-revert') };
}
