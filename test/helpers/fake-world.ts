import { EventEmitter } from 'node:events';
import type { Clock } from '../../src/clock.js';
import { PgshiftError } from '../../src/errors.js';
import type { LeaderLease } from '../../src/shift/store.js';
import type {
  ClusterCheck,
  CutoverProblem,
  CutoverSettings,
  CutoverSnapshot,
  PairCutover,
  InsyncChange,
  ObservedTraffic,
  PairPreparation,
  PairTraffic,
  PairWorld,
  PreflightBlocker,
  PreflightStatus,
  PreparationContext,
  PreparationStep,
  StepDetail,
  ReplicationView,
  SignalStatus,
  SubmitOptions,
  SubmittedChange,
} from '../../src/shift/ports.js';
import { type Side, type Weights } from '../../src/shift/model.js';
import type { ClusterView } from '../../src/shift/view-schemas.js';

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
  /** Moves time on and yields to timers and I/O, so a retry loop on fake time never starves the test. */
  async sleep(ms: number): Promise<void> {
    this.current += ms;
    await new Promise((resolve) => setImmediate(resolve));
  }
  advance(seconds: number): void {
    this.current += seconds * 1000;
  }
}

export class MemoryTraffic implements PairTraffic {
  weights: Omit<ObservedTraffic, 'at'> = { reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } };
  readonly applied: { weights: Weights; comment: string; urgent: boolean }[] = [];
  /** Every call in order: `observe`, `submit`, `insync`. */
  readonly calls: string[] = [];
  failNext: Error | null = null;
  /** Throws while waiting for INSYNC, after the change went out (the process "dies" waiting). */
  failAfterSubmit: Error | null = null;
  /** While set, listing the records fails (Route 53 throttles or times out the reads). */
  failObserve: Error | null = null;
  private changes = 0;

  constructor(private readonly clock: Clock) {}

  async observe(): Promise<ObservedTraffic> {
    this.calls.push('observe');
    if (this.failObserve) throw this.failObserve;
    return { ...structuredClone(this.weights), at: this.clock.now() };
  }

  async submit(weights: Weights, options: SubmitOptions): Promise<SubmittedChange> {
    this.calls.push('submit');
    if (options.signal?.aborted) throw options.signal.reason;
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = null;
      throw err;
    }
    this.weights = structuredClone(weights);
    this.applied.push({ weights: structuredClone(weights), comment: options.comment, urgent: options.urgent });
    return { changeId: `/change/C${++this.changes}`, submittedAt: this.clock.now(), submitMs: 1 };
  }

  async waitInsync(change: SubmittedChange): Promise<InsyncChange> {
    this.calls.push('insync');
    if (this.failAfterSubmit) {
      const err = this.failAfterSubmit;
      this.failAfterSubmit = null;
      throw err;
    }
    return { insyncAt: change.submittedAt + 5, insyncMs: 5 };
  }

  /** Someone edits the records by hand. */
  edit(weights: Omit<ObservedTraffic, 'at'>): void {
    this.weights = structuredClone(weights);
  }
}

