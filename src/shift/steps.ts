import { PgshiftError } from '../errors.js';
import { describeWeights, sameWeights, type Weights } from './model.js';
import type { PreparationProgress, SubmittedChange } from './ports.js';
import type { PairRuntime } from './runtime.js';
import { desiredWeights, type StagePlanEntry } from './stages.js';
import type { StepRecord, Transition } from './state.js';
import { describeObserved, observedWeights } from './decide.js';

export interface StepContext {
  runtime: PairRuntime;
  /** Who carries the step out (named in Route 53 change comments). */
  instanceId: string;
  transition: Transition;
  /** This step's journal entry as last written. */
  record: StepRecord;
  /** Aborted when an auto-revert overtakes the transition. */
  signal: AbortSignal;
  /** The controller's clock, for times the journal keeps. */
  now(): number;
  /**
   * Journals `detail` for this step now and waits until it is stored; with `commit`,
   * also marks the point of no return (a resumed run then finishes, never rolls back).
   */
  note(detail: Record<string, unknown>, options?: { commit?: boolean }): Promise<void>;
  /** A long step's progress: shown by the API at once, journaled every few seconds. */
  progress(progress: PreparationProgress): void;
}

/**
 * One step of a transition. `run` must be safe to repeat (a crash may come anywhere in
 * it); `undo` puts back what `run` changed and is as safe to repeat. What `run` returns
 * is kept in the step's journal entry.
 */
export interface TransitionStep {
  name: string;
  run(ctx: StepContext): Promise<Record<string, unknown> | void>;
  undo?(ctx: StepContext): Promise<void>;
}

/** A change that went out before the transition was journaled (the revert fast path). */
export interface Presubmitted {
  change: SubmittedChange;
}

/** The steps of a transition between read stages (and of reverts to baseline): one, move the traffic. */
export function trafficSteps(plan: readonly StagePlanEntry[], transition: Transition, presubmitted?: Presubmitted): TransitionStep[] {
  const back = desiredWeights(plan, transition.from);
  const urgent = transition.kind !== 'advance';
  return [moveTraffic({ name: MOVE_TRAFFIC, weights: transition.weights, back: back ?? null, urgent, commits: true, ...(presubmitted ? { presubmitted } : {}) })];
}

const MOVE_TRAFFIC = 'move-traffic';

export interface MoveTraffic {
  name: string;
  weights: Weights;
  /** What undo sets; null: no undo. */
  back: Weights | null;
  urgent: boolean;
  /** Route 53 taking the change is the transition's point of no return. */
  commits: boolean;
  presubmitted?: Presubmitted;
  /** Runs right after the change id is journaled, before INSYNC (the cutover opens writes there). */
  afterSubmit?: (ctx: StepContext) => Promise<void>;
}

/**
 * Sets both records in one change batch, journals the change id as soon as Route 53
 * took it, waits for INSYNC and reads the records back. A resumed run sends the change
 * again (an UPSERT of the same weights: harmless, and right if someone changed the
 * records meanwhile). Undo sets `back`.
 */
export function moveTraffic(options: MoveTraffic): TransitionStep {
  const move = async (ctx: StepContext, target: Weights, journal: boolean, given?: SubmittedChange) => {
    const traffic = ctx.runtime.pair.world.traffic;
    const comment = `pgshift ${ctx.runtime.id}: ${ctx.transition.kind} ${ctx.transition.from} -> ${ctx.transition.to} by ${ctx.instanceId}`.slice(0, 256);
    const submitted = given ?? (await traffic.submit(target, { comment, urgent: options.urgent, signal: ctx.signal }));
    if (journal && !given) await ctx.note({ changeId: submitted.changeId, submittedAt: submitted.submittedAt }, { commit: options.commits });
    if (journal) await options.afterSubmit?.(ctx);
    const insync = await traffic.waitInsync(submitted, ctx.signal);
    const observed = await traffic.observe(0);
    ctx.runtime.observed = observed;
    const seen = observedWeights(observed);
    if (!seen || !sameWeights(seen, target)) {
      throw new PgshiftError(
        'PGSHIFT_ERR_VERIFY_FAILED',
        `after change ${submitted.changeId} Route 53 holds ${describeObserved(observed)}, not ${describeWeights(target)}; will retry`,
        { status: 503 },
      );
    }
    return { changeId: submitted.changeId, submittedAt: submitted.submittedAt, submitMs: submitted.submitMs, insyncMs: insync.insyncMs, verifiedAt: observed.at };
  };
  const { back } = options;
  return {
    name: options.name,
    run: (ctx) => move(ctx, options.weights, true, options.presubmitted?.change),
    ...(back ? { undo: async (ctx: StepContext) => void (await move(ctx, back, false)) } : {}),
  };
}
