import Type from 'typebox';
import Value from 'typebox/value';
import { PgshiftError } from '../../errors.js';
import * as W from './defaults.js';

/**
 * The demo application's settings: `lab.workload` in the lab's config file, or the
 * flags of `npm run workload`. Every key has a default, so `{}` is a valid config.
 */
export const WorkloadSettingsSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: '`npm start` runs the demo application inside the lab' }),
    rate: Type.Number({
      minimum: 0,
      maximum: 100_000,
      default: W.WORKLOAD_LAB_RATE,
      description: 'write transactions per second; reads come on top (see readShare)',
    }),
    readShare: Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      default: W.WORKLOAD_READ_SHARE,
      description: 'reads as a share of all requests (0.8: four reads per write)',
    }),
    clients: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: W.WORKLOAD_CLIENTS,
      description: 'simulated application instances, each with its own DNS cache',
    }),
    maxInFlight: Type.Integer({ minimum: 1, maximum: 10_000, default: W.WORKLOAD_MAX_IN_FLIGHT }),
    poolMax: Type.Integer({ minimum: 1, maximum: 1_000, default: W.WORKLOAD_POOL_MAX, description: 'connections per resolved endpoint' }),
    poolMaxAgeSeconds: Type.Integer({
      minimum: 0,
      maximum: 86_400,
      default: W.WORKLOAD_POOL_MAX_AGE_SECONDS,
      description: 'a pooled connection is replaced after this age (0: never)',
    }),
    maxAttempts: Type.Integer({ minimum: 1, maximum: 20, default: W.WORKLOAD_MAX_ATTEMPTS }),
    statementTimeoutMs: Type.Integer({ minimum: 1, maximum: 600_000, default: W.WORKLOAD_STATEMENT_TIMEOUT_MS }),
    pushIntervalMs: Type.Integer({ minimum: 50, maximum: 600_000, default: W.WORKLOAD_PUSH_INTERVAL_MS }),
    push: Type.Boolean({ default: true, description: "push request and error counts to pgshift's signals" }),
    statsPort: Type.Integer({
      minimum: 0,
      maximum: 65_535,
      default: 0,
      description: "loopback port of the app's own numbers (GET /); 0 picks a free one",
    }),
  },
  { additionalProperties: false, default: {} },
);
export type WorkloadSettings = Type.Static<typeof WorkloadSettingsSchema>;

/**
 * Settings from a plain object (config section or parsed flags): defaults filled in,
 * numbers given as strings converted. Throws PGSHIFT_ERR_WORKLOAD_CONFIG naming every
 * offending key (prefixed by `at`, e.g. `lab.workload`).
 */
export function parseWorkloadSettings(raw: unknown, at = 'workload'): WorkloadSettings {
  const value = Value.Default(WorkloadSettingsSchema, convertStrings(structuredClone(raw ?? {})));
  const problems: string[] = [];
  for (const issue of Value.Errors(WorkloadSettingsSchema, value) as unknown as { keyword: string; instancePath: string; message: string; params: Record<string, unknown> }[]) {
    const key = issue.instancePath.slice(1).replace(/\//g, '.');
    if (issue.keyword === 'additionalProperties') {
      for (const extra of (issue.params.additionalProperties as string[]) ?? []) problems.push(`${at}.${extra}: unknown key`);
    } else if (issue.keyword !== 'boolean') {
      problems.push(`${key ? `${at}.${key}` : at}: ${issue.message}`);
    }
  }
  if (problems.length > 0) {
    const sorted = [...new Set(problems)].sort();
    throw new PgshiftError('PGSHIFT_ERR_WORKLOAD_CONFIG', sorted.join('; '), { status: 400, details: { problems: sorted } });
  }
  return value as WorkloadSettings;
}

/**
 * Numbers and booleans given as strings (flags) become numbers and booleans; anything
 * else is left as it is for validation to name. Not Value.Convert: it turns 1.5 into the
 * integer 1 and a blank string into 0, so `--pool-max 1.5` or `--rate ""` would pass.
 */
function convertStrings(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const types = WorkloadSettingsSchema.properties as Record<string, { type?: unknown } | undefined>;
  return Object.fromEntries(
    Object.entries(raw).map(([key, v]) => {
      const type = types[key]?.type;
      if (typeof v !== 'string') return [key, v];
      if ((type === 'number' || type === 'integer') && /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(v)) return [key, Number(v)];
      if (type === 'boolean' && (v === 'true' || v === 'false')) return [key, v === 'true'];
      return [key, v];
    }),
  );
}