export function healthySignal(name: string, at: number): SignalStatus {
  return {
    id: `${name}:green`,
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

  constructor(clock: Clock) {
    this.statuses = [healthySignal('lag-seconds', clock.now())];
  }

  current(): SignalStatus[] {
    return structuredClone(this.statuses);
  }

  /** The side replication runs from (fakeWorld ties it to the cutover's publisher). */
  replicationFrom: () => Side = () => 'blue';

  replication(): ReplicationView | null {
    return { direction: this.replicationFrom() === 'blue' ? 'blue->green' : 'green->blue', lagSeconds: 0.1, lagBytes: 0, healthy: true };
  }

  onBreach(listener: () => void): () => void {
    this.emitter.on('breach', listener);
    return () => this.emitter.off('breach', listener);
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
  /** Whether the state database answers; a stopped one leaves a former leader allowed to revert. */
  reachable = true;
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

/**
 * Preparation steps that remember what they "made" in `made` (as replication/ makes
 * roles, databases, a subscription on green) and what ran, in `log`. A step may be told
 * to fail (`failWith`) or to wait for the test (`hold`): the initial copy does, reporting
 * progress, until `release()`.
 */
export class MemoryPreparation implements PairPreparation {
  readonly made = new Set<string>();
  readonly log: string[] = [];
  /** Step name -> error its next run throws. */
  readonly failWith = new Map<string, Error>();
  /** Step name -> the step waits in its run until released (or aborted). */
  readonly hold = new Set<string>();
  private releases: (() => void)[] = [];
  createGreen: PreparationStep | null = null;
  readonly greenLogin: PreparationStep;
  private readonly steps: PreparationStep[];

  constructor(private readonly clock: Clock) {
    this.greenLogin = this.step('green-login');
    this.steps = ['roles', 'databases', 'schema', 'subscription', 'initial-copy', 'verify'].map((name) => this.step(name));
  }

  replication(): PreparationStep[] {
    return this.steps;
  }

  /** Lets every held step go on. */
  release(): void {
    for (const release of this.releases.splice(0)) release();
  }

  private step(name: string): PreparationStep {
    return {
      name,
      run: async (ctx: PreparationContext): Promise<StepDetail> => {
        this.log.push(`run ${name}`);
        const failure = this.failWith.get(name);
        if (failure) {
          this.failWith.delete(name);
          throw failure;
        }
        await ctx.note({ planned: name });
        this.made.add(name);
        if (this.hold.has(name)) {
          ctx.progress({ at: this.clock.now(), tablesTotal: 4, tablesDone: 1, bytesTotal: 4000, bytesDone: 1000, bytesPerSecond: 500, etaSeconds: 6, databases: [] });
          await new Promise<void>((resolve, reject) => {
            this.releases.push(resolve);
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true });
          });
        }
        return { made: name };
      },
      undo: async (detail: StepDetail) => {
        this.log.push(`undo ${name}`);
        if (detail.planned === name) this.made.delete(name);
      },
    };
  }
}

/**
 * The two sides as far as the cutover goes: which side is frozen, takes writes,
 * publishes; every call logged in order. `failWith` makes a method throw once; `hold`
 * makes one wait until released (or aborted, when it is given a signal).
 */
export class MemoryCutover implements PairCutover {
  settings: CutoverSettings = {
    maxFreezeMs: 5_000,
    validateBudgetMs: 2_000,
    exactCountMaxRows: 100_000,
    sequenceMargin: 0,
    maxLagSeconds: 2,
    snapshotMaxAgeMs: 3_600_000,
    rollbackWindowMs: 0,
  };
  readonly log: string[] = [];
  frozen = new Set<Side>();
  writable: Side = 'blue';
  publisher: Side = 'blue';
  snapshots: CutoverSnapshot[] = [];
  parityProblems: CutoverProblem[] = [];
  mismatches: string[] = [];
  /** The way back was closed (finalize). */
  closed = false;
  readonly failWith = new Map<string, Error>();
  private readonly held = new Map<string, () => void>();
  readonly hold = new Set<string>();

  constructor(private readonly clock: Clock) {}

  release(name: string): void {
    this.held.get(name)?.();
  }

  private async call(name: string, signal?: AbortSignal): Promise<void> {
    this.log.push(name);
    const failure = this.failWith.get(name);
    if (failure) {
      this.failWith.delete(name);
      throw failure;
    }
    if (this.hold.has(name)) {
      this.hold.delete(name);
      await new Promise<void>((resolve, reject) => {
        this.held.set(name, resolve);
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
    }
  }

  async parity(from: Side): Promise<CutoverProblem[]> {
    await this.call(`parity ${from}`);
    return this.parityProblems;
  }
  async recentSnapshot(side: Side, maxAgeMs: number): Promise<CutoverSnapshot | null> {
    return this.snapshots.find((s) => s.id.includes(side) && this.clock.now() - s.createdAt <= maxAgeMs) ?? null;
  }
  async snapshot(side: Side, id: string, signal: AbortSignal): Promise<CutoverSnapshot> {
    await this.call(`snapshot ${side}`, signal);
    const taken = { id, createdAt: this.clock.now() };
    this.snapshots.push(taken);
    return taken;
  }
  snapshotId(side: Side, now: number): string {
    return `pgshift-${side}-${now}`;
  }
  async pitr(): Promise<null> {
    return null;
  }
  async freeze(side: Side): Promise<{ frozenRoles: string[]; sessionsTerminated: number }> {
    await this.call(`freeze ${side}`);
    this.frozen.add(side);
    return { frozenRoles: ['app'], sessionsTerminated: 1 };
  }
  async unfreeze(side: Side): Promise<{ restoredRoles: string[] }> {
    await this.call(`unfreeze ${side}`);
    const was = this.frozen.delete(side);
    return { restoredRoles: was ? ['app'] : [] };
  }
  async catchUp(from: Side): Promise<{ waitedMs: number }> {
    await this.call(`catch-up ${from}`);
    return { waitedMs: 3 };
  }
  async copySequences(from: Side): Promise<{ copied: number; alreadyAhead: number }> {
    await this.call(`sequences ${from}`);
    return { copied: 2, alreadyAhead: 0 };
  }
  async validate(from: Side): Promise<{ ok: boolean; mismatches: string[]; tables: number; ms: number }> {
    await this.call(`validate ${from}`);
    return { ok: this.mismatches.length === 0, mismatches: this.mismatches, tables: 3, ms: 1 };
  }
  async replicateFrom(sender: Side): Promise<void> {
    await this.call(`replicate-from ${sender}`);
    this.publisher = sender;
  }
  async openWrites(side: Side): Promise<void> {
    await this.call(`open-writes ${side}`);
    this.writable = side;
    this.frozen.delete(side);
  }
  async closeWayBack(): Promise<{ dropped: string[] }> {
    await this.call('close-way-back');
    this.closed = true;
    return { dropped: ['subscription on blue (demo)'] };
  }
}

export interface FakeWorld extends PairWorld {
  traffic: MemoryTraffic;
  signals: ScriptedSignals;
  drained: string[];
  clusterCheck: ClusterCheck;
  preflightStatus: PreflightStatus | null;
  /** What the next preflight run (of a preparation) finds. */
  preflightBlockers: PreflightBlocker[];
  preparation: MemoryPreparation;
  cutover: MemoryCutover;
}

export function fakeWorld(clock: Clock): FakeWorld {
  const world: FakeWorld = {
    traffic: new MemoryTraffic(clock),
    signals: new ScriptedSignals(clock),
    drained: [],
    clusterCheck: { ok: true, problems: [] },
    preflightStatus: { ok: true, blockers: 0, at: clock.now() },
    clusters: {
      check: async () => world.clusterCheck,
      view: async () => ({ blue: fakeCluster('13.23'), green: fakeCluster('14.23'), lastSnapshot: null, pitr: null }),
    },
    preflightBlockers: [],
    preflight: {
      last: async () => world.preflightStatus,
      run: async () => {
        world.preflightStatus = { ok: world.preflightBlockers.length === 0, blockers: world.preflightBlockers.length, at: clock.now() };
        return { ...world.preflightStatus, blockerFindings: world.preflightBlockers };
      },
    },
    preparation: new MemoryPreparation(clock),
    cutover: new MemoryCutover(clock),
    sessions: {
      drain: async (side) => {
        world.drained.push(side);
        return 2;
      },
    },
  };
  // Replication runs from whichever side publishes: the cutover turns it round.
  world.signals.replicationFrom = () => world.cutover.publisher;
  return world;
}

export const unavailable = (message: string) => new PgshiftError('PGSHIFT_ERR_ROUTE53_UNAVAILABLE', message, { status: 503 });

function fakeCluster(version: string): ClusterView {
  return { id: `c-${version}`, engine: 'aurora-postgresql', version, major: Number.parseInt(version, 10), writer: null, reader: null, status: 'available', available: true };
}
