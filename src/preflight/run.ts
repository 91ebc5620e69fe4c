import { systemClock, type Clock } from '../clock.js';
import * as D from '../defaults.js';
import { describeError, PgshiftError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { RdsClusterFacts } from '../clusters/catalog.js';
import type { RestoreProgress } from '../replication/schema-restore.js';
import type { CheckContext, CheckDefinition, FindingDraft, SideInfo } from './check.js';
import { PREFLIGHT_CHECKS } from './checks/index.js';
import { countBySeverity, type CheckRun, type Finding, type PreflightPhase, type PreflightReport, type Severity } from './report.js';
import { PreflightSessions } from './sessions.js';
import type { PreflightPair, PreflightSide, PreflightTargets } from './targets.js';

export interface RunPreflightOptions {
  pair: PreflightPair;
  targets: PreflightTargets;
  /**
   * `prepare`: green is the empty cluster pgshift's prepare step will fill; green is read
   * through its maintenance database and the checks of what prepare creates do not apply.
   * Default: `prepared` (green has the pair's databases and schema).
   */
  phase?: PreflightPhase;
  /** Default: every check (PREFLIGHT_CHECKS). */
  checks?: readonly CheckDefinition[];
  clock?: Clock;
  log?: Logger;
  statementTimeoutMs?: number;
  /** Told of the trial restore's progress (objects restored of the total) per database. */
  onTrialProgress?: (database: string, progress: RestoreProgress) => void;
}

const SIDES: readonly PreflightSide[] = ['blue', 'green'];
const SEVERITY_ORDER: Record<Severity, number> = { blocker: 0, warning: 1, info: 2 };
/** The finding id for a side or database preflight cannot reach at all. */
export const CONNECT_CHECK_ID = 'connect';

type Reach = { ok: true; version: string; major: number } | { ok: false; error: unknown };

/**
 * Runs every check on every database of the pair and answers the report. Never throws
 * for anything a server does: an unreachable side or database becomes a blocker that
 * lists the checks it kept from running, and a check that fails (lost connection,
 * missing privilege, timeout) becomes a blocker saying so, since pgshift cannot tell
 * whether it would pass. All checks are read-only and run concurrently. In phase
 * `prepare` every green query goes to green's maintenance database, since the pair's
 * databases do not exist there yet.
 */
export async function runPreflight(options: RunPreflightOptions): Promise<PreflightReport> {
  const clock = options.clock ?? systemClock;
  const log = (options.log ?? silentLogger()).child({ pair: options.pair.id });
  const checks = options.checks ?? PREFLIGHT_CHECKS;
  const { pair, targets } = options;
  const phase = options.phase ?? D.PREFLIGHT_DEFAULT_PHASE;
  /** Where a query for the pair's `db` on `side` goes. */
  const databaseOn = (side: PreflightSide, db: string): string => (side === 'green' && phase === 'prepare' ? D.MAINTENANCE_DATABASE : db);
  const startedAt = clock.now();
  const sessions = new PreflightSessions(targets, options.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: options.statementTimeoutMs });
  const findings: Finding[] = [];
  const runs: CheckRun[] = [];
  let versions: Record<PreflightSide, Reach | undefined> = { blue: undefined, green: undefined };

  try {
    /** Reach and skips are kept per database queried: in phase `prepare`, one for all of green. */
    const where = (side: PreflightSide, db: string) => key(side, databaseOn(side, db));
    const reach = await probeAll(sessions, [...new Set(pair.databases.flatMap((db) => SIDES.map((side) => where(side, db))))]);
    versions = {
      blue: pair.databases.map((db) => reach.get(where('blue', db))).find((r) => r?.ok),
      green: pair.databases.map((db) => reach.get(where('green', db))).find((r) => r?.ok),
    };
    const reachable = (side: PreflightSide, db: string) => reach.get(where(side, db))?.ok === true;
    const sideInfo = (side: PreflightSide): SideInfo | null => {
      const v = versions[side];
      if (!v?.ok) return null;
      const db = databaseOn(side, pair.databases[0]!);
      return {
        version: v.version,
        major: v.major,
        pgshiftUser: targets.target(side, db, 'pgshift').login.user,
        adminUser: targets.target(side, db, 'admin').login.user,
      };
    };
    const blue = sideInfo('blue');
    const green = sideInfo('green');

    const planned: { check: CheckDefinition; database: string; cluster: boolean }[] = [];
    const skipped = new Map<string, string[]>();
    const skip = (check: CheckDefinition, database: string | null, blockedBy: { side: PreflightSide; db: string }[]) => {
      runs.push({ check: check.id, title: check.title, database, outcome: 'skipped', findings: 0, durationMs: 0 });
      for (const b of blockedBy) {
        const list = skipped.get(where(b.side, b.db)) ?? [];
        if (!list.includes(check.id)) list.push(check.id);
        skipped.set(where(b.side, b.db), list);
      }
    };
    const rdsSides = targets.aws?.sides ?? [];
    for (const check of checks) {
      if (check.scope === 'aws') {
        const missing = check.sides.filter((s) => !rdsSides.includes(s));
        const none = check.sides.every((s) => missing.includes(s));
        if (none || (missing.length > 0 && !check.eachSide)) {
          const reason = `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not ${missing.length > 1 ? 'RDS clusters' : 'an RDS cluster'} (host and port in the config): only RDS knows this`;
          runs.push({ check: check.id, title: check.title, database: null, outcome: 'not-applicable', findings: 0, durationMs: 0, reason });
        } else {
          planned.push({ check, database: pair.databases[0]!, cluster: true });
        }
        continue;
      }
      if (phase === 'prepare' && check.createdByPrepare !== undefined) {
        const reason = `prepare creates ${check.createdByPrepare}`;
        runs.push({ check: check.id, title: check.title, database: null, outcome: 'not-applicable', findings: 0, durationMs: 0, reason });
        continue;
      }
      if (phase !== 'prepare' && check.supersededByPrepare !== undefined) {
        const reason = `${check.supersededByPrepare}; run preflight with phase prepare to try again`;
        runs.push({ check: check.id, title: check.title, database: null, outcome: 'not-applicable', findings: 0, durationMs: 0, reason });
        continue;
      }
      if (check.appliesTo) {
        if (!blue || !green) {
          // Whether it applies depends on versions preflight could not read.
          const unknown = SIDES.filter((s) => (s === 'blue' ? !blue : !green));
          skip(check, null, unknown.map((side) => ({ side, db: pair.databases[0]! })));
          continue;
        }
        if (!check.appliesTo({ blueMajor: blue.major, greenMajor: green.major })) {
          runs.push({ check: check.id, title: check.title, database: null, outcome: 'not-applicable', findings: 0, durationMs: 0 });
          continue;
        }
      }
      if (check.scope === 'cluster') {
        const db = pair.databases.find((d) => check.sides.every((s) => reachable(s, d)));
        const first = pair.databases[0]!;
        if (db === undefined) skip(check, null, check.sides.filter((s) => !reachable(s, first)).map((side) => ({ side, db: first })));
        else planned.push({ check, database: db, cluster: true });
        continue;
      }
      for (const db of pair.databases) {
        const down = check.sides.filter((s) => !reachable(s, db));
        if (down.length > 0) skip(check, db, down.map((side) => ({ side, db })));
        else planned.push({ check, database: db, cluster: false });
      }
    }

    for (const [k, r] of reach) {
      if (r.ok) continue;
      const [side, db] = split(k);
      findings.push(connectFinding(side, db, r.error, skipped.get(k) ?? []));
    }

    // Each side described once per run, however many checks read it.
    const facts = new Map<PreflightSide, Promise<RdsClusterFacts>>();
    const aws = {
      sides: rdsSides,
      facts: (side: PreflightSide): Promise<RdsClusterFacts> => {
        if (!targets.aws || !rdsSides.includes(side)) return Promise.reject(new PgshiftError('PGSHIFT_ERR_CLUSTER_NOT_CONFIGURED', `${side} is not an RDS cluster`, { status: 500 }));
        let pending = facts.get(side);
        if (!pending) facts.set(side, (pending = targets.aws.facts(side)));
        return pending;
      },
    };
    const results = await Promise.all(
      planned.map(async ({ check, database, cluster }) => {
        const ctx: CheckContext = {
          pair,
          phase,
          database,
          // A check may run while the side it does not read is unreachable; reading that side's facts then fails the check.
          get blue() {
            return known('blue', blue);
          },
          get green() {
            return known('green', green);
          },
          query: (side, sql, params, login) => sessions.query(side, databaseOn(side, database), sql, params, login),
          aws,
          target: (side, db, login) => targets.target(side, db, login),
          trial: {
            budgetMs: (pair.trialRestoreSeconds ?? D.DEFAULT_TRIAL_RESTORE_SECONDS) * 1000,
            ...(options.onTrialProgress ? { onProgress: options.onTrialProgress } : {}),
          },
          log,
        };
        const began = clock.now();
        const reported = cluster ? null : database;
        try {
          const drafts = await check.run(ctx);
          const own = drafts.map((d) => toFinding(check.id, reported, d));
          return { run: runOf(check, reported, own.length > 0 ? 'findings' : 'passed', own.length, clock.now() - began), findings: own };
        } catch (err) {
          log.warn({ check: check.id, database, err: describeError(err) }, 'preflight check failed');
          return { run: runOf(check, reported, 'failed', 1, clock.now() - began), findings: [failedFinding(check, reported, err)] };
        }
      }),
    );
    for (const r of results) {
      runs.push(r.run);
      findings.push(...r.findings);
    }
  } finally {
    await sessions.close();
  }

  const order = new Map(checks.map((c, i) => [c.id, i]));
  findings.sort(
    (a, b) =>
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      (order.get(a.check) ?? -1) - (order.get(b.check) ?? -1) ||
      (a.database ?? '').localeCompare(b.database ?? '') ||
      a.object.localeCompare(b.object),
  );
  runs.sort((a, b) => (order.get(a.check) ?? -1) - (order.get(b.check) ?? -1) || (a.database ?? '').localeCompare(b.database ?? ''));
  const finishedAt = clock.now();
  const counts = countBySeverity(findings);
  const report: PreflightReport = {
    pair: pair.id,
    phase,
    ok: counts.blocker === 0,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    durationMs: Math.max(0, Math.round(finishedAt - startedAt)),
    blue: serverVersion(versions.blue),
    green: serverVersion(versions.green),
    findings,
    checks: runs,
  };
  log.info({ ok: report.ok, ...counts, durationMs: report.durationMs }, 'preflight finished');
  return report;
}

