import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { systemClock, type Clock } from '../clock.js';
import * as D from '../defaults.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { clientConfig, type ConnectTarget } from '../postgres/connect.js';
import { formatNumber } from './assess.js';
import { SIGNAL_NAMES, signalId, type Measurement, type SignalProvider } from './port.js';
import { RingBuffer } from './ring-buffer.js';
import { type Side } from '../shift/model.js';

/**
 * Canary probes of each side's writer and reader endpoints, doing what an application
 * does, in two kinds:
 * - `session`: a query over a kept session (reconnected after any failure, the
 *   reconnect counted in the probe's latency), as a pooled connection sees the server;
 * - `connect`: every `connectEveryRounds` rounds, a fresh connection (TCP, TLS when the
 *   target says so, authentication as configured, the query, close), as a pool refilling
 *   after the DNS TTL sees it. A server whose kept sessions still answer while it refuses
 *   new ones (max_connections reached, a pg_hba reject, a postmaster that accepts nothing)
 *   is as dead as a stopped one for every application connecting after a revert's TTL.
 * Both have a deadline (a statement timeout on the server, the same deadline on the
 * client, a connect timeout), so a side that hangs shows up as failures rather than as
 * a probe that never returns; the two kinds run independently, so a hanging connect
 * does not delay the kept session's query.
 */
export interface ProbeEndpoint {
  side: Side;
  role: 'writer' | 'reader';
  target: ConnectTarget;
}

export const PROBE_KINDS = ['session', 'connect'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

export interface ProbeResult {
  kind: ProbeKind;
  at: number;
  ok: boolean;
  /** session: the query (and a reconnect when one was needed); connect: connecting and the query, not the close. */
  ms: number;
  error?: string;
}

export interface ProberOptions {
  /**
   * What to probe, read again every round: a side whose address is not known yet (a
   * green that `prepare` is to create) is left out until it is, then probed from then on.
   */
  endpoints: () => ProbeEndpoint[];
  intervalMs: number;
  timeoutMs: number;
  windowMs: number;
  /** A fresh connection every this many rounds (default D.DEFAULT_PROBE_CONNECT_EVERY_ROUNDS: every round). */
  connectEveryRounds?: number;
  clock?: Clock;
  log: Logger;
}

export const PROBE_QUERY = 'SELECT 1';

export class Prober {
  /** By side, host, port and database: the same server named twice (a cluster without readers) is probed once. */
  private readonly probes = new Map<string, EndpointProbe>();
  private readonly clock: Clock;
  private readonly connectEvery: number;
  private readonly capacity: number;
  private readonly log: Logger;
  private round = 0;
  private startedAt: number | null = null;
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly options: ProberOptions) {
    this.clock = options.clock ?? systemClock;
    this.connectEvery = options.connectEveryRounds ?? D.DEFAULT_PROBE_CONNECT_EVERY_ROUNDS;
    this.capacity = Math.max(2, Math.ceil(options.windowMs / options.intervalMs) * 2);
    this.log = options.log.child({ component: 'probe' });
    this.refresh();
  }

  /** Adds a probe for every endpoint not probed yet. */
  private refresh(): void {
    for (const e of this.options.endpoints()) {
      const key = `${e.side}\u0000${e.target.endpoint.host}\u0000${e.target.endpoint.port}\u0000${e.target.database}`;
      if (!this.probes.has(key)) this.probes.set(key, new EndpointProbe(e, this.options.timeoutMs, this.capacity, this.clock, this.log));
    }
  }

  /** Probes every interval until stop(). Idempotent. */
  start(): void {
    if (this.loop) return;
    this.startedAt = this.clock.now();
    const abort = new AbortController();
    this.abort = abort;
    this.loop = (async () => {
      let next = this.clock.now();
      while (!abort.signal.aborted) {
        // Not awaited: a probe that hangs until its deadline must not delay the next round.
        // probeOnce never rejects (each probe records its failure as a result).
        void this.probeOnce();
        next += this.options.intervalMs;
        // A loop that fell behind (a blocked event loop) skips ticks instead of bursting.
        if (next < this.clock.now()) next = this.clock.now() + this.options.intervalMs;
        await this.clock.sleep(Math.max(0, next - this.clock.now()), abort.signal).catch(() => {});
      }
    })();
  }

  /** Stops probing, waits for the probes in flight (each within its deadline) and closes the kept sessions. */
  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = null;
    this.abort = null;
    await Promise.all([...this.probes.values()].map((p) => p.close()));
  }

  /**
   * One probe round: a kept-session query per endpoint that has none in flight, and on
   * every `connectEveryRounds`-th round a fresh connection per endpoint that has none in
   * flight. Resolves when they finish; never rejects.
   */
  probeOnce(): Promise<void> {
    this.refresh();
    const connect = this.round % this.connectEvery === 0;
    this.round += 1;
    const runs = [...this.probes.values()].flatMap((p) => [
      ...(p.busy.session ? [] : [p.runSession()]),
      ...(connect && !p.busy.connect ? [p.runConnect()] : []),
    ]);
    return Promise.all(runs).then(() => undefined);
  }

  /**
   * While the first window since start() is still filling, how many results of each kind
   * `side`'s endpoints leave in a full window; nothing after that, when the window holds
   * what really ran (a hung side whose probes wait out their deadline leaves fewer, and
   * must still read 100 %).
   */
  fullWindow(side: Side): Partial<Record<ProbeKind, number>> {
    if (this.startedAt === null || this.clock.now() - this.startedAt >= this.options.windowMs) return {};
    const endpoints = [...this.probes.values()].filter((p) => p.endpoint.side === side).length;
    const rounds = Math.floor(this.options.windowMs / this.options.intervalMs);
    return { session: endpoints * rounds, connect: endpoints * Math.floor(rounds / this.connectEvery) };
  }

  /** The results of `side`'s endpoints within the window, oldest first; both kinds unless one is named. */
  results(side: Side, kind?: ProbeKind): ProbeResult[] {
    const since = this.clock.now() - this.options.windowMs;
    return [...this.probes.values()]
      .filter((p) => p.endpoint.side === side)
      .flatMap((p) => (kind ? [p.results[kind]] : PROBE_KINDS.map((k) => p.results[k])))
      .flatMap((ring) => ring.last().filter((r) => r.at >= since))
      .sort((a, b) => a.at - b.at);
  }

  endpoints(side: Side): ProbeEndpoint[] {
    return [...this.probes.values()].filter((p) => p.endpoint.side === side).map((p) => p.endpoint);
  }
}

