import type { Clock } from '../clock.js';
import * as D from '../defaults.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { autoRevertable, decide, observedWeights, type Action } from './decide.js';
import { overtakenByRevert, TransitionExecutor } from './executor.js';
import { revertTriggers } from './guards.js';
import { sameWeights, type Side } from './model.js';
import { auditEvent, type PairRuntime, type PairStateWriter } from './runtime.js';
import { baselineOf, BASELINE, findStage } from './stages.js';
import type { Intent, IntentStatus, Transition } from './state.js';
import type { ShiftStore } from './store.js';
import type { SignalStatus } from './view-schemas.js';

export interface ActionsDeps {
  store: ShiftStore;
  writer: PairStateWriter;
  clock: Clock;
  log: Logger;
  instanceId: string;
  emit(event: 'stage' | 'change' | 'progress', payload: unknown): void;
  afterJournal?: (transition: Transition) => void;
  /** Aborted when the process begins to stop (see ExecutorDeps.handOver). */
  handOver?: AbortSignal;
}

/**
 * Carries out what `decide` chose for a pair, and the revert fast path. Every action is
 * written down with its audit event; transitions go through the executor.
 */
export class Actions {
  private readonly executor: TransitionExecutor;

  constructor(private readonly deps: ActionsDeps) {
    this.executor = new TransitionExecutor({
      writer: deps.writer,
      instanceId: deps.instanceId,
      clock: deps.clock,
      log: deps.log,
      finishIntent: (id, status, result) => this.finish(id, status, result),
      onLanded: (landed) => deps.emit('stage', landed),
      onProgress: (pair) => deps.emit('progress', { pair }),
      ...(deps.afterJournal ? { afterJournal: deps.afterJournal } : {}),
      ...(deps.handOver ? { handOver: deps.handOver } : {}),
    });
  }

  /** One tick's decision for the pair, carried out. Runs under the pair's lock. */
  async carryOut(runtime: PairRuntime, intents: Intent[]): Promise<void> {
    const state = runtime.requireState();
    const { world } = runtime.pair;
    const entry = findStage(runtime.pair.plan, state.stage);
    const seen = observedWeights(runtime.observed);
    if (entry && seen && sameWeights(seen, entry.weights)) runtime.driftReported = false;
    const action = decide({
      pair: runtime.pair,
      state,
      observed: runtime.observed,
      signals: world.signals.current(),
      clusters: runtime.clusters,
      preflight: runtime.preflight,
      intents,
      driftReported: runtime.driftReported,
      now: this.deps.clock.now(),
    });
    const now = this.deps.clock.now();
    // A transition that keeps failing (a side unreachable) is tried again at once, then with growing pauses.
    if (action.type === 'resume-transition' && runtime.retryAt !== null && now < runtime.retryAt) return;
    try {
      await this.act(runtime, action);
      runtime.failures = 0;
      runtime.retryAt = null;
    } catch (err) {
      if (action.type === 'resume-transition' || action.type === 'transition') {
        runtime.failures += 1;
        runtime.retryAt = runtime.failures < 2 ? null : now + Math.min(D.TRANSITION_RETRY_MIN_MS * 2 ** (runtime.failures - 2), D.TRANSITION_RETRY_MAX_MS);
      }
      throw err;
    }
  }

  /** The signals that send the pair's reads back now, from memory only; null when none do or a revert is under way. */
  revertTriggersNow(runtime: PairRuntime): SignalStatus[] | null {
    const state = runtime.state;
    if (runtime.reverting || !state) return null;
    if (state.transition && state.transition.kind !== 'advance') return null;
    const entry = findStage(runtime.pair.plan, state.stage);
    if (!entry || !autoRevertable(entry)) return null;
    const triggers = revertTriggers(runtime.pair.world.signals.current(), state);
    return triggers.length > 0 ? triggers : null;
  }

  /**
   * Reads go back to blue in one urgent change batch before anything is read or written:
   * a slow or dead state store, or a throttled Route 53 listing, must not delay it. A
   * transition in flight is aborted first so that it cannot submit after us. Then the
   * bookkeeping (journal, INSYNC, verify, halt, drain due) follows under the pair's lock,
   * retried until stored.
   */
  async autoRevert(runtime: PairRuntime, triggers: SignalStatus[], locked = false): Promise<void> {
    if (runtime.reverting) return;
    runtime.reverting = true;
    try {
      const log = this.deps.log.child({ pair: runtime.id, stage: runtime.state?.stage ?? null });
      const baseline = baselineOf(runtime.pair.plan);
      const reason = triggers.map((t) => t.summary).join('; ');
      const breachAt = Math.min(...triggers.map((t) => t.at ?? this.deps.clock.now()));
      runtime.inflight?.abort(overtakenByRevert());
      const comment = `pgshift ${runtime.id}: auto-revert by ${this.deps.instanceId} (${reason})`.slice(0, 256);
      const change = await runtime.pair.world.traffic.submit(baseline.weights, { comment, urgent: true });
      const breachToSubmitMs = change.submittedAt - breachAt;
      log.warn({ breachToSubmitMs, changeId: change.changeId }, `auto-revert submitted: ${reason}`);
      const details = {
        triggers: triggers.map((t) => ({ signal: t.name, side: t.side, value: t.value, limit: t.limit, unit: t.unit, consecutiveBreaches: t.consecutiveBreaches, summary: t.summary })),
        breachToSubmitMs,
      };
      const bookkeeping = () =>
        this.executor.start(
          runtime,
          { kind: 'auto-revert', to: baseline, actor: this.deps.instanceId, reason, intentId: null, details, startedAt: breachAt },
          { change },
        );
      await (locked ? bookkeeping() : runtime.exclusive(bookkeeping));
    } finally {
      runtime.reverting = false;
    }
  }

