import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import * as D from '../defaults.js';
import { describeError, isFinalError, isPgshiftError, PgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import { sideLosingTraffic, desiredWeights, type StagePlanEntry } from './stages.js';
import { cutoverSides, cutoverSteps, writeWindowOf } from './cutover-steps.js';
import { finalizeSteps } from './finalize-steps.js';
import { prepareSteps } from './prepare-steps.js';
import { auditEvent, type PairRuntime, type PairStateWriter } from './runtime.js';
import { trafficSteps, type Presubmitted, type StepContext, type TransitionStep } from './steps.js';
import type { Intent, IntentStatus, NewAuditEvent, PairState, StepRecord, Transition, TransitionKind } from './state.js';
import type { PairPatch } from './store.js';

/** Why a transition is given up; journaled, so whoever resumes it rolls it back. */
type Abandonment = NonNullable<Transition['abandoned']>;

/** The reason an operator's revert aborts a transition in flight with (see ShiftController). */
export const CANCELLED = 'PGSHIFT_ERR_CANCELLED';

/** What a transition stopped at a step boundary by a stopping process throws: nothing is given up, the journal carries it on. */
export const HANDED_OVER = 'PGSHIFT_ERR_HANDED_OVER';

/** The reason an auto-revert aborts a transition in flight with (actions.ts): it is not given up, the revert replaces it. */
export function overtakenByRevert(): PgshiftError {
  return new PgshiftError('PGSHIFT_ERR_OVERTAKEN', 'an auto-revert overtook this transition', { status: 409 });
}

export interface LandedTransition {
  pair: string;
  from: string;
  to: string;
  kind: TransitionKind;
}

export interface ExecutorDeps {
  writer: PairStateWriter;
  instanceId: string;
  clock: Clock;
  log: Logger;
  finishIntent(id: string, status: Exclude<IntentStatus, 'pending'>, result: unknown): Promise<void>;
  /** Told of every transition that landed (the API's event stream listens). */
  onLanded(landed: LandedTransition): void;
  /** Told each time a long step reports progress (runtime.progress holds it). */
  onProgress(pair: string): void;
  /** Told after each journal write is stored (the crash tests' hook: wiring/crash-hook.ts). */
  afterJournal?(transition: Transition): void;
  /**
   * Aborted when the process begins to stop: the step under way runs to its end, and
   * then the transition stops where its journal says, for the next leader to resume.
   */
  handOver?: AbortSignal;
}

export interface NewTransition {
  kind: TransitionKind;
  to: StagePlanEntry;
  actor: string;
  reason: string | null;
  intentId: string | null;
  details?: unknown;
  /** When the transition really began (a revert: the breaching sample). */
  startedAt?: number;
}

/** The steps of a transition: the same list in every process, so a journal is read step by step. */
function stepsFor(runtime: PairRuntime, transition: Transition, presubmitted?: Presubmitted): TransitionStep[] {
  const { plan, world } = runtime.pair;
  if (transition.kind === 'prepare') return prepareSteps(world);
  if (transition.kind === 'finalize') return finalizeSteps(world);
  if (cutoverSides(plan, transition)) return cutoverSteps(plan, transition, world);
  return trafficSteps(plan, transition, presubmitted);
}

/**
 * Whether a transition is finished by whoever resumes it from its first step: reverts of
 * reads go towards blue, the safe side; preparing moves no traffic (it is undone only
 * when given up); finalizing cannot be taken back. Advances and write cutovers (either
 * way) are rolled back until their traffic change is accepted.
 */
function committedFromStart(plan: readonly StagePlanEntry[], transition: Transition): boolean {
  if (transition.kind === 'advance') return false;
  return cutoverSides(plan, transition) === null;
}

/**
 * Carries out any transition as a list of journaled steps. The transition is written
 * down before its first step starts, each step's progress as it goes, and the landing
 * (stage, flags, the drain due) in one write at the end, so a process that dies anywhere
 * leaves a journal that says what to do: a transition past its point of no return is
 * finished, one before it is rolled back step by step, and so is one given up (a
 * revert asked for it, or a step failed in a way repeating cannot cure).
 */
export class TransitionExecutor {
  constructor(private readonly deps: ExecutorDeps) {}

  /** Journals a new transition from the pair's stage, then runs it to its end. */
  async start(runtime: PairRuntime, init: NewTransition, presubmitted?: Presubmitted): Promise<void> {
    const state = runtime.requireState();
    const now = this.deps.clock.now();
    const draft: Transition = {
      id: randomUUID(),
      kind: init.kind,
      from: state.stage,
      to: init.to.stage,
      weights: init.to.weights,
      startedAt: init.startedAt ?? now,
      actor: init.actor,
      reason: init.reason,
      intentId: init.intentId,
      ...(init.details === undefined ? {} : { details: init.details }),
    };
    draft.committed = committedFromStart(runtime.pair.plan, draft);
    // A stopping process starts nothing new (the request stays pending for the next leader), but an auto-revert already sent must be written down.
    if (!presubmitted) this.throwIfHandedOver();
    const steps = stepsFor(runtime, draft, presubmitted);
    const first: StepRecord = {
      name: steps[0]!.name,
      status: 'started',
      startedAt: now,
      ...(presubmitted ? { detail: { changeId: presubmitted.change.changeId, submittedAt: presubmitted.change.submittedAt } } : {}),
    };
    const transition: Transition = { ...draft, stepNames: steps.map((step) => step.name), steps: [first] };
    await this.deps.writer.save(
      runtime,
      { transition },
      auditEvent(runtime.id, {
        action: `${init.kind}-started`,
        from: state.stage,
        to: init.to.stage,
        outcome: 'info',
        reason: init.reason,
        details: { transitionId: transition.id, ...(presubmitted ? { changeId: presubmitted.change.changeId } : {}) },
        actor: init.actor,
      }),
      { retry: presubmitted !== undefined, transition: state.transition?.id ?? null },
    );
    // A journaled advance this transition replaces (a revert over it) will never land: its request says so.
    if (state.transition?.intentId) await this.deps.finishIntent(state.transition.intentId, 'failed', { reason: `overtaken by ${init.kind}`, stage: state.stage });
    this.deps.log.info({ pair: runtime.id, from: state.stage, to: init.to.stage, kind: init.kind }, `${init.kind}: ${state.stage} -> ${init.to.stage}`);
    await this.run(runtime, transition, steps);
  }

  /** A transition found in the journal: finished when past its point of no return and not given up, rolled back otherwise. */
  async resume(runtime: PairRuntime, transition: Transition): Promise<void> {
    this.throwIfHandedOver();
    const steps = stepsFor(runtime, transition);
    const log = this.deps.log.child({ pair: runtime.id });
    if (transition.committed && !transition.abandoned) {
      log.warn({ to: transition.to, kind: transition.kind }, 'finishing an interrupted transition');
      await this.run(runtime, transition, steps);
    } else {
      const why = transition.abandoned ? `given up (${transition.abandoned.reason})` : 'interrupted before its point of no return';
      log.warn({ to: transition.to, kind: transition.kind }, `rolling back a transition ${why}`);
      await this.rollback(runtime, transition, steps);
    }
  }

  /** An operator's revert of a journaled transition nobody is running: given up, then rolled back. */
  async cancel(runtime: PairRuntime, transition: Transition, intent: Intent): Promise<void> {
    this.throwIfHandedOver();
    const abandoned: Abandonment = { at: this.deps.clock.now(), actor: intent.actor, reason: intent.reason ?? 'revert requested', intentId: intent.id };
    const current = { ...transition, abandoned };
    await this.journal(runtime, current, undefined, this.abandonEvent(runtime, current));
    await this.rollback(runtime, current, stepsFor(runtime, current));
  }

  private async run(runtime: PairRuntime, transition: Transition, steps: TransitionStep[]): Promise<void> {
    const abort = this.armAbort(runtime, transition);
    let current = transition;
    let ran = false;
    try {
      for (const [i, step] of steps.entries()) {
        let record = current.steps?.[i];
        if (record?.status === 'done') continue;
        if (ran) this.throwIfHandedOver();
        ran = true;
        if (!record) {
          record = { name: step.name, status: 'started', startedAt: this.deps.clock.now() };
          current = withStep(current, i, record);
          await this.journal(runtime, current, abort.signal);
        }
        const ctx = this.context(runtime, current, i, record, abort.signal, async (next) => {
          current = next;
          await this.journal(runtime, current, abort.signal);
        });
        let result;
        try {
          // A revert that came between two steps gives the transition up before the next.
          abort.signal.throwIfAborted();
          result = await step.run(ctx);
          await ctx.flush();
        } catch (err) {
          const abandoned = this.abandonment(err, abort.signal, runtime, ctx.transition);
          if (!abandoned) throw err;
          current = { ...ctx.transition, abandoned };
          runtime.progress = null;
          await this.journal(runtime, current, undefined, this.abandonEvent(runtime, current));
          if (runtime.inflight === abort) runtime.inflight = null;
          return await this.rollback(runtime, current, steps);
        }
        record = { ...ctx.record, status: 'done', endedAt: this.deps.clock.now(), detail: { ...ctx.record.detail, ...(result ?? {}) } };
        current = withStep(current, i, record);
        // The last step's end is written with the landing, in one write.
        if (i < steps.length - 1) await this.journal(runtime, current, abort.signal, steps.length > 1 ? this.stepEvent(runtime, current, record) : undefined);
      }
      await this.land(runtime, current, 'finished');
    } finally {
      if (runtime.inflight === abort) runtime.inflight = null;
      runtime.progress = null;
    }
  }

  /**
   * Undoes the steps journaled so far, newest first, writing each undo down as it ends:
   * a crash part-way leaves a journal that the next run continues from.
   */
  private async rollback(runtime: PairRuntime, transition: Transition, steps: TransitionStep[]): Promise<void> {
    const abort = this.armAbort(runtime, transition);
    try {
      let current = transition;
      let undid = false;
      const records = transition.steps ?? [];
      for (let i = records.length - 1; i >= 0; i--) {
        const record = records[i]!;
        const step = steps[i];
        if (record.status === 'undone' || !step?.undo) continue;
        abort.signal.throwIfAborted();
        if (undid) this.throwIfHandedOver();
        undid = true;
        await step.undo(this.context(runtime, current, i, record, abort.signal, async () => {}));
        current = withStep(current, i, { ...record, status: 'undone', endedAt: this.deps.clock.now() });
        if (records.length > 1) await this.journal(runtime, current, abort.signal);
      }
      await this.land(runtime, current, 'rolled-back');
    } finally {
      if (runtime.inflight === abort) runtime.inflight = null;
    }
  }

  /** Between two steps of a stopping process: the journal says where the next leader picks up. */
  private throwIfHandedOver(): void {
    if (this.deps.handOver?.aborted) throw this.deps.handOver.reason;
  }

  /**
   * The abort of the run starting now, for whatever overtakes it (an auto-revert, a lost
   * lease, stopping). An auto-revert that began before it (while the advance was being
   * decided or journaled) found nothing to abort: the advance is aborted at once, so that
   * it never sends reads back to green after the revert.
   */
  private armAbort(runtime: PairRuntime, transition: Transition): AbortController {
    const abort = new AbortController();
    runtime.inflight = abort;
    if (runtime.reverting && (transition.kind === 'advance' || (transition.kind === 'cutover' && transition.committed !== true))) {
      abort.abort(overtakenByRevert());
    }
    return abort;
  }

  /** Whether an error gives the transition up: an operator's revert aborted it, or a step refused for good. */
  private abandonment(err: unknown, signal: AbortSignal, runtime: PairRuntime, transition: Transition): Abandonment | null {
    // A write cutover past its writer flip is finished by whoever runs it next, never given up.
    if (transition.committed === true && cutoverSides(runtime.pair.plan, transition)) return null;
    const now = this.deps.clock.now();
    const reason: unknown = signal.aborted ? signal.reason : null;
    if (isPgshiftError(reason, CANCELLED)) {
      const by = (reason.details ?? {}) as { intentId?: string; actor?: string; reason?: string | null };
      return { at: now, actor: by.actor ?? this.deps.instanceId, reason: by.reason ?? 'revert requested', intentId: by.intentId ?? null };
    }
    if (!signal.aborted && isFinalError(err)) {
      return { at: now, actor: this.deps.instanceId, reason: describeError(err), intentId: null, details: { code: err.code, ...(err.details as object) } };
    }
    return null;
  }

  private abandonEvent(runtime: PairRuntime, transition: Transition): NewAuditEvent {
    const abandoned = transition.abandoned!;
    return auditEvent(runtime.id, {
      action: `${transition.kind}-${abandoned.intentId ? 'cancelled' : 'refused'}`,
      from: transition.from,
      to: transition.to,
      outcome: abandoned.intentId ? 'info' : 'rejected',
      reason: abandoned.reason,
      details: {
        transitionId: transition.id,
        ...(abandoned.details === undefined ? {} : { refusal: abandoned.details }),
        // Which step took how long: a refused cutover says where its time went.
        steps: (transition.steps ?? []).map((s) => ({ name: s.name, status: s.status, ms: (s.endedAt ?? this.deps.clock.now()) - s.startedAt })),
        undoing: (transition.steps ?? []).map((s) => s.name).reverse(),
      },
      actor: abandoned.actor,
    });
  }

  /** One step of a transition of several ended: in the audit log, so the event stream shows the way. */
  private stepEvent(runtime: PairRuntime, transition: Transition, record: StepRecord): NewAuditEvent {
    const { progress: _progress, ...detail } = record.detail ?? {};
    return auditEvent(runtime.id, {
      action: `${transition.kind}-step`,
      from: transition.from,
      to: transition.to,
      outcome: 'info',
      reason: `${record.name} done`,
      details: { transitionId: transition.id, step: record.name, ms: (record.endedAt ?? record.startedAt) - record.startedAt, ...detail },
      actor: this.deps.instanceId,
    });
  }

  private context(
    runtime: PairRuntime,
    transition: Transition,
    index: number,
    record: StepRecord,
    signal: AbortSignal,
    write: (t: Transition) => Promise<void>,
  ): StepContext & { flush(): Promise<void> } {
    // Notes and progress are journaled in the order they were made, one write at a time.
    let writing: Promise<void> = Promise.resolve();
    let progressWrittenAt = 0;
    const enqueue = (detail: Record<string, unknown>, commit: boolean): Promise<void> => {
      ctx.record = { ...ctx.record, detail: { ...ctx.record.detail, ...detail } };
      let next = withStep(ctx.transition, index, ctx.record);
      if (commit) next = { ...next, committed: true };
      ctx.transition = next;
      const written = writing.then(() => write(next));
      writing = written.catch(() => undefined);
      return written;
    };
    const ctx: StepContext & { flush(): Promise<void> } = {
      runtime,
      instanceId: this.deps.instanceId,
      now: () => this.deps.clock.now(),
      transition,
      record,
      signal,
      note: (detail, options = {}) => enqueue(detail, options.commit === true),
      progress: (progress) => {
        runtime.progress = { transitionId: transition.id, step: record.name, progress };
        this.deps.onProgress(runtime.id);
        if (progress.at - progressWrittenAt < D.PROGRESS_JOURNAL_MS) return;
        progressWrittenAt = progress.at;
        enqueue({ progress }, false).catch((err: unknown) => this.deps.log.warn({ pair: runtime.id, err: describeError(err) }, 'cannot journal the progress yet'));
      },
      flush: () => writing,
    };
    return ctx;
  }

  /** Progress of a transition; retried until stored once traffic may have moved or it was given up. */
  private async journal(runtime: PairRuntime, transition: Transition, signal?: AbortSignal, event?: NewAuditEvent): Promise<void> {
    await this.deps.writer.save(runtime, { transition }, event, {
      retry: transition.committed === true || transition.abandoned !== undefined,
      transition: transition.id,
      ...(signal ? { signal } : {}),
    });
    this.deps.afterJournal?.(transition);
  }

  private async land(runtime: PairRuntime, transition: Transition, outcome: 'finished' | 'rolled-back'): Promise<void> {
    const { clock, log } = this.deps;
    const landing = outcome === 'finished' ? transition.to : transition.from;
    const now = clock.now();
    const plan = runtime.pair.plan;
    // The last change a step sent is where the traffic stands (a revert from green sends reads back first, then the writer).
    const moved = [...(transition.steps ?? [])].reverse().find((s) => s.detail?.changeId !== undefined)?.detail ?? {};
    const action = outcome === 'rolled-back' ? `${transition.kind}-rolled-back` : transition.kind;
    const insyncAt = typeof moved.submittedAt === 'number' && typeof moved.insyncMs === 'number' ? moved.submittedAt + moved.insyncMs : null;
    const done: Transition = { ...transition, outcome, landedAt: now, ...(typeof moved.changeId === 'string' ? { changeId: moved.changeId } : {}) };
    const writeWindow = outcome === 'finished' ? writeWindowOf(transition) : null;
    // The stage begins when Route 53 was read back holding its weights.
    const enteredAt = typeof moved.verifiedAt === 'number' ? Math.min(moved.verifiedAt, now) : now;
    // A transition undone before any traffic moved leaves the stage as it was, bake time included.
    const unmoved = outcome === 'rolled-back' && moved.changeId === undefined;
    const patch: PairPatch = { stage: landing as PairState['stage'], transition: null, lastTransition: done, ...(unmoved ? {} : { stageEnteredAt: enteredAt }) };
    if (transition.kind === 'auto-revert' && outcome === 'finished') {
      Object.assign(patch, { halted: true, haltReason: `auto-revert: ${transition.reason ?? 'a signal broke its limit'}` });
    }
    const left = desiredWeights(plan, transition.from);
    const arrived = desiredWeights(plan, landing);
    const losing = left && arrived ? sideLosingTraffic(left, arrived) : null;
    if (losing) patch.drain = { side: losing, dueAt: now + runtime.pair.ttlSeconds * 1000, reason: `${action} to ${landing}` };
    await this.deps.writer.save(
      runtime,
      patch,
      auditEvent(runtime.id, {
        action,
        from: transition.from,
        to: landing,
        outcome: 'ok',
        reason: transition.abandoned?.reason ?? transition.reason,
        details: {
          ...moved,
          transitionId: transition.id,
          ...asRecord(transition.details),
          ...(transition.kind === 'auto-revert' && insyncAt !== null ? { breachToInsyncMs: insyncAt - transition.startedAt } : {}),
          ...(writeWindow ? { writeWindow: { pgshiftMs: writeWindow.pgshiftMs, route53Ms: writeWindow.route53Ms } } : {}),
        },
        actor: transition.actor,
      }),
      { retry: true, transition: transition.id },
    );
    // What the guards read was seen before the stage began: read it again on the next tick.
    runtime.checkedAt = null;
    runtime.preflightAt = null;
    await this.finishIntents(transition, outcome, landing, moved.changeId ?? null);
    log.info({ pair: runtime.id, stage: landing, changeId: moved.changeId, submitMs: moved.submitMs, insyncMs: moved.insyncMs, ...(writeWindow ? { writeWindow } : {}) }, `${action}: now at ${landing}`);
    this.deps.onLanded({ pair: runtime.id, from: transition.from, to: landing, kind: transition.kind });
  }

  /**
   * The transition's own intent: done when it landed where it went; rejected when a
   * step refused (with the reasons), failed otherwise. The revert that gave it up: done.
   */
  private async finishIntents(transition: Transition, outcome: 'finished' | 'rolled-back', landing: string, changeId: unknown): Promise<void> {
    const { abandoned } = transition;
    if (transition.intentId) {
      if (outcome === 'finished') await this.deps.finishIntent(transition.intentId, 'done', { stage: landing, changeId });
      else if (abandoned && !abandoned.intentId) await this.deps.finishIntent(transition.intentId, 'rejected', { reason: abandoned.reason, details: abandoned.details ?? null });
      else await this.deps.finishIntent(transition.intentId, 'failed', { stage: landing, changeId, ...(abandoned ? { reason: `cancelled: ${abandoned.reason}` } : {}) });
    }
    // A revert that gave a preparation up is done; one that stopped a write cutover still has reads to send back.
    if (abandoned?.intentId && transition.kind === 'prepare') await this.deps.finishIntent(abandoned.intentId, 'done', { stage: landing, note: `${transition.kind} to ${transition.to} cancelled and undone` });
  }
}

function withStep(transition: Transition, index: number, record: StepRecord): Transition {
  const steps = [...(transition.steps ?? [])];
  steps[index] = record;
  return { ...transition, steps };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
