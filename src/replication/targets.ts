import type { Login, SslMode } from '../config/schema.js';
import type { ConnectTarget, Endpoint } from '../postgres/connect.js';
import { type Side } from '../shift/model.js';

/** `pgshift`: the pair's routine login. `admin`: the pair's adminLogin (master user). */
export type ReplicationLogin = 'pgshift' | 'admin';

/**
 * How pgshift reaches the sides of a pair. The service wires it from the cluster
 * catalog (RDS endpoints, host overrides); tests and the lab from fixed endpoints.
 * Every method is pure (opens nothing) and may throw a PgshiftError when an address
 * is not known yet.
 */
export interface ReplicationTargets {
  /** The writer of `side`, database `database`, as `login`. */
  target(side: Side, database: string, login: ReplicationLogin): ConnectTarget;
  /** The reader endpoint of `side` as pgshift's login; the writer's when the side has no reader of its own. */
  reader(side: Side, database: string): ConnectTarget;
  /**
   * How `subscriber` reaches `publisher` for CREATE SUBSCRIPTION: the address as seen
   * from the subscriber's network, and a login with REPLICATION and SELECT on the
   * tables (the initial copy reads them), i.e. the admin login in PostgreSQL 13/14.
   */
  subscriptionSource(publisher: Side, subscriber: Side, database: string): ConnectTarget;
}

export interface FixedSide {
  writer: Endpoint;
  reader?: Endpoint;
  /** The address the other side's subscription dials; default `writer`. */
  writerForPeer?: Endpoint;
  login: Login;
  adminLogin: Login;
  ssl?: SslMode;
}

/**
 * Targets from addresses known up front. Logins are referenced, never copied, so
 * their non-enumerable passwords stay readable.
 */
export function fixedReplicationTargets(sides: Record<Side, FixedSide>): ReplicationTargets {
  const make = (side: Side, endpoint: Endpoint, database: string, login: Login): ConnectTarget => {
    const s = sides[side];
    return { endpoint, database, login, ...(s.ssl ? { ssl: s.ssl } : {}) };
  };
  return {
    target: (side, database, login) =>
      make(side, sides[side].writer, database, login === 'admin' ? sides[side].adminLogin : sides[side].login),
    reader: (side, database) => make(side, sides[side].reader ?? sides[side].writer, database, sides[side].login),
    subscriptionSource: (publisher, _subscriber, database) =>
      make(publisher, sides[publisher].writerForPeer ?? sides[publisher].writer, database, sides[publisher].adminLogin),
  };
}
