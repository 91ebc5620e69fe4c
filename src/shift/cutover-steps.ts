import * as D from '../defaults.js';
import { finalError, isPgshiftError, type ErrorCode } from '../errors.js';
import type { Side, Weights } from './model.js';
import type { PairWorld, ReplicationView } from './ports.js';
import { desiredWeights, findStage, type StagePlanEntry } from './stages.js';
import type { StepRecord, Transition } from './state.js';
import { moveTraffic, type StepContext, type TransitionStep } from './steps.js';

/**
 * The write cutover as journaled steps, either direction (`from` gives up writes, `to`
 * takes them): forward from the last read stage to `green`, and back from `green` to
 * `baseline` (a revert). Everything before the writer record flips is undone, newest
 * first, on a refusal, a timeout, a revert asked for meanwhile or a crash; the flip is
 * the point of no return, after which a resumed run finishes. The write window runs
 * from the freeze to the writer change being submitted (pgshift's part), then to INSYNC
 * (Route 53's part).
 */
const CUTOVER_STEPS = {
  checks: 'checks',
  readsBack: 'reads-back',
  snapshot: 'snapshot',
  freeze: 'freeze',
  catchUp: 'catch-up',
  sequences: 'sequences',
  validate: 'validate',
  switchReplication: 'switch-replication',
  flipWriter: 'flip-writer',
  reopenReads: 'reopen-reads',
} as const;

/** Whether the transition moves writes, and which way. */
export function cutoverSides(plan: readonly StagePlanEntry[], transition: Pick<Transition, 'kind' | 'from' | 'to'>): { from: Side; to: Side } | null {
  if (transition.kind === 'cutover') return { from: 'blue', to: 'green' };
  if (transition.kind === 'revert' && findStage(plan, transition.from)?.kind === 'green') return { from: 'green', to: 'blue' };
  return null;
}

export function cutoverSteps(plan: readonly StagePlanEntry[], transition: Transition, world: PairWorld): TransitionStep[] {
  const sides = cutoverSides(plan, transition)!;
  const { from, to } = sides;
  const back = from === 'green';
  const greenWeights = desiredWeights(plan, transition.from)!;
  const cutover = world.cutover;
  return [
    checks(world, from, to),
    // Blue is frozen while green takes writes: it opens for reads (read-only by default) before reads go back to it.
    ...(back
      ? [
          withUndo(
            moveTraffic({
              name: CUTOVER_STEPS.readsBack,
              weights: { reader: { blue: 100, green: 0 }, writer: greenWeights.writer },
              back: greenWeights,
              urgent: true,
              commits: false,
            }),
            async () => void (await cutover.unfreeze('blue')),
            async () => void (await cutover.freeze('blue')),
          ),
        ]
      : []),
    snapshot(world, from),
    {
      name: CUTOVER_STEPS.freeze,
      async run(ctx) {
        if (typeof ctx.record.detail?.frozenAt !== 'number') await ctx.note({ frozenAt: ctx.now() });
        return cutover.freeze(from);
      },
      async undo() {
        await cutover.unfreeze(from);
      },
    },
    {
      name: CUTOVER_STEPS.catchUp,
      async run(ctx) {
        const frozenAt = frozenAtOf(ctx.transition);
        const left = frozenAt === null ? cutover.settings.maxFreezeMs : frozenAt + cutover.settings.maxFreezeMs - ctx.now();
        try {
          if (left <= 0) throw finalError('PGSHIFT_ERR_REPLICATION_CATCHUP_TIMEOUT', 'no time left', {});
          return await cutover.catchUp(from, left);
        } catch (err) {
          if (!isPgshiftError(err, 'PGSHIFT_ERR_REPLICATION_CATCHUP_TIMEOUT')) throw err;
          throw finalError(
            'PGSHIFT_ERR_CUTOVER_CATCHUP_TIMEOUT',
            `${to} did not catch up with ${from} within ${cutover.settings.maxFreezeMs / 1000} s of the freeze (cutover.maxFreezeSeconds): writes go on on ${from}, nothing moved`,
            { step: CUTOVER_STEPS.catchUp, maxFreezeMs: cutover.settings.maxFreezeMs },
          );
        }
      },
    },
    {
      name: CUTOVER_STEPS.sequences,
      run: () => refuseOn('PGSHIFT_ERR_SEQUENCE_MISSING', () => cutover.copySequences(from, cutover.settings.sequenceMargin)),
    },
    {
      name: CUTOVER_STEPS.validate,
      async run() {
        const report = await refuseOn('PGSHIFT_ERR_VALIDATION_TIMEOUT', () => cutover.validate(from, cutover.settings.validateBudgetMs, cutover.settings.exactCountMaxRows));
        if (!report.ok) {
          throw finalError('PGSHIFT_ERR_CUTOVER_MISMATCH', `${to} does not hold the rows ${from} holds after the catch-up: ${report.mismatches.slice(0, 5).join('; ')}`, { mismatches: report.mismatches });
        }
        return { tables: report.tables, ms: report.ms };
      },
    },
    {
      name: CUTOVER_STEPS.switchReplication,
      async run() {
        await cutover.replicateFrom(to);
        return { direction: `${to}->${from}` };
      },
      async undo() {
        await cutover.replicateFrom(from);
      },
    },
    flipWriter(findStage(plan, transition.to)!.weights, to, world),
    // Green keeps taking reads' connections at baseline (read-only by default), as after prepare.
    ...(back ? [{ name: CUTOVER_STEPS.reopenReads, run: async () => cutover.unfreeze('green') }] : []),
  ];
}