  private async act(runtime: PairRuntime, action: Action): Promise<void> {
    if ('overtaken' in action) {
      for (const intent of action.overtaken) await this.reject(runtime, intent, 'overtaken by a revert');
    }
    const state = runtime.requireState();
    const { instanceId } = this.deps;
    switch (action.type) {
      case 'idle':
        return;
      case 'resume-transition':
        return this.executor.resume(runtime, action.transition);
      case 'cancel-transition':
        return this.executor.cancel(runtime, action.transition, action.intent);
      case 'auto-revert':
        return this.autoRevert(runtime, action.triggers, true);
      case 'adopt-revert':
        await this.deps.writer.save(
          runtime,
          {
            stage: BASELINE,
            stageEnteredAt: this.deps.clock.now(),
            halted: true,
            haltReason: action.reason,
            transition: null,
            drain: { side: 'green', dueAt: this.deps.clock.now() + runtime.pair.ttlSeconds * 1000, reason: action.reason },
          },
          auditEvent(runtime.id, { action: 'auto-revert', from: state.stage, to: BASELINE, outcome: 'ok', reason: action.reason, details: { observed: action.observed }, actor: instanceId }),
        );
        if (state.transition?.intentId) await this.finish(state.transition.intentId, 'failed', { reason: 'overtaken by a revert', stage: BASELINE });
        this.deps.log.warn({ pair: runtime.id, observed: action.observed }, action.reason);
        this.deps.emit('stage', { pair: runtime.id, from: state.stage, to: BASELINE, kind: 'auto-revert' });
        return;
      case 'pause-for-drift':
        await this.deps.writer.save(
          runtime,
          { paused: true },
          auditEvent(runtime.id, { action: 'drift-paused', from: state.stage, to: state.stage, outcome: 'info', reason: action.reason, details: { observed: action.observed, desired: action.desired }, actor: instanceId }),
        );
        runtime.driftReported = true;
        this.deps.log.warn({ pair: runtime.id, observed: action.observed, desired: action.desired }, 'weights drifted; pair paused');
        this.deps.emit('change', { pair: runtime.id });
        return;
      case 'drain':
        return this.drain(runtime, action.drain.side);
      case 'transition':
        return this.executor.start(runtime, {
          kind: action.kind,
          to: action.to,
          actor: action.intent?.actor ?? `${instanceId} (auto-advance)`,
          reason: action.reason,
          intentId: action.intent?.id ?? null,
        });
      case 'set-flags': {
        const { intent } = action;
        await this.deps.writer.save(
          runtime,
          action.patch,
          auditEvent(runtime.id, {
            action: intent.action,
            from: state.stage,
            to: state.stage,
            outcome: 'ok',
            reason: intent.reason,
            details: intent.action === 'resume' ? { wasHalted: state.halted, haltReason: state.haltReason } : null,
            actor: intent.actor,
          }),
        );
        this.deps.emit('change', { pair: runtime.id });
        return this.finish(intent.id, 'done', { stage: state.stage });
      }
      case 'finish-intent':
        return this.finish(action.intent.id, 'done', { stage: state.stage, note: action.note });
      case 'reject':
        return this.reject(runtime, action.intent, action.reason, action.details);
    }
  }

  /** After one TTL clients have re-resolved; whoever still holds a session on the side is ended. */
  private async drain(runtime: PairRuntime, side: Side): Promise<void> {
    const { instanceId } = this.deps;
    let event;
    try {
      const ended = await runtime.pair.world.sessions.drain(side);
      event = auditEvent(runtime.id, { action: 'drain', outcome: 'ok', reason: `ended ${ended} application session(s) on ${side}`, details: { side, ended }, actor: instanceId });
    } catch (err) {
      event = auditEvent(runtime.id, { action: 'drain', outcome: 'failed', reason: describeError(err), details: { side }, actor: instanceId });
    }
    await this.deps.writer.save(runtime, { drain: null }, event);
  }

  private async reject(runtime: PairRuntime, intent: Intent, reason: string, details: unknown = null): Promise<void> {
    const state = runtime.requireState();
    await this.deps.store.recordEvent(
      auditEvent(runtime.id, { action: intent.action, from: state.stage, outcome: 'rejected', reason, details, actor: intent.actor }),
      this.deps.clock.now(),
    );
    await this.finish(intent.id, 'rejected', { reason, details });
  }

  private finish(id: string, status: Exclude<IntentStatus, 'pending'>, result: unknown): Promise<void> {
    return this.deps.store.finishIntent(id, status, result, this.deps.clock.now());
  }
}