class EndpointProbe {
  readonly results: Record<ProbeKind, RingBuffer<ProbeResult>>;
  readonly busy: Record<ProbeKind, boolean> = { session: false, connect: false };
  private client: pg.Client | null = null;
  private readonly lastOk: Record<ProbeKind, boolean | null> = { session: null, connect: null };
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    readonly endpoint: ProbeEndpoint,
    private readonly timeoutMs: number,
    capacity: number,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.results = { session: new RingBuffer(capacity), connect: new RingBuffer(capacity) };
  }

  /** A query over the kept session (opened first when there is none). Never rejects. */
  runSession(): Promise<void> {
    return this.track('session', async () => {
      const started = performance.now();
      try {
        await this.withDeadline(this.query(), `no answer within ${this.timeoutMs} ms`);
      } catch (err) {
        this.discard();
        throw err;
      }
      return performance.now() - started;
    });
  }

  /**
   * A fresh connection: connect (TLS and authentication as configured), the query,
   * close. Never rejects. A connection that fails or misses the deadline is destroyed,
   * not ended politely: its socket may hang.
   */
  runConnect(): Promise<void> {
    return this.track('connect', async () => {
      const started = performance.now();
      const client = new pg.Client(this.clientConfig());
      // A server that drops the half-open connection emits 'error'; the awaited call rejects anyway.
      client.on('error', () => {});
      try {
        await this.withDeadline(
          (async () => {
            await client.connect();
            await client.query(PROBE_QUERY);
          })(),
          `no connection and answer within ${this.timeoutMs} ms`,
        );
      } catch (err) {
        client.connection.stream.destroy();
        throw new Error(`new connection: ${describeError(err)}`, { cause: err });
      }
      const ms = performance.now() - started;
      // Closing is not part of what is measured, but it is waited for (within the deadline), so
      // stop() leaves no connection behind.
      const closed = client.end().catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.timeoutMs)))]);
      clearTimeout(timer);
      client.connection.stream.destroy();
      return ms;
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.inFlight]);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  /** Runs one probe of `kind` (`work` resolves with the milliseconds it measured) and records the result. */
  private track(kind: ProbeKind, work: () => Promise<number>): Promise<void> {
    this.busy[kind] = true;
    const started = performance.now();
    const run = (async () => {
      try {
        const ms = await work();
        this.record({ kind, at: this.clock.now(), ok: true, ms });
      } catch (err) {
        this.record({ kind, at: this.clock.now(), ok: false, ms: performance.now() - started, error: describeError(err) });
      } finally {
        this.busy[kind] = false;
      }
    })();
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  /** Keeps the result; logs only when an endpoint's probes of a kind start or stop failing, not every probe. */
  private record(result: ProbeResult): void {
    this.results[result.kind].push(result);
    if (this.lastOk[result.kind] !== result.ok) {
      const where = {
        side: this.endpoint.side,
        role: this.endpoint.role,
        kind: result.kind,
        endpoint: `${this.endpoint.target.endpoint.host}:${this.endpoint.target.endpoint.port}`,
      };
      if (result.ok) this.log.info(where, result.kind === 'connect' ? 'new connections succeed' : 'probe answers');
      else this.log.warn({ ...where, error: result.error }, result.kind === 'connect' ? 'new connections fail' : 'probe fails');
      this.lastOk[result.kind] = result.ok;
    }
  }

  private async withDeadline<T>(work: Promise<T>, message: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), this.timeoutMs);
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private clientConfig(): pg.ClientConfig {
    const config = clientConfig({
      ...this.endpoint.target,
      applicationName: D.PROBE_APPLICATION_NAME,
      statementTimeoutMs: this.timeoutMs,
    });
    config.connectionTimeoutMillis = this.timeoutMs;
    return config;
  }

  private async query(): Promise<void> {
    if (!this.client) {
      const client = new pg.Client(this.clientConfig());
      client.on('error', () => {
        if (this.client === client) this.discard();
      });
      this.client = client;
      await client.connect();
    }
    await this.client.query(PROBE_QUERY);
  }

  /** Drops the session at once: after a timeout its socket may hang, so it is destroyed, not ended politely. */
  private discard(): void {
    const client = this.client;
    this.client = null;
    client?.connection.stream.destroy();
  }
}

