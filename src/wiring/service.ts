import { hostname } from 'node:os';
import { systemClock, type Clock } from '../clock.js';
import { createRdsClient } from '../clusters/rds-client.js';
import type { Config } from '../config/schema.js';
import * as D from '../defaults.js';
import type { Env } from '../config/load.js';
import type { Logger } from '../log.js';
import { createPreflightService, type PreflightService } from '../preflight/service.js';
import { StateStorePreflightReports } from '../preflight/store.js';
import { preflightPairFromConfig } from '../preflight/targets.js';
import { dropTrialDatabases } from '../preflight/trial-restore.js';
import { describeError } from '../errors.js';
import { ShiftController } from '../shift/controller.js';
import type { MetricsCollector } from '../metrics/prometheus.js';
import { findStage, planStages, stageFacts, type StagePlanEntry } from '../shift/stages.js';
import { DdlFenceKeeper } from '../replication/ddl-fence.js';
import { SignalRegistry } from '../signals/registry.js';
import { SIGNAL_NAMES } from '../signals/port.js';
import { PgLeaderLease } from '../store/lease.js';
import type { ShiftStore } from '../shift/store.js';
import type { Transition } from '../shift/state.js';
import { createRoute53Client } from '../traffic/route53-client.js';
import { Route53Account } from '../traffic/route53-account.js';
import { controllerMetrics } from './controller-metrics.js';
import { buildPairParts, closePairParts, controlledPair, type PairParts } from './pair.js';
import { recordSchemaDriftEvents } from './schema-drift-events.js';
import { PgshiftError } from '../errors.js';
import type { SchemaSyncService } from '../services.js';

export interface ComposedPairs {
  controller: ShiftController;
  /** The controller's contribution to /metrics. */
  metrics: MetricsCollector;
  registry: SignalRegistry;
  preflight: PreflightService;
  schemaSync: SchemaSyncService;
  /** The process's one Route 53 account, for anything else that changes records (rehearsals' staging names). */
  route53Account: Route53Account;
  /** Readiness detail: who leads. Throws when the state store cannot say. */
  leadership(): Promise<string>;
  /** Stops the controller, giving the step in flight up to `handOverMs`, and releases the lease (see ShiftController.stop). */
  stopController(handOverMs: number): Promise<void>;
  /** Stops the controller (at once, if stopController did not), the samplers and every connection. */
  close(): Promise<void>;
}

/**
 * The DDL fence follows the stage, checked at every signal round: on the writing side
 * while a shift is under way with `ddl: block`, nowhere otherwise (a pair set back to
 * `watch` has it removed at the next start). Nothing before green is prepared.
 */
function keepDdlFence(part: PairParts, stage: () => StagePlanEntry, log: Logger): () => void {
  const { pair, targets } = part;
  const keeper = new DdlFenceKeeper({
    pairId: pair.id,
    databases: pair.databases,
    ...(pair.appRoles ? { appRoles: pair.appRoles } : {}),
    admin: (side, database) => targets.target(side, database, 'admin'),
    exempt: (side) => [pair[side].login.user, pair[side].adminLogin.user],
    log,
  });
  return part.signals.onSample(() => {
    const entry = stage();
    if (entry.kind === 'unprepared') return;
    const shifting = pair.ddl === 'block' && entry.kind !== 'baseline' && entry.kind !== 'finalized';
    void keeper.reconcile(shifting ? (entry.weights.writer.green === 100 ? 'green' : 'blue') : null);
  });
}

/** Who this process is in the leader table, the audit log and Route 53 change comments. */
export function instanceIdOf(env: Env): string {
  return env.PGSHIFT_INSTANCE_ID?.trim() || `${hostname()}-${process.pid}`;
}

/**
 * Builds every configured pair's adapters, the controller over them and the signal
 * samplers, and starts them. Throws (closing what it opened) when a pair cannot be set
 * up: a cluster not found, DNS records shaped by someone else.
 */
export interface ComposeHooks {
  /** Told after each journal write is stored (crash-hook.ts). */
  afterJournal?: (transition: Transition) => void;
}