function known(side: PreflightSide, info: SideInfo | null): SideInfo {
  if (!info) throw new PgshiftError('PGSHIFT_ERR_PREFLIGHT_SIDE_UNKNOWN', `${side} could not be reached, so its version is not known`, { status: 502 });
  return info;
}

function key(side: PreflightSide, db: string): string {
  return `${side}\u0000${db}`;
}

function split(k: string): [PreflightSide, string] {
  const [side, db] = k.split('\u0000') as [PreflightSide, string];
  return [side, db];
}

/** Probes each (side, database) key once: its server's version, or why it cannot be reached. */
async function probeAll(sessions: PreflightSessions, keys: readonly string[]): Promise<Map<string, Reach>> {
  const reach = new Map<string, Reach>();
  await Promise.all(
    keys.map(async (k) => {
      const [side, db] = split(k);
      try {
        const rows = await sessions.query<{ version: string; num: number }>(
          side,
          db,
          `SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num`,
        );
        const row = rows[0]!;
        reach.set(k, { ok: true, version: row.version.split(' ')[0]!, major: Math.floor(row.num / 10000) });
      } catch (err) {
        reach.set(k, { ok: false, error: err });
      }
    }),
  );
  return reach;
}

function serverVersion(reach: Reach | undefined): PreflightReport['blue'] {
  return reach?.ok ? { version: reach.version, major: reach.major } : { version: null, major: null };
}

