import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { takesTrafficFromGreen, desiredWeights, type StagePlanEntry } from './stages.js';
import { auditEvent, type PairRuntime, type PairStateWriter } from './runtime.js';
import { stepsFor, type Presubmitted, type StepContext, type TransitionStep } from './steps.js';
import type { IntentStatus, PairState, StepRecord, Transition, TransitionKind } from './state.js';
import type { PairPatch } from './store.js';

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

/**
 * Carries out any transition as a list of journaled steps. The transition is written
 * down before its first step starts, each step's progress as it goes, and the landing
 * (stage, flags, the drain due) in one write at the end, so a process that dies anywhere
 * leaves a journal that says what to do: a transition past its point of no return is
 * finished, one before it is rolled back step by step.
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
      // Reverts go towards blue, the safe side: once begun they are always finished.
      committed: init.kind !== 'advance',
    };
    const steps = stepsFor(runtime.pair.plan, draft, presubmitted);
    const first: StepRecord = {
      name: steps[0]!.name,
      status: 'started',
      startedAt: now,
      ...(presubmitted ? { detail: { changeId: presubmitted.change.changeId, submittedAt: presubmitted.change.submittedAt } } : {}),
    };
    const transition: Transition = { ...draft, steps: [first] };
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
      { retry: presubmitted !== undefined },
    );
    this.deps.log.info({ pair: runtime.id, from: state.stage, to: init.to.stage, kind: init.kind }, `${init.kind}: ${state.stage} -> ${init.to.stage}`);
    await this.run(runtime, transition, steps);
  }

  /** A transition found in the journal: finished when past its point of no return, rolled back before it. */
  async resume(runtime: PairRuntime, transition: Transition): Promise<void> {
    const steps = stepsFor(runtime.pair.plan, transition);
    const log = this.deps.log.child({ pair: runtime.id });
    if (transition.committed) {
      log.warn({ to: transition.to, kind: transition.kind }, 'finishing an interrupted transition');
      await this.run(runtime, transition, steps);
    } else {
      log.warn({ to: transition.to, kind: transition.kind }, 'rolling back a transition interrupted before its point of no return');
      await this.rollback(runtime, transition, steps);
    }
  }

  private async run(runtime: PairRuntime, transition: Transition, steps: TransitionStep[]): Promise<void> {
    const abort = new AbortController();
    runtime.inflight = abort;
    try {
      let current = transition;
      for (const [i, step] of steps.entries()) {
        let record = current.steps?.[i];
        if (record?.status === 'done') continue;
        if (!record) {
          record = { name: step.name, status: 'started', startedAt: this.deps.clock.now() };
          current = withStep(current, i, record);
          await this.journal(runtime, current, abort.signal);
        }
        const ctx = this.context(runtime, current, record, abort.signal, async (next) => {
          current = next;
          await this.journal(runtime, current, abort.signal);
        });
        const result = await step.run(ctx);
        record = { ...ctx.record, status: 'done', endedAt: this.deps.clock.now(), detail: { ...ctx.record.detail, ...(result ?? {}) } };
        current = withStep(current, i, record);
        // The last step's end is written with the landing, in one write.
        if (i < steps.length - 1) await this.journal(runtime, current, abort.signal);
      }
      await this.land(runtime, current, 'finished');
    } finally {
      if (runtime.inflight === abort) runtime.inflight = null;
    }
  }

  private async rollback(runtime: PairRuntime, transition: Transition, steps: TransitionStep[]): Promise<void> {
    const abort = new AbortController();
    let current = transition;
    const records = transition.steps ?? [];
    for (let i = records.length - 1; i >= 0; i--) {
      const record = records[i]!;
      const step = steps[i];
      if (record.status === 'undone' || !step?.undo) continue;
      await step.undo(this.context(runtime, current, record, abort.signal, async () => {}));
      current = withStep(current, i, { ...record, status: 'undone', endedAt: this.deps.clock.now() });
    }
    await this.land(runtime, current, 'rolled-back');
  }

  private context(runtime: PairRuntime, transition: Transition, record: StepRecord, signal: AbortSignal, write: (t: Transition) => Promise<void>): StepContext {
    const index = (transition.steps ?? []).findIndex((s) => s.name === record.name);
    const ctx: StepContext = {
      runtime,
      instanceId: this.deps.instanceId,
      transition,
      record,
      signal,
      note: async (detail, options = {}) => {
        ctx.record = { ...ctx.record, detail: { ...ctx.record.detail, ...detail } };
        let next = withStep(ctx.transition, index, ctx.record);
        if (options.commit) next = { ...next, committed: true };
        ctx.transition = next;
        await write(next);
      },
    };
    return ctx;
  }

  /** Progress of a transition; retried until stored once traffic may have moved. */
  private async journal(runtime: PairRuntime, transition: Transition, signal: AbortSignal): Promise<void> {
    await this.deps.writer.save(runtime, { transition }, undefined, { retry: transition.committed === true, signal });
  }

  private async land(runtime: PairRuntime, transition: Transition, outcome: 'finished' | 'rolled-back'): Promise<void> {
    const { clock, log } = this.deps;
    const landing = outcome === 'finished' ? transition.to : transition.from;
    const now = clock.now();
    const plan = runtime.pair.plan;
    const moved = (transition.steps ?? []).find((s) => s.detail?.changeId !== undefined)?.detail ?? {};
    const action = outcome === 'rolled-back' ? `${transition.kind}-rolled-back` : transition.kind;
    const insyncAt = typeof moved.submittedAt === 'number' && typeof moved.insyncMs === 'number' ? moved.submittedAt + moved.insyncMs : null;
    const done: Transition = { ...transition, ...(typeof moved.changeId === 'string' ? { changeId: moved.changeId } : {}) };
    // The stage begins when Route 53 was read back holding its weights.
    const enteredAt = typeof moved.verifiedAt === 'number' ? Math.min(moved.verifiedAt, now) : now;
    const patch: PairPatch = { stage: landing as PairState['stage'], stageEnteredAt: enteredAt, transition: null, lastTransition: done };
    if (transition.kind === 'auto-revert' && outcome === 'finished') {
      Object.assign(patch, { halted: true, haltReason: `auto-revert: ${transition.reason ?? 'a signal broke its limit'}` });
    }
    const left = desiredWeights(plan, transition.from);
    const arrived = desiredWeights(plan, landing);
    if (left && arrived && takesTrafficFromGreen(left, arrived)) {
      patch.drain = { side: 'green', dueAt: now + runtime.pair.ttlSeconds * 1000, reason: `${action} to ${landing}` };
    }
    await this.deps.writer.save(
      runtime,
      patch,
      auditEvent(runtime.id, {
        action,
        from: transition.from,
        to: landing,
        outcome: 'ok',
        reason: transition.reason,
        details: {
          ...moved,
          transitionId: transition.id,
          ...asRecord(transition.details),
          ...(transition.kind === 'auto-revert' && insyncAt !== null ? { breachToInsyncMs: insyncAt - transition.startedAt } : {}),
        },
        actor: transition.actor,
      }),
      { retry: true },
    );
    if (transition.intentId) {
      await this.deps.finishIntent(transition.intentId, outcome === 'finished' ? 'done' : 'failed', { stage: landing, changeId: moved.changeId ?? null });
    }
    log.info({ pair: runtime.id, stage: landing, changeId: moved.changeId, submitMs: moved.submitMs, insyncMs: moved.insyncMs }, `${action}: now at ${landing}`);
    this.deps.onLanded({ pair: runtime.id, from: transition.from, to: landing, kind: transition.kind });
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
