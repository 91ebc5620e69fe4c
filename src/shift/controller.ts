import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import * as D from '../defaults.js';
import { describeError, isPgshiftError, PgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import type { LeaderLease } from './store.js';
import type { Intent, IntentAction, NewAuditEvent, PairState, Transition, TransitionKind } from './state.js';
import type { ShiftStore } from './store.js';
import { evaluateGuards, failingGuards, revertTriggers, type Guard } from './guards.js';
import type { ClusterCheck, ObservedTraffic, PairWorld, PreflightStatus, SignalStatus } from './ports.js';
import { desiredWeights, findStage, nextStage, takesTrafficFromGreen, type StagePlanEntry } from './stages.js';
import { type Weights, sameSplit, sameWeights } from './model.js';

export interface ControlledPair {
  id: string;
  plan: StagePlanEntry[];
  bakeSeconds: number;
  autoAdvance: boolean;
  /** The records' TTL: how long clients may keep using a side after it stops getting traffic. */
  ttlSeconds: number;
  world: PairWorld;
}

export interface ControllerOptions {
  store: ShiftStore;
  lease: LeaderLease;
  clock: Clock;
  log: Logger;
  /** Who this process is in the leader table and the audit log. */
  instanceId: string;
  pairs: ControlledPair[];
  tickMs?: number;
  /** How often Route 53 and the clusters are read for the API, leader or not. */
  observeMs?: number;
}

/** What the controller last saw of a pair, served to the API without asking AWS again. */
interface PairCache {
  state: PairState | null;
  observed: ObservedTraffic | null;
  observedAt: number | null;
  clusters: ClusterCheck | null;
  clustersView: unknown;
  checkedAt: number | null;
  preflight: PreflightStatus | null;
  driftReported: boolean;
  lastError: string | null;
}

export interface ControllerEvents {
  stage: { pair: string; from: string; to: string; kind: TransitionKind };
  change: { pair: string };
}

export interface RequestOptions {
  actor: string;
  expectedStage?: string | undefined;
  reason?: string | undefined;
}

/**
 * The heart of pgshift: one loop that reconciles each pair's stored stage with the
 * world. Leadership comes from the lease; only the leader acts, and it makes at most
 * one transition per pair per tick, journaled before anything moves and stored before
 * the tick returns. Operators' requests are intents the loop carries out. A breached
 * signal sends reads back to blue first and does the bookkeeping after.
 */
export class ShiftController extends EventEmitter {
  private readonly store: ShiftStore;
  private readonly lease: LeaderLease;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly instanceId: string;
  private readonly pairs: Map<string, ControlledPair>;
  private readonly tickMs: number;
  private readonly observeMs: number;
  private readonly cache = new Map<string, PairCache>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unsubscribers: (() => void)[] = [];
  private loop: Promise<void> | null = null;
  private stopping = false;
  private wakeLoop: (() => void) | null = null;
  private leaderSince: number | null = null;

  constructor(options: ControllerOptions) {
    super();
    this.store = options.store;
    this.lease = options.lease;
    this.clock = options.clock;
    this.log = options.log.child({ component: 'controller' });
    this.instanceId = options.instanceId;
    this.pairs = new Map(options.pairs.map((p) => [p.id, p]));
    this.tickMs = options.tickMs ?? D.CONTROLLER_TICK_MS;
    this.observeMs = options.observeMs ?? D.CONTROLLER_OBSERVE_MS;
    for (const pair of options.pairs) this.cache.set(pair.id, emptyCache());
    this.lease.on('lost', (reason) => {
      this.leaderSince = null;
      this.log.warn({ reason }, 'stopped acting: leader lease lost');
    });
  }

  get isLeader(): boolean {
    return this.leaderSince !== null && this.lease.held;
  }

  pairIds(): string[] {
    return [...this.pairs.keys()];
  }

  hasPair(id: string): boolean {
    return this.pairs.has(id);
  }

  /** Creates missing pairs in the store and listens to the signals; no loop yet. */
  async prepare(): Promise<void> {
    const now = this.clock.now();
    for (const pair of this.pairs.values()) {
      this.cache.get(pair.id)!.state = await this.store.ensurePair(pair.id, now);
      // A breach should not wait for the next tick: every sampling round wakes the loop.
      this.unsubscribers.push(pair.world.signals.onSample(() => this.wake()));
    }
  }

  async start(): Promise<void> {
    await this.prepare();
    this.stopping = false;
    this.loop = this.runLoop();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.loop;
    await Promise.all(this.running.values());
    await this.lease.release();
    this.leaderSince = null;
  }

  /** Asks the loop to run now rather than at its next tick. */
  wake(): void {
    this.wakeLoop?.();
  }

  /** Runs one round for every pair, as the loop does; for tests and tools. */
  async tickOnce(): Promise<void> {
    const leader = await this.lease.tryAcquire();
    this.noteLeadership(leader);
    await Promise.all([...this.pairs.values()].map((pair) => this.exclusive(pair.id, () => this.tickPair(pair, leader))));
  }

  private async runLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.tickOnce();
      } catch (err) {
        this.log.error({ err: describeError(err) }, 'controller round failed');
      }
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

  private noteLeadership(leader: boolean): void {
    if (leader && this.leaderSince === null) {
      this.leaderSince = this.clock.now();
      this.log.info({ instance: this.instanceId }, 'became the leader');
    } else if (!leader && this.leaderSince !== null) {
      this.leaderSince = null;
      this.log.warn('no longer the leader');
    }
  }

  /** One pair's work is never interleaved with itself. */
  private async exclusive(id: string, work: () => Promise<void>): Promise<void> {
    const previous = this.running.get(id) ?? Promise.resolve();
    const next = previous.then(work, work).catch((err) => {
      this.cache.get(id)!.lastError = describeError(err);
      this.log.error({ pair: id, err: describeError(err), code: isPgshiftError(err) ? err.code : undefined }, 'pair round failed');
    });
    this.running.set(id, next);
    await next;
  }

  private async tickPair(pair: ControlledPair, leader: boolean): Promise<void> {
    const cache = this.cache.get(pair.id)!;
    const log = this.pairLog(pair, cache.state);
    const state = await this.store.getPair(pair.id);
    if (!state) throw new PgshiftError('PGSHIFT_ERR_STATE', `pair ${pair.id} is missing from the state store`);
    cache.state = state;
    await this.refreshObservations(pair, cache, leader);
    if (!leader) return;

    await this.store.recordLeader(this.instanceId, this.leaderSince ?? this.clock.now(), this.clock.now());
    if (state.transition) {
      await this.resumeTransition(pair, state);
      return;
    }

    const entry = findStage(pair.plan, state.stage);
    if (!entry) throw new PgshiftError('PGSHIFT_ERR_STATE', `pair ${pair.id} is at unknown stage ${state.stage}`);
    if (entry.kind === 'reads') {
      const triggers = revertTriggers(pair.world.signals.current());
      if (triggers.length > 0) {
        await this.autoRevert(pair, state, triggers);
        return;
      }
    }

    const drifted = await this.checkDrift(pair, state, entry, log);
    if (drifted === 'adopted') return;
    const current = cache.state ?? state;

    const intents = await this.store.pendingIntents(pair.id);
    if (intents.length > 0) {
      await this.carryOut(pair, current, intents, drifted === 'drift');
      return;
    }

    if (pair.autoAdvance && !current.paused && !current.halted && drifted === 'none') {
      const next = nextStage(pair.plan, current.stage);
      const guards = this.guards(pair, current);
      if (next && failingGuards(guards).length === 0) {
        await this.runTransition(pair, current, 'advance', next, { actor: `${this.instanceId} (auto-advance)`, reason: 'every guard holds', intentId: null });
      }
    }
  }

  private async refreshObservations(pair: ControlledPair, cache: PairCache, leader: boolean): Promise<void> {
    const now = this.clock.now();
    // The leader reads every tick (it acts on what it sees); others refresh for the API.
    if (leader || cache.observedAt === null || now - cache.observedAt >= this.observeMs) {
      try {
        cache.observed = await pair.world.traffic.observe();
        cache.observedAt = now;
      } catch (err) {
        cache.lastError = `reading Route 53: ${describeError(err)}`;
        this.log.warn({ pair: pair.id, err: describeError(err) }, 'cannot read the weights');
      }
    }
    if (cache.checkedAt === null || now - cache.checkedAt >= this.observeMs) {
      cache.clusters = await pair.world.clusters.check();
      cache.clustersView = await pair.world.clusters.view();
      cache.checkedAt = now;
    }
    await this.refreshPreflight(pair, cache);
  }

  private async refreshPreflight(pair: ControlledPair, cache: PairCache): Promise<void> {
    try {
      cache.preflight = await pair.world.preflight.last();
    } catch (err) {
      cache.lastError = `reading the preflight report: ${describeError(err)}`;
    }
  }

  /**
   * Route 53 differs from the stage and pgshift did not do it. Traffic found all on
   * blue during a read stage is adopted as an interrupted revert (the safe direction);
   * any other difference pauses the pair and is reported, never overwritten.
   */
  private async checkDrift(
    pair: ControlledPair,
    state: PairState,
    entry: StagePlanEntry,
    log: Logger,
  ): Promise<'none' | 'drift' | 'adopted'> {
    const cache = this.cache.get(pair.id)!;
    const observed = cache.observed;
    if (!observed) return 'none';
    const desired = entry.weights;
    if (observed.reader && observed.writer && sameSplit(observed.reader, desired.reader) && sameSplit(observed.writer, desired.writer)) {
      cache.driftReported = false;
      return 'none';
    }
    const baseline = pair.plan[0]!.weights;
    if (entry.kind === 'reads' && observed.reader && observed.writer && sameWeights({ reader: observed.reader, writer: observed.writer }, baseline)) {
      const reason = 'Route 53 already sends every read to blue (an interrupted revert); adopted as a revert and halted';
      cache.state = await this.store.updatePair(
        pair.id,
        state.version,
        { stage: 'baseline', stageEnteredAt: this.clock.now(), halted: true, haltReason: reason, transition: null },
        this.clock.now(),
        this.event(pair.id, 'auto-revert', state.stage, 'baseline', 'ok', reason, { observed }),
      );
      log.warn({ observed }, reason);
      this.emit('stage', { pair: pair.id, from: state.stage, to: 'baseline', kind: 'auto-revert' });
      return 'adopted';
    }
    if (!cache.driftReported) {
      cache.driftReported = true;
      const reason = `Route 53 differs from stage ${state.stage} and pgshift did not change it: ${describeTraffic(observed)}; stage wants ${describeWeights(desired)}`;
      cache.state = await this.store.updatePair(
        pair.id,
        state.version,
        { paused: true },
        this.clock.now(),
        this.event(pair.id, 'drift-paused', state.stage, state.stage, 'info', reason, { observed, desired }),
      );
      log.warn({ observed, desired }, 'weights drifted; pair paused');
      this.emit('change', { pair: pair.id });
    }
    return 'drift';
  }

  private async carryOut(pair: ControlledPair, state: PairState, intents: Intent[], drifted: boolean): Promise<void> {
    // A revert overtakes everything queued before it: nobody wants an advance first.
    const revert = intents.find((i) => i.action === 'revert');
    if (revert) {
      for (const earlier of intents) {
        if (earlier === revert) break;
        if (earlier.action === 'advance') await this.finish(earlier, 'rejected', { reason: 'overtaken by a revert' });
      }
    }
    const intent = revert ?? intents[0]!;
    const now = this.clock.now();
    switch (intent.action) {
      case 'pause':
        this.cache.get(pair.id)!.state = await this.store.updatePair(
          pair.id,
          state.version,
          { paused: true },
          now,
          this.event(pair.id, 'pause', state.stage, state.stage, 'ok', intent.reason, null, intent.actor),
        );
        await this.finish(intent, 'done', { stage: state.stage });
        break;
      case 'resume':
        this.cache.get(pair.id)!.state = await this.store.updatePair(
          pair.id,
          state.version,
          { paused: false, halted: false, haltReason: null },
          now,
          this.event(pair.id, 'resume', state.stage, state.stage, 'ok', intent.reason, { wasHalted: state.halted, haltReason: state.haltReason }, intent.actor),
        );
        await this.finish(intent, 'done', { stage: state.stage });
        break;
      case 'revert':
        await this.carryOutRevert(pair, state, intent);
        break;
      case 'advance':
        await this.carryOutAdvance(pair, state, intent, drifted);
        break;
    }
  }

  private async carryOutRevert(pair: ControlledPair, state: PairState, intent: Intent): Promise<void> {
    const entry = findStage(pair.plan, state.stage)!;
    if (entry.kind === 'baseline') {
      const observed = this.cache.get(pair.id)!.observed;
      if (observed?.reader && observed.writer && sameWeights({ reader: observed.reader, writer: observed.writer }, entry.weights)) {
        await this.finish(intent, 'done', { stage: 'baseline', note: 'already at baseline' });
        return;
      }
    } else if (entry.kind !== 'reads') {
      await this.reject(pair, state, intent, `reverting from ${state.stage} needs the write cutover, which is not available yet`);
      return;
    }
    await this.runTransition(pair, state, 'revert', pair.plan[0]!, { actor: intent.actor, reason: intent.reason, intentId: intent.id });
  }

  private async carryOutAdvance(pair: ControlledPair, state: PairState, intent: Intent, drifted: boolean): Promise<void> {
    if (intent.expectedStage !== null && intent.expectedStage !== state.stage) {
      await this.reject(pair, state, intent, `expected stage ${intent.expectedStage} but the pair is at ${state.stage}`);
      return;
    }
    const failing = failingGuards(this.guards(pair, state));
    if (drifted || failing.length > 0) {
      await this.reject(pair, state, intent, failing.map((g) => `${g.name}: ${g.detail}`).join('; ') || 'weights drifted', {
        guards: failing,
      });
      return;
    }
    await this.runTransition(pair, state, 'advance', nextStage(pair.plan, state.stage)!, {
      actor: intent.actor,
      reason: intent.reason,
      intentId: intent.id,
    });
  }

  private async reject(pair: ControlledPair, state: PairState, intent: Intent, reason: string, details: unknown = null): Promise<void> {
    await this.store.recordEvent(this.event(pair.id, intent.action, state.stage, null, 'rejected', reason, details, intent.actor), this.clock.now());
    await this.finish(intent, 'rejected', { reason, details });
  }

  private async finish(intent: Intent, status: 'done' | 'rejected' | 'failed', result: unknown): Promise<void> {
    await this.store.finishIntent(intent.id, status, result, this.clock.now());
  }

  /**
   * Moves a pair to `to`: journal, one change batch, INSYNC, verify, commit. Each step is
   * safe to repeat, so a crash anywhere is finished or rolled back by resumeTransition.
   */
  private async runTransition(
    pair: ControlledPair,
    state: PairState,
    kind: TransitionKind,
    to: StagePlanEntry,
    who: { actor: string; reason: string | null; intentId: string | null },
  ): Promise<void> {
    const now = this.clock.now();
    const transition: Transition = {
      id: randomUUID(),
      kind,
      from: state.stage,
      to: to.stage,
      weights: to.weights,
      startedAt: now,
      actor: who.actor,
      reason: who.reason,
      intentId: who.intentId,
    };
    const journaled = await this.store.updatePair(
      pair.id,
      state.version,
      { transition },
      now,
      this.event(pair.id, `${kind}-started`, state.stage, to.stage, 'info', who.reason, { transitionId: transition.id }, who.actor),
    );
    this.cache.get(pair.id)!.state = journaled;
    this.pairLog(pair, journaled).info({ from: state.stage, to: to.stage, kind }, `${kind}: ${state.stage} -> ${to.stage}`);
    await this.completeTransition(pair, journaled, transition, to.weights, to.stage, 'finished');
  }

  /** A transition found in the journal: finish it, or roll back an advance never submitted. */
  private async resumeTransition(pair: ControlledPair, state: PairState): Promise<void> {
    const t = state.transition!;
    if (t.kind === 'advance' && t.changeId === undefined) {
      const back = desiredWeights(pair.plan, t.from)!;
      this.pairLog(pair, state).warn({ to: t.to }, 'rolling back an advance interrupted before its change was submitted');
      await this.completeTransition(pair, state, t, back, t.from, 'rolled-back');
      return;
    }
    this.pairLog(pair, state).warn({ to: t.to, kind: t.kind }, 'finishing an interrupted transition');
    await this.completeTransition(pair, state, t, t.weights, t.to, 'finished');
  }

  private async completeTransition(
    pair: ControlledPair,
    journaled: PairState,
    transition: Transition,
    weights: Weights,
    landing: string,
    outcome: 'finished' | 'rolled-back',
  ): Promise<void> {
    this.assertLeader();
    let state = journaled;
    let journalSubmit: Promise<PairState> | null = null;
    const comment = `pgshift ${pair.id}: ${transition.kind} ${transition.from} -> ${landing} by ${this.instanceId}`;
    const change = await pair.world.traffic.apply(weights, comment, (changeId, at) => {
      journalSubmit = this.store.updatePair(
        pair.id,
        state.version,
        { transition: { ...transition, changeId, submittedAt: at } },
        at,
      );
    });
    if (journalSubmit) state = await (journalSubmit as Promise<PairState>);

    const observed = await pair.world.traffic.observe();
    const cache = this.cache.get(pair.id)!;
    cache.observed = observed;
    cache.observedAt = this.clock.now();
    if (!observed.reader || !observed.writer || !sameWeights({ reader: observed.reader, writer: observed.writer }, weights)) {
      throw new PgshiftError(
        'PGSHIFT_ERR_VERIFY_FAILED',
        `after change ${change.changeId} Route 53 holds ${describeTraffic(observed)}, not ${describeWeights(weights)}; will retry`,
        { status: 503 },
      );
    }

    const now = this.clock.now();
    const done: Transition = { ...transition, changeId: change.changeId, submittedAt: change.submittedAt };
    const action = outcome === 'rolled-back' ? `${transition.kind}-rolled-back` : transition.kind;
    const fromWeights = desiredWeights(pair.plan, transition.from)!;
    state = await this.store.updatePair(
      pair.id,
      state.version,
      {
        stage: landing as PairState['stage'],
        stageEnteredAt: now,
        transition: null,
        lastTransition: done,
        ...(transition.kind === 'auto-revert' ? { halted: true } : {}),
      },
      now,
      this.event(pair.id, action, transition.from, landing, 'ok', transition.reason, {
        changeId: change.changeId,
        submitMs: change.submitMs,
        insyncMs: change.insyncMs,
        transitionId: transition.id,
      }, transition.actor),
    );
    cache.state = state;
    if (transition.intentId) {
      await this.store.finishIntent(transition.intentId, outcome === 'finished' ? 'done' : 'failed', { stage: landing, changeId: change.changeId }, now);
    }
    this.pairLog(pair, state).info({ changeId: change.changeId, submitMs: change.submitMs, insyncMs: change.insyncMs }, `${action}: now at ${landing}`);
    this.emit('stage', { pair: pair.id, from: transition.from, to: landing, kind: transition.kind });
    if (takesTrafficFromGreen(fromWeights, weights)) this.scheduleDrain(pair, 'green');
  }

  /**
   * Reads go back to blue in one change batch before anything is written down: the
   * state store being slow or down must not delay the revert. Then the pair is halted
   * with the numbers that broke, and green's remaining sessions are ended after a TTL.
   */
  private async autoRevert(pair: ControlledPair, state: PairState, triggers: SignalStatus[]): Promise<void> {
    this.assertLeader();
    const baseline = pair.plan[0]!;
    const reason = triggers.map((t) => t.summary).join('; ');
    const breachAt = Math.min(...triggers.map((t) => t.at ?? this.clock.now()));
    let submittedAt: number | null = null;
    const log = this.pairLog(pair, state);
    const change = await pair.world.traffic.apply(baseline.weights, `pgshift ${pair.id}: auto-revert by ${this.instanceId} (${reason})`.slice(0, 256), (_id, at) => {
      submittedAt = at;
      log.warn({ breachToSubmitMs: at - breachAt }, `auto-revert submitted: ${reason}`);
    });
    const breachToSubmitMs = (submittedAt ?? change.submittedAt) - breachAt;
    const breachToInsyncMs = change.insyncAt - breachAt;
    const now = this.clock.now();
    const details = {
      triggers: triggers.map((t) => ({ signal: t.name, side: t.side, value: t.value, limit: t.limit, unit: t.unit, consecutiveBreaches: t.consecutiveBreaches, summary: t.summary })),
      changeId: change.changeId,
      breachToSubmitMs,
      breachToInsyncMs,
    };
    const transition: Transition = {
      id: randomUUID(),
      kind: 'auto-revert',
      from: state.stage,
      to: 'baseline',
      weights: baseline.weights,
      startedAt: breachAt,
      actor: this.instanceId,
      reason,
      intentId: null,
      changeId: change.changeId,
      submittedAt: submittedAt ?? change.submittedAt,
      details,
    };
    const cache = this.cache.get(pair.id)!;
    cache.state = await this.store.updatePair(
      pair.id,
      state.version,
      { stage: 'baseline', stageEnteredAt: now, halted: true, haltReason: `auto-revert: ${reason}`, transition: null, lastTransition: transition },
      now,
      this.event(pair.id, 'auto-revert', state.stage, 'baseline', 'ok', reason, details),
    );
    log.warn({ breachToSubmitMs, breachToInsyncMs, changeId: change.changeId }, `auto-revert: ${state.stage} -> baseline (${reason}); pair halted`);
    this.emit('stage', { pair: pair.id, from: state.stage, to: 'baseline', kind: 'auto-revert' });
    this.scheduleDrain(pair, 'green');
    // So that the guards answered right after the revert judge the records as they are now.
    try {
      cache.observed = await pair.world.traffic.observe();
      cache.observedAt = this.clock.now();
    } catch (err) {
      cache.observedAt = null;
      log.warn({ err: describeError(err) }, 'cannot read Route 53 after the auto-revert');
    }
  }

  /** After one TTL, clients have re-resolved; whoever still holds a session is ended. */
  private scheduleDrain(pair: ControlledPair, side: 'blue' | 'green'): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.isLeader) return;
      void pair.world.sessions.drain(side).then(
        (ended) => this.store.recordEvent(this.event(pair.id, 'drain', null, null, 'ok', `ended ${ended} application session(s) on ${side}`, { side, ended }), this.clock.now()),
        (err) => this.store.recordEvent(this.event(pair.id, 'drain', null, null, 'failed', describeError(err), { side }), this.clock.now()),
      ).catch((err) => this.log.error({ pair: pair.id, err: describeError(err) }, 'cannot record the drain'));
    }, pair.ttlSeconds * 1000);
    this.timers.add(timer);
  }

  private assertLeader(): void {
    if (!this.lease.held) throw new PgshiftError('PGSHIFT_ERR_NOT_LEADER', 'lost the leader lease; not acting', { status: 503 });
  }

  /** The guards of moving `state` one stage forward, from what was last observed. */
  guards(pair: ControlledPair, state: PairState): Guard[] {
    const cache = this.cache.get(pair.id)!;
    return evaluateGuards({
      state,
      plan: pair.plan,
      next: nextStage(pair.plan, state.stage),
      now: this.clock.now(),
      bakeSeconds: pair.bakeSeconds,
      observed: cache.observed,
      signals: pair.world.signals.current(),
      clusters: cache.clusters,
      preflight: cache.preflight,
    });
  }

  // ---- what the API calls ----

  requirePair(id: string): ControlledPair {
    const pair = this.pairs.get(id);
    if (!pair) throw new PgshiftError('PGSHIFT_ERR_PAIR_NOT_FOUND', `no pair "${id}"`, { status: 404 });
    return pair;
  }

  /** The pair as of the last round (leader or not), without a query: stored state and Route 53's weights; nulls before the first. */
  known(id: string): { state: PairState | null; observed: ObservedTraffic | null } {
    const cache = this.cache.get(id);
    return { state: cache?.state ?? null, observed: cache?.observed ?? null };
  }

  async state(id: string): Promise<PairState> {
    this.requirePair(id);
    const state = await this.store.getPair(id);
    if (!state) throw new PgshiftError('PGSHIFT_ERR_PAIR_NOT_FOUND', `no pair "${id}"`, { status: 404 });
    this.cache.get(id)!.state = state;
    return state;
  }

  /**
   * Records an operator's intent for the loop. An advance is checked now as well (stage
   * and guards), so the caller hears "no" at once; the loop checks again when it acts.
   * Throws 404 for an unknown pair, 409 with the reasons when the advance cannot go.
   */
  async request(id: string, action: IntentAction, options: RequestOptions): Promise<Intent> {
    const pair = this.requirePair(id);
    const state = await this.state(id);
    const cache = this.cache.get(id)!;
    if (action === 'advance') {
      if (options.expectedStage !== undefined && options.expectedStage !== state.stage) {
        await this.rejectRequest(id, action, state, options, `expected stage ${options.expectedStage} but the pair is at ${state.stage}`);
        throw new PgshiftError('PGSHIFT_ERR_STAGE_MISMATCH', `the pair is at ${state.stage}, not ${options.expectedStage}`, {
          status: 409,
          details: { stage: state.stage, expectedStage: options.expectedStage },
        });
      }
      // A report run a moment ago must count, without waiting for the loop's next round.
      if (cache.observedAt === null) await this.refreshObservations(pair, cache, false);
      else await this.refreshPreflight(pair, cache);
      const failing = failingGuards(this.guards(pair, state));
      if (failing.length > 0) {
        await this.rejectRequest(id, action, state, options, failing.map((g) => `${g.name}: ${g.detail}`).join('; '), { guards: failing });
        throw new PgshiftError('PGSHIFT_ERR_GUARDS_FAILED', `cannot advance ${id} from ${state.stage}: ${failing.length} guard(s) fail`, {
          status: 409,
          details: { stage: state.stage, guards: failing },
        });
      }
    }
    const intent = await this.store.createIntent(
      { pair: id, action, expectedStage: options.expectedStage ?? null, reason: options.reason ?? null, actor: options.actor },
      this.clock.now(),
    );
    this.wake();
    return intent;
  }

  private async rejectRequest(id: string, action: string, state: PairState, options: RequestOptions, reason: string, details: unknown = null) {
    await this.store.recordEvent(this.event(id, action, state.stage, null, 'rejected', reason, details, options.actor), this.clock.now());
  }

  /** Waits until the loop has carried out an intent, or `timeoutMs` passes. */
  async waitForIntent(id: string, timeoutMs: number): Promise<Intent> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      const intent = await this.store.getIntent(id);
      if (!intent) throw new PgshiftError('PGSHIFT_ERR_INTENT_NOT_FOUND', `no intent ${id}`, { status: 404 });
      if (intent.status !== 'pending' || this.clock.now() >= deadline) return intent;
      await this.clock.sleep(D.INTENT_POLL_MS);
    }
  }

  /** What the API shows of a pair: stored state, what was last seen of the world, guards. */
  async view(id: string): Promise<PairView> {
    const pair = this.requirePair(id);
    const state = await this.state(id);
    const cache = this.cache.get(id)!;
    const entry = findStage(pair.plan, state.stage);
    return {
      id,
      stage: state.stage,
      paused: state.paused,
      halted: state.halted,
      haltReason: state.haltReason,
      stageEnteredAt: state.stageEnteredAt,
      weights: entry?.weights ?? null,
      observed: cache.observed,
      observedAt: cache.observedAt,
      clusters: cache.clustersView ?? null,
      replication: pair.world.signals.replication(),
      signals: pair.world.signals.current(),
      guards: this.guards(pair, state),
      preflight: cache.preflight,
      transition: state.transition,
      lastTransition: state.lastTransition,
      stages: pair.plan.map((p) => p.stage),
      autoAdvance: pair.autoAdvance,
      bakeSeconds: pair.bakeSeconds,
      lastError: cache.lastError,
    };
  }

  async leader(): Promise<{ self: boolean; instance: string; holder: string | null; since: number | null; seenAt: number | null }> {
    const info = await this.store.leader();
    return {
      self: this.isLeader,
      instance: this.instanceId,
      holder: info?.holder ?? null,
      since: info?.since ?? null,
      seenAt: info?.seenAt ?? null,
    };
  }

  private event(
    pair: string,
    action: string,
    fromStage: string | null,
    toStage: string | null,
    outcome: NewAuditEvent['outcome'],
    reason: string | null,
    details: unknown,
    actor = this.instanceId,
  ): NewAuditEvent {
    return { pair, actor, action, fromStage, toStage, outcome, reason, details: details ?? null };
  }

  private pairLog(pair: ControlledPair, state: PairState | null): Logger {
    return this.log.child({ pair: pair.id, stage: state?.stage ?? null });
  }
}