export async function composePairs(config: Config, log: Logger, store: ShiftStore, instanceId: string, clock: Clock = systemClock, hooks: ComposeHooks = {}): Promise<ComposedPairs> {
  const rds = createRdsClient(config.aws);
  const route53 = createRoute53Client(config.aws);
  // One request budget and one watcher per hosted zone for every pair of the process.
  const route53Account = Route53Account.fromConfig(config.aws, { client: route53, clock, log });
  const plans = new Map(config.pairs.map((pair) => [pair.id, planStages(pair.steps)]));
  let controller: ShiftController | null = null;
  const stageOf = (pairId: string) => {
    const plan = plans.get(pairId)!;
    return findStage(plan, controller?.known(pairId).state?.stage ?? plan[0]!.stage) ?? plan[0]!;
  };
  const parts: PairParts[] = [];
  const closeParts = async () => {
    await Promise.all(parts.map(closePairParts));
    route53Account.close();
    rds.destroy();
    route53.destroy();
  };
  // All at once, so that the pairs of a hosted zone share its listings while they start.
  const built = await Promise.allSettled(
    config.pairs.map((pair) =>
      buildPairParts(pair, { config, rds, route53Account, clock, log, ...stageFacts(() => stageOf(pair.id)) }),
    ),
  );
  for (const result of built) if (result.status === 'fulfilled') parts.push(result.value);
  const failed = built.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await closeParts();
    throw failed.reason;
  }

  const byId = new Map(parts.map((p) => [p.pair.id, p]));
  const preflight = createPreflightService({
    pairs: config.pairs.map(preflightPairFromConfig),
    targetsFor: (pairId) => byId.get(pairId)!.targets,
    store: new StateStorePreflightReports(store, clock),
    log,
    clock,
  });
  const registry = new SignalRegistry();
  for (const p of parts) registry.add(p.signals);
  // A trial restore a crash cut short left its scratch database on green; nothing waits on the clean-up.
  for (const p of parts) void dropTrialLeftovers(p, log);

  const lease = new PgLeaderLease({ connectionString: config.state.url, log, confirmTimeoutMs: D.LEASE_CONFIRM_TIMEOUT_MS });
  controller = new ShiftController({
    store,
    lease,
    clock,
    log,
    instanceId,
    observeMs: route53Account.observeMs,
    ...(hooks.afterJournal ? { afterJournal: hooks.afterJournal } : {}),
    pairs: parts.map((p) => controlledPair(p, plans.get(p.pair.id)!, preflight, config.hostOverrides)),
  });
  const running = controller;
  let stopped: Promise<void> | undefined;
  try {
    await running.start();
  } catch (err) {
    await closeParts();
    throw err;
  }
  const stopDriftEvents = parts.map((p) =>
    recordSchemaDriftEvents(p.signals, { store, isLeader: async () => (await running.leader()).self, actor: instanceId, log }),
  );
  const stopFences = parts.map((p) => keepDdlFence(p, () => stageOf(p.pair.id), log));
  registry.startAll();
  log.info({ instanceId, pairs: parts.map((p) => p.pair.id) }, 'controller started');

  return {
    controller: running,
    metrics: controllerMetrics(running, plans),
    registry,
    preflight,
    route53Account,
    schemaSync: {
      async sync(pairId, options) {
        const part = byId.get(pairId);
        if (!part) throw new PgshiftError('PGSHIFT_ERR_PAIR_NOT_FOUND', `no pair "${pairId}"`, { status: 404 });
        const report = await part.replication.syncSchema(options);
        // Green changed: the drift is read again at the next sample, not up to an interval later.
        if (options.apply) part.signals.expire(SIGNAL_NAMES.schemaDrift);
        return report;
      },
    },
    async leadership() {
      const leader = await running.leader();
      if (leader.self) return `leader (${leader.instance})`;
      return leader.holder ? `follower of ${leader.holder}` : 'follower; no leader seen yet';
    },
    stopController: (handOverMs) => (stopped ??= running.stop(handOverMs)),
    async close() {
      for (const stop of [...stopDriftEvents, ...stopFences]) stop();
      await (stopped ??= running.stop());
      await closeParts();
    },
  };
}

/** Drops the scratch databases of trial restores a crash cut short. Never throws. */
async function dropTrialLeftovers(parts: PairParts, log: Logger): Promise<void> {
  try {
    await dropTrialDatabases(parts.targets.target('green', D.MAINTENANCE_DATABASE, 'admin'), parts.pair.id, log);
  } catch (err) {
    // The target throws when green's address is not known yet (a green prepare creates).
    log.info({ pair: parts.pair.id, err: describeError(err) }, 'leftover trial databases not looked for');
  }
}
