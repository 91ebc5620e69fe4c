import { EventEmitter } from 'node:events';
import pg from 'pg';
import * as D from '../defaults.js';
import type { Logger } from '../log.js';
import type { LeaderLease } from '../shift/store.js';

/** Lock key shared by every pgshift process on one state database. */
export const LEADER_LOCK_KEY = 0x7067_7366; // "pgsf"

export interface PgLeaderLeaseOptions {
  connectionString: string;
  log: Logger;
  /** How long a confirmation may take before the lease counts as lost. */
  confirmTimeoutMs: number;
}

export class PgLeaderLease extends EventEmitter implements LeaderLease {
  private client: pg.Client | null = null;
  private holding = false;
  private answered = true;

  constructor(private readonly options: PgLeaderLeaseOptions) {
    super();
  }

  get held(): boolean {
    return this.holding;
  }

  get reachable(): boolean {
    return this.answered;
  }

  async tryAcquire(): Promise<boolean> {
    if (this.holding) return this.confirm();
    try {
      const client = await this.connect();
      // A session killed a moment ago may take the query and never answer it: bounded, as confirm() is.
      const { rows } = await withTimeout(client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [LEADER_LOCK_KEY]), this.options.confirmTimeoutMs);
      this.holding = rows[0]?.locked === true;
      this.answered = true;
      return this.holding;
    } catch (err) {
      this.answered = false;
      this.drop(`cannot reach the state database: ${(err as Error).message}`);
      return false;
    }
  }

  async confirm(): Promise<boolean> {
    if (!this.holding || !this.client) return false;
    const client = this.client;
    try {
      await withTimeout(client.query('SELECT 1'), this.options.confirmTimeoutMs);
      this.answered = true;
      return this.holding;
    } catch (err) {
      this.answered = false;
      this.drop(`lease session failed: ${(err as Error).message}`);
      return false;
    }
  }

  /**
   * Lets go of the lock and tells the standbys at once (NOTIFY), so that one takes over
   * within a moment instead of at its next tick, and well before the session's end
   * would have told PostgreSQL.
   */
  async release(): Promise<void> {
    const client = this.client;
    const wasHolding = this.holding;
    this.client = null;
    this.holding = false;
    if (!client) return;
    try {
      await withTimeout(client.query('SELECT pg_advisory_unlock_all()'), this.options.confirmTimeoutMs);
      if (wasHolding) await withTimeout(client.query(`NOTIFY ${D.LEASE_RELEASED_CHANNEL}`), this.options.confirmTimeoutMs);
    } catch (err) {
      // Ending the session below ends the lock all the same; the standby then sees it at its next tick.
      this.options.log.warn({ err: (err as Error).message }, 'cannot release the leader lease explicitly');
    }
    await client.end().catch(() => {});
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      application_name: 'pgshift-lease',
      keepAlive: true,
      keepAliveInitialDelayMillis: 1_000,
      connectionTimeoutMillis: this.options.confirmTimeoutMs,
    });
    // The lease session dying is the lease ending: stop acting, never crash.
    client.on('error', (err) => this.lose(`lease session error: ${err.message}`));
    client.on('end', () => this.lose('lease session ended'));
    client.on('notification', (message) => {
      if (message.channel === D.LEASE_RELEASED_CHANNEL && !this.holding) this.emit('released');
    });
    this.client = client;
    try {
      await client.connect();
      // Waiting on this session costs nothing, and a released lease is seen the moment it is let go.
      await withTimeout(client.query(`LISTEN ${D.LEASE_RELEASED_CHANNEL}`), this.options.confirmTimeoutMs);
    } catch (err) {
      this.client = null;
      client.end().catch(() => {});
      throw err;
    }
    return client;
  }

  /** The session died under us: until the database answers again, nobody can say who leads. */
  private lose(reason: string): void {
    if (this.client) this.answered = false;
    this.drop(reason);
  }

  private drop(reason: string): void {
    const wasHolding = this.holding;
    this.holding = false;
    const client = this.client;
    this.client = null;
    client?.end().catch(() => {});
    if (wasHolding) {
      this.options.log.warn({ reason }, 'leader lease lost');
      this.emit('lost', reason);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
