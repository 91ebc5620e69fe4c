import Type from 'typebox';
import * as D from '../defaults.js';
import { RehearsalQuerySchema } from './queries.js';
import { REHEARSAL_STEPS, RehearsalReportSchema } from './runner.js';

/** What an operator asks for (the API's POST body). */
export const RehearsalRequestSchema = Type.Object(
  {
    snapshot: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "blue's cluster snapshot to restore; default blue's newest pgshift snapshot, taken now when there is none" })),
    keep: Type.Optional(Type.Boolean({ description: 'leave the staging clusters in place afterwards' })),
    writeRate: Type.Optional(Type.Number({ minimum: 0, maximum: D.REHEARSAL_MAX_WRITE_RATE, description: 'write transactions per second of the built-in load, from the first read stage to the way back (default 10; 0: no load)' })),
    bakeSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: D.REHEARSAL_MAX_BAKE_SECONDS, description: "each read stage's bake time on the staging pair (default 5)" })),
    queries: Type.Optional(Type.Array(RehearsalQuerySchema, { maxItems: D.REHEARSAL_MAX_QUERIES })),
  },
  { additionalProperties: false },
);

/**
 * One rehearsal as stored: `running` while a process works on it (its heartbeat fresh),
 * `done` with its report, `interrupted` when the process running it ended without one
 * (a crash): its staging clusters are removed by the next start's sweep.
 */
export const RehearsalRecordSchema = Type.Object({
  id: Type.String(),
  pair: Type.String(),
  status: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('interrupted')]),
  step: Type.Union([Type.Enum([...REHEARSAL_STEPS]), Type.Null()]),
  copyPercent: Type.Union([Type.Integer(), Type.Null()]),
  request: RehearsalRequestSchema,
  report: Type.Union([RehearsalReportSchema, Type.Null()]),
  actor: Type.String(),
  owner: Type.String(),
  startedAt: Type.Number(),
  heartbeatAt: Type.Number(),
  finishedAt: Type.Union([Type.Number(), Type.Null()]),
});
export type RehearsalRecord = Type.Static<typeof RehearsalRecordSchema>;

/** Where rehearsals are kept (the state database, migration 5). Every method may throw when the store is unreachable. */
export interface RehearsalStore {
  /** Records a new running rehearsal unless the pair has one running; answers false then. */
  start(record: RehearsalRecord): Promise<boolean>;
  /** Step, copy percentage and heartbeat of a running rehearsal; idempotent. */
  touch(id: string, progress: { step: RehearsalRecord['step']; copyPercent: number | null }, now: number): Promise<void>;
  /** Ends a rehearsal with its report. */
  finish(id: string, report: RehearsalRecord['report'], now: number): Promise<void>;
  get(id: string): Promise<RehearsalRecord | null>;
  /** The pair's newest rehearsal; null when none. */
  last(pair: string): Promise<RehearsalRecord | null>;
  /** Every running rehearsal. */
  running(): Promise<RehearsalRecord[]>;
  /** Marks these rehearsals interrupted if they are still running. */
  interrupt(ids: readonly string[], now: number): Promise<void>;
}