/** 95th percentile by nearest rank. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface KindSummary {
  probes: number;
  failed: number;
  /** failed / probes; null without probes. */
  errorRate: number | null;
  /** Of the successful probes; null without one. */
  p95Ms: number | null;
}

export interface ProbeSummary {
  /**
   * The worse of the two kinds' error rates: an application sees the worse of them (its
   * old pooled sessions answer while every connection it opens fails). A green that
   * refuses new connections thus reads 100 %, like a dead one, whatever limit is set;
   * counting both kinds in one rate would give 50 % and would pass a limit of 0.5.
   * null when no probe of either kind finished within the window.
   */
  errorRate: number | null;
  /**
   * p95 of the kept-session queries: the latency of a statement, which is what the
   * application waits for on every request. Connecting costs a TLS and SCRAM handshake
   * (several round trips and a key derivation) that would swamp a query's latency and
   * hide a slower green; it is reported in `connect.p95Ms`, and a connection slower
   * than the deadline is a failure. null without a successful kept-session query.
   */
  p95Ms: number | null;
  session: KindSummary;
  connect: KindSummary;
  /** The newest failure of either kind. */
  lastError?: string;
}

/**
 * What one side's probe results (within the window) say. Pure. `full` is how many
 * results of each kind a full window holds, given while the first window of a process
 * is still filling: its failures count against that many, so that one slow connection
 * among the first dozen probes is not an 8 % error rate. A side that fails every probe
 * still reads high at once, and 100 % once the window is full.
 */
export function summarizeProbes(results: readonly ProbeResult[], full: Partial<Record<ProbeKind, number>> = {}): ProbeSummary {
  const kind = (k: ProbeKind): KindSummary => {
    const of = results.filter((r) => r.kind === k);
    const failed = of.filter((r) => !r.ok).length;
    const counted = Math.max(of.length, full[k] ?? 0);
    const p95 = percentile(
      of.filter((r) => r.ok).map((r) => r.ms),
      95,
    );
    return { probes: of.length, failed, errorRate: of.length === 0 ? null : failed / counted, p95Ms: p95 === null ? null : Number(formatNumber(p95)) };
  };
  const session = kind('session');
  const connect = kind('connect');
  const rates = [session.errorRate, connect.errorRate].filter((r): r is number => r !== null);
  const lastFailure = results.filter((r) => !r.ok).sort((a, b) => a.at - b.at).pop();
  return {
    errorRate: rates.length === 0 ? null : Math.max(...rates),
    p95Ms: session.p95Ms,
    session,
    connect,
    ...(lastFailure ? { lastError: lastFailure.error ?? 'failed' } : {}),
  };
}

/** Error rate and p95 latency of one side's probes over the window (see ProbeSummary for what each counts). */
export function probeSignals(prober: Prober, side: Side, clock: Clock = systemClock): SignalProvider[] {
  const summary = () => {
    const s = summarizeProbes(prober.results(side), prober.fullWindow(side));
    return {
      summary: s,
      detail: {
        probes: s.session.probes + s.connect.probes,
        failed: s.session.failed + s.connect.failed,
        session: s.session,
        connect: s.connect,
        endpoints: prober.endpoints(side).map((e) => `${e.role} ${e.target.endpoint.host}:${e.target.endpoint.port}`),
        ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
      },
    };
  };
  const errorRate: SignalProvider = {
    id: signalId(SIGNAL_NAMES.probeErrorRate, side),
    name: SIGNAL_NAMES.probeErrorRate,
    side,
    measure: async (): Promise<Measurement> => {
      const { summary: s, detail } = summary();
      if (s.errorRate === null) return { value: null, at: clock.now(), error: 'no probe finished within the window', detail };
      return { value: s.errorRate, at: clock.now(), detail };
    },
  };
  const p95: SignalProvider = {
    id: signalId(SIGNAL_NAMES.probeP95Ms, side),
    name: SIGNAL_NAMES.probeP95Ms,
    side,
    measure: async (): Promise<Measurement> => {
      const { summary: s, detail } = summary();
      if (s.p95Ms === null) return { value: null, at: clock.now(), error: 'no successful kept-session probe within the window', detail };
      return { value: s.p95Ms, at: clock.now(), detail };
    },
  };
  return [errorRate, p95];
}