function toFinding(check: string, database: string | null, draft: FindingDraft): Finding {
  return {
    check,
    severity: draft.severity,
    database: draft.database === undefined ? database : draft.database,
    object: draft.object,
    message: draft.message,
    remediation: draft.remediation,
  };
}

function runOf(check: CheckDefinition, database: string | null, outcome: CheckRun['outcome'], findings: number, ms: number): CheckRun {
  return { check: check.id, title: check.title, database, outcome, findings, durationMs: Math.max(0, Math.round(ms)) };
}

/** The SQLSTATE or socket error code behind a failure, if any. */
function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && !code.startsWith('PGSHIFT_ERR_')) return code;
  }
  return undefined;
}

function adviceFor(err: unknown, side: PreflightSide | null, database: string): string {
  const where = side ?? 'the side named above';
  switch (errorCode(err)) {
    case '3D000':
      return `Create database ${database} on ${where} (pgshift's replication setup creates it on green with blue's encoding and schema), then run preflight again.`;
    case '28P01':
    case '28000':
      return `Check pgshift's login for ${where}: its password and the server's pg_hba rules.`;
    case '42501':
      return `Grant pgshift's login what it lacks on ${where} (CONNECT on ${database}; membership in pg_monitor), then run preflight again.`;
    case '57014':
      return 'The query hit preflight\'s statement timeout; run preflight again when the server is less busy.';
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return `Make sure ${where} is running and reachable from pgshift (endpoint, security groups, hostOverrides), then run preflight again.`;
    default:
      return 'Fix the cause above and run preflight again.';
  }
}

function connectFinding(side: PreflightSide, database: string, error: unknown, notRun: string[]): Finding {
  const kept = notRun.length > 0 ? ` Not checked because of it: ${notRun.join(', ')}.` : '';
  return {
    check: CONNECT_CHECK_ID,
    severity: 'blocker',
    database,
    object: `server ${side}`,
    message: `cannot check ${database} on ${side}: ${describeError(error)}.${kept}`,
    remediation: adviceFor(error, side, database),
  };
}

function failedFinding(check: CheckDefinition, database: string | null, error: unknown): Finding {
  return {
    check: check.id,
    severity: 'blocker',
    database,
    object: `check ${check.id}`,
    message: `check "${check.title}" could not run: ${describeError(error)}; pgshift cannot tell whether it passes`,
    remediation: adviceFor(error, null, database ?? 'the database'),
  };
}
