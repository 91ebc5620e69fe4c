import { EventEmitter } from 'node:events';
import type { Clock } from '../../src/clock.js';
import { PgshiftError } from '../../src/errors.js';
import type { LeaderLease } from '../../src/shift/store.js';
import type { ClusterCheck, ObservedTraffic, PairWorld, PreflightStatus, ReplicationView, SignalStatus, TrafficChange } from '../../src/shift/ports.js';
import { type Weights } from '../../src/shift/model.js';

/**
 * In-memory versions of the controller's own ports (STYLE.md tier 2): they record what
 * the controller asked the world to do. Each real adapter is tested against the real
 * thing in its own tests.
 */
export class FakeClock implements Clock {
  constructor(public current = 1_700_000_000_000) {}
  now(): number {
    return this.current;
  }
  async sleep(ms: number): Promise<void> {
    this.current += ms;
  }
  advance(seconds: number): void {
    this.current += seconds * 1000;
  }
}

export class MemoryTraffic {
  weights: ObservedTraffic = { reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } };
  readonly applied: { weights: Weights; comment: string }[] = [];
  failNext: Error | null = null;
  /** Throws after the change is submitted (the process "dies" waiting for INSYNC). */
  failAfterSubmit: Error | null = null;
  private changes = 0;

  constructor(private readonly clock: FakeClock) {}

  async observe(): Promise<ObservedTraffic> {
    return structuredClone(this.weights);
  }

  async apply(weights: Weights, comment: string, onSubmitted?: (changeId: string, at: number) => void): Promise<TrafficChange> {
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = null;
      throw err;
    }
    const changeId = `/change/C${++this.changes}`;
    const submittedAt = this.clock.now();
    this.weights = structuredClone(weights);
    this.applied.push({ weights: structuredClone(weights), comment });
    onSubmitted?.(changeId, submittedAt);
    if (this.failAfterSubmit) {
      const err = this.failAfterSubmit;
      this.failAfterSubmit = null;
      throw err;
    }
    return { changeId, submittedAt, insyncAt: submittedAt + 5, submitMs: 1, insyncMs: 5 };
  }

  /** Someone edits the records by hand. */
  edit(weights: ObservedTraffic): void {
    this.weights = structuredClone(weights);
  }
}

export function healthySignal(name: string, at: number): SignalStatus {
  return {
    name,
    side: 'green',
    state: 'healthy',
    consecutiveBreaches: 0,
    breachesToRevert: 3,
    immediate: false,
    reverts: false,
    value: 0.1,
    limit: 5,
    unit: 's',
    at,
    summary: `${name} 0.1 s <= 5 s`,
  };
}

export class ScriptedSignals {
  statuses: SignalStatus[];
  private readonly emitter = new EventEmitter();

  constructor(clock: FakeClock) {
    this.statuses = [healthySignal('lag-seconds', clock.now())];
  }

  current(): SignalStatus[] {
    return structuredClone(this.statuses);
  }

  replication(): ReplicationView | null {
    return { direction: 'blue->green', lagSeconds: 0.1, lagBytes: 0, healthy: true };
  }

  onSample(listener: () => void): () => void {
    this.emitter.on('sample', listener);
    return () => this.emitter.off('sample', listener);
  }

  breach(name: string, value: number, consecutive: number, at: number): void {
    this.statuses = this.statuses.map((s) =>
      s.name === name
        ? { ...s, state: 'breached', reverts: consecutive >= s.breachesToRevert, value, consecutiveBreaches: consecutive, at, summary: `${name} ${value} s > ${s.limit} s for ${consecutive} samples` }
        : s,
    );
    this.emitter.emit('sample');
  }

  heal(at: number): void {
    this.statuses = this.statuses.map((s) => healthySignal(s.name, at));
  }
}

export class StaticLease extends EventEmitter implements LeaderLease {
  constructor(public holding = true) {
    super();
  }
  get held(): boolean {
    return this.holding;
  }
  async tryAcquire(): Promise<boolean> {
    return this.holding;
  }
  async confirm(): Promise<boolean> {
    return this.holding;
  }
  async release(): Promise<void> {}
  lose(): void {
    this.holding = false;
    this.emit('lost', 'test');
  }
}

export interface FakeWorld extends PairWorld {
  traffic: MemoryTraffic;
  signals: ScriptedSignals;
  drained: string[];
  clusterCheck: ClusterCheck;
  preflightStatus: PreflightStatus | null;
}

export function fakeWorld(clock: FakeClock): FakeWorld {
  const world: FakeWorld = {
    traffic: new MemoryTraffic(clock),
    signals: new ScriptedSignals(clock),
    drained: [],
    clusterCheck: { ok: true, problems: [] },
    preflightStatus: { ok: true, blockers: 0, at: clock.now() },
    clusters: {
      check: async () => world.clusterCheck,
      view: async () => ({ blue: { version: '13.23' }, green: { version: '14.23' } }),
    },
    preflight: {
      last: async () => world.preflightStatus,
    },
    sessions: {
      drain: async (side) => {
        world.drained.push(side);
        return 2;
      },
    },
  };
  return world;
}

export const unavailable = (message: string) => new PgshiftError('PGSHIFT_ERR_ROUTE53_UNAVAILABLE', message, { status: 503 });