/**
 * Everything that would otherwise only fail after the freeze: lag, replication broken,
 * what `to` lacks, preflight blockers (going to green). A refusal here moved and froze
 * nothing.
 */
function checks(world: PairWorld, from: Side, to: Side): TransitionStep {
  return {
    name: CUTOVER_STEPS.checks,
    async run(ctx) {
      const { settings } = world.cutover;
      const direction = `${from}->${to}`;
      const replication = await measured(world, direction, ctx.signal);
      const problems: string[] = [];
      if (!replication || replication.direction !== direction) problems.push(`replication ${direction} has not been measured yet`);
      else {
        if (replication.healthy === false) problems.push(`replication ${direction} is not healthy`);
        if (replication.lagSeconds === null) problems.push(`the lag of ${direction} is unknown`);
        else if (replication.lagSeconds > settings.maxLagSeconds) problems.push(`lag ${replication.lagSeconds.toFixed(1)} s > ${settings.maxLagSeconds} s (cutover.maxLagSeconds)`);
      }
      const parity = await world.cutover.parity(from);
      problems.push(...parity.map((p) => p.message));
      // Preflight judges whether green can take blue's place; the way back needs no such verdict.
      const preflight = from === 'blue' ? await world.preflight.run('prepared') : null;
      problems.push(...(preflight?.blockerFindings ?? []).map((b) => `preflight: ${b.message}`));
      if (problems.length > 0) {
        throw finalError('PGSHIFT_ERR_CUTOVER_REFUSED', `the cutover to ${to} is refused before anything was frozen: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`, {
          problems,
          parity,
        });
      }
      return { lagSeconds: replication?.lagSeconds ?? null, pitr: await world.cutover.pitr(from), ...(preflight ? { preflightAt: preflight.at } : {}) };
    },
  };
}

/**
 * Replication of `direction` as last sampled, once its lag is known: a process that just
 * started (a new leader) has no lag reading for a sample or two, which is no reason to
 * refuse. Waits for samples up to CUTOVER_MEASURE_WAIT_MS, then answers what it has.
 */
async function measured(world: PairWorld, direction: string, signal: AbortSignal): Promise<ReplicationView | null> {
  const known = () => {
    const view = world.signals.replication();
    return view && view.direction === direction && view.lagSeconds !== null ? view : null;
  };
  if (known()) return known();
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, D.CUTOVER_MEASURE_WAIT_MS);
    const unsubscribe = world.signals.onSample(() => {
      if (known()) done();
    });
    signal.addEventListener('abort', done, { once: true });
  });
  signal.throwIfAborted();
  return world.signals.replication();
}

