import Type from 'typebox';
import type { Side, Split, Weights } from './model.js';

/**
 * The stage machine as data. A pair is always at one stage; each stage says what share
 * of reads and writes green gets and which way replication runs. The plan of a pair is
 * its list of stages in order; `prepare` moves from `unprepared` to `baseline`,
 * advancing moves one entry forward, reverting goes back to `baseline`.
 *
 * | stage      | reader -> green | writer -> green | replication                     |
 * |------------|-----------------|-----------------|---------------------------------|
 * | unprepared | 0               | 0               | none: green is not ready yet    |
 * | baseline   | 0               | 0               | blue -> green                   |
 * | reads-<p>  | p               | 0               | blue -> green                   |
 * | cutover    | 100             | moving          | frozen, catching up (transient) |
 * | green      | 100             | 100             | green -> blue (for a revert)    |
 * | finalized  | 100             | 100             | none; blue may be retired       |
 */
export const STAGE_KINDS = {
  /** Green does not follow blue yet; `prepare` copies the schema and sets up replication. */
  unprepared: 'unprepared',
  /** All traffic on blue; green follows by replication. */
  baseline: 'baseline',
  /** A share of reads on green, all writes on blue. */
  reads: 'reads',
  /** Writes are frozen on blue while green catches up and the writer record flips. */
  cutover: 'cutover',
  /** All traffic on green; blue follows by reverse replication, so a revert loses nothing. */
  green: 'green',
  /** All traffic on green, reverse replication stopped; blue may be retired. */
  finalized: 'finalized',
} as const;
export type StageKind = (typeof STAGE_KINDS)[keyof typeof STAGE_KINDS];

export type Stage = 'unprepared' | 'baseline' | `reads-${number}` | 'cutover' | 'green' | 'finalized';

export const StageSchema = Type.String({ pattern: '^(unprepared|baseline|reads-([1-9][0-9]?|100)|cutover|green|finalized)$' });

export type ReplicationDirection = 'blue->green' | 'green->blue' | 'none';

export const UNPREPARED: Stage = 'unprepared';
export const BASELINE: Stage = 'baseline';

export interface StagePlanEntry {
  stage: Stage;
  kind: StageKind;
  /** Desired weights at this stage; for `cutover` the writer is in flux, this is its start. */
  weights: Weights;
  replication: ReplicationDirection;
}

const ALL_BLUE: Split = { blue: 100, green: 0 };
const ALL_GREEN: Split = { blue: 0, green: 100 };

export function readStage(percent: number): Stage {
  return `reads-${percent}`;
}

/** The plan of a pair with the given read steps (already validated: increasing, last 100). */
export function planStages(steps: readonly number[]): StagePlanEntry[] {
  return [
    { stage: UNPREPARED, kind: 'unprepared', weights: { reader: ALL_BLUE, writer: ALL_BLUE }, replication: 'none' },
    { stage: BASELINE, kind: 'baseline', weights: { reader: ALL_BLUE, writer: ALL_BLUE }, replication: 'blue->green' },
    ...steps.map(
      (p): StagePlanEntry => ({
        stage: readStage(p),
        kind: 'reads',
        weights: { reader: { blue: 100 - p, green: p }, writer: ALL_BLUE },
        replication: 'blue->green',
      }),
    ),
    { stage: 'cutover', kind: 'cutover', weights: { reader: ALL_GREEN, writer: ALL_BLUE }, replication: 'blue->green' },
    { stage: 'green', kind: 'green', weights: { reader: ALL_GREEN, writer: ALL_GREEN }, replication: 'green->blue' },
    { stage: 'finalized', kind: 'finalized', weights: { reader: ALL_GREEN, writer: ALL_GREEN }, replication: 'none' },
  ];
}

/** Where a pair starts: green not prepared yet. */
export function firstStage(plan: readonly StagePlanEntry[]): StagePlanEntry {
  return plan[0]!;
}

/** Where reverts go: every read on blue, green following by replication. */
export function baselineOf(plan: readonly StagePlanEntry[]): StagePlanEntry {
  return plan.find((entry) => entry.kind === 'baseline')!;
}

export function findStage(plan: readonly StagePlanEntry[], stage: string): StagePlanEntry | undefined {
  return plan.find((entry) => entry.stage === stage);
}

/** The entry after `stage`, or undefined at the end of the plan or for an unknown stage. */
export function nextStage(plan: readonly StagePlanEntry[], stage: string): StagePlanEntry | undefined {
  const index = plan.findIndex((entry) => entry.stage === stage);
  return index < 0 ? undefined : plan[index + 1];
}

/**
 * Where advancing from `stage` lands: the next entry, except that `cutover` is only
 * passed through (the write cutover runs as one transition from the last read stage to
 * `green`), and nothing follows `green` by advancing: closing the way back is `finalize`.
 */
export function advanceTarget(plan: readonly StagePlanEntry[], stage: string): StagePlanEntry | undefined {
  const next = nextStage(plan, stage);
  if (next?.kind === 'cutover') return nextStage(plan, next.stage);
  return next?.kind === 'finalized' ? undefined : next;
}

export function desiredWeights(plan: readonly StagePlanEntry[], stage: string): Weights | undefined {
  return findStage(plan, stage)?.weights;
}

/** The side that stops getting any traffic when the weights go from `from` to `to`: its leftover sessions are drained. */
export function sideLosingTraffic(from: Weights, to: Weights): Side | null {
  const carries = (w: Weights, side: Side) => w.reader[side] + w.writer[side] > 0;
  if (carries(from, 'green') && !carries(to, 'green')) return 'green';
  if (carries(from, 'blue') && !carries(to, 'blue')) return 'blue';
  return null;
}

/**
 * What a pair's signals read of its stage now (`current`): which way replication runs,
 * and whether a side takes application traffic (a breach on it reverts).
 */
export function stageFacts(current: () => StagePlanEntry): { direction: () => Exclude<ReplicationDirection, 'none'> | null; exposed: (side: Side) => boolean } {
  return {
    direction() {
      const { replication } = current();
      return replication === 'none' ? null : replication;
    },
    exposed(side) {
      const { reader, writer } = current().weights;
      return reader[side] > 0 || writer[side] > 0;
    },
  };
}
