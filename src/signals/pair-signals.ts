import { systemClock, type Clock } from '../clock.js';
import type { ReplicationView as ReplicationSummary, SignalStatus as ControllerSignalStatus } from '../shift/ports.js';
import type { SignalsConfig } from '../config/schema.js';
import * as D from '../defaults.js';
import { describeError, PgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AppMetricsInbox, AppMetricsPush } from './app-metrics.js';
import { assessSignal, type AssessedMeasurement, type Assessment, type SignalLimit } from './assess.js';
import { limitFor } from './limits.js';
import { SIGNAL_NAMES, SIGNAL_UNITS, type Measurement, type SignalName, type SignalProvider } from './port.js';
import { RingBuffer } from './ring-buffer.js';
import { listProblems } from '../replication/schema-fingerprint.js';
import { type Side } from '../shift/model.js';

export interface SignalSnapshot {
  id: string;
  name: SignalName;
  /** The side the signal concerns; null for the pair as a whole. */
  side: Side | null;
  limit: SignalLimit;
  /** The newest measurement; null before the first sample. */
  measurement: Measurement | null;
  assessment: Assessment;
  /** Samples taken and samples without a value, since start. */
  samples: number;
  failedSamples: number;
}

export interface SampleRound {
  pair: string;
  at: number;
  signals: SignalSnapshot[];
}

export type SampleListener = (round: SampleRound) => void;

export interface PairSignalsOptions {
  pairId: string;
  providers: SignalProvider[];
  config: SignalsConfig;
  /** Where pushed application metrics go; null when the pair takes none. */
  appMetrics: AppMetricsInbox | null;
  log: Logger;
  clock?: Clock;
  historySize?: number;
  /** Background work the providers share (e.g. the prober, kept sessions): started by start(), closed by stop() after the providers. */
  resources?: { start?(): void; close(): Promise<void> }[];
  /**
   * Does `side` take application traffic right now (a reader or writer share above 0
   * at the pair's stage)? Read at every assessment: missing data and breaches of green
   * or of the pair revert only while green does. A callback that throws counts as
   * exposed, the safe answer for a revert decision.
   */
  exposed: (side: Side) => boolean;
}

interface Track {
  provider: SignalProvider;
  limit: SignalLimit;
  history: RingBuffer<AssessedMeasurement>;
  /** Blue's track of the same signal, for a green signal with a relative limit. */
  control: Track | null;
  inFlight: boolean;
  samples: number;
  failed: number;
}

/**
 * The signals of one pair, sampled together every `sampleSeconds`. Each sample round
 * measures every provider at once (a provider whose previous reading still runs is
 * recorded as failed rather than asked twice), keeps the measurements in a bounded
 * history per signal and tells listeners, so the controller can react to a breach at
 * once instead of at its next tick.
 */
export class PairSignals {
  readonly pairId: string;
  private readonly tracks: Track[];
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly listeners = new Set<SampleListener>();
  private readonly breachListeners = new Set<() => void>();
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private exposureFails = false;

  constructor(private readonly options: PairSignalsOptions) {
    this.pairId = options.pairId;
    this.clock = options.clock ?? systemClock;
    this.log = options.log.child({ component: 'signals', pair: options.pairId });
    const ids = new Set<string>();
    this.tracks = options.providers.map((provider) => {
      if (ids.has(provider.id)) throw new Error(`duplicate signal ${provider.id} for pair ${options.pairId}`);
      ids.add(provider.id);
      return {
        provider,
        limit: limitFor(provider.name, options.config),
        history: new RingBuffer<AssessedMeasurement>(options.historySize ?? D.SIGNAL_HISTORY_SIZE),
        control: null as Track | null,
        inFlight: false,
        samples: 0,
        failed: 0,
      };
    });
    // Blue is the control: a green signal with a relative limit is read beside blue's.
    for (const t of this.tracks) {
      if (t.provider.side !== 'green' || !t.limit.relative) continue;
      t.control = this.tracks.find((c) => c.provider.side === 'blue' && c.provider.name === t.provider.name) ?? null;
    }
  }

  get sampleMs(): number {
    return this.options.config.sampleSeconds * 1000;
  }

