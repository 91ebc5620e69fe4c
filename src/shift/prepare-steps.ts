import { finalError } from '../errors.js';
import type { PairWorld, PreparationStep, PreflightBlocker } from './ports.js';
import type { StepContext, TransitionStep } from './steps.js';

/**
 * The steps of `prepare`, from `unprepared` to `baseline`: create green (when the
 * config asks), pgshift's login on green, preflight, then what replication needs on
 * both sides and the initial copy (replication/). The list is the same in every process
 * with the same config, so a journal written by one is read step by step by another.
 */
export function prepareSteps(world: PairWorld): TransitionStep[] {
  const { preparation } = world;
  return [
    ...(preparation.createGreen ? [journaled(preparation.createGreen)] : []),
    journaled(preparation.greenLogin),
    preflight(world),
    ...preparation.replication().map(journaled),
  ];
}

/** A preparation step, given the executor's journal: what it noted before comes back to it on a resumed run and to its undo. */
function journaled(step: PreparationStep): TransitionStep {
  return {
    name: step.name,
    run: (ctx) =>
      step.run({
        get detail() {
          return ctx.record.detail ?? {};
        },
        note: (detail) => ctx.note(detail),
        signal: ctx.signal,
        progress: (progress) => ctx.progress(progress),
      }),
    ...(step.undo ? { undo: (ctx: StepContext) => step.undo!(ctx.record.detail ?? {}, ctx.signal) } : {}),
  };
}

/**
 * Preflight in its `prepare` phase: green's server must be able to take blue's schema
 * and data. A blocker gives the preparation up (a final error), and the steps before
 * it are undone, so a refused green is left as it was.
 */
function preflight(world: PairWorld): TransitionStep {
  return {
    name: 'preflight',
    async run(ctx) {
      // The trial restore of a large schema takes a while: shown as the step's progress, as the initial copy is.
      const report = await world.preflight.run('prepare', (objects) =>
        ctx.progress({ at: ctx.now(), tablesTotal: 0, tablesDone: 0, bytesTotal: 0, bytesDone: 0, bytesPerSecond: null, etaSeconds: null, databases: [], objects }),
      );
      if (report.blockers > 0) {
        throw finalError('PGSHIFT_ERR_PREFLIGHT_BLOCKED', `preflight found ${report.blockers} blocker(s): ${summarize(report.blockerFindings)}`, { blockers: report.blockerFindings });
      }
      return { blockers: 0, reportAt: report.at };
    },
  };
}

function summarize(blockers: readonly PreflightBlocker[]): string {
  const shown = blockers.slice(0, 3).map((b) => b.message);
  return `${shown.join('; ')}${blockers.length > shown.length ? `; and ${blockers.length - shown.length} more` : ''}`;
}
