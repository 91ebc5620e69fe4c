import type { RDSClient } from '@aws-sdk/client-rds';
import type { Config, PairConfig } from '../config/schema.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { PgshiftError } from '../errors.js';
import type { ClusterCatalog } from './catalog.js';
import { PgClusters } from './pg-clusters.js';
import { createRdsClient } from './rds-client.js';
import { RdsClusters } from './rds-clusters.js';
import { type Side } from '../shift/model.js';

export interface ClusterCatalogDeps {
  /** Shared by every pair; created from config.aws when a pair needs RDS and none is given. */
  rds?: RDSClient;
  clock?: Clock;
  log?: Logger;
  /** Snapshot polling pace for RDS (tests and the lab poll faster). */
  pollMinMs?: number;
  pollMaxMs?: number;
}

/**
 * The catalog of one pair: RdsClusters for a side configured with `rdsClusterId`,
 * PgClusters for a side configured with `host`. Both sides on the same technology get
 * one catalog; mixed pairs get each side answered by its own.
 */
export function createClusterCatalog(pair: PairConfig, config: Pick<Config, 'aws' | 'hostOverrides'>, deps: ClusterCatalogDeps = {}): ClusterCatalog {
  const log = deps.log?.child({ pair: pair.id, component: 'clusters' });
  const common = { ...(deps.clock ? { clock: deps.clock } : {}), ...(log ? { log } : {}) };
  const rdsIds: Partial<Record<Side, string>> = {};
  for (const side of ['blue', 'green'] as const) {
    const id = pair[side].rdsClusterId;
    if (id !== undefined) rdsIds[side] = id;
  }
  const plain = new PgClusters({ pair, hostOverrides: config.hostOverrides, ...common });
  if (Object.keys(rdsIds).length === 0) return plain;
  const rds = new RdsClusters({
    client: deps.rds ?? createRdsClient(config.aws),
    clusterIds: rdsIds,
    ...common,
    ...(deps.pollMinMs === undefined ? {} : { pollMinMs: deps.pollMinMs }),
    ...(deps.pollMaxMs === undefined ? {} : { pollMaxMs: deps.pollMaxMs }),
  });
  if (Object.keys(rdsIds).length === 2) return rds;
  return routeBySide({ blue: rdsIds.blue ? rds : plain, green: rdsIds.green ? rds : plain });
}

/** One catalog whose calls go to the catalog answering for the side asked about. */
export function routeBySide(catalogs: Record<Side, ClusterCatalog>): ClusterCatalog {
  return {
    describe: (side) => catalogs[side].describe(side),
    snapshot: (side, options) => catalogs[side].snapshot(side, options),
    lastSnapshot: (side) => catalogs[side].lastSnapshot(side),
    rdsSides: (['blue', 'green'] as const).filter((side) => catalogs[side].rdsSides?.includes(side)),
    rdsFacts: (side) => {
      const catalog = catalogs[side];
      if (!catalog.rdsFacts) throw new PgshiftError('PGSHIFT_ERR_CLUSTER_NOT_CONFIGURED', `the ${side} cluster is not an RDS cluster`, { status: 500 });
      return catalog.rdsFacts(side);
    },
  };
}
