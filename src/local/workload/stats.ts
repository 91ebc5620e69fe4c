import type { Side } from '../../shift/model.js';
import { ERROR_KINDS, type ErrorKind } from './errors.js';

export type RequestClass = 'read' | 'write';
/** Where a request ran by the server's own answer; `unknown` when no server answered. */
export type Where = Side | 'unknown';

/**
 * Latencies in geometric buckets 5 % wide from 0.05 ms: percentiles within 5 % at a
 * fixed cost per request, however many requests a run makes.
 */
export class LatencyHistogram {
  private static readonly BASE = 0.05;
  private static readonly GROWTH = 1.05;
  private static readonly BUCKETS = 330; // up to ~0.05 * 1.05^330 ms, about 500 s
  private readonly counts = new Float64Array(LatencyHistogram.BUCKETS);
  count = 0;
  max = 0;

  add(ms: number): void {
    const i = ms <= LatencyHistogram.BASE ? 0 : Math.min(LatencyHistogram.BUCKETS - 1, Math.ceil(Math.log(ms / LatencyHistogram.BASE) / Math.log(LatencyHistogram.GROWTH)));
    this.counts[i]! += 1;
    this.count += 1;
    if (ms > this.max) this.max = ms;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.max = Math.max(this.max, other.max);
  }

  /** The q-quantile (0..1) in ms, as the upper edge of its bucket; null without data. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, LatencyHistogram.BASE * LatencyHistogram.GROWTH ** i);
    }
    return this.max;
  }

  summary(): LatencySummary {
    const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
    return { count: this.count, p50: round(this.quantile(0.5)), p95: round(this.quantile(0.95)), p99: round(this.quantile(0.99)), max: round(this.count ? this.max : null) };
  }
}

export interface LatencySummary {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

type BySide = Record<Where, number>;
const bySide = (): BySide => ({ blue: 0, green: 0, unknown: 0 });
const byKind = (): Record<ErrorKind, number> => Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<ErrorKind, number>;

/** Counts of one stretch of time (the whole run, or one second of it). */
class Tally {
  readonly ok: Record<RequestClass, BySide> = { read: bySide(), write: bySide() };
  readonly failed: Record<RequestClass, BySide> = { read: bySide(), write: bySide() };
  readonly errorsByKind = byKind();
  readonly latency: Record<RequestClass, LatencyHistogram> = { read: new LatencyHistogram(), write: new LatencyHistogram() };
  readonly operations: Record<string, { ok: number; failed: number }> = {};
  retries = 0;
  behind = 0;
}

export interface StatsSnapshot {
  startedAt: string;
  seconds: number;
  /** Since the start: requests that succeeded, by class and by the side the server says it is. */
  totals: {
    reads: BySide;
    writes: BySide;
    /** Requests that failed after their retries, by class and by the side they were sent to. */
    failedReads: BySide;
    failedWrites: BySide;
    errorsByKind: Record<ErrorKind, number>;
    operations: Record<string, { ok: number; failed: number }>;
    retries: number;
    /** Requests not started because maxInFlight were running: the app fell behind its rate. */
    behind: number;
    latencyMs: Record<RequestClass, LatencySummary>;
  };
  /** The newest `windowSeconds` full seconds. */
  window: {
    seconds: number;
    perSecond: { reads: BySide; writes: BySide; errors: number };
    errorRate: number | null;
    latencyMs: Record<RequestClass, LatencySummary>;
  };
}

/**
 * The application's own numbers: totals since it started, and a window of per-second
 * tallies for rates and percentiles.
 */
export class WorkloadStats {
  private readonly total = new Tally();
  private readonly seconds: Tally[] = [];
  private current = new Tally();
  private readonly startedAt: number;

  constructor(
    private readonly windowSeconds: number,
    private readonly now: () => number,
  ) {
    this.startedAt = now();
  }

  succeeded(cls: RequestClass, operation: string, where: Where, ms: number): void {
    for (const t of [this.total, this.current]) {
      t.ok[cls][where] += 1;
      t.latency[cls].add(ms);
      (t.operations[operation] ??= { ok: 0, failed: 0 }).ok += 1;
    }
  }

  failed(cls: RequestClass, operation: string, where: Where, kind: ErrorKind, ms: number): void {
    for (const t of [this.total, this.current]) {
      t.failed[cls][where] += 1;
      t.errorsByKind[kind] += 1;
      t.latency[cls].add(ms);
      (t.operations[operation] ??= { ok: 0, failed: 0 }).failed += 1;
    }
  }

  /** An attempt failed and the request tries again; its outcome is counted when it ends. */
  retried(): void {
    this.total.retries += 1;
    this.current.retries += 1;
  }

  fellBehind(n = 1): void {
    this.total.behind += n;
    this.current.behind += n;
  }

  /** Closes the current second (called once per second by the app). */
  roll(): void {
    this.seconds.push(this.current);
    if (this.seconds.length > this.windowSeconds) this.seconds.shift();
    this.current = new Tally();
  }

  snapshot(): StatsSnapshot {
    const t = this.total;
    const span = Math.max(1, this.seconds.length);
    const sum = (pick: (x: Tally) => BySide): BySide => {
      const out = bySide();
      for (const s of this.seconds) for (const k of Object.keys(out) as Where[]) out[k] += pick(s)[k];
      return out;
    };
    const rate = (b: BySide): BySide => ({ blue: b.blue / span, green: b.green / span, unknown: b.unknown / span });
    const windowLatency = (cls: RequestClass) => {
      const h = new LatencyHistogram();
      for (const s of this.seconds) h.merge(s.latency[cls]);
      return h.summary();
    };
    const okAll = [sum((s) => s.ok.read), sum((s) => s.ok.write)];
    const failedAll = [sum((s) => s.failed.read), sum((s) => s.failed.write)];
    const count = (list: BySide[]) => list.reduce((a, b) => a + b.blue + b.green + b.unknown, 0);
    const requests = count(okAll) + count(failedAll);
    return {
      startedAt: new Date(this.startedAt).toISOString(),
      seconds: Math.round((this.now() - this.startedAt) / 100) / 10,
      totals: {
        reads: { ...t.ok.read },
        writes: { ...t.ok.write },
        failedReads: { ...t.failed.read },
        failedWrites: { ...t.failed.write },
        errorsByKind: { ...t.errorsByKind },
        operations: structuredClone(t.operations),
        retries: t.retries,
        behind: t.behind,
        latencyMs: { read: t.latency.read.summary(), write: t.latency.write.summary() },
      },
      window: {
        seconds: this.seconds.length,
        perSecond: { reads: rate(okAll[0]!), writes: rate(okAll[1]!), errors: count(failedAll) / span },
        errorRate: requests === 0 ? null : count(failedAll) / requests,
        latencyMs: { read: windowLatency('read'), write: windowLatency('write') },
      },
    };
  }
}
