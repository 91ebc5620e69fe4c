import { GetChangeCommand, ListResourceRecordSetsCommand, type Route53Client, type RRType } from '@aws-sdk/client-route-53';
import type { Clock } from '../clock.js';
import type { AwsConfig } from '../config/schema.js';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { RequestBudget, type BudgetSettings, type BudgetStats } from './budget.js';
import { ChangeTracker, type InsyncPolicy } from './change-tracker.js';
import { callWithRetry, RetryFailure, type RetryPolicy } from './retry.js';
import { isRetryableRoute53Error, isThrottlingError, wrapRoute53Error } from './route53-errors.js';
import { ZoneGate, zoneKey } from './zone-gate.js';
import { ZoneWatcher } from './zone-watcher.js';

/**
 * Everything the routers of one process share on one AWS account's Route 53: the client,
 * the request budget (every call of every router goes through it), one zone watcher per
 * hosted zone (one listing per round serves every pair in the zone), one gate per zone
 * (who submits next) and the GetChange polling. Create ONE per process, give it to every
 * Route53Router, and close it when the service stops (it holds no timer while idle).
 */

export interface Route53AccountOptions {
  /** Create with createRoute53Client (SDK retries off: calls are retried here, each retry through the budget). */
  client: Route53Client;
  clock: Clock;
  log?: Logger;
  budget?: Partial<BudgetSettings>;
  retry?: Partial<RetryPolicy>;
  insync?: Partial<InsyncPolicy>;
  /** The age of weights the controller is meant to accept (observe({ maxAgeMs: account.observeMs })). */
  observeMs?: number;
  /** Shortest time between the starts of two listings of one zone. */
  minListIntervalMs?: number;
  /** ListResourceRecordSets page size of the zone watchers (at most 300). */
  listPageSize?: number;
  /** Jitter source for backoff. */
  random?: () => number;
}

export interface CallOptions {
  /** Takes the budget's next token ahead of normal calls. */
  urgent?: boolean;
  signal?: AbortSignal;
}

export interface AccountStats {
  budget: BudgetStats;
  zones: { zoneId: string; names: number; rounds: number }[];
}

export class Route53Account {
  readonly client: Route53Client;
  readonly clock: Clock;
  readonly log: Logger;
  readonly budget: RequestBudget;
  readonly changes: ChangeTracker;
  readonly retry: RetryPolicy;
  readonly observeMs: number;
  readonly random: () => number;
  private readonly minListIntervalMs: number;
  private readonly pageSize: number;
  private readonly watchers = new Map<string, ZoneWatcher>();
  private readonly gates = new Map<string, ZoneGate>();
  private closed = false;

  constructor(options: Route53AccountOptions) {
    this.client = options.client;
    this.clock = options.clock;
    this.log = (options.log ?? silentLogger()).child({ component: 'route53' });
    this.random = options.random ?? Math.random;
    this.retry = {
      maxAttempts: D.ROUTE53_MAX_ATTEMPTS,
      baseDelayMs: D.ROUTE53_RETRY_BASE_MS,
      maxDelayMs: D.ROUTE53_RETRY_MAX_DELAY_MS,
      ...options.retry,
    };
    this.budget = new RequestBudget(
      { requestsPerSecond: D.ROUTE53_REQUESTS_PER_SECOND, burst: D.ROUTE53_BURST, ...options.budget },
      this.clock,
    );
    const insync: InsyncPolicy = {
      timeoutMs: D.ROUTE53_INSYNC_TIMEOUT_MS,
      pollMs: D.ROUTE53_INSYNC_POLL_MS,
      pollFactor: D.ROUTE53_INSYNC_POLL_FACTOR,
      pollMaxMs: D.ROUTE53_INSYNC_POLL_MAX_MS,
      ...options.insync,
    };
    this.changes = new ChangeTracker({
      clock: this.clock,
      policy: insync,
      poll: async (changeId, urgent, signal) => {
        const { value } = await this.call(`GetChange ${changeId}`, null, (s) => this.client.send(new GetChangeCommand({ Id: changeId }), { abortSignal: s }), {
          urgent,
          signal,
        });
        return value.ChangeInfo?.Status === 'INSYNC';
      },
    });
    this.observeMs = options.observeMs ?? D.ROUTE53_OBSERVE_MS;
    this.minListIntervalMs = options.minListIntervalMs ?? D.ROUTE53_MIN_LIST_INTERVAL_MS;
    this.pageSize = Math.min(options.listPageSize ?? D.ROUTE53_WATCH_PAGE_SIZE, D.ROUTE53_WATCH_PAGE_SIZE);
  }

  /** The account for the service's config: its budget, retry and observation settings. */
  static fromConfig(aws: AwsConfig, deps: { client: Route53Client; clock: Clock; log?: Logger }): Route53Account {
    return new Route53Account({ ...accountOptionsOf(aws), ...deps });
  }

