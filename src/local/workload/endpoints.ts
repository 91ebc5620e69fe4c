import pg from 'pg';
import type { Clock } from '../../clock.js';
import type { Login } from '../../config/schema.js';
import { PgshiftError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Side } from '../../shift/model.js';
import { WeightedResolver, type RecordSource } from '../resolver.js';
import * as W from './defaults.js';

export type NameKind = 'reader' | 'writer';

/** Where the application's names point and how it logs in: the lab's, or anyone's. */
export interface WorkloadTopology {
  names: Record<NameKind, string>;
  /** The records the app's DNS answers come from (never the Route 53 API). */
  records: RecordSource;
  /** Host and port of a resolved value (a cluster endpoint name); null when unknown. */
  address(endpoint: string): { host: string; port: number } | null;
  /** Which side a server is, from the port it says it listens on (inet_server_port()); null when neither. */
  sideOfServer(port: number): Side | null;
  /** The side an endpoint name is meant to reach, for errors where no server answered. */
  sideOfEndpoint(endpoint: string): Side | null;
  database: string;
  login: Login;
}

export interface PoolOptions {
  max: number;
  maxAgeSeconds: number;
  statementTimeoutMs: number;
}

export interface Route {
  endpoint: string;
  pool: pg.Pool;
  /** The side the endpoint is meant to reach (the server's own answer is what counts). */
  expectedSide: Side | null;
}

/**
 * DNS and connection pools the way a fleet of Node services on Aurora has them: each
 * simulated instance keeps its own TTL-honouring resolver cache, and the fleet keeps
 * one node-postgres pool per resolved endpoint. A request resolves its name (cached
 * until the TTL runs out), then takes a connection from that endpoint's pool; a pool
 * replaces connections after an error and at a maximum age, and an endpoint no name
 * answers any more sees its idle connections close.
 */
export class EndpointRouter {
  private readonly resolvers: WeightedResolver[];
  private readonly pools = new Map<string, pg.Pool>();
  private closed = false;
  /** Idle pooled connections that ended under the pool (pgshift's drain, a server stopping). */
  idleConnectionsLost = 0;

  constructor(
    private readonly topology: WorkloadTopology,
    clients: number,
    private readonly poolOptions: PoolOptions,
    clock: Clock,
    private readonly log: Logger,
    random: () => number = Math.random,
  ) {
    this.resolvers = Array.from({ length: clients }, () => new WeightedResolver({ source: topology.records, clock, random }));
  }

  get clients(): number {
    return this.resolvers.length;
  }

  /** The pool for `kind` as instance `client` resolves it now. Throws when the name has no records or an unknown value. */
  async route(kind: NameKind, client: number): Promise<Route> {
    const resolver = this.resolvers[client % this.resolvers.length]!;
    const answer = await resolver.resolve(this.topology.names[kind]);
    return { endpoint: answer.value, pool: this.pool(answer.value), expectedSide: this.topology.sideOfEndpoint(answer.value) };
  }

  /** Connections per endpoint: total, idle, waiting. */
  poolStats(): Record<string, { total: number; idle: number; waiting: number }> {
    const out: Record<string, { total: number; idle: number; waiting: number }> = {};
    for (const [endpoint, pool] of this.pools) out[endpoint] = { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  }

  private pool(endpoint: string): pg.Pool {
    const known = this.pools.get(endpoint);
    if (known) return known;
    if (this.closed) throw new PgshiftError('PGSHIFT_ERR_WORKLOAD_STOPPED', 'the demo application has stopped');
    const address = this.topology.address(endpoint);
    if (!address) {
      throw new PgshiftError('PGSHIFT_ERR_WORKLOAD_UNKNOWN_ENDPOINT', `the name answered ${endpoint}, which the application cannot reach`, {
        status: 502,
      });
    }
    // Not postgres/connect.ts's clientConfig: pgshift's own sessions switch off the
    // read-only default, and an application must not, so that a write reaching a side
    // that does not take writes fails as it would in production.
    const config: pg.PoolConfig = {
      host: address.host,
      port: address.port,
      database: this.topology.database,
      user: this.topology.login.user,
      application_name: W.WORKLOAD_APPLICATION_NAME,
      connectionTimeoutMillis: W.WORKLOAD_CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: W.WORKLOAD_POOL_IDLE_MS,
      max: this.poolOptions.max,
      maxLifetimeSeconds: this.poolOptions.maxAgeSeconds,
      statement_timeout: this.poolOptions.statementTimeoutMs,
    };
    Object.defineProperty(config, 'password', { value: this.topology.login.password, enumerable: false });
    const pool = new pg.Pool(config);
    // An idle connection that pgshift's drain ends (or a server that goes away) errors in
    // the background; the pool drops it and the next request opens a new one.
    pool.on('error', (err) => {
      this.idleConnectionsLost += 1;
      this.log.debug({ endpoint, err: err.message }, 'idle application connection closed');
    });
    // A terminated session can emit 'error' twice (the server's FATAL, then the socket
    // closing): the pool's own listener goes after the first, and a second unheard one
    // ended the whole application during a freeze. Every connection keeps a listener.
    pool.on('connect', (client) => client.on('error', () => undefined));
    this.pools.set(endpoint, pool);
    return pool;
  }
}
