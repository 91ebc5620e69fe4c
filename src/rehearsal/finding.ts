import Type from 'typebox';

/** One thing a rehearsal found, from preflight, the queries, the load or its own steps. */
export const RehearsalFindingSchema = Type.Object({
  severity: Type.Union([Type.Literal('blocker'), Type.Literal('warning'), Type.Literal('info')]),
  /** Where it comes from: `preflight`, `queries`, `load` (the demo application's write ledger), or the rehearsal's own steps. */
  source: Type.String(),
  message: Type.String(),
  remediation: Type.Optional(Type.String()),
});
export type RehearsalFinding = Type.Static<typeof RehearsalFindingSchema>;
