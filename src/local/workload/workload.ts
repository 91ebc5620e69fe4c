import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { systemClock, type Clock } from '../../clock.js';
import * as D from '../../defaults.js';
import { describeError, PgshiftError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { AppMetricsPush } from '../../signals/app-metrics.js';
import type { WorkloadSettings } from './config.js';
import * as W from './defaults.js';
import { EndpointRouter, type NameKind, type Route, type WorkloadTopology } from './endpoints.js';
import { classifyError, type ErrorKind } from './errors.js';
import type { Ledger, WriteKind } from './ledger.js';
import {
  advanceOrder,
  draftOrder,
  findWrite,
  issueInvoice,
  placeOrder,
  readBestSellers,
  readCustomerHistory,
  readProductList,
  type ReadKind,
  type WriteResult,
} from './operations.js';
import { WorkloadStats, type RequestClass, type StatsSnapshot, type Where } from './stats.js';

/** Where the application pushes its counts: pgshift's `POST /api/v1/pairs/:pair/signals`. */
export interface PushTarget {
  url: string;
  pair: string;
  /** An operator token (a push can trigger an auto-revert). Never logged. */
  token: string;
}

export interface WorkloadOptions {
  topology: WorkloadTopology;
  settings: WorkloadSettings;
  ledger: Ledger;
  log: Logger;
  pushTo?: PushTarget | null;
  clock?: Clock;
  random?: () => number;
  /** Told of each write that failed after its retries, with the last error (a rehearsal reports the first). */
  onWriteFailed?(kind: WriteKind, err: unknown): void;
}

export interface WorkloadSnapshot extends StatsSnapshot {
  running: boolean;
  settings: { rate: number; readShare: number; clients: number; maxInFlight: number };
  names: Record<NameKind, string>;
  inFlight: number;
  ledger: { file: string | null; acknowledged: number; inDoubt: number; failed: number; recoveredAfterLostCommit: number };
  pushes: { target: string | null; sent: number; failed: number; lastError: string | null };
  pools: Record<string, { total: number; idle: number; waiting: number }>;
  /** Idle pooled connections that ended under the pools (not requests: no request failed by it). */
  idleConnectionsLost: number;
}

const READS: { kind: ReadKind; share: number }[] = [
  { kind: 'customer_history', share: 0.6 },
  { kind: 'product_list', share: 0.3 },
  { kind: 'best_sellers', share: 0.1 },
];
const COLORS = ['red', 'green', 'blue'];

/** Marks a write that found nothing to change (the order was not in the expected status). */
class NotApplied extends PgshiftError {
  constructor(kind: WriteKind, orderId: number) {
    super('PGSHIFT_ERR_WORKLOAD_NOT_APPLIED', `${kind} changed no row: order ${orderId} is not in the expected status`);
  }
}

/**
 * The lab's demo shop: an open-loop load of reads and writes at a set rate, through the
 * weighted names, with a ledger of every write, its own numbers (GET / on a loopback
 * port) and pushes of its counts to pgshift's application error signal.
 */
export class DemoWorkload {
  readonly stats: WorkloadStats;
  readonly ledger: Ledger;
  /** The app's own numbers, `GET` this URL; null until started. */
  url: string | null = null;

  private readonly router: EndpointRouter;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly settings: WorkloadSettings;
  private readonly topology: WorkloadTopology;
  private readonly pushTo: PushTarget | null;
  private readonly onWriteFailed: (kind: WriteKind, err: unknown) => void;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly queues: Record<'pay' | 'ship' | 'invoice', number[]> = { pay: [], ship: [], invoice: [] };
  private pending: Record<Where, { requests: number; errors: number }> = DemoWorkload.noCounts();
  private pushes = { sent: 0, failed: 0, lastError: null as string | null };
  private recovered = 0;
  private rateSince = 0;
  private issued = { read: 0, write: 0 };
  private timers: NodeJS.Timeout[] = [];
  private server: Server | null = null;
  private running = false;
  private pushing: Promise<void> = Promise.resolve();

  constructor(options: WorkloadOptions) {
    this.settings = { ...options.settings };
    this.topology = options.topology;
    this.ledger = options.ledger;
    this.log = options.log.child({ component: 'workload' });
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.pushTo = options.pushTo ?? null;
    this.onWriteFailed = options.onWriteFailed ?? (() => undefined);
    this.stats = new WorkloadStats(W.WORKLOAD_WINDOW_SECONDS, () => this.clock.now());
    this.router = new EndpointRouter(
      options.topology,
      this.settings.clients,
      { max: this.settings.poolMax, maxAgeSeconds: this.settings.poolMaxAgeSeconds, statementTimeoutMs: this.settings.statementTimeoutMs },
      this.clock,
      this.log,
      this.random,
    );
  }

  /** Starts the load, the pushes and the stats endpoint. */
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.method !== 'GET' || !(req.url === '/' || req.url === '/stats')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'PGSHIFT_ERR_NOT_FOUND', message: 'GET / only' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.snapshot()));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen({ host: '127.0.0.1', port: this.settings.statsPort }, () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
    this.running = true;
    this.setRate(this.settings.rate, this.settings.readShare);
    this.timers.push(setInterval(() => this.tick(), W.WORKLOAD_TICK_MS));
    this.timers.push(setInterval(() => this.stats.roll(), 1_000));
    if (this.pushTo) this.timers.push(setInterval(() => void this.push(), this.settings.pushIntervalMs));
    for (const t of this.timers) t.unref();
    this.log.info(
      { rate: this.settings.rate, readShare: this.settings.readShare, clients: this.settings.clients, stats: this.url, ledger: this.ledger.file },
      'demo application running',
    );
  }

  /** Changes the write rate (and read share) from now on. */
  setRate(rate: number, readShare = this.settings.readShare): void {
    this.settings.rate = rate;
    this.settings.readShare = readShare;
    this.rateSince = this.clock.now();
    this.issued = { read: 0, write: 0 };
  }

  snapshot(): WorkloadSnapshot {
    return {
      running: this.running,
      settings: { rate: this.settings.rate, readShare: this.settings.readShare, clients: this.settings.clients, maxInFlight: this.settings.maxInFlight },
      names: this.topology.names,
      inFlight: this.inFlight.size,
      ...this.stats.snapshot(),
      ledger: {
        file: this.ledger.file,
        acknowledged: this.ledger.acknowledged.size,
        inDoubt: this.ledger.inDoubt.size,
        failed: this.ledger.failed.size,
        recoveredAfterLostCommit: this.recovered,
      },
      pushes: { target: this.pushTo ? `${this.pushTo.url}/api/v1/pairs/${this.pushTo.pair}/signals` : null, ...this.pushes },
      pools: this.router.poolStats(),
      idleConnectionsLost: this.router.idleConnectionsLost,
    };
  }

  /** Stops starting requests, lets those in flight finish (no more retries), pushes the last counts, closes everything. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.allSettled([...this.inFlight]);
    this.stats.roll();
    if (this.pushTo) await this.push();
    await this.pushing;
    await this.router.close();
    await this.ledger.close();
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A reader's keep-alive connection would hold close() open.
      server.closeAllConnections();
      await closed;
    }
    this.log.info({ totals: this.stats.snapshot().totals }, 'demo application stopped');
  }

  private tick(): void {
    if (!this.running) return;
    // Writes at exactly `rate` per second and reads at the rate that makes them
    // `readShare` of all requests, interleaved as they fall due.
    const elapsed = (this.clock.now() - this.rateSince) / 1000;
    const { rate, readShare } = this.settings;
    const due = { write: Math.floor(elapsed * rate), read: Math.floor((elapsed * rate * readShare) / (1 - readShare)) };
    for (;;) {
      const cls: RequestClass | null =
        due.write > this.issued.write && (due.read <= this.issued.read || this.issued.write / Math.max(1, due.write) <= this.issued.read / Math.max(1, due.read))
          ? 'write'
          : due.read > this.issued.read
            ? 'read'
            : null;
      if (cls === null) return;
      this.issued[cls] += 1;
      if (this.inFlight.size >= this.settings.maxInFlight) {
        // Open loop: a request not started on time is not made up later, as users who
        // gave up do not come back; the count says how far the app fell behind.
        const skipped = due.write - this.issued.write + (due.read - this.issued.read) + 1;
        this.stats.fellBehind(skipped);
        this.issued = { ...due };
        return;
      }
      const request = (cls === 'read' ? this.runRead() : this.runWrite()).catch((err) =>
        this.log.error({ err: describeError(err) }, 'request failed unexpectedly'),
      );
      this.inFlight.add(request);
      void request.finally(() => this.inFlight.delete(request));
    }
  }

  private pickClient(): number {
    return Math.floor(this.random() * this.router.clients);
  }

  private async runRead(): Promise<void> {
    let r = this.random();
    const kind = (READS.find((k) => (r -= k.share) < 0) ?? READS[0]!).kind;
    const client = this.pickClient();
    const started = this.clock.now();
    let expected: Where = 'unknown';
    for (let attempt = 1; ; attempt++) {
      try {
        const route = await this.router.route('reader', client);
        expected = route.expectedSide ?? 'unknown';
        const result = await this.withConnection(route, (c) => {
          if (kind === 'customer_history') return readCustomerHistory(c, 1 + Math.floor(this.random() * D.LAB_SEED_CUSTOMERS));
          if (kind === 'product_list') return readProductList(c, COLORS[Math.floor(this.random() * COLORS.length)]!);
          return readBestSellers(c);
        });
        this.finish('read', kind, this.whereServer(result.port), null, started);
        return;
      } catch (err) {
        if (this.giveUp(err, attempt)) {
          this.finish('read', kind, expected, classifyError(err).kind, started);
          return;
        }
        await this.backoff(attempt);
      }
    }
  }

  private async runWrite(): Promise<void> {
    const { kind, orderId } = this.pickWrite();
    const draft = kind === 'order' ? draftOrder(this.random) : null;
    const id = randomUUID();
    const client = this.pickClient();
    const started = this.clock.now();
    this.ledger.attempt(id, kind, orderId);
    let expected: Where = 'unknown';
    let inDoubt = false;
    for (let attempt = 1; ; attempt++) {
      let committing = false;
      try {
        const route = await this.router.route('writer', client);
        expected = route.expectedSide ?? 'unknown';
        const result = await this.withConnection(route, async (c) => {
          if (kind === 'order') {
            const placed = await placeOrder(c, id, draft!);
            committing = true;
            await c.query('COMMIT');
            return placed;
          }
          // A single statement is its own transaction: it commits as it returns.
          committing = true;
          const done = kind === 'invoice' ? await issueInvoice(c, id, orderId!) : await advanceOrder(c, id, kind, orderId!);
          if (!done) throw new NotApplied(kind, orderId!);
          return done;
        });
        this.acknowledge(id, kind, result, started);
        return;
      } catch (err) {
        const classified = classifyError(err);
        if (committing && !classified.serverAnswered) {
          // The connection went away while the commit was on its way: it may have
          // happened. Look before retrying, or a retry could apply the write twice.
          const found = await this.lookUp(client, kind, id, orderId);
          if (found === 'unknown') inDoubt = true;
          else if (found) {
            this.recovered += 1;
            this.acknowledge(id, kind, found, started);
            return;
          }
        }
        if (this.giveUp(err, attempt)) {
          // Only a write that certainly did not commit is recorded as failed; one whose
          // fate is unknown stays in doubt, which the ledger check allows once at most.
          if (!inDoubt) this.ledger.fail(id);
          this.finish('write', kind, expected, classified.kind, started);
          this.onWriteFailed(kind, err);
          return;
        }
        await this.backoff(attempt);
      }
    }
  }

  private acknowledge(id: string, kind: WriteKind, result: WriteResult, started: number): void {
    const side = this.topology.sideOfServer(result.port);
    this.ledger.acknowledge({
      id,
      kind,
      orderId: result.orderId,
      ...(result.lines === undefined ? {} : { lines: result.lines }),
      ...(result.invoiceNumber === undefined ? {} : { invoiceNumber: result.invoiceNumber }),
      side,
      at: this.clock.now(),
    });
    const next = { order: 'pay', pay: 'ship', ship: 'invoice', invoice: null } as const;
    const queue = next[kind];
    if (queue) {
      this.queues[queue].push(result.orderId);
      if (this.queues[queue].length > W.WORKLOAD_MAX_OPEN_ORDERS) this.queues[queue].shift();
    }
    this.finish('write', kind, side ?? 'unknown', null, started);
  }

  private async lookUp(client: number, kind: WriteKind, id: string, orderId: number | undefined): Promise<WriteResult | null | 'unknown'> {
    try {
      const route = await this.router.route('writer', client);
      return await this.withConnection(route, (c) => findWrite(c, kind, id, orderId));
    } catch {
      return 'unknown';
    }
  }

  /** The next write: a new order, or the next step of one of the app's own orders. */
  private pickWrite(): { kind: WriteKind; orderId?: number } {
    const r = this.random();
    const step = r < 0.4 ? null : r < 0.6 ? 'pay' : r < 0.8 ? 'ship' : 'invoice';
    if (step) {
      const orderId = this.queues[step].shift();
      if (orderId !== undefined) return { kind: step, orderId };
    }
    return { kind: 'order' };
  }

  /** Runs `work` on a pooled connection; after an error the connection is closed, not reused. */
  private async withConnection<T>(route: Route, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await route.pool.connect();
    // A session ended between two statements (pgshift's drain, a server going away)
    // emits 'error' on the checked-out client; unheard, that would end the process. The
    // next statement fails with it anyway, and that failure is what the request counts.
    const ignore = () => undefined;
    client.on('error', ignore);
    try {
      const result = await work(client);
      client.off('error', ignore);
      client.release();
      return result;
    } catch (err) {
      client.off('error', ignore);
      // A NotApplied write left the session healthy; anything else may not have.
      client.release(err instanceof NotApplied ? undefined : (err as Error));
      throw err;
    }
  }

  private giveUp(err: unknown, attempt: number): boolean {
    if (err instanceof NotApplied || !classifyError(err).retryable || attempt >= this.settings.maxAttempts || !this.running) return true;
    this.stats.retried();
    return false;
  }

  private backoff(attempt: number): Promise<void> {
    return this.clock.sleep(Math.ceil(this.random() * attempt * W.WORKLOAD_RETRY_BACKOFF_MS));
  }

  private whereServer(port: number): Where {
    return this.topology.sideOfServer(port) ?? 'unknown';
  }

  private finish(cls: RequestClass, operation: string, where: Where, error: ErrorKind | null, started: number): void {
    const ms = this.clock.now() - started;
    if (error === null) this.stats.succeeded(cls, operation, where, ms);
    else this.stats.failed(cls, operation, where, error, ms);
    this.pending[where].requests += 1;
    if (error !== null) this.pending[where].errors += 1;
  }

  /** Pushes the counts since the previous push, one push per side, as pgshift's signal expects. */
  private push(): Promise<void> {
    const target = this.pushTo;
    if (!target) return Promise.resolve();
    const counts = this.pending;
    this.pending = DemoWorkload.noCounts();
    const send = async () => {
      for (const where of ['blue', 'green', 'unknown'] as const) {
        const c = counts[where];
        if (c.requests === 0) continue;
        const body: AppMetricsPush = { requests: c.requests, errors: c.errors, source: W.WORKLOAD_SOURCE, ...(where === 'unknown' ? {} : { side: where }) };
        try {
          const res = await fetch(`${target.url}/api/v1/pairs/${encodeURIComponent(target.pair)}/signals`, {
            method: 'POST',
            headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(Math.max(1_000, this.settings.pushIntervalMs)),
          });
          if (res.status !== 202) {
            const text = await res.text();
            throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
          }
          await res.arrayBuffer().catch(() => undefined);
          this.pushes.sent += 1;
        } catch (err) {
          this.pushes.failed += 1;
          const message = describeError(err);
          if (this.pushes.lastError !== message) this.log.warn({ err: message }, 'pushing counts to pgshift failed');
          this.pushes.lastError = message;
        }
      }
    };
    // One push at a time, in order: a slow pgshift must not see pushes overtake each other.
    this.pushing = this.pushing.then(send);
    return this.pushing;
  }

  private static noCounts(): Record<Where, { requests: number; errors: number }> {
    return { blue: { requests: 0, errors: 0 }, green: { requests: 0, errors: 0 }, unknown: { requests: 0, errors: 0 } };
  }
}
