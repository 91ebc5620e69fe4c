/**
 * Hundreds of pairs watched by one pgshift process, on the embedded lab: does the
 * Route 53 budget hold, and does a revert stay fast in the middle of it?
 *
 * 200 pairs (each with its own weighted names in the lab's hosted zone; they share the
 * lab's one blue/green database pair, whose servers admit 1,200 sessions here) sampled
 * every second for 10 minutes, with the Route 53 stand-in enforcing the documented
 * account limit (a bucket of 50 refilling at 10 per second). Halfway through, one pair
 * at reads-10 is broken (its application pushes a burst of errors) and its revert timed.
 *
 * Reported: Route 53 requests per second (all, and per operation), throttling answers,
 * pgshift's CPU (one core = 100 %; the stand-ins run in the same process and are
 * included), event-loop delay p99, and the revert's breaching sample -> change submitted
 * and -> INSYNC.
 *
 * Usage: node --import tsx bench/fleet.ts [--pairs 200] [--minutes 10]; prints JSON.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { Lab } from '../src/local/lab.js';
import { labRecordName } from '../src/local/lab-endpoints.js';
import { normaliseName } from '../src/local/route53/names.js';
import { createLogger } from '../src/log.js';
import { startService } from '../src/main.js';
import { labApi, labServiceConfigText, labServiceEnv, prepareThroughService } from '../test/helpers/lab-service.js';
import { waitFor } from '../test/helpers/wait.js';

const { values: args } = parseArgs({ options: { pairs: { type: 'string', default: '200' }, minutes: { type: 'string', default: '10' } } });
const PAIRS = Number(args.pairs);
const MINUTES = Number(args.minutes);
const BROKEN = 'fleet-001';

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-bench-fleet-'));
  await chmod(dir, 0o755);
  const log = createLogger({ level: 'silent' });
  const lab = await Lab.start({ dir, log, maxConnections: 1_200 });
  const route53 = lab.route53!;
  try {
    const ids = Array.from({ length: PAIRS }, (_, i) => `fleet-${String(i + 1).padStart(3, '0')}`);
    await createRecords(lab, ids);

    const doc = YAML.parse(await labServiceConfigText({ bakeSeconds: 0 })) as { pairs: Record<string, any>[] };
    const template = doc.pairs[0]!;
    doc.pairs = ids.map((id) => ({
      ...structuredClone(template),
      id,
      dns: { ...template.dns, reader: { ...template.dns.reader, name: `reader.${id}.lab.pgshift.internal` }, writer: { ...template.dns.writer, name: `writer.${id}.lab.pgshift.internal` } },
      // Only the pair broken on purpose hears from an application.
      // Probes query every second over a kept session and open a fresh connection every 10 s:
      // 200 pairs opening one each per round would be 400 logins a second on one server pair.
      signals: {
        ...template.signals,
        sampleSeconds: 1,
        // A probe's deadline covers the login too: with a thousand sessions per server on two
        // cores, a login can take seconds while the fleet starts.
        probe: { ...template.signals?.probe, intervalMs: 1_000, connectEveryRounds: 10, timeoutMs: 5_000 },
        app: { ...template.signals?.app, enabled: id === BROKEN },
      },
    }));
    const configPath = join(dir, 'pgshift.yaml');
    await writeFile(configPath, YAML.stringify(doc, { aliasDuplicateObjects: false }));

    const startedAt = Date.now();
    const service = await startService({ configPath, env: labServiceEnv(lab, 'bench-fleet') });
    const startMs = Date.now() - startedAt;
    const api = labApi(service.url, lab);
    const push = (requests: number, errors: number) => api.post(`/api/v1/pairs/${BROKEN}/signals`, { requests, errors, source: 'bench' });
    const healthy = setInterval(() => void push(100, 0).catch(() => undefined), 500);
    try {
      // The lab's green starts empty: the pair to break is prepared through the service
      // (the others share its servers and stay unprepared; they are sampled all the same).
      await prepareThroughService(service.url, lab, BROKEN);
      await api.post(`/api/v1/pairs/${BROKEN}/preflight`);
      let unhealthy: string[] = [];
      await waitFor(
        'the broken pair to be calm',
        async () => {
          const view = (await api.get(`/api/v1/pairs/${BROKEN}`)).body;
          unhealthy = (view.signals as { state: string; summary: string }[]).filter((s) => s.state !== 'healthy').map((s) => s.summary);
          // Clusters are described every 15 s: the description from before the preparation
          // made pgshift's login on green fails the clusters guard until the next one.
          const clusters = (view.guards as { name: string; ok: boolean; detail: string }[]).find((g) => g.name === 'clusters');
          if (clusters && !clusters.ok) unhealthy.push(`clusters guard: ${clusters.detail}`);
          return view.signals.length > 0 && unhealthy.length === 0;
        },
        120_000,
        500,
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; still unhealthy: ${unhealthy.join(' | ')}`);
      });
      const advanced = await api.post(`/api/v1/pairs/${BROKEN}/advance?wait=false`, { expectedStage: 'baseline' });
      if (advanced.status !== 202) throw new Error(`advance refused: ${JSON.stringify(advanced.body)}`);
      await waitFor('the broken pair at reads-10', async () => (await api.get(`/api/v1/pairs/${BROKEN}`)).body.stage === 'reads-10', 300_000, 500);

      route53.standIn.clearRequests();
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const cpuBefore = process.cpuUsage();
      const measureFrom = Date.now();
      const durationMs = MINUTES * 60_000;

      await sleep(durationMs / 2);
      clearInterval(healthy);
      const breakAt = Date.now();
      for (let i = 0; i < 5; i++) await push(100, 60);
      const event = await waitFor(
        'the broken pair to revert',
        async () => ((await api.get(`/api/v1/pairs/${BROKEN}/events?limit=10`)).body.events as any[]).find((e) => e.action === 'auto-revert' && e.at >= breakAt),
        120_000,
        50,
      );
      await sleep(Math.max(0, measureFrom + durationMs - Date.now()));

      const wallMs = Date.now() - measureFrom;
      const cpu = process.cpuUsage(cpuBefore);
      loop.disable();
      const requests = route53.standIn.requests().filter((r) => r.at >= measureFrom);
      const byOperation: Record<string, number> = {};
      for (const r of requests) byOperation[r.operation] = (byOperation[r.operation] ?? 0) + 1;
      const perSecond = new Map<number, number>();
      for (const r of requests) perSecond.set(Math.floor(r.at / 1000), (perSecond.get(Math.floor(r.at / 1000)) ?? 0) + 1);
      const others = await Promise.all(ids.filter((id) => id !== BROKEN).slice(0, 20).map(async (id) => (await api.get(`/api/v1/pairs/${id}`)).body));
      process.stdout.write(
        `${JSON.stringify(
          {
            pairs: PAIRS,
            minutes: round(wallMs / 60_000, 2),
            serviceStartSeconds: round(startMs / 1000),
            route53: {
              requestsPerSecond: round(requests.length / (wallMs / 1000), 2),
              busiestSecond: Math.max(0, ...perSecond.values()),
              byOperation,
              throttled: requests.filter((r) => r.errorCode === 'Throttling').length,
              failed: requests.filter((r) => r.status >= 400).length,
            },
            cpuPercentOfOneCore: round(((cpu.user + cpu.system) / 1000 / wallMs) * 100, 1),
            eventLoopDelayP99Ms: round(loop.percentile(99) / 1e6, 1),
            revert: {
              pair: BROKEN,
              breachToSubmitMs: event.details.breachToSubmitMs,
              breachToInsyncMs: event.details.breachToInsyncMs,
              reason: event.reason,
            },
            otherPairs: {
              sampled: others.length,
              observedWithinSeconds: round(Math.max(...others.map((v) => (Date.now() - (v.observed?.at ?? 0)) / 1000)), 1),
              withLastError: others.filter((v) => v.lastError).map((v) => `${v.id}: ${v.lastError}`),
            },
          },
          null,
          2,
        )}\n`,
      );
    } finally {
      clearInterval(healthy);
      await service.close();
    }
  } finally {
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every pair's weighted records, made in the stand-in directly (as if the zone held them before pgshift came). */
async function createRecords(lab: Lab, ids: string[]): Promise<void> {
  const route53 = lab.route53!;
  const store = route53.standIn.store;
  const existing = store.recordSets(route53.zoneId);
  const changes = ids.flatMap((id) =>
    (['reader', 'writer'] as const).flatMap((kind) =>
      existing
        .filter((r) => r.name === normaliseName(labRecordName(kind)))
        .map((r) => ({ action: 'CREATE' as const, recordSet: { ...r, name: `${kind}.${id}.lab.pgshift.internal` } })),
    ),
  );
  // Set-up, not measured: the lab's own records may still be PENDING.
  route53.standIn.faults.set({ priorRequestCheck: false });
  for (let i = 0; i < changes.length; i += 400) {
    await store.changeRecordSets(route53.zoneId, { comment: 'bench: fleet records', changes: changes.slice(i, i + 400) });
  }
  route53.standIn.faults.set({ priorRequestCheck: true });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

await main();
