import type { PairConfig } from '../config/schema.js';
import { PgshiftError } from '../errors.js';
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
}

export function preflightPairFromConfig(pair: PairConfig): PreflightPair {
  return {
    id: pair.id,
    databases: pair.databases,
    ...(pair.appRoles ? { appRoles: pair.appRoles } : {}),
    publication: pair.replication.publication,
    subscription: pair.replication.subscription,
    expectedMajor: { blue: pair.blue.expectedMajor, green: pair.green.expectedMajor },
  };
}

/**
 * Targets for clusters given as host and port in the configuration (no RDS lookup).
 * Logins are referenced, not copied, so their non-enumerable passwords stay readable.
 */
export function configuredPreflightTargets(pair: PairConfig): PreflightTargets {
  return {
    target(side, database, login) {
      const cluster = pair[side];
      if (cluster.host === undefined || cluster.port === undefined) {
        throw new PgshiftError(
          'PGSHIFT_ERR_PREFLIGHT_NO_ADDRESS',
          `pair ${pair.id}: ${side} has no host and port in the configuration (an RDS cluster needs the cluster catalog)`,
          { status: 500 },
        );
      }
      return {
        endpoint: { host: cluster.host, port: cluster.port },
        database,
        login: login === 'admin' ? cluster.adminLogin : cluster.login,
        ssl: cluster.ssl,
      };
    },
  };
}
