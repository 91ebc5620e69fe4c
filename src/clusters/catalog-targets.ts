import type { PairConfig } from '../config/schema.js';
import { isPgshiftError, PgshiftError } from '../errors.js';
import type { ConnectTarget, Endpoint } from '../postgres/connect.js';
import type { PreflightAws, PreflightTargets } from '../preflight/targets.js';
import type { ReplicationTargets } from '../replication/targets.js';
import type { RecordTargets } from '../traffic/router.js';
import { type ClusterCatalog, type ClusterInfo } from './catalog.js';
import { buildConnectTarget, type HostOverrides } from './dial.js';
import { SIDES, type Side } from '../shift/model.js';

/**
 * Where a pair's clusters answer, as the cluster catalog last described them: the
 * connection targets replication, signals and preflight dial (through hostOverrides),
 * and the endpoint names the DNS records point at (never overridden: clients resolve
 * them in their own network). Targets are synchronous, so the endpoints are read once
 * with refresh() before anything dials; Aurora's cluster endpoints do not move.
 */
export class CatalogTargets implements ReplicationTargets, PreflightTargets {
  private readonly known = new Map<Side, ClusterInfo>();
  readonly aws?: PreflightAws;

  constructor(
    private readonly catalog: ClusterCatalog,
    private readonly pair: PairConfig,
    private readonly hostOverrides: HostOverrides,
  ) {
    const sides = catalog.rdsSides ?? [];
    const facts = catalog.rdsFacts?.bind(catalog);
    if (sides.length > 0 && facts) this.aws = { sides, facts };
  }

  /**
   * Describes both sides. Throws the catalog's coded error (cluster not found, RDS
   * unreachable), except for a green that pgshift is to create (`green.create`) and
   * that does not exist yet: it stays unknown until a later refresh finds it.
   */
  async refresh(): Promise<void> {
    const infos = await Promise.all(
      SIDES.map((side) =>
        this.catalog.describe(side).catch((err: unknown) => {
          if (side === 'green' && this.pair.green.create && isPgshiftError(err, 'PGSHIFT_ERR_CLUSTER_NOT_FOUND')) return null;
          throw err;
        }),
      ),
    );
    for (const info of infos) if (info) this.known.set(info.side, info);
  }

  /** Whether `side` was found by the last refresh (green may not exist yet when pgshift is to create it). */
  has(side: Side): boolean {
    return this.known.has(side);
  }

  target(side: Side, database: string, login: 'pgshift' | 'admin'): ConnectTarget {
    return this.dial(side, this.info(side).writer, database, login);
  }

  reader(side: Side, database: string): ConnectTarget {
    return this.dial(side, this.info(side).reader, database, 'pgshift');
  }

  /**
   * The publisher as the subscriber dials it: the endpoint RDS reports (or the
   * cluster's `subscriptionHost`), because the subscriber resolves names in its own
   * network, where pgshift's hostOverrides (a tunnel, a bastion) mean nothing.
   */
  subscriptionSource(publisher: Side, _subscriber: Side, database: string): ConnectTarget {
    const cluster = this.pair[publisher];
    const writer = this.info(publisher).writer;
    return {
      endpoint: cluster.subscriptionHost ? { host: cluster.subscriptionHost, port: writer.port } : writer,
      database,
      login: cluster.adminLogin,
      ...(cluster.ssl === undefined ? {} : { ssl: cluster.ssl }),
    };
  }

  /** The CNAME values of the pair's records: each side's writer and reader endpoint names. */
  recordTargets(): RecordTargets {
    const host = (side: Side, kind: 'writer' | 'reader') => this.info(side)[kind].host;
    return {
      reader: { blue: host('blue', 'reader'), green: host('green', 'reader') },
      writer: { blue: host('blue', 'writer'), green: host('green', 'writer') },
    };
  }

  private dial(side: Side, endpoint: Endpoint, database: string, login: 'pgshift' | 'admin'): ConnectTarget {
    const cluster = this.pair[side];
    return buildConnectTarget(endpoint, {
      login: login === 'admin' ? cluster.adminLogin : cluster.login,
      database,
      ...(cluster.ssl === undefined ? {} : { ssl: cluster.ssl }),
      hostOverrides: this.hostOverrides,
    });
  }

  private info(side: Side): ClusterInfo {
    const info = this.known.get(side);
    if (!info) {
      throw new PgshiftError('PGSHIFT_ERR_CLUSTER_NOT_DESCRIBED', `pair ${this.pair.id}: the ${side} cluster has not been described yet`, {
        status: 503,
      });
    }
    return info;
  }
}
