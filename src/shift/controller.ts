import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../clock.js';
import * as D from '../defaults.js';
import { describeError, isPgshiftError, PgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import { Actions } from './actions.js';
import { CANCELLED, HANDED_OVER } from './executor.js';
import { cancellable, guardsOf } from './decide.js';
import type { Guard } from './guards.js';
import { IntentDesk, type RequestOptions } from './intents.js';
import { PairRuntime, PairStateWriter, type ControlledPair } from './runtime.js';
import type { Intent, IntentAction, PairState, Transition, TransitionKind } from './state.js';
import { firstStage } from './stages.js';
import type { LeaderLease, ShiftStore } from './store.js';
import { cutoverOf, lastWriteWindowOf, preparationOf, readPairView, type PairView } from './view.js';
import type { CutoverView, ObservedTraffic, PreparationView, WriteWindowView } from './view-schemas.js';

export type { ControlledPair, RequestOptions };

export interface ControllerOptions {
  store: ShiftStore;
  lease: LeaderLease;
  clock: Clock;
  log: Logger;
  /** Who this process is in the leader table and the audit log. */
  instanceId: string;
  pairs: ControlledPair[];
  tickMs?: number;
  /** How old Route 53 weights and the preflight verdict may be when a tick reads them. */
  observeMs?: number;
  /** How often both clusters are described (RDS has its own request limits, shared by the account). */
  clustersCheckMs?: number;
  /** Told after each journal write is stored (the crash tests' hook). */
  afterJournal?: (transition: Transition) => void;
}

export interface ControllerEvents {
  stage: { pair: string; from: string; to: string; kind: TransitionKind };
  change: { pair: string };
  /** A long step of the pair's transition reported progress (the view has it). */
  progress: { pair: string };
}

/**
 * The heart of pgshift: a loop that reconciles each pair's stored stage with the world.
 * Leadership comes from the lease; only the leader acts. Each tick of a pair reads the
 * store and what was last observed, asks `decide` for one action and carries it out
 * (actions.ts, the executor for transitions). A breaching sample does not wait for a
 * tick: the revert fast path sends reads back from memory (actions.ts).
 */
export class ShiftController extends EventEmitter {
  private readonly store: ShiftStore;
  private readonly lease: LeaderLease;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly instanceId: string;
  private readonly runtimes: Map<string, PairRuntime>;
  private readonly tickMs: number;
  private readonly observeMs: number;
  private readonly clustersCheckMs: number;
  private readonly actions: Actions;
  private readonly desk: IntentDesk;
  private readonly work = new Set<Promise<void>>();
  private lifetime = new AbortController();
  /** Aborted when the process begins to stop: transitions end the step they are in and start no other. */
  private readonly handOver = new AbortController();
  private readonly unsubscribers: (() => void)[] = [];
  private loop: Promise<void> | null = null;
  private stopping = false;
  private wakeLoop: (() => void) | null = null;
  private leaderSince: number | null = null;
  /** Led until the state database stopped answering: may still send reads back to blue. */
  private formerLeader = false;

  constructor(options: ControllerOptions) {
    super();
    this.store = options.store;
    this.lease = options.lease;
    this.clock = options.clock;
    this.log = options.log.child({ component: 'controller' });
    this.instanceId = options.instanceId;
    this.runtimes = new Map(options.pairs.map((p) => [p.id, new PairRuntime(p)]));
    this.tickMs = options.tickMs ?? D.CONTROLLER_TICK_MS;
    this.observeMs = options.observeMs ?? D.ROUTE53_OBSERVE_MS;
    this.clustersCheckMs = options.clustersCheckMs ?? D.CLUSTERS_CHECK_MS;
    const writer = new PairStateWriter(this.store, this.clock, this.log, this.lifetime.signal);
    this.actions = new Actions({
      store: this.store,
      writer,
      clock: this.clock,
      log: this.log,
      instanceId: this.instanceId,
      emit: (event, payload) => this.emit(event, payload),
      ...(options.afterJournal ? { afterJournal: options.afterJournal } : {}),
      handOver: this.handOver.signal,
    });
    this.desk = new IntentDesk({
      store: this.store,
      clock: this.clock,
      guards: (runtime, state) => this.freshGuards(runtime, state),
      wake: () => this.wake(),
    });
    // A leader that stopped let go of the lease: try for it now, not at the next tick.
    this.lease.on('released', () => {
      if (!this.stopping) this.wake();
    });
    this.lease.on('lost', (reason) => {
      this.leaderSince = null;
      this.formerLeader = !this.lease.reachable;
      this.log.warn({ reason }, 'stopped acting: leader lease lost');
      // Whoever leads next resumes from the journal; two processes must never run the same steps.
      for (const runtime of this.runtimes.values()) {
        if (!runtime.reverting) runtime.inflight?.abort(new PgshiftError('PGSHIFT_ERR_NOT_LEADER', `leader lease lost: ${reason}`, { status: 503 }));
      }
    });
  }

  get isLeader(): boolean {
    return this.leaderSince !== null && this.lease.held;
  }

  pairIds(): string[] {
    return [...this.runtimes.keys()];
  }

  hasPair(id: string): boolean {
    return this.runtimes.has(id);
  }

  /** Creates missing pairs in the store and arms the revert fast path; no loop yet. */
  async prepare(): Promise<void> {
    for (const runtime of this.runtimes.values()) {
      runtime.state = await this.store.ensurePair(runtime.id, firstStage(runtime.pair.plan).stage, this.clock.now());
      const { signals } = runtime.pair.world;
      this.unsubscribers.push(signals.onSample(() => this.onSample(runtime)), signals.onBreach(() => this.onSample(runtime)));
    }
  }

  async start(): Promise<void> {
    await this.prepare();
    this.stopping = false;
    this.loop = this.runLoop();
  }

  /**
   * Stops the way ECS wants it (SIGTERM, then SIGKILL after the stop timeout): no new
   * round or transition starts; a transition in flight ends the step it is in (a step
   * cut in half is what the journal has to clean up after a crash, not after a stop)
   * and leaves the rest to the next leader through the journal; only what is still
   * running after `handOverMs` is aborted, as a crash would. Then the lease is released,
   * so that the standby takes over at once.
   */
  async stop(handOverMs = 0): Promise<void> {
    this.stopping = true;
    this.handOver.abort(new PgshiftError(HANDED_OVER, 'pgshift is stopping: the rest of the transition is left to the next leader', { status: 503 }));
    this.wake();
    const started = Date.now();
    const settled = Promise.all([this.loop, ...this.work]).then(() => true);
    const inFlight = [...this.runtimes.values()].filter((r) => r.inflight).map((r) => r.id);
    if (inFlight.length > 0) this.log.info({ pairs: inFlight, handOverMs }, 'stopping: finishing the step in flight');
    // Wall time, not the controller's clock: the budget is ECS's, counted from its SIGTERM.
    const timer = new AbortController();
    const finished = await Promise.race([settled, delay(handOverMs, false, { signal: timer.signal }).catch(() => false)]);
    timer.abort();
    if (!finished) this.log.warn({ handOverMs }, 'stopping: the step in flight outlasted the stop budget; aborting it (the journal resumes it)');
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    this.lifetime.abort(new PgshiftError('PGSHIFT_ERR_STOPPING', 'pgshift is stopping'));
    for (const runtime of this.runtimes.values()) runtime.inflight?.abort(new PgshiftError('PGSHIFT_ERR_STOPPING', 'pgshift is stopping'));
    await this.loop;
    await Promise.all(this.work);
    const wasLeader = this.leaderSince !== null;
    await this.lease.release();
    this.leaderSince = null;
    this.log.info({ wasLeader, ms: Date.now() - started }, wasLeader ? 'stopping: leader lease released' : 'stopping: controller stopped');
  }

  /** Asks the loop to run now rather than at its next tick. */
  wake(): void {
    this.wakeLoop?.();
  }

  /** Runs one round for every pair and waits for it, as the loop does without waiting; for tests and tools. */
  async tickOnce(): Promise<void> {
    await this.startRound();
    await Promise.all(this.work);
  }

  private async runLoop(): Promise<void> {
    while (!this.stopping) {
      await this.startRound();
      if (this.stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.tickMs);
        this.wakeLoop = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeLoop = null;
    }
  }

  /**
   * Settles leadership and starts a tick for every pair not still busy with the last
   * one: a pair stuck on a slow store or Route 53 never holds up the others.
   */
  private async startRound(): Promise<void> {
    const leader = await this.lease.tryAcquire();
    this.noteLeadership(leader);
    if (leader) {
      await this.store
        .recordLeader(this.instanceId, this.leaderSince ?? this.clock.now(), this.clock.now())
        .catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'cannot record the leader'));
    }
    for (const runtime of this.runtimes.values()) {
      if (!runtime.busy) void this.track(runtime.exclusive(() => this.tickPair(runtime, leader)));
      else if (leader && runtime.inflight && runtime.state?.transition && cancellable(runtime.state.transition)) void this.track(this.cancelIfReverted(runtime));
    }
  }

  /**
   * A preparation holds its pair for as long as the initial copy takes, and a write
   * cutover for as long as its snapshot does, so the loop's tick cannot see a revert
   * asked for meanwhile: this does, and aborts the transition, which then undoes its
   * steps (executor.ts). A cutover past its writer flip is not cancellable.
   */
  private async cancelIfReverted(runtime: PairRuntime): Promise<void> {
    if (runtime.checkingCancel) return;
    runtime.checkingCancel = true;
    try {
      const revert = (await this.store.pendingIntents(runtime.id)).find((i) => i.action === 'revert');
      // The transition may have passed its point of no return while the intents were read.
      const transition = runtime.state?.transition;
      if (!revert || !transition || !cancellable(transition)) return;
      this.log.warn({ pair: runtime.id, intent: revert.id, actor: revert.actor, kind: runtime.state?.transition?.kind }, 'revert asked for during the transition: giving it up');
      runtime.inflight?.abort(
        new PgshiftError(CANCELLED, `${revert.actor} reverted the pair`, { status: 409, details: { intentId: revert.id, actor: revert.actor, reason: revert.reason } }),
      );
    } finally {
      runtime.checkingCancel = false;
    }
  }

  private noteLeadership(leader: boolean): void {
    if (leader) this.formerLeader = false;
    else if (this.lease.reachable) this.formerLeader = false;
    if (leader && this.leaderSince === null) {
      this.leaderSince = this.clock.now();
      this.log.info({ instance: this.instanceId }, 'became the leader');
    } else if (!leader && this.leaderSince !== null) {
      this.leaderSince = null;
      this.formerLeader = !this.lease.reachable;
      this.log.warn('no longer the leader');
    }
  }

  /** Work that runs past the call that started it: errors are logged here, and stop() waits for it. */
  private track(work: Promise<void>): Promise<void> {
    const tracked = work.catch((err: unknown) => this.log.error({ err: describeError(err) }, 'controller work failed'));
    this.work.add(tracked);
    void tracked.finally(() => this.work.delete(tracked));
    return tracked;
  }

  private async tickPair(runtime: PairRuntime, leader: boolean): Promise<void> {
    // The fast path owns the pair until its revert is written down.
    if (runtime.reverting) return;
    try {
      const state = await this.store.getPair(runtime.id);
      if (!state) throw new PgshiftError('PGSHIFT_ERR_STATE', `pair ${runtime.id} is missing from the state store`);
      runtime.state = state;
      await this.refreshObservations(runtime);
      if (!leader) return;
      const intents = await this.store.pendingIntents(runtime.id);
      await this.actions.carryOut(runtime, intents);
    } catch (err) {
      if (isPgshiftError(err, HANDED_OVER)) {
        this.log.info({ pair: runtime.id, transition: runtime.state?.transition?.id }, 'stopping: the rest is left to the next leader (the journal and the pending requests say where it stands)');
        return;
      }
      runtime.lastError = describeError(err);
      this.log.error({ pair: runtime.id, err: describeError(err), code: isPgshiftError(err) ? err.code : undefined }, 'pair round failed');
    }
  }

  /** Route 53 (shared per hosted zone) and the preflight verdict no older than observeMs, the clusters no older than clustersCheckMs. */
  private async refreshObservations(runtime: PairRuntime, force = false): Promise<void> {
    const now = this.clock.now();
    const { world } = runtime.pair;
    // A listing from before the stage began (another process may have moved the records) says nothing about it.
    const sinceStage = runtime.state ? Math.max(0, now - runtime.state.stageEnteredAt) : this.observeMs;
    try {
      runtime.observed = await world.traffic.observe(Math.min(this.observeMs, sinceStage));
    } catch (err) {
      runtime.lastError = `reading Route 53: ${describeError(err)}`;
      this.log.warn({ pair: runtime.id, err: describeError(err) }, 'cannot read the weights');
    }
    if (force || runtime.checkedAt === null || now - runtime.checkedAt >= this.clustersCheckMs) {
      [runtime.clusters, runtime.clustersView] = await Promise.all([world.clusters.check(), world.clusters.view()]);
      runtime.checkedAt = now;
    }
    if (force || runtime.preflightAt === null || now - runtime.preflightAt >= this.observeMs) await this.refreshPreflight(runtime);
  }

  private async refreshPreflight(runtime: PairRuntime): Promise<void> {
    try {
      runtime.preflight = await runtime.pair.world.preflight.last();
      runtime.preflightAt = this.clock.now();
    } catch (err) {
      runtime.lastError = `reading the preflight report: ${describeError(err)}`;
    }
  }

  /** Every sampling round and every reading that breaches: a revert trigger sends reads back now, from memory, without waiting for a tick. */
  private onSample(runtime: PairRuntime): void {
    if (!this.lease.held && !this.formerLeader) return;
    const triggers = this.actions.revertTriggersNow(runtime);
    if (triggers) void this.track(this.actions.autoRevert(runtime, triggers));
  }

  private async freshGuards(runtime: PairRuntime, state: PairState): Promise<Guard[]> {
    // A report run a moment ago must count, without waiting for the loop's next round.
    if (runtime.observed === null || runtime.clusters === null) await this.refreshObservations(runtime, true);
    else await this.refreshPreflight(runtime);
    return this.guards(runtime, state);
  }

  private guards(runtime: PairRuntime, state: PairState): Guard[] {
    return guardsOf({
      pair: runtime.pair,
      state,
      observed: runtime.observed,
      signals: runtime.pair.world.signals.current(),
      clusters: runtime.clusters,
      preflight: runtime.preflight,
      now: this.clock.now(),
    });
  }

  // ---- what the API calls ----

  requirePair(id: string): ControlledPair {
    return this.runtime(id).pair;
  }

  /** The pair as of the last round (leader or not), without a query: stored state and Route 53's weights; nulls before the first. */
  known(id: string): { state: PairState | null; observed: ObservedTraffic | null } {
    const runtime = this.runtimes.get(id);
    return { state: runtime?.state ?? null, observed: runtime?.observed ?? null };
  }

  async state(id: string): Promise<PairState> {
    const runtime = this.runtime(id);
    const state = await this.store.getPair(id);
    if (!state) throw new PgshiftError('PGSHIFT_ERR_PAIR_NOT_FOUND', `no pair "${id}"`, { status: 404 });
    runtime.state = state;
    return state;
  }

  /** Records an operator's intent for the loop; see IntentDesk.request. Throws 404 for an unknown pair. */
  async request(id: string, action: IntentAction, options: RequestOptions): Promise<Intent> {
    const runtime = this.runtime(id);
    return this.desk.request(runtime, await this.state(id), action, options);
  }

  /** Waits until the loop has carried out an intent, or `timeoutMs` passes. */
  waitForIntent(id: string, timeoutMs: number): Promise<Intent> {
    return this.desk.waitFor(id, timeoutMs);
  }

  async view(id: string): Promise<PairView> {
    const runtime = this.runtime(id);
    const state = await this.state(id);
    return readPairView(runtime, state, this.guards(runtime, state), this.clock.now());
  }

  /** The preparation under way as this process last knew it (no query); null when none. */
  preparation(id: string): PreparationView | null {
    const runtime = this.runtime(id);
    return runtime.state ? preparationOf(runtime, runtime.state) : null;
  }

  /** The write cutover under way and the last one's write window, as this process last knew them (no query). */
  cutover(id: string): { current: CutoverView | null; lastWriteWindow: WriteWindowView | null } {
    const runtime = this.runtime(id);
    const state = runtime.state;
    if (!state) return { current: null, lastWriteWindow: null };
    return { current: cutoverOf(runtime, state, this.clock.now()), lastWriteWindow: lastWriteWindowOf(runtime, state.lastTransition) };
  }

  async leader(): Promise<{ self: boolean; instance: string; holder: string | null; since: number | null; seenAt: number | null }> {
    const info = await this.store.leader();
    return { self: this.isLeader, instance: this.instanceId, holder: info?.holder ?? null, since: info?.since ?? null, seenAt: info?.seenAt ?? null };
  }

  private runtime(id: string): PairRuntime {
    const runtime = this.runtimes.get(id);
    if (!runtime) throw new PgshiftError('PGSHIFT_ERR_PAIR_NOT_FOUND', `no pair "${id}"`, { status: 404 });
    return runtime;
  }
}