/** A snapshot of `from` that pgshift took, available and fresh enough: reused, or taken now (its id journaled first). */
function snapshot(world: PairWorld, from: Side): TransitionStep {
  return {
    name: CUTOVER_STEPS.snapshot,
    async run(ctx) {
      const { cutover } = world;
      const noted = ctx.record.detail?.snapshotId;
      if (typeof noted !== 'string') {
        const recent = await cutover.recentSnapshot(from, cutover.settings.snapshotMaxAgeMs);
        if (recent) return { snapshotId: recent.id, createdAt: recent.createdAt, reused: true };
      }
      const id = typeof noted === 'string' ? noted : cutover.snapshotId(from, ctx.now());
      if (typeof noted !== 'string') await ctx.note({ snapshotId: id });
      const taken = await cutover.snapshot(from, id, ctx.signal);
      return { snapshotId: taken.id, createdAt: taken.createdAt, reused: false };
    },
  };
}

/**
 * The writer record to `to` in one change batch (the point of no return), then writes
 * opened on `to` at once, before INSYNC: clients reach `to` only through the new
 * record, so nothing can write there before the flip, and nobody waits on a read-only
 * `to` after it.
 */
function flipWriter(weights: Weights, to: Side, world: PairWorld): TransitionStep {
  const move = moveTraffic({
    name: CUTOVER_STEPS.flipWriter,
    weights,
    back: null,
    urgent: true,
    commits: true,
    afterSubmit: async (ctx) => {
      // A resumed flip submits again: the write window ends at the first submission.
      if (typeof ctx.record.detail?.firstSubmittedAt !== 'number') await ctx.note({ firstSubmittedAt: ctx.record.detail?.submittedAt });
      await world.cutover.openWrites(to);
      await ctx.note({ writesOpenedAt: ctx.now() });
    },
  });
  return {
    name: move.name,
    async run(ctx) {
      const result = (await move.run(ctx)) as Record<string, unknown>;
      const window = writeWindowOf(ctx.transition);
      return { ...result, ...(window ? { writeWindowMs: window.pgshiftMs } : {}) };
    },
  };
}

/** The write window of a cutover as journaled: pgshift's part (freeze -> writer change submitted) and Route 53's (-> INSYNC). */
export function writeWindowOf(transition: Transition): { pgshiftMs: number; route53Ms: number | null; frozenAt: number; submittedAt: number } | null {
  const frozenAt = frozenAtOf(transition);
  const flip = stepRecord(transition, CUTOVER_STEPS.flipWriter)?.detail;
  const submittedAt = flip?.firstSubmittedAt ?? flip?.submittedAt;
  if (frozenAt === null || typeof submittedAt !== 'number') return null;
  return { pgshiftMs: submittedAt - frozenAt, route53Ms: typeof flip?.insyncMs === 'number' ? flip.insyncMs : null, frozenAt, submittedAt };
}

function frozenAtOf(transition: Transition): number | null {
  const frozenAt = stepRecord(transition, CUTOVER_STEPS.freeze)?.detail?.frozenAt;
  return typeof frozenAt === 'number' ? frozenAt : null;
}

function stepRecord(transition: Transition, name: string): StepRecord | undefined {
  return transition.steps?.find((s) => s.name === name);
}

/** A step's own error that repeating cannot cure becomes a refusal: the cutover is undone. */
async function refuseOn<T>(code: ErrorCode, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isPgshiftError(err, code)) throw finalError(code, err.message, (err.details ?? {}) as Record<string, unknown>);
    throw err;
  }
}

/** A step with work of its own before it runs and as its undo's last act. */
function withUndo(step: TransitionStep, before: () => Promise<void>, afterUndo: () => Promise<void>): TransitionStep {
  return {
    name: step.name,
    async run(ctx) {
      await before();
      return step.run(ctx);
    },
    async undo(ctx: StepContext) {
      await step.undo?.(ctx);
      await afterUndo();
    },
  };
}