export interface PairView {
  id: string;
  stage: string;
  paused: boolean;
  halted: boolean;
  haltReason: string | null;
  stageEnteredAt: number;
  weights: Weights | null;
  observed: ObservedTraffic | null;
  observedAt: number | null;
  clusters: unknown;
  replication: ReturnType<PairWorld['signals']['replication']>;
  signals: SignalStatus[];
  guards: Guard[];
  preflight: PreflightStatus | null;
  transition: Transition | null;
  lastTransition: Transition | null;
  stages: string[];
  autoAdvance: boolean;
  bakeSeconds: number;
  lastError: string | null;
}

function emptyCache(): PairCache {
  return {
    state: null,
    observed: null,
    observedAt: null,
    clusters: null,
    clustersView: null,
    checkedAt: null,
    preflight: null,
    driftReported: false,
    lastError: null,
  };
}

function describeWeights(w: Weights): string {
  return `reader blue ${w.reader.blue}/green ${w.reader.green}, writer blue ${w.writer.blue}/green ${w.writer.green}`;
}

function describeTraffic(o: ObservedTraffic): string {
  const part = (name: string, s: { blue: number; green: number } | null) =>
    s ? `${name} blue ${s.blue}/green ${s.green}` : `${name} records missing`;
  return `${part('reader', o.reader)}, ${part('writer', o.writer)}`;
}
