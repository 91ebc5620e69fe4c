import type { Test } from 'tap';
import YAML from 'yaml';
import { buildApp, type App } from '../../src/app.js';
import type { Services } from '../../src/services.js';
import { hashToken } from '../../src/api/auth.js';
import { resolveConfig } from '../../src/config/load.js';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { ShiftController } from '../../src/shift/controller.js';
import { planStages } from '../../src/shift/stages.js';
import { controllerMetrics } from '../../src/wiring/controller-metrics.js';
import { MemoryShiftStore } from './memory-store.js';
import { MemorySessionStore } from './memory-sessions.js';
import { StaticLease, fakeWorld, type FakeWorld } from './fake-world.js';
import { MINIMAL_ENV, minimalConfigYaml } from './config.js';

export const OPERATOR = 'operator-token-0123456789';
export const VIEWER = 'viewer-token-0123456789';

export interface ApiRig {
  app: App;
  store: MemoryShiftStore;
  sessions: MemorySessionStore;
  world: FakeWorld;
}

/**
 * The API over a controller with in-memory ports (tier 2): pair `orders`, no bake time,
 * green prepared unless `prepared` is false; `extra` adds more parts.
 */
export async function apiRig(
  t: Test,
  extra: Partial<Pick<Services, 'preflight' | 'signals'>> = {},
  options: { prepared?: boolean; trustProxy?: boolean; sessions?: MemorySessionStore } = {},
): Promise<ApiRig> {
  const tokens = `auth:\n  tokens:\n    - { name: alice, role: operator, sha256: ${hashToken(OPERATOR)} }\n    - { name: victor, role: viewer, sha256: ${hashToken(VIEWER)} }\n`;
  const config = resolveConfig(YAML.parse(minimalConfigYaml({ top: tokens })), MINIMAL_ENV);
  config.service.trustProxy = options.trustProxy === true;
  const sessions = options.sessions ?? new MemorySessionStore();
  const store = new MemoryShiftStore();
  // The world's readings carry the controller's time, as real ones do.
  const world = fakeWorld(systemClock);
  const plan = planStages([10, 25, 50, 100]);
  const controller = new ShiftController({
    store,
    lease: new StaticLease(true),
    clock: systemClock,
    log: silentLogger(),
    instanceId: 'api-test',
    pairs: [{ id: 'orders', plan, bakeSeconds: 0, autoAdvance: false, ttlSeconds: 0, rollbackWindowMs: 0, world }],
    tickMs: 50,
  });
  if (options.prepared !== false) await store.ensurePair('orders', 'baseline', Date.now());
  await controller.start();
  const app = await buildApp({
    config,
    log: silentLogger(),
    readiness: [],
    shift: { controller, store, signals: () => world.signals },
    metrics: [controllerMetrics(controller, new Map([['orders', plan]]))],
    sessions,
    ...extra,
  });
  t.teardown(async () => {
    await app.close();
    await controller.stop();
  });
  return { app, store, sessions, world };
}

