import type { PairConfig } from '../config/schema.js';
import type { RdsClusterFacts } from '../clusters/catalog.js';
import type { ConnectTarget } from '../postgres/connect.js';

export type PreflightSide = 'blue' | 'green';

/** `pgshift`: pgshift's own login (catalog reads). `admin`: the master / rds_superuser login. */
export type PreflightLogin = 'pgshift' | 'admin';

/**
 * How preflight reaches each side of a pair. The service wires it from the cluster
 * catalog (RDS endpoints, host overrides); tests wire it from the lab.
 */
export interface PreflightTargets {
  /**
   * Where to connect for `database` on `side` as `login`. Pure: it opens nothing and
   * may be called often. Throws a PgshiftError when the side's address is not known
   * (e.g. an RDS cluster not described yet); preflight reports that as a finding.
   */
  target(side: PreflightSide, database: string, login: PreflightLogin): ConnectTarget;
  /** What RDS knows of the sides it describes (the checks of scope `aws`); absent: neither side is an RDS cluster. */
  aws?: PreflightAws;
}

export interface PreflightAws {
  /** The sides configured as RDS clusters (`rdsClusterId`). */
  readonly sides: readonly PreflightSide[];
  facts(side: PreflightSide): Promise<RdsClusterFacts>;
}

/**
 * The part of a pair's configuration that preflight reads: which databases, which
 * application roles pgshift will freeze, the names of its publication and subscription,
 * and the majors the operator expects.
 */
export interface PreflightPair {
  id: string;
  databases: readonly string[];
  /** Roles the applications log in as; pgshift freezes them at cutover. */
  appRoles?: readonly string[];
  publication: string;
  subscription: string;
  expectedMajor?: { blue?: number; green?: number };
  /** How long the trial restore of blue's schema on green may take; default D.DEFAULT_TRIAL_RESTORE_SECONDS. */
  trialRestoreSeconds?: number;
  /** The DDL fence mode (config `ddl`); absent: watch. */
  ddl?: 'watch' | 'block';
}

export function preflightPairFromConfig(pair: PairConfig): PreflightPair {
  return {
    id: pair.id,
    databases: pair.databases,
    ...(pair.appRoles ? { appRoles: pair.appRoles } : {}),
    publication: pair.replication.publication,
    subscription: pair.replication.subscription,
    expectedMajor: { blue: pair.blue.expectedMajor, green: pair.green.expectedMajor },
    trialRestoreSeconds: pair.preflight.trialRestoreSeconds,
    ddl: pair.ddl,
  };
}