  /** The zone's shared watcher (created on first use). */
  watcher(zoneId: string): ZoneWatcher {
    const key = zoneKey(zoneId);
    let watcher = this.watchers.get(key);
    if (!watcher) {
      watcher = new ZoneWatcher({
        zoneId: key,
        clock: this.clock,
        pageSize: this.pageSize,
        minIntervalMs: this.minListIntervalMs,
        listPage: async (start, pageSize, signal) => {
          const command = new ListResourceRecordSetsCommand({
            HostedZoneId: key,
            StartRecordName: start.name,
            ...(start.type ? { StartRecordType: start.type as RRType } : {}),
            ...(start.identifier ? { StartRecordIdentifier: start.identifier } : {}),
            MaxItems: pageSize,
          });
          const { value } = await this.call(`ListResourceRecordSets from ${start.name}`, key, (s) => this.client.send(command, { abortSignal: s }), { signal });
          return value;
        },
      });
      if (this.closed) watcher.close();
      this.watchers.set(key, watcher);
    }
    return watcher;
  }

  /** The zone's submission gate (created on first use); see zone-gate.ts for what it serialises. */
  gate(zoneId: string): ZoneGate {
    const key = zoneKey(zoneId);
    let gate = this.gates.get(key);
    if (!gate) {
      gate = new ZoneGate(key, (changeId, submittedAt) => this.changes.waitInsync(changeId, { submittedAt }));
      this.gates.set(key, gate);
    }
    return gate;
  }

  /**
   * Waits for one budget token (the caller then makes ONE request). Rejects with the
   * signal's reason or PGSHIFT_ERR_ROUTE53_CLOSED; a rejected wait spends no token.
   */
  takeToken(options: { urgent?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    return this.budget.take({ ...(options.urgent ? { urgent: true } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  }

  /**
   * Sends one request whose token the caller holds. A Throttling answer empties the
   * budget (the account's bucket is empty, whoever emptied it). Throws the SDK error as it
   * came: the caller decides about retrying.
   */
  async sendWithToken<T>(send: (signal: AbortSignal | undefined) => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await send(signal);
    } catch (err) {
      if (isThrottlingError(err) && (err as { name?: string }).name !== 'PriorRequestNotComplete') this.budget.noteThrottled();
      throw err;
    }
  }

  /**
   * A Route 53 call with retries: every attempt through the budget, Throttling /
   * PriorRequestNotComplete / 5xx retried with full-jitter backoff. Throws a coded
   * PGSHIFT_ERR_ROUTE53_* error (SDK error as cause) when it fails for good, the signal's
   * reason when it aborts, PGSHIFT_ERR_ROUTE53_CLOSED after close.
   */
  async call<T>(what: string, zoneId: string | null, send: (signal: AbortSignal | undefined) => Promise<T>, options: CallOptions = {}): Promise<{ value: T; attempts: number }> {
    const { signal } = options;
    try {
      return await callWithRetry(
        async () => {
          await this.takeToken(options);
          return this.sendWithToken(send, signal);
        },
        {
          policy: this.retry,
          clock: this.clock,
          random: this.random,
          isRetryable: (err) => !isClosed(err) && isRetryableRoute53Error(err),
          ...(signal ? { signal } : {}),
          onRetry: (err, attempt, delayMs) =>
            this.log.warn({ what, attempt, delayMs, awsCode: (err as { name?: string }).name }, 'Route 53 call failed; retrying'),
        },
      );
    } catch (err) {
      if (!(err instanceof RetryFailure)) throw err;
      if (isClosed(err.cause)) throw err.cause;
      throw wrapRoute53Error(err.cause, zoneId ? `${what} on zone ${zoneId}` : what, err.attempts, zoneId ? { zoneId } : {});
    }
  }

  stats(): AccountStats {
    return {
      budget: this.budget.stats(),
      zones: [...this.watchers.values()].map((w) => ({ zoneId: w.zoneId, ...w.stats })),
    };
  }

  /**
   * Stops everything: waiting calls, reads and INSYNC waits reject with
   * PGSHIFT_ERR_ROUTE53_CLOSED; no timer is left. Does not destroy the client (its
   * creator does). Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.budget.close();
    this.changes.close();
    for (const watcher of this.watchers.values()) watcher.close();
    for (const gate of this.gates.values()) gate.rejectAll(new PgshiftError('PGSHIFT_ERR_ROUTE53_CLOSED', 'the Route 53 account is closed (the service is stopping)', { status: 503 }));
  }
}

export function isClosed(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'PGSHIFT_ERR_ROUTE53_CLOSED';
}

/** The account settings the config gives (aws.maxAttempts and aws.route53), defaults filled in. Pure. */
export function accountOptionsOf(aws: AwsConfig): Pick<Route53AccountOptions, 'retry' | 'budget' | 'observeMs' | 'minListIntervalMs'> {
  const r53 = aws.route53;
  return {
    retry: { maxAttempts: aws.maxAttempts },
    budget: {
      requestsPerSecond: r53?.requestsPerSecond ?? D.ROUTE53_REQUESTS_PER_SECOND,
      burst: r53?.burst ?? D.ROUTE53_BURST,
    },
    observeMs: r53?.observeMs ?? D.ROUTE53_OBSERVE_MS,
    minListIntervalMs: r53?.minListIntervalMs ?? D.ROUTE53_MIN_LIST_INTERVAL_MS,
  };
}