  /** Starts the providers' background work and the sampling loop. Idempotent. */
  start(): void {
    if (this.loop) return;
    for (const r of this.options.resources ?? []) r.start?.();
    for (const t of this.tracks) t.provider.start?.();
    const abort = new AbortController();
    this.abort = abort;
    this.loop = (async () => {
      let next = this.clock.now();
      while (!abort.signal.aborted) {
        await this.sampleOnce();
        next += this.sampleMs;
        if (next < this.clock.now()) next = this.clock.now() + this.sampleMs;
        await this.clock.sleep(Math.max(0, next - this.clock.now()), abort.signal).catch(() => {});
      }
    })();
    this.log.info({ signals: this.tracks.map((t) => t.provider.id), sampleSeconds: this.options.config.sampleSeconds }, 'sampling started');
  }

  /**
   * Stops sampling, then the providers, then releases the shared resources.
   * Idempotent, and final: the sessions are closed, so a new PairSignals samples again.
   */
  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = null;
    this.abort = null;
    await Promise.all(this.tracks.map((t) => t.provider.stop?.().catch(() => {})));
    for (const r of this.options.resources ?? []) await r.close().catch(() => {});
  }

  /**
   * Takes one sample of every signal now; what the loop does every interval. Every
   * signal is read first and recorded after, so a green reading held against blue's
   * gets blue's reading of the same round (the same probe window, the same moment).
   */
  async sampleOnce(): Promise<SampleRound> {
    const timeoutMs = Math.max(this.sampleMs, D.SIGNAL_MEASURE_MIN_TIMEOUT_MS);
    // A signal no other is compared with is recorded as soon as it is read, and a breach
    // that reverts is told at once: a slow reading of another signal must not hold up a
    // revert (under load a round takes as long as its slowest reading).
    const alone = (t: Track) => t.control === null && !this.tracks.some((other) => other.control === t);
    const readings = await Promise.all(
      this.tracks.map(async (t): Promise<Measurement> => {
        const m = t.inFlight ? { value: null, at: this.clock.now(), error: 'the previous reading has not finished' } : await this.measure(t, timeoutMs);
        if (alone(t)) {
          this.record(t, m);
          if (this.assess(t).reverts) this.notify(this.breachListeners, undefined);
        }
        return m;
      }),
    );
    const byTrack = new Map(this.tracks.map((t, i) => [t, readings[i]!]));
    for (const [t, m] of byTrack) {
      if (alone(t)) continue;
      const control = t.control ? byTrack.get(t.control)! : undefined;
      const value = control && control.value !== null && Number.isFinite(control.value) ? control.value : null;
      this.record(t, control ? { ...m, control: value } : m);
    }
    const round: SampleRound = { pair: this.pairId, at: this.clock.now(), signals: this.latest() };
    this.notify(this.listeners, round);
    return round;
  }

  private record(t: Track, m: AssessedMeasurement): void {
    t.history.push(m);
    t.samples += 1;
    if (m.value === null && !m.notApplicable) t.failed += 1;
  }

  private assess(t: Track) {
    return assessSignal(t.history.last(this.windowFor(t.limit)), t.limit, this.clock.now(), { side: t.provider.side, greenExposed: this.isExposed('green') });
  }

  private notify<T>(listeners: Set<(arg: T) => void>, arg: T): void {
    for (const listener of listeners) {
      try {
        listener(arg);
      } catch (err) {
        this.log.error({ err: describeError(err) }, 'signal listener failed');
      }
    }
  }

  /** Every signal's newest measurement and its assessment as of now (a stopped sampler reads as stale). */
  latest(): SignalSnapshot[] {
    const now = this.clock.now();
    const greenExposed = this.isExposed('green');
    return this.tracks.map((t) => ({
      id: t.provider.id,
      name: t.provider.name,
      side: t.provider.side,
      limit: t.limit,
      measurement: t.history.newest() ?? null,
      assessment: assessSignal(t.history.last(this.windowFor(t.limit)), t.limit, now, { side: t.provider.side, greenExposed }),
      samples: t.samples,
      failedSamples: t.failed,
    }));
  }

  /**
   * The newest assessment of every signal in the shape the controller reads (see
   * shift/ports.ts): which side, state, the assessment's verdict (`reverts`, copied,
   * never decided again), the limit the newest value was held to, and a one-line
   * summary with the numbers ("probe.p95_ms:green 812 ms > limit 500 ms for 3 samples").
   * Never throws.
   */
  current(): ControllerSignalStatus[] {
    return this.latest().map((s) => ({
      id: s.id,
      name: s.name,
      side: s.side ?? 'both',
      state: s.assessment.status,
      consecutiveBreaches: s.assessment.consecutiveBreaches,
      breachesToRevert: s.limit.consecutiveBreaches,
      immediate: s.limit.consecutiveBreaches === 1,
      reverts: s.assessment.reverts,
      value: s.assessment.value,
      limit: s.assessment.limit,
      unit: SIGNAL_UNITS[s.name],
      at: s.measurement?.at ?? null,
      summary: `${s.id} ${s.assessment.reason}${s.assessment.status === 'breached' ? explain(s.measurement?.detail) : ''}`,
    }));
  }

  /** Replication as last sampled (direction, lag, health); null before the first sample. Never throws. */
  replication(): ReplicationSummary | null {
    const newest = (name: SignalName) => this.tracks.find((t) => t.provider.name === name)?.history.newest();
    const seconds = newest(SIGNAL_NAMES.lagSeconds);
    const bytes = newest(SIGNAL_NAMES.lagBytes);
    const health = newest(SIGNAL_NAMES.health);
    if (!seconds && !bytes && !health) return null;
    const direction = [seconds, bytes, health].map((m) => m?.detail?.direction).find((d) => typeof d === 'string');
    return {
      direction: typeof direction === 'string' ? direction : 'none',
      lagSeconds: seconds?.value ?? null,
      lagBytes: bytes?.value ?? null,
      healthy: health?.value === null || health?.value === undefined ? null : health.value === 0,
    };
  }

  /** The newest `n` measurements of one signal, oldest first; null for an unknown signal id. */
  history(id: string, n?: number): Measurement[] | null {
    const track = this.tracks.find((t) => t.provider.id === id);
    return track ? track.history.last(n) : null;
  }

  /** The next sample reads `name` afresh, not a reading its provider keeps between reads (after schema/sync changed green). */
  expire(name: SignalName): void {
    for (const t of this.tracks) if (t.provider.name === name) t.provider.expire?.();
  }

  /** Calls `listener` after every sample round; returns the function that unsubscribes. */
  onSample(listener: SampleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` as soon as a reading makes a signal revert, before its round ends. */
  onBreach(listener: () => void): () => void {
    this.breachListeners.add(listener);
    return () => this.breachListeners.delete(listener);
  }

  /**
   * Accepts application metrics for this pair. Throws PGSHIFT_ERR_APP_METRICS_DISABLED
   * (404) when the pair takes none, PGSHIFT_ERR_BAD_REQUEST (400) for counts that
   * contradict each other.
   */
  pushAppMetrics(push: AppMetricsPush): void {
    if (!this.options.appMetrics) {
      throw new PgshiftError('PGSHIFT_ERR_APP_METRICS_DISABLED', `pair ${this.pairId} takes no application metrics`, {
        status: 404,
      });
    }
    this.options.appMetrics.add(push);
  }

  get acceptsAppMetrics(): boolean {
    return this.options.appMetrics !== null;
  }

  private async measure(t: Track, timeoutMs: number): Promise<Measurement> {
    t.inFlight = true;
    const reading = t.provider.measure().finally(() => {
      t.inFlight = false;
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Measurement>((resolve) => {
      timer = setTimeout(
        () => resolve({ value: null, at: this.clock.now(), error: `no reading within ${timeoutMs} ms` }),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([reading.catch((err) => ({ value: null, at: this.clock.now(), error: describeError(err) })), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private isExposed(side: Side): boolean {
    try {
      const exposed = this.options.exposed(side);
      this.exposureFails = false;
      return exposed;
    } catch (err) {
      // Assessed on every read (API, stream, controller): log when it starts failing, not each time.
      if (!this.exposureFails) this.log.warn({ side, err: describeError(err) }, 'cannot tell whether the side takes traffic; assessing it as exposed');
      this.exposureFails = true;
      return true;
    }
  }

  /** Enough history to count breaches and errors up to their limits, plus failed readings in between. */
  private windowFor(limit: SignalLimit): number {
    return Math.max(limit.consecutiveBreaches, limit.consecutiveErrors) * 4;
  }
}

/** What a breached measurement's detail says went wrong (replication problems, a probe's last error), for the halt reason an operator reads. */
function explain(detail: unknown): string {
  if (!detail || typeof detail !== 'object') return '';
  const { problems, lastError, cause } = detail as { problems?: unknown; lastError?: unknown; cause?: unknown };
  // The cause found beside the problems (the schema drift a broken apply most often comes from) ends up in the revert's reason.
  const because = typeof cause === 'string' && cause !== '' ? `; ${cause}` : '';
  if (Array.isArray(problems) && problems.length > 0) return ` (${listProblems(problems.map(String))}${because})`;
  if (typeof lastError === 'string' && lastError !== '') return ` (${lastError})`;
  return '';
}
