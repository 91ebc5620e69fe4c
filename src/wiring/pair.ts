import type { RDSClient } from '@aws-sdk/client-rds';
import type { Clock } from '../clock.js';
import { CatalogTargets } from '../clusters/catalog-targets.js';
import { createClusterCatalog } from '../clusters/factory.js';
import type { Config, PairConfig } from '../config/schema.js';
import type { HostOverrides } from '../clusters/dial.js';
import type { PreflightService } from '../preflight/service.js';
import type { ControlledPair } from '../shift/runtime.js';
import type { StagePlanEntry } from '../shift/stages.js';
import { pairWorld } from './pair-world.js';
import type { Logger } from '../log.js';
import { PostgresReplication } from '../replication/postgres-replication.js';
import type { Direction } from '../replication/port.js';
import type { Side } from '../shift/model.js';
import type { PairCutover, PairPreparation, PreparationStep } from '../shift/ports.js';
import { pairCutover } from './pair-cutover.js';
import { greenPreparation } from '../replication/prepare.js';
import { createGreenStep } from '../clusters/green-creator.js';
import { createPairSignals } from '../signals/create.js';
import type { PairSignals } from '../signals/pair-signals.js';
import type { Route53Account } from '../traffic/route53-account.js';
import { Route53Router } from '../traffic/route53-router.js';

/** The adapters of one pair, built from its config; what pairWorld adapts for the controller. */
export interface PairParts {
  pair: PairConfig;
  catalog: ReturnType<typeof createClusterCatalog>;
  targets: CatalogTargets;
  router: Route53Router;
  replication: PostgresReplication;
  signals: PairSignals;
  preparation: PairPreparation;
  cutover: PairCutover;
}

export interface PairPartsDeps {
  config: Pick<Config, 'aws' | 'hostOverrides'>;
  rds: RDSClient;
  /** The process's one Route 53 account: its request budget and zone watchers. */
  route53Account: Route53Account;
  clock: Clock;
  log: Logger;
  /** Which way replication runs at the pair's stage now (read by the lag signals). */
  direction: () => Direction | null;
  /** Does `side` take application traffic at the pair's stage now (decides whether a signal's breach reverts). */
  exposed: (side: Side) => boolean;
}

/**
 * Describes the pair's clusters, makes sure its DNS records exist with the right shape,
 * and builds replication control and the signal samplers (not started). Throws the
 * coded error of the first thing that is wrong (cluster not found, records shaped by
 * someone else): the service must not run a pair it cannot see.
 */
export async function buildPairParts(pair: PairConfig, deps: PairPartsDeps): Promise<PairParts> {
  const { config, clock } = deps;
  const log = deps.log.child({ pair: pair.id });
  const catalog = createClusterCatalog(pair, config, { rds: deps.rds, clock, log });
  const targets = new CatalogTargets(catalog, pair, config.hostOverrides);
  await targets.refresh();

  const router = Route53Router.forPair(pair, { account: deps.route53Account, log });
  const ensureRecords = async () => {
    const weights = await router.ensureRecords(targets.recordTargets());
    log.info({ weights }, 'DNS records in place');
  };
  // A green pgshift is to create has no endpoint yet: its records follow its creation.
  if (targets.has('green')) await ensureRecords();
  else log.info({ cluster: pair.green.rdsClusterId }, 'green does not exist yet: prepare creates it, then the DNS records');

  const replication = new PostgresReplication({
    pairId: pair.id,
    databases: pair.databases,
    ...(pair.appRoles ? { appRoles: pair.appRoles } : {}),
    publication: pair.replication.publication,
    subscription: pair.replication.subscription,
    targets,
    log,
    clock,
  });
  const signals = createPairSignals({
    pairId: pair.id,
    databases: pair.databases,
    config: pair.signals,
    replication,
    direction: deps.direction,
    exposed: deps.exposed,
    acceptAppMetrics: pair.signals.app.enabled,
    targets,
    log,
    clock,
  });
  const preparation: PairPreparation = {
    createGreen: pair.green.create ? createGreenThenRecords(pair, deps, targets, ensureRecords) : null,
    ...greenPreparation({
      pairId: pair.id,
      databases: pair.databases,
      publication: pair.replication.publication,
      subscription: pair.replication.subscription,
      targets,
      pgshiftLogin: pair.green.login,
      log,
      clock,
    }),
  };
  const cutover = pairCutover({ pairId: pair.id, config: pair.cutover, replication, catalog, clock });
  return { pair, catalog, targets, router, replication, signals, preparation, cutover };
}

/** Stops the pair's samplers and closes its replication connections. */
export async function closePairParts(part: PairParts): Promise<void> {
  await Promise.all([part.signals.stop(), part.replication.close()]);
}

/** Creating green ends with reading its endpoints and pointing the DNS records at both sides. */
function createGreenThenRecords(pair: PairConfig, deps: PairPartsDeps, targets: CatalogTargets, ensureRecords: () => Promise<void>): PreparationStep {
  const create = createGreenStep({
    pairId: pair.id,
    clusterId: pair.green.rdsClusterId!,
    spec: pair.green.create!,
    adminLogin: pair.green.adminLogin,
    client: deps.rds,
    log: deps.log,
    clock: deps.clock,
  });
  return {
    ...create,
    async run(ctx) {
      const result = await create.run(ctx);
      await targets.refresh();
      await ensureRecords();
      return result;
    },
  };
}

/** The pair as its controller runs it: its plan and timings, and its parts adapted to the controller's ports. */
export function controlledPair(part: PairParts, plan: StagePlanEntry[], preflight: PreflightService, hostOverrides: HostOverrides): ControlledPair {
  const { pair } = part;
  return {
    id: pair.id,
    plan,
    bakeSeconds: pair.bakeSeconds,
    autoAdvance: pair.autoAdvance,
    rollbackWindowMs: part.cutover.settings.rollbackWindowMs,
    ttlSeconds: Math.max(pair.dns.reader.ttl, pair.dns.writer.ttl),
    world: pairWorld({
      pair,
      router: part.router,
      catalog: part.catalog,
      hostOverrides,
      replication: part.replication,
      signals: part.signals,
      preflight,
      preparation: part.preparation,
      cutover: part.cutover,
    }),
  };
}
