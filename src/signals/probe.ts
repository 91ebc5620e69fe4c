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
 * Canary queries against each side's writer and reader endpoints, the way an
 * application would see them: a kept session per endpoint (reconnected after any
 * failure, the reconnect counted in the probe's latency), a statement timeout on the
 * server and the same deadline on the client, so a side that hangs shows up as
 * failures rather than as a probe that never returns.
 */
export interface ProbeEndpoint {
  side: Side;
  role: 'writer' | 'reader';
  target: ConnectTarget;
}

export interface ProbeResult {
  at: number;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface ProberOptions {
  endpoints: ProbeEndpoint[];
  intervalMs: number;
  timeoutMs: number;
  windowMs: number;
  clock?: Clock;
  log: Logger;
}

export const PROBE_QUERY = 'SELECT 1';

export class Prober {
  private readonly probes: EndpointProbe[];
  private readonly clock: Clock;
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly options: ProberOptions) {
    this.clock = options.clock ?? systemClock;
    // The same server named twice (a cluster without readers) is probed once.
    const seen = new Set<string>();
    const unique = options.endpoints.filter((e) => {
      const key = `${e.side}\u0000${e.target.endpoint.host}\u0000${e.target.endpoint.port}\u0000${e.target.database}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const capacity = Math.max(2, Math.ceil(options.windowMs / options.intervalMs) * 2);
    const log = options.log.child({ component: 'probe' });
    this.probes = unique.map((e) => new EndpointProbe(e, options.timeoutMs, capacity, this.clock, log));
  }

  /** Probes every interval until stop(). Idempotent. */
  start(): void {
    if (this.loop) return;
    const abort = new AbortController();
    this.abort = abort;
    this.loop = (async () => {
      let next = this.clock.now();
      while (!abort.signal.aborted) {
        this.probeOnce();
        next += this.options.intervalMs;
        // A loop that fell behind (a blocked event loop) skips ticks instead of bursting.
        if (next < this.clock.now()) next = this.clock.now() + this.options.intervalMs;
        await this.clock.sleep(Math.max(0, next - this.clock.now()), abort.signal).catch(() => {});
      }
    })();
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = null;
    this.abort = null;
    await Promise.all(this.probes.map((p) => p.close()));
  }

  /** Starts one probe per endpoint that has none in flight; resolves when they finish. */
  probeOnce(): Promise<void> {
    return Promise.all(this.probes.filter((p) => !p.busy).map((p) => p.run())).then(() => undefined);
  }

  /** The results of `side`'s endpoints within the window, oldest first. */
  results(side: Side): ProbeResult[] {
    const since = this.clock.now() - this.options.windowMs;
    return this.probes
      .filter((p) => p.endpoint.side === side)
      .flatMap((p) => p.results.last().filter((r) => r.at >= since))
      .sort((a, b) => a.at - b.at);
  }

  endpoints(side: Side): ProbeEndpoint[] {
    return this.probes.filter((p) => p.endpoint.side === side).map((p) => p.endpoint);
  }
}

class EndpointProbe {
  readonly results: RingBuffer<ProbeResult>;
  busy = false;
  private client: pg.Client | null = null;
  private lastOk: boolean | null = null;

  constructor(
    readonly endpoint: ProbeEndpoint,
    private readonly timeoutMs: number,
    capacity: number,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.results = new RingBuffer(capacity);
  }

  async run(): Promise<void> {
    this.busy = true;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      });
      await Promise.race([this.query(), deadline]);
      this.record({ at: this.clock.now(), ok: true, ms: performance.now() - started });
    } catch (err) {
      this.discard();
      this.record({ at: this.clock.now(), ok: false, ms: performance.now() - started, error: describeError(err) });
    } finally {
      clearTimeout(timer);
      this.busy = false;
    }
  }

  /** Keeps the result; logs only when an endpoint starts or stops failing, not every probe. */
  private record(result: ProbeResult): void {
    this.results.push(result);
    if (this.lastOk !== result.ok) {
      const where = { side: this.endpoint.side, role: this.endpoint.role, endpoint: `${this.endpoint.target.endpoint.host}:${this.endpoint.target.endpoint.port}` };
      if (result.ok) this.log.info(where, 'probe answers');
      else this.log.warn({ ...where, error: result.error }, 'probe fails');
      this.lastOk = result.ok;
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  private async query(): Promise<void> {
    if (!this.client) {
      const config = clientConfig({
        ...this.endpoint.target,
        applicationName: D.PROBE_APPLICATION_NAME,
        statementTimeoutMs: this.timeoutMs,
      });
      config.connectionTimeoutMillis = this.timeoutMs;
      const client = new pg.Client(config);
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

/** Error rate and p95 latency of one side's probes over the window. */
export function probeSignals(prober: Prober, side: Side, clock: Clock = systemClock): SignalProvider[] {
  const summary = () => {
    const results = prober.results(side);
    const failed = results.filter((r) => !r.ok);
    return {
      results,
      failed,
      detail: {
        probes: results.length,
        failed: failed.length,
        endpoints: prober.endpoints(side).map((e) => `${e.role} ${e.target.endpoint.host}:${e.target.endpoint.port}`),
        ...(failed.length > 0 ? { lastError: failed[failed.length - 1]!.error } : {}),
      },
    };
  };
  const errorRate: SignalProvider = {
    id: signalId(SIGNAL_NAMES.probeErrorRate, side),
    name: SIGNAL_NAMES.probeErrorRate,
    side,
    measure: async (): Promise<Measurement> => {
      const { results, failed, detail } = summary();
      if (results.length === 0) return { value: null, at: clock.now(), error: 'no probe finished within the window', detail };
      return { value: failed.length / results.length, at: clock.now(), detail };
    },
  };
  const p95: SignalProvider = {
    id: signalId(SIGNAL_NAMES.probeP95Ms, side),
    name: SIGNAL_NAMES.probeP95Ms,
    side,
    measure: async (): Promise<Measurement> => {
      const { results, detail } = summary();
      const value = percentile(
        results.filter((r) => r.ok).map((r) => r.ms),
        95,
      );
      if (value === null) return { value: null, at: clock.now(), error: 'no successful probe within the window', detail };
      return { value: Number(formatNumber(value)), at: clock.now(), detail };
    },
  };
  return [errorRate, p95];
}
