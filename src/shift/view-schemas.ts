import Type from 'typebox';
import { SideSchema, SplitSchema, WeightsSchema } from './model.js';
import { StageSchema } from './stages.js';
import { PendingDrainSchema, TransitionSchema } from './state.js';

/**
 * What the API shows of a pair, as schemas: the read model the controller answers with
 * and the shapes the world's ports report (signals, clusters, replication). The parts
 * that implement those ports (signals/, clusters/) produce these types; the API and the
 * CLI answer and read them.
 */
const Nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * The clusters: both sides (version, endpoints, status), the newest snapshot of either
 * side, and the point-in-time restore window of that snapshot's side (blue's when there
 * is no snapshot yet).
 */
export const EndpointViewSchema = Type.Object({ host: Type.String(), port: Type.Integer() });

export const ClusterViewSchema = Type.Object({
  id: Nullable(Type.String()),
  engine: Nullable(Type.String()),
  version: Nullable(Type.String()),
  major: Nullable(Type.Integer()),
  writer: Nullable(EndpointViewSchema),
  reader: Nullable(EndpointViewSchema),
  status: Type.String({ description: 'RDS status, or available / in-recovery / unreachable for plain PostgreSQL, or error' }),
  available: Type.Boolean(),
  statusDetail: Type.Optional(Type.String()),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
});
export type ClusterView = Type.Static<typeof ClusterViewSchema>;

export const SnapshotViewSchema = Type.Object({
  id: Type.String(),
  side: SideSchema,
  clusterId: Type.String(),
  status: Type.Union([Type.Literal('creating'), Type.Literal('available'), Type.Literal('failed')]),
  progress: Type.Integer({ minimum: 0, maximum: 100 }),
  createdAt: Type.String({ format: 'date-time' }),
  engineVersion: Type.Optional(Type.String()),
  location: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
});
export type SnapshotView = Type.Static<typeof SnapshotViewSchema>;

export const PitrViewSchema = Type.Object({
  side: SideSchema,
  earliest: Nullable(Type.String({ format: 'date-time' })),
  latest: Nullable(Type.String({ format: 'date-time' })),
});
export type PitrView = Type.Static<typeof PitrViewSchema>;

export const ClustersViewSchema = Type.Object({
  blue: ClusterViewSchema,
  green: ClusterViewSchema,
  lastSnapshot: Nullable(SnapshotViewSchema),
  pitr: Nullable(PitrViewSchema),
});
export type ClustersView = Type.Static<typeof ClustersViewSchema>;


export const SignalStateSchema = Type.Union([Type.Literal('healthy'), Type.Literal('breached'), Type.Literal('unknown')]);
export type SignalState = Type.Static<typeof SignalStateSchema>;

/** One signal's latest assessment, as the signals part reports it. */
export const SignalStatusSchema = Type.Object({
  /** As the signals routes name it: the name, with `:side` for a signal measured per side. */
  id: Type.String(),
  name: Type.String(),
  side: Type.Union([Type.Literal('blue'), Type.Literal('green'), Type.Literal('both')]),
  state: SignalStateSchema,
  /** Consecutive samples over the limit (the auto-revert trigger). */
  consecutiveBreaches: Type.Integer(),
  /** How many consecutive breaches trigger an auto-revert. */
  breachesToRevert: Type.Integer(),
  /** A breach of this signal reverts at once, whatever the count (replication broken). */
  immediate: Type.Boolean(),
  /**
   * The assessment's verdict, decided once in signals/: this signal sends traffic back
   * to blue now. `summary` then says why, with the numbers.
   */
  reverts: Type.Boolean(),
  value: Nullable(Type.Number()),
  limit: Nullable(Type.Number()),
  unit: Type.String(),
  /** When the newest sample was taken. */
  at: Nullable(Type.Number()),
  /** Readable summary, e.g. "lag 12.4 s > 5 s for 3 samples". */
  summary: Type.String(),
});
export type SignalStatus = Type.Static<typeof SignalStatusSchema>;

export const ReplicationViewSchema = Type.Object({
  direction: Type.String(),
  lagSeconds: Nullable(Type.Number()),
  lagBytes: Nullable(Type.Number()),
  healthy: Nullable(Type.Boolean()),
});
export type ReplicationView = Type.Static<typeof ReplicationViewSchema>;

export const PreflightStatusSchema = Type.Object({ ok: Type.Boolean(), blockers: Type.Integer(), at: Type.Number() });
export type PreflightStatus = Type.Static<typeof PreflightStatusSchema>;

/** One condition of moving a pair forward, with the reason it holds or fails. */
export const GuardSchema = Type.Object({ name: Type.String(), ok: Type.Boolean(), detail: Type.String() });
export type Guard = Type.Static<typeof GuardSchema>;

/** The weights Route 53 holds; a name is null when its records are missing or misshaped. */
export const ObservedTrafficSchema = Type.Object({
  reader: Nullable(SplitSchema),
  writer: Nullable(SplitSchema),
  /** When Route 53 was read. */
  at: Type.Number(),
});
export type ObservedTraffic = Type.Static<typeof ObservedTrafficSchema>;

