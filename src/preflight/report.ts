import Type from 'typebox';
import Value from 'typebox/value';

/**
 * What a preflight run produces. It crosses the API boundary and is stored, so it is
 * defined as schemas; the types are derived from them.
 */

/**
 * `blocker`: pgshift must not advance past baseline until it is fixed (or pgshift could
 * not tell). `warning`: the shift can go on, but something will not behave as the
 * operator may expect. `info`: what pgshift will do about it, nothing to fix.
 */
export const SeveritySchema = Type.Union([Type.Literal('blocker'), Type.Literal('warning'), Type.Literal('info')]);
export type Severity = Type.Static<typeof SeveritySchema>;

/**
 * Which green a run checks. `prepared`: green has the pair's databases, schema and roles
 * (made by `prepare`, or by hand); every check runs. `prepare`: green is the empty cluster
 * `prepare` is about to fill: green is read through its maintenance database, and the
 * checks that compare what `prepare` creates with blue do not apply.
 */
export const PREFLIGHT_PHASES = { prepare: 'prepare', prepared: 'prepared' } as const;
export type PreflightPhase = (typeof PREFLIGHT_PHASES)[keyof typeof PREFLIGHT_PHASES];
export const PreflightPhaseSchema = Type.Enum([PREFLIGHT_PHASES.prepare, PREFLIGHT_PHASES.prepared], {
  description: "prepare: green is empty, before pgshift's prepare step fills it; prepared: green has the pair's databases and schema",
});

export const FindingSchema = Type.Object(
  {
    check: Type.String({ description: 'id of the check that produced the finding' }),
    severity: SeveritySchema,
    database: Type.Union([Type.String(), Type.Null()], { description: 'null for a finding about a whole cluster' }),
    object: Type.String({ description: 'what the finding is about, e.g. "extension some_extension"' }),
    message: Type.String(),
    remediation: Type.String({ description: 'the SQL or the step that fixes it' }),
  },
  { additionalProperties: false },
);
export type Finding = Type.Static<typeof FindingSchema>;

export const CheckRunSchema = Type.Object(
  {
    check: Type.String(),
    title: Type.String(),
    database: Type.Union([Type.String(), Type.Null()]),
    /** `skipped`: a side it reads could not be reached; `failed`: it threw (a finding says why). */
    outcome: Type.Union([
      Type.Literal('passed'),
      Type.Literal('findings'),
      Type.Literal('failed'),
      Type.Literal('skipped'),
      Type.Literal('not-applicable'),
    ]),
    findings: Type.Integer({ minimum: 0 }),
    durationMs: Type.Integer({ minimum: 0 }),
    reason: Type.Optional(Type.String({ description: 'why the check did not apply, when the run knows' })),
  },
  { additionalProperties: false },
);
export type CheckRun = Type.Static<typeof CheckRunSchema>;

export const ServerVersionSchema = Type.Object(
  {
    version: Type.Union([Type.String(), Type.Null()], { description: 'server_version, e.g. "13.23"; null when unreachable' }),
    major: Type.Union([Type.Integer(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type ServerVersion = Type.Static<typeof ServerVersionSchema>;

export const PreflightReportSchema = Type.Object(
  {
    pair: Type.String(),
    /** Absent in reports stored before phases existed: those are `prepared`. */
    phase: Type.Optional(PreflightPhaseSchema),
    /** No blocker: the controller may advance past baseline. */
    ok: Type.Boolean(),
    startedAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.String({ format: 'date-time' }),
    durationMs: Type.Integer({ minimum: 0 }),
    blue: ServerVersionSchema,
    green: ServerVersionSchema,
    findings: Type.Array(FindingSchema),
    checks: Type.Array(CheckRunSchema),
  },
  { additionalProperties: false },
);
export type PreflightReport = Type.Static<typeof PreflightReportSchema>;

export function countBySeverity(findings: readonly Finding[]): Record<Severity, number> {
  const counts: Record<Severity, number> = { blocker: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity] += 1;
  return counts;
}

/**
 * A report read back from storage as `unknown` (the state store keeps JSON), checked
 * against the schema: the report, or null when the stored value is not one.
 */
export function parsePreflightReport(value: unknown): PreflightReport | null {
  return Value.Check(PreflightReportSchema, value) ? value : null;
}
