import Type from 'typebox';
import { StageSchema } from './stages.js';
import { SideSchema, WeightsSchema } from './model.js';

/**
 * What pgshift stores, as schemas: rows are checked against these when read back, and
 * the API answers with the same shapes. Times are epoch milliseconds.
 */
export const TransitionKindSchema = Type.Union([
  Type.Literal('prepare'),
  Type.Literal('advance'),
  /** The write cutover to green (advancing from the last read stage); a revert from green runs it back. */
  Type.Literal('cutover'),
  Type.Literal('revert'),
  Type.Literal('auto-revert'),
  /** Closing the way back at green. */
  Type.Literal('finalize'),
]);
export type TransitionKind = Type.Static<typeof TransitionKindSchema>;

export const StepStatusSchema = Type.Union([Type.Literal('started'), Type.Literal('done'), Type.Literal('undone')]);
export type StepStatus = Type.Static<typeof StepStatusSchema>;

/** One step of a transition as journaled: written before it starts and after it ends. */
export const StepRecordSchema = Type.Object({
  name: Type.String(),
  status: StepStatusSchema,
  startedAt: Type.Number(),
  endedAt: Type.Optional(Type.Number()),
  /** What the step wants a resumed run to know (a submitted change id) or reports (timings). */
  detail: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type StepRecord = Type.Static<typeof StepRecordSchema>;

/** A stage change in flight, journaled before anything moves. */
export const TransitionSchema = Type.Object({
  id: Type.String(),
  kind: TransitionKindSchema,
  from: StageSchema,
  to: StageSchema,
  weights: WeightsSchema,
  startedAt: Type.Number(),
  actor: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  intentId: Type.Union([Type.String(), Type.Null()]),
  changeId: Type.Optional(Type.String()),
  submittedAt: Type.Optional(Type.Number()),
  details: Type.Optional(Type.Unknown()),
  /** Every step of the transition, in order, as planned when it began. */
  stepNames: Type.Optional(Type.Array(Type.String())),
  /** The step journal, in order of the transition's plan. */
  steps: Type.Optional(Type.Array(StepRecordSchema)),
  /**
   * Past the point of no return: a process that finds this transition unfinished
   * completes it; before it, one rolls it back to `from`.
   */
  committed: Type.Optional(Type.Boolean()),
  /**
   * Given up: a revert asked for it, or a step failed in a way repeating cannot cure. A
   * process that finds it unfinished rolls it back, whatever `committed` says.
   */
  abandoned: Type.Optional(
    Type.Object({
      at: Type.Number(),
      actor: Type.String(),
      reason: Type.String(),
      /** The revert intent that asked for it; null when a step refused. */
      intentId: Type.Union([Type.String(), Type.Null()]),
      details: Type.Optional(Type.Unknown()),
    }),
  ),
  /** Set when it landed: at `to`, or back at `from`. */
  outcome: Type.Optional(Type.Union([Type.Literal('finished'), Type.Literal('rolled-back')])),
  /** When it landed. */
  landedAt: Type.Optional(Type.Number()),
});
export type Transition = Type.Static<typeof TransitionSchema>;

/**
 * Application sessions to end on a side once clients have had a TTL to re-resolve:
 * stored with its due time so that whichever process leads then carries it out.
 */
export const PendingDrainSchema = Type.Object({
  side: SideSchema,
  dueAt: Type.Number(),
  reason: Type.String(),
});
export type PendingDrain = Type.Static<typeof PendingDrainSchema>;

export const PairStateSchema = Type.Object({
  id: Type.String(),
  stage: StageSchema,
  paused: Type.Boolean(),
  halted: Type.Boolean(),
  haltReason: Type.Union([Type.String(), Type.Null()]),
  stageEnteredAt: Type.Number(),
  version: Type.Integer(),
  transition: Type.Union([TransitionSchema, Type.Null()]),
  lastTransition: Type.Union([TransitionSchema, Type.Null()]),
  drain: Type.Union([PendingDrainSchema, Type.Null()]),
  updatedAt: Type.Number(),
});
export type PairState = Type.Static<typeof PairStateSchema>;

export const IntentActionSchema = Type.Enum(['prepare', 'advance', 'revert', 'pause', 'resume', 'finalize']);
export type IntentAction = Type.Static<typeof IntentActionSchema>;

export const IntentStatusSchema = Type.Union([
  Type.Literal('pending'),
  Type.Literal('done'),
  Type.Literal('rejected'),
  Type.Literal('failed'),
]);
export type IntentStatus = Type.Static<typeof IntentStatusSchema>;

export const IntentOptionsSchema = Type.Union([Type.Object({ ignoreRollbackWindow: Type.Optional(Type.Boolean()) }, { additionalProperties: false }), Type.Null()]);
export type IntentOptions = Type.Static<typeof IntentOptionsSchema>;

/** An operator's request, recorded by the API and carried out by the leader's loop. */
export const IntentSchema = Type.Object({
  id: Type.String(),
  pair: Type.String(),
  action: IntentActionSchema,
  expectedStage: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  actor: Type.String(),
  createdAt: Type.Number(),
  status: IntentStatusSchema,
  result: Type.Union([Type.Unknown(), Type.Null()]),
  finishedAt: Type.Union([Type.Number(), Type.Null()]),
  /** What the request asked beyond its action (finalize: close the way back before the rollback window has passed). */
  options: IntentOptionsSchema,
});
export type Intent = Type.Static<typeof IntentSchema>;

export const OutcomeSchema = Type.Union([
  Type.Literal('ok'),
  Type.Literal('rejected'),
  Type.Literal('failed'),
  Type.Literal('info'),
]);
export type Outcome = Type.Static<typeof OutcomeSchema>;

/** One line of the append-only audit log. */
export const AuditEventSchema = Type.Object({
  id: Type.Integer(),
  pair: Type.String(),
  at: Type.Number(),
  actor: Type.String(),
  action: Type.String(),
  fromStage: Type.Union([Type.String(), Type.Null()]),
  toStage: Type.Union([Type.String(), Type.Null()]),
  outcome: OutcomeSchema,
  reason: Type.Union([Type.String(), Type.Null()]),
  details: Type.Union([Type.Unknown(), Type.Null()]),
});
export type AuditEvent = Type.Static<typeof AuditEventSchema>;
export type NewAuditEvent = Omit<AuditEvent, 'id' | 'at'> & { at?: number };

export const LeaderInfoSchema = Type.Object({
  holder: Type.String(),
  since: Type.Number(),
  seenAt: Type.Number(),
});
export type LeaderInfo = Type.Static<typeof LeaderInfoSchema>;