/** How far an initial copy is, for one database or summed over a pair's. */
const CopyFigures = {
  tablesTotal: Type.Integer(),
  /** Tables whose initial copy is finished (subscription state `s` or `r`). */
  tablesDone: Type.Integer(),
  /** Heap size on blue of every table to copy. */
  bytesTotal: Type.Number(),
  /** Finished tables count in full; a table being copied counts what green holds of it so far. */
  bytesDone: Type.Number(),
  /** Over the last readings; null until two readings are apart in time. */
  bytesPerSecond: Nullable(Type.Number()),
  /** (bytesTotal - bytesDone) / bytesPerSecond; null when the rate is unknown or zero. */
  etaSeconds: Nullable(Type.Number()),
};

/** One database's initial copy as last measured. */
export const DatabaseCopyProgressSchema = Type.Object({ database: Type.String(), ...CopyFigures });
export type DatabaseCopyProgress = Type.Static<typeof DatabaseCopyProgressSchema>;

/** The initial copy of every database of a pair, and the sums. */
export const PreparationProgressSchema = Type.Object({
  /** Epoch ms of the reading. */
  at: Type.Number(),
  ...CopyFigures,
  databases: Type.Array(DatabaseCopyProgressSchema),
  /** Step `preflight`: its trial restore of blue's schema on green, objects (pg_dump entries) restored of the total; the copy figures are 0 then. */
  objects: Type.Optional(Type.Object({ database: Type.String(), done: Type.Integer(), total: Type.Integer() })),
});
export type PreparationProgress = Type.Static<typeof PreparationProgressSchema>;

/** A preparation under way: which step runs, and the initial copy's progress once it started. */
export const PreparationViewSchema = Type.Object({
  step: Type.String(),
  stepsDone: Type.Integer(),
  stepsTotal: Type.Integer(),
  progress: Nullable(PreparationProgressSchema),
});
export type PreparationView = Type.Static<typeof PreparationViewSchema>;

/** A write cutover under way (either direction): its step, how long it has run, how long writes have been frozen. */
export const CutoverViewSchema = Type.Object({
  /** `blue->green` forward, `green->blue` for a revert from green. */
  direction: Type.String(),
  step: Type.String(),
  stepsDone: Type.Integer(),
  stepsTotal: Type.Integer(),
  steps: Type.Array(Type.String()),
  startedAt: Type.Number(),
  elapsedMs: Type.Number(),
  /** When writes were frozen on the side giving them up; null before the freeze. */
  frozenAt: Nullable(Type.Number()),
  /** Past the writer flip: a restart finishes it rather than undoing it. */
  committed: Type.Boolean(),
});
export type CutoverView = Type.Static<typeof CutoverViewSchema>;

/** The write window of the last cutover that landed: pgshift's part (freeze -> writer change submitted) and Route 53's (-> INSYNC). */
export const WriteWindowViewSchema = Type.Object({
  direction: Type.String(),
  pgshiftMs: Type.Number(),
  route53Ms: Nullable(Type.Number()),
  at: Type.Number(),
});
export type WriteWindowView = Type.Static<typeof WriteWindowViewSchema>;

/** One operator action as it stands now: what it would do, and why it would be refused (null when allowed). */
export const ActionViewSchema = Type.Object({
  allowed: Type.Boolean(),
  effect: Type.String({ description: 'what the action does from here, e.g. "reads on green 25 % -> 50 %"' }),
  reason: Nullable(Type.String({ description: 'why the controller would refuse it now' })),
});
export type ActionView = Type.Static<typeof ActionViewSchema>;

export const ActionsViewSchema = Type.Object({
  advance: ActionViewSchema,
  revert: ActionViewSchema,
  pause: ActionViewSchema,
  resume: ActionViewSchema,
  finalize: ActionViewSchema,
});
export type ActionsView = Type.Static<typeof ActionsViewSchema>;

export const PairViewSchema = Type.Object({
  id: Type.String(),
  stage: StageSchema,
  paused: Type.Boolean(),
  halted: Type.Boolean(),
  haltReason: Nullable(Type.String()),
  stageEnteredAt: Type.Number(),
  /** What the stage wants Route 53 to hold. */
  weights: Nullable(WeightsSchema),
  /** What Route 53 held when last read. */
  observed: Nullable(ObservedTrafficSchema),
  clusters: Nullable(ClustersViewSchema),
  replication: Nullable(ReplicationViewSchema),
  signals: Type.Array(SignalStatusSchema),
  guards: Type.Array(GuardSchema),
  /** Each operator action as it stands: allowed or not, and why. */
  actions: ActionsViewSchema,
  preflight: Nullable(PreflightStatusSchema),
  transition: Nullable(TransitionSchema),
  /** While green is being prepared: its step and progress. */
  preparation: Nullable(PreparationViewSchema),
  /** While writes move (either way): the step, elapsed time and the freeze. */
  cutover: Nullable(CutoverViewSchema),
  /** The last cutover's write window; null before the first. */
  lastWriteWindow: Nullable(WriteWindowViewSchema),
  /** At finalized: what became of blue. */
  retired: Nullable(Type.String()),
  lastTransition: Nullable(TransitionSchema),
  /** Application sessions still to be ended on a side, and when. */
  drain: Nullable(PendingDrainSchema),
  stages: Type.Array(StageSchema),
  autoAdvance: Type.Boolean(),
  bakeSeconds: Type.Number(),
  lastError: Nullable(Type.String()),
});
export type PairView = Type.Static<typeof PairViewSchema>;
