import Type from 'typebox';
import type { PairConfig } from '../config/schema.js';
import * as D from '../defaults.js';
import { describeError, isPgshiftError, PgshiftError, type ErrorCode } from '../errors.js';
import { systemClock, type Clock } from '../clock.js';
import { withClient, type Endpoint } from '../postgres/connect.js';
import { parseMajor, UNREACHABLE_STATUS, type ClusterCatalog, type ClusterInfo } from './catalog.js';
import { buildConnectTarget, type HostOverrides } from './dial.js';
import { SIDES, type Side } from '../shift/model.js';

/**
 * The checks run at start and before every stage change: each side is the configured
 * major version of a PostgreSQL engine, available, and reachable with pgshift's own
 * login through the endpoints pgshift dials. Every problem found is reported, not only
 * the first, so an operator fixes them in one go.
 */
export const CLUSTER_CHECK_CODES = {
  notFound: 'PGSHIFT_ERR_CLUSTER_NOT_FOUND',
  engine: 'PGSHIFT_ERR_CLUSTER_ENGINE',
  major: 'PGSHIFT_ERR_CLUSTER_MAJOR',
  unavailable: 'PGSHIFT_ERR_CLUSTER_UNAVAILABLE',
  unreachable: 'PGSHIFT_ERR_CLUSTER_UNREACHABLE',
} as const satisfies Record<string, ErrorCode>;

const STATUS_BY_CODE: Record<string, number> = {
  [CLUSTER_CHECK_CODES.notFound]: 404,
  [CLUSTER_CHECK_CODES.engine]: 409,
  [CLUSTER_CHECK_CODES.major]: 409,
  [CLUSTER_CHECK_CODES.unavailable]: 503,
  [CLUSTER_CHECK_CODES.unreachable]: 503,
};

export const ClusterProblemSchema = Type.Object({
  code: Type.String({ pattern: '^PGSHIFT_ERR_' }),
  message: Type.String(),
});
export type ClusterProblem = Type.Static<typeof ClusterProblemSchema>;

export const SideCheckSchema = Type.Object({
  ok: Type.Boolean(),
  clusterId: Type.Union([Type.String(), Type.Null()]),
  version: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.String(), Type.Null()]),
  problems: Type.Array(ClusterProblemSchema),
});
export type SideCheck = Type.Static<typeof SideCheckSchema>;

export const ClusterCheckReportSchema = Type.Object({
  ok: Type.Boolean(),
  checkedAt: Type.String({ format: 'date-time' }),
  blue: SideCheckSchema,
  green: SideCheckSchema,
});
export type ClusterCheckReport = Type.Static<typeof ClusterCheckReportSchema>;

export interface ClusterCheckOptions {
  catalog: ClusterCatalog;
  pair: PairConfig;
  hostOverrides?: HostOverrides;
  clock?: Clock;
}

/** Checks both sides. Never throws: whatever goes wrong is a problem in the report. */
export async function checkClusters(options: ClusterCheckOptions): Promise<ClusterCheckReport> {
  const clock = options.clock ?? systemClock;
  const [blue, green] = await Promise.all(SIDES.map((side) => checkSide(side, options)));
  return {
    ok: blue!.ok && green!.ok,
    checkedAt: new Date(clock.now()).toISOString(),
    blue: blue!,
    green: green!,
  };
}

/**
 * Like checkClusters, but throws when a side has a problem: a PgshiftError with the
 * first problem's code, every problem in the message, and the report as details.
 */
export async function assertClustersReady(options: ClusterCheckOptions): Promise<ClusterCheckReport> {
  const report = await checkClusters(options);
  if (report.ok) return report;
  const all = SIDES.flatMap((side) => report[side].problems.map((p) => ({ side, ...p })));
  const first = all[0]!;
  throw new PgshiftError(
    first.code as ErrorCode,
    `clusters of pair ${options.pair.id} not ready: ${all.map((p) => `${p.side}: ${p.message}`).join('; ')}`,
    { status: STATUS_BY_CODE[first.code] ?? 503, details: report },
  );
}

async function checkSide(side: Side, options: ClusterCheckOptions): Promise<SideCheck> {
  const config = options.pair[side];
  const problems: ClusterProblem[] = [];
  let info: ClusterInfo;
  try {
    info = await options.catalog.describe(side);
  } catch (err) {
    problems.push({ code: isPgshiftError(err) ? err.code : 'PGSHIFT_ERR_CLUSTER_DESCRIBE', message: describeError(err) });
    return { ok: false, clusterId: config.rdsClusterId ?? config.host ?? null, version: null, status: null, problems };
  }
  const name = `${side} cluster ${info.id}`;
  if (!(D.POSTGRES_ENGINES as readonly string[]).includes(info.engine)) {
    problems.push({
      code: CLUSTER_CHECK_CODES.engine,
      message: `${name} runs engine ${info.engine}; pgshift upgrades ${D.POSTGRES_ENGINES.join(' or ')}`,
    });
  }
  if (info.major !== null && info.major !== config.expectedMajor) {
    problems.push({
      code: CLUSTER_CHECK_CODES.major,
      message: `${name} runs PostgreSQL ${info.version} (major ${info.major}) but the pair expects major ${config.expectedMajor}`,
    });
  }
  if (!info.available && info.status !== UNREACHABLE_STATUS) {
    // A cluster the platform reports down is not dialled too: one problem, not one per endpoint.
    problems.push({ code: CLUSTER_CHECK_CODES.unavailable, message: `${name} is not available (status ${info.status})` });
    return { ok: false, clusterId: info.id, version: info.version, status: info.status, problems };
  }

  const endpoints: { role: string; endpoint: Endpoint; databases: readonly string[] }[] = [
    { role: 'writer', endpoint: info.writer, databases: options.pair.databases },
  ];
  if (info.reader.host !== info.writer.host || info.reader.port !== info.writer.port) {
    endpoints.push({ role: 'reader', endpoint: info.reader, databases: options.pair.databases.slice(0, 1) });
  }
  for (const { role, endpoint, databases } of endpoints) {
    for (const database of databases) {
      const target = buildConnectTarget(endpoint, {
        login: config.login,
        database,
        ssl: config.ssl,
        ...(options.hostOverrides ? { hostOverrides: options.hostOverrides } : {}),
      });
      try {
        const version = await withClient(target, async (c) => (await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v);
        const major = parseMajor(version);
        if (major !== config.expectedMajor && major !== info.major) {
          problems.push({
            code: CLUSTER_CHECK_CODES.major,
            message: `${name}: the ${role} endpoint ${endpoint.host}:${endpoint.port} answers as PostgreSQL ${version} but the pair expects major ${config.expectedMajor}`,
          });
        }
      } catch (err) {
        problems.push({
          code: CLUSTER_CHECK_CODES.unreachable,
          message: `${name}: cannot reach database ${database} at the ${role} endpoint ${endpoint.host}:${endpoint.port} as ${config.login.user}: ${describeError(err)}`,
        });
      }
    }
  }
  return { ok: problems.length === 0, clusterId: info.id, version: info.version, status: info.status, problems };
}
