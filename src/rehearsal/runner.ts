import type { RDSClient } from '@aws-sdk/client-rds';
import Type from 'typebox';
import { systemClock, type Clock } from '../clock.js';
import { CatalogTargets } from '../clusters/catalog-targets.js';
import type { ClusterCatalog } from '../clusters/catalog.js';
import { createClusterCatalog } from '../clusters/factory.js';
import { createSnapshotId } from '../clusters/snapshot-id.js';
import type { Config, CreateGreenConfig, PairConfig } from '../config/schema.js';
import * as D from '../defaults.js';
import { describeError, PgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import { ident, withClient } from '../postgres/connect.js';
import { FindingSchema } from '../preflight/report.js';
import { runPreflight } from '../preflight/run.js';
import { preflightPairFromConfig } from '../preflight/targets.js';
import { greenPreparation } from '../replication/prepare.js';
import type { PreparationContext, PreparationProgress, PreparationStep, StepDetail } from '../shift/ports.js';
import { TableCopyTimes } from './copy-timing.js';
import { grantWriteLoad, insertLoad, LOAD_ROLE, prepareWriteLoad, stagingEndpoints, waitForWrites, writeLoadFindings, WriteLoadResultSchema, type RehearsalLoad, type WriteLoadHandle } from './load.js';
import { compareQueries, QueryComparisonSchema, queryFindings, type RehearsalQuery } from './queries.js';
import type { Route53Account } from '../traffic/route53-account.js';
import { RehearsalFindingSchema } from './finding.js';
import { StagingShift } from './staging-shift.js';
import { createStagingBlue, createStagingGreen, removeStagingClusters, stagingIds } from './staging.js';

/** The steps of a rehearsal, in order; `teardown` runs whatever happened before it. */
export const REHEARSAL_STEPS = ['snapshot', 'staging', 'preflight', 'prepare', 'queries', 'stages', 'cutover', 'teardown'] as const;
export type RehearsalStep = (typeof REHEARSAL_STEPS)[number];

const StepTimingSchema = Type.Object({
  step: Type.String(),
  startedAt: Type.String(),
  seconds: Type.Number(),
  ok: Type.Boolean(),
  error: Type.Optional(Type.String()),
});

const CopySchema = Type.Object({
  tables: Type.Integer(),
  bytes: Type.Integer(),
  seconds: Type.Number(),
  bytesPerSecond: Type.Union([Type.Number(), Type.Null()]),
  databases: Type.Array(Type.Object({ database: Type.String(), tables: Type.Integer(), bytes: Type.Integer() })),
  /** Each table's own copy, slowest first. */
  perTable: Type.Array(
    Type.Object({
      database: Type.String(),
      /** Schema-qualified, as format('%I.%I') gives it. */
      table: Type.String(),
      bytes: Type.Integer(),
      /**
       * From the first reading that saw its copy under way to the first that saw it
       * synchronized (readings are PREPARE_COPY_POLL_MS apart; the wait for a sync worker
       * not counted; see copy-timing.ts).
       */
      seconds: Type.Number(),
      /** From the start of the initial copy step to the reading that saw it synchronized. */
      doneAfterSeconds: Type.Number(),
    }),
  ),
});

/** One read stage of the plan as the staging pair went through it. */
const StageTimingSchema = Type.Object({
  stage: Type.String(),
  /** When the controller started moving to it. */
  startedAt: Type.String(),
  /** From the start of the move to Route 53's INSYNC of its weights. */
  transitionMs: Type.Number(),
  /** How long the pair stayed at the stage before the next move (the bake, while every guard held). */
  heldSeconds: Type.Number(),
});

const WriteWindowSchema = Type.Object({
  from: Type.String(),
  to: Type.String(),
  /** From the freeze of `from` to writes open on `to`: pgshift's part, without Route 53's propagation or clients' DNS caches. */
  windowMs: Type.Number(),
  /** From the writer record's change to Route 53's INSYNC; null when not measured. */
  route53Ms: Type.Union([Type.Number(), Type.Null()]),
  catchUpMs: Type.Union([Type.Number(), Type.Null()]),
  sequencesCopied: Type.Union([Type.Integer(), Type.Null()]),
  tablesValidated: Type.Union([Type.Integer(), Type.Null()]),
  /** Each step of the cutover as the controller journaled it, in order. */
  steps: Type.Array(Type.Object({ name: Type.String(), ms: Type.Number() })),
});

/** What a finished rehearsal found; stored, served by the API and printed by the CLI. */
export const RehearsalReportSchema = Type.Object({
  /** `passed`: no blocker; `blocked`: a blocker found (by preflight, the queries or the load's ledger); `failed`: a step broke; `cancelled`. */
  outcome: Type.Union([Type.Literal('passed'), Type.Literal('blocked'), Type.Literal('failed'), Type.Literal('cancelled')]),
  snapshot: Type.Union([Type.String(), Type.Null()]),
  staging: Type.Object({
    blue: Type.String(),
    green: Type.String(),
    kept: Type.Boolean(),
    removed: Type.Array(Type.String()),
    /** A staging cluster, or (with snapshotId) a snapshot of one, that could not be deleted. */
    notRemoved: Type.Array(Type.Object({ clusterId: Type.String(), error: Type.String(), snapshotId: Type.Optional(Type.String()) })),
    /** Manual snapshots of the staging clusters deleted with them (the staging pair's cutover snapshots); one not deleted is in notRemoved. */
    snapshotsRemoved: Type.Array(Type.String()),
    /** The staging pair's DNS names in the pair's hosted zone. */
    records: Type.Object({ reader: Type.String(), writer: Type.String() }),
    /** Records deleted at the end, and what could not be: left ones are the operator's to delete, as no sweep finds records once their clusters are gone. */
    recordsRemoved: Type.Array(Type.String()),
    recordsLeft: Type.Array(Type.String()),
  }),
  findings: Type.Array(RehearsalFindingSchema),
  preflight: Type.Union([Type.Array(FindingSchema), Type.Null()]),
  steps: Type.Array(StepTimingSchema),
  prepareSteps: Type.Array(StepTimingSchema),
  copy: Type.Union([CopySchema, Type.Null()]),
  /** The read stages of the pair's plan, walked with the rehearsal's bake time. */
  stages: Type.Array(StageTimingSchema),
  queries: Type.Array(QueryComparisonSchema),
  /** The write cutover to green and the way back on the staging pair; null when it did not get there. */
  writeWindows: Type.Union([Type.Object({ forward: WriteWindowSchema, back: WriteWindowSchema }), Type.Null()]),
  /** The write load during both cutovers: writes acknowledged and refused, the longest gap; null without a load. */
  writeLoad: Type.Union([WriteLoadResultSchema, Type.Null()]),
  estimate: Type.Object({
    /** The real blue's databases now. */
    productionBytes: Type.Union([Type.Integer(), Type.Null()]),
    /** productionBytes at the copy rate measured on staging. */
    initialCopySeconds: Type.Union([Type.Number(), Type.Null()]),
    /** The forward window measured plus the writer record's TTL, which clients keep the old answer for. */
    writeWindowSeconds: Type.Union([Type.Number(), Type.Null()]),
  }),
});
export type RehearsalReport = Type.Static<typeof RehearsalReportSchema>;

export interface RehearsalRequest {
  /** A cluster snapshot of blue to restore; default blue's newest pgshift snapshot, taken now when it has none. */
  snapshot?: string;
  /** Leave the staging clusters in place (the operator deletes them). */
  keep?: boolean;
  queries?: RehearsalQuery[];
  /** Writes per second from the first read stage to the way back; default REHEARSAL_WRITE_RATE, 0: none. */
  writeRate?: number;
  /** Each read stage's bake time on the staging pair; default REHEARSAL_BAKE_SECONDS. */
  bakeSeconds?: number;
}

export interface RehearsalProgress {
  step: RehearsalStep;
  /** The initial copy's percentage of bytes, while it runs. */
  copyPercent: number | null;
  /** A milestone within the step worth an event of its own (the staging pair at a new read stage). */
  milestone?: string;
}

export interface RehearsalDeps {
  id: string;
  pair: PairConfig;
  config: Pick<Config, 'aws' | 'hostOverrides'>;
  rds: RDSClient;
  /** The process's Route 53 account: the staging pair's records share its request budget. */
  route53Account: Route53Account;
  /** Who runs the staging pair's controller (the audit of its transitions). */
  instanceId: string;
  /** The real pair's catalog: blue is read and snapshotted, green read; nothing else. */
  catalog: ClusterCatalog;
  log: Logger;
  clock?: Clock;
  signal: AbortSignal;
  onProgress(progress: RehearsalProgress): void;
  /** Default insertLoad; the lab hands in its demo application (src/local/workload/rehearsal-load.ts). */
  load?: RehearsalLoad;
  pollMinMs?: number;
  pollMaxMs?: number;
}

/**
 * The pair as the rehearsal sees it: the same settings on the staging clusters, with DNS
 * names of its own in the pair's hosted zone (stagingRecordNames), so no record of the
 * real pair is ever written by a rehearsal; the rehearsal's bake time; no application
 * signal, as no application reports for the staging names. pgshift's login on staging
 * blue is blue's admin login: a restore carries the roles without their passwords
 * (the lab's snapshot is a pg_dump with --no-role-passwords), so the admin login is the
 * one that surely logs in.
 */
export function stagingPair(pair: PairConfig, rehearsalId: string, bakeSeconds: number = D.REHEARSAL_BAKE_SECONDS): PairConfig {
  const ids = stagingIds(rehearsalId);
  const names = stagingRecordNames(pair, rehearsalId);
  const side = (config: PairConfig['blue'], clusterId: string, login: PairConfig['blue']['login']): PairConfig['blue'] => ({
    rdsClusterId: clusterId,
    ...(config.subscriptionHost === undefined ? {} : { subscriptionHost: config.subscriptionHost }),
    expectedMajor: config.expectedMajor,
    ssl: config.ssl,
    login,
    adminLogin: config.adminLogin,
  });
  return {
    ...pair,
    // Rehearsal first: the controller's cutover snapshots of staging clusters are then named pgshift-rehearsal-*, as the clusters are.
    id: `rehearsal-${rehearsalId}-${pair.id}`.slice(0, 63),
    // The load's login is an application role too: the freeze must stop it (without a list, every login role is one).
    ...(pair.appRoles ? { appRoles: [...pair.appRoles, LOAD_ROLE] } : {}),
    blue: side(pair.blue, ids.blue, pair.blue.adminLogin),
    green: side(pair.green, ids.green, pair.green.login),
    dns: { ...pair.dns, reader: { ...pair.dns.reader, name: names.reader }, writer: { ...pair.dns.writer, name: names.writer } },
    bakeSeconds,
    autoAdvance: false,
    // No application reports its errors for the staging names.
    signals: { ...pair.signals, app: { ...pair.signals.app, enabled: false } },
  };
}

/**
 * The staging pair's DNS names: one label in front of the pair's own names, so they sit
 * in the pair's hosted zone, and a least-privilege policy can allow exactly
 * `pgshift-rehearsal-*.<name>` (deploy/policy.ts).
 */
export function stagingRecordNames(pair: Pick<PairConfig, 'dns'>, rehearsalId: string): { reader: string; writer: string } {
  const under = (name: string) => `${D.REHEARSAL_CLUSTER_PREFIX}${rehearsalId}.${name.replace(/\.$/, '')}`;
  return { reader: under(pair.dns.reader.name), writer: under(pair.dns.writer.name) };
}

/**
 * One rehearsal of `pair`: staging blue restored from a snapshot of blue, staging green
 * created at green's version with green's settings, then on that staging pair preflight,
 * the preparation (roles, schema, publication, subscription, the initial copy, timed per
 * table), the query comparison, and under pgshift's own controller on the staging DNS
 * names the read stages, the write cutover and the way back (staging-shift.ts), with a
 * write load throughout. The staging records are always removed at the end, and the
 * clusters too unless `keep`, on failure and cancellation as well. Never throws: a broken
 * step is the report's `failed` outcome with the error as a finding.
 */
export async function runRehearsal(request: RehearsalRequest, deps: RehearsalDeps): Promise<RehearsalReport> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log.child({ pair: deps.pair.id, rehearsal: deps.id });
  const ids = stagingIds(deps.id);
  const staging = stagingPair(deps.pair, deps.id, request.bakeSeconds);
  const poll = {
    client: deps.rds,
    rehearsalId: deps.id,
    log,
    clock,
    pollMinMs: deps.pollMinMs ?? D.REHEARSAL_POLL_MIN_MS,
    pollMaxMs: deps.pollMaxMs ?? D.REHEARSAL_POLL_MAX_MS,
  };
  const report: RehearsalReport = {
    outcome: 'passed',
    snapshot: null,
    staging: {
      blue: ids.blue,
      green: ids.green,
      kept: request.keep === true,
      removed: [],
      notRemoved: [],
      snapshotsRemoved: [],
      records: { reader: staging.dns.reader.name, writer: staging.dns.writer.name },
      recordsRemoved: [],
      recordsLeft: [],
    },
    findings: [],
    preflight: null,
    steps: [],
    prepareSteps: [],
    copy: null,
    stages: [],
    queries: [],
    writeWindows: null,
    writeLoad: null,
    estimate: { productionBytes: null, initialCopySeconds: null, writeWindowSeconds: null },
  };
  let copyPercent: number | null = null;
  const timed = async <T>(into: RehearsalReport['steps'], step: string, work: () => Promise<T>): Promise<T> => {
    const started = clock.now();
    try {
      const value = await work();
      into.push({ step, startedAt: new Date(started).toISOString(), seconds: (clock.now() - started) / 1000, ok: true });
      return value;
    } catch (err) {
      into.push({ step, startedAt: new Date(started).toISOString(), seconds: (clock.now() - started) / 1000, ok: false, error: describeError(err) });
      throw err;
    }
  };
  const enter = (step: RehearsalStep) => {
    log.info({ step }, 'rehearsal step');
    deps.onProgress({ step, copyPercent });
  };
  const signal = deps.signal;

  let targets: CatalogTargets | null = null;
  let shift: StagingShift | null = null;
  try {
    enter('snapshot');
    const snapshot = await timed(report.steps, 'snapshot', () => pickSnapshot(request, deps, clock, signal));
    report.snapshot = snapshot.id;

    enter('staging');
    const [blueFacts, greenFacts, greenInfo] = await Promise.all([
      deps.catalog.rdsFacts?.('blue'),
      deps.catalog.rdsFacts?.('green').catch(() => undefined),
      deps.catalog.describe('green').catch(() => null),
    ]);
    const instanceOf = (facts: typeof blueFacts): Omit<CreateGreenConfig, 'engineVersion' | 'tags'> => {
      const writer = facts?.instances.find((i) => i.writer) ?? facts?.instances[0];
      const parameterGroup = facts && !facts.parameterGroup.startsWith('default.') ? { dbClusterParameterGroup: facts.parameterGroup } : {};
      if (facts?.serverless) return { ...parameterGroup, serverless: facts.serverless };
      return { ...parameterGroup, instanceClass: writer?.instanceClass ?? D.LAB_RDS_INSTANCE_CLASS };
    };
    const greenSpec: Omit<CreateGreenConfig, 'tags'> = deps.pair.green.create
      ? (({ tags: _tags, ...rest }) => rest)(deps.pair.green.create)
      : { ...instanceOf(greenFacts), engineVersion: greenVersion(greenInfo?.version ?? null, deps.pair.green.expectedMajor) };
    await timed(report.steps, 'staging', async () => {
      await Promise.all([
        createStagingBlue({ ...poll, signal, snapshotId: snapshot.id, engineVersion: snapshot.engineVersion, instance: instanceOf(blueFacts), adminLogin: deps.pair.blue.adminLogin }),
        createStagingGreen({ ...poll, signal, spec: greenSpec, adminLogin: deps.pair.green.adminLogin }),
      ]);
      targets = new CatalogTargets(createClusterCatalog(staging, deps.config, { rds: deps.rds, clock, log }), staging, deps.config.hostOverrides);
      await targets.refresh();
      await detachSubscriptions(targets, log);
    });
    const writeRate = request.writeRate ?? D.REHEARSAL_WRITE_RATE;
    const loadLogin = writeRate > 0 ? await prepareWriteLoad((side, database) => targets!.target(side, database, 'admin'), staging.databases[0]!) : null;
    const stagingTargets = targets!;

    enter('preflight');
    const preparation = greenPreparation({
      pairId: staging.id,
      databases: staging.databases,
      publication: staging.replication.publication,
      subscription: staging.replication.subscription,
      targets: stagingTargets,
      pgshiftLogin: staging.green.login,
      log,
      clock,
    });
    type Observers = Pick<PreparationContext, 'progress' | 'copyTables'>;
    const context = (observers: Observers): PreparationContext => {
      const detail: StepDetail = {};
      return {
        detail,
        note: async (more: StepDetail) => void Object.assign(detail, more),
        signal,
        ...observers,
      };
    };
    const runStep = (step: PreparationStep, observers: Observers = { progress: () => undefined }) =>
      timed(report.prepareSteps, step.name, () => step.run(context(observers)));
    const preflight = await timed(report.steps, 'preflight', async () => {
      await runStep(preparation.greenLogin);
      return runPreflight({ pair: preflightPairFromConfig(staging), targets: stagingTargets, phase: 'prepare', log, clock });
    });
    report.preflight = preflight.findings;
    for (const f of preflight.findings) {
      if (f.severity === 'info') continue;
      report.findings.push({
        severity: f.severity,
        source: 'preflight',
        message: `${f.database ? `${f.database}: ` : ''}${f.object}: ${f.message}`,
        remediation: f.remediation,
      });
    }
    if (preflight.findings.some((f) => f.severity === 'blocker')) {
      report.outcome = 'blocked';
      return report;
    }

    enter('prepare');
    let lastCopy: PreparationProgress | null = null;
    const tableTimes = new TableCopyTimes();
    await timed(report.steps, 'prepare', async () => {
      for (const step of preparation.replication()) {
        // The copy's figures and its tables come from the initial copy's readings alone (verify reads again afterwards), so they add up.
        const isCopy = step.name === 'initial-copy';
        await runStep(step, {
          ...(isCopy ? { copyTables: (reading) => tableTimes.observe(reading) } : {}),
          progress: (p) => {
            if (isCopy) lastCopy = p;
            const percent = p.bytesTotal > 0 ? Math.floor((p.bytesDone * 100) / p.bytesTotal) : p.tablesTotal > 0 ? Math.floor((p.tablesDone * 100) / p.tablesTotal) : 100;
            if (percent !== copyPercent) {
              copyPercent = percent;
              deps.onProgress({ step: 'prepare', copyPercent });
            }
          },
        });
      }
    });
    const copyTiming = report.prepareSteps.find((s) => s.step === 'initial-copy');
    const copied = lastCopy as PreparationProgress | null;
    if (copyTiming && copied) {
      const rate = copyTiming.seconds > 0 ? Math.round(copied.bytesTotal / copyTiming.seconds) : null;
      report.copy = {
        tables: copied.tablesTotal,
        bytes: copied.bytesTotal,
        seconds: copyTiming.seconds,
        bytesPerSecond: rate,
        databases: copied.databases.map((d) => ({ database: d.database, tables: d.tablesTotal, bytes: d.bytesTotal })),
        perTable: tableTimes.timings(Date.parse(copyTiming.startedAt)),
      };
    }
    report.estimate.productionBytes = await blueSize(deps, clock, log);
    const rate = report.copy?.bytesPerSecond ?? null;
    if (report.estimate.productionBytes !== null && rate) report.estimate.initialCopySeconds = Math.round(report.estimate.productionBytes / rate);

    enter('queries');
    report.queries = await timed(report.steps, 'queries', () =>
      compareQueries(request.queries ?? [], {
        target: (side, database) => stagingTargets.target(side, database, 'admin'),
        defaultDatabase: staging.databases[0]!,
        signal,
      }),
    );
    report.findings.push(...queryFindings(report.queries));

    enter('stages');
    shift = await StagingShift.open({
      pair: staging,
      config: deps.config,
      rds: deps.rds,
      route53Account: deps.route53Account,
      preflight,
      instanceId: deps.instanceId,
      clock,
      log,
      signal,
    });
    const stagingShift = shift;
    const chosenLoad = deps.load ?? insertLoad;
    if (loadLogin) {
      await grantWriteLoad(stagingTargets.target('green', staging.databases[0]!, 'admin'));
      await chosenLoad.prepare?.((side) => stagingTargets.target(side, staging.databases[0]!, 'admin'), loadLogin);
    }
    const load: WriteLoadHandle | null = loadLogin
      ? chosenLoad.start({
          target: (side) => ({ ...stagingTargets.target(side, staging.databases[0]!, 'admin'), login: loadLogin }),
          writer: () => stagingShift.writer(),
          names: { reader: staging.dns.reader.name, writer: staging.dns.writer.name },
          endpoint: stagingEndpoints(stagingTargets, staging.databases[0]!),
          database: staging.databases[0]!,
          login: loadLogin,
          ratePerSecond: writeRate,
          clock,
          log,
        })
      : null;
    // Each write move starts once the load writes where it should, so its longest gap is the window as clients see it.
    const settled = async () => {
      if (load) await waitForWrites(load, load.acknowledged(), staging.cutover.maxFreezeSeconds * 1000 + D.REHEARSAL_LOAD_SETTLE_MS, clock);
    };
    try {
      report.stages = await timed(report.steps, 'stages', () => stagingShift.walkReads((stage: string) => deps.onProgress({ step: 'stages', copyPercent, milestone: `the staging pair is at ${stage}` })));
      enter('cutover');
      await timed(report.steps, 'cutover', async () => {
        await settled();
        const forward = await stagingShift.cutover();
        await settled();
        const back = await stagingShift.revert();
        await settled();
        report.writeWindows = { forward, back };
      });
    } finally {
      report.writeLoad = (await load?.stop()) ?? null;
      report.findings.push(...writeLoadFindings(report.writeLoad));
    }
    const ttl = Math.max(deps.pair.dns.writer.ttl, deps.pair.dns.reader.ttl);
    report.estimate.writeWindowSeconds = Math.round((report.writeWindows!.forward.windowMs / 1000 + ttl) * 10) / 10;
    if (report.findings.some((f) => f.severity === 'blocker')) report.outcome = 'blocked';
    return report;
  } catch (err) {
    report.outcome = signal.aborted ? 'cancelled' : 'failed';
    report.findings.push({ severity: 'blocker', source: 'rehearsal', message: signal.aborted ? 'the rehearsal was cancelled' : describeError(err) });
    log.warn({ err: describeError(err) }, 'rehearsal stopped');
    return report;
  } finally {
    enter('teardown');
    // The records first: a crash between the two leaves clusters, which the next start finds by their tags, and their records with them.
    // (TypeScript cannot see that the try block may have opened it.)
    const records = await (shift as StagingShift | null)?.close();
    if (records) {
      report.staging.recordsRemoved = records.removed;
      report.staging.recordsLeft = records.left;
      // Only kept clusters are left in that state for someone to use.
      if (records.unfinished && request.keep) report.findings.push({ severity: 'warning', source: 'rehearsal', message: records.unfinished });
    }
    if (request.keep) {
      log.warn({ clusters: [ids.blue, ids.green] }, 'rehearsal: staging clusters kept as asked');
    } else {
      const removed = await timed(report.steps, 'teardown', () => removeStagingClusters(poll));
      report.staging.removed = removed.removed;
      report.staging.notRemoved = removed.failed;
      report.staging.snapshotsRemoved = removed.snapshotsRemoved;
    }
  }
}

/** Blue's snapshot to restore: the one named, else blue's newest pgshift snapshot, else one taken now. */
async function pickSnapshot(request: RehearsalRequest, deps: RehearsalDeps, clock: Clock, signal: AbortSignal): Promise<{ id: string; engineVersion: string }> {
  const blue = await deps.catalog.describe('blue');
  const versionOf = (v: string | undefined) => v ?? blue.version ?? String(deps.pair.blue.expectedMajor);
  if (request.snapshot !== undefined) return { id: request.snapshot, engineVersion: versionOf(undefined) };
  const last = await deps.catalog.lastSnapshot('blue');
  if (last && last.status === 'available' && last.id.startsWith(`${D.SNAPSHOT_ID_PREFIX}-`)) return { id: last.id, engineVersion: versionOf(last.engineVersion) };
  const taken = await deps.catalog.snapshot('blue', { id: createSnapshotId(`rehearsal-${deps.id}`, clock.now()), signal });
  return { id: taken.id, engineVersion: versionOf(taken.engineVersion) };
}

/** Green's engine version for staging green: the real green's, else the expected major. */
function greenVersion(version: string | null, expectedMajor: number): string {
  const plain = version?.split(' ')[0];
  return plain && /^\d+(\.\d+)*$/.test(plain) ? plain : String(expectedMajor);
}

/**
 * A restore carries blue's subscriptions (after a cutover blue subscribes to green): on
 * staging blue they would dial the real green. Each is disabled, unhooked from its slot
 * (which belongs to the real pair) and dropped before anything else runs.
 */
async function detachSubscriptions(targets: CatalogTargets, log: Logger): Promise<void> {
  const found = await withClient(targets.target('blue', D.MAINTENANCE_DATABASE, 'admin'), async (c) =>
    (await c.query<{ subname: string; datname: string }>('SELECT s.subname, d.datname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid')).rows,
  );
  for (const { subname, datname } of found) {
    await withClient(targets.target('blue', datname, 'admin'), async (c) => {
      await c.query(`ALTER SUBSCRIPTION ${ident(subname)} DISABLE`);
      await c.query(`ALTER SUBSCRIPTION ${ident(subname)} SET (slot_name = NONE)`);
      await c.query(`DROP SUBSCRIPTION ${ident(subname)}`);
    });
    log.warn({ subscription: subname, database: datname }, 'rehearsal: subscription restored on staging blue dropped; its slot on the real cluster is left alone');
  }
}

/** The real blue's databases of the pair, in bytes; null when blue cannot be read. */
async function blueSize(deps: RehearsalDeps, clock: Clock, log: Logger): Promise<number | null> {
  try {
    const targets = new CatalogTargets(deps.catalog, deps.pair, deps.config.hostOverrides);
    await targets.refresh();
    let bytes = 0;
    for (const database of deps.pair.databases) {
      bytes += await withClient(targets.target('blue', database, 'pgshift'), async (c) =>
        Number((await c.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]!.n),
      );
    }
    return bytes;
  } catch (err) {
    log.warn({ err: describeError(err), at: clock.now() }, 'rehearsal: size of the real blue not read');
    return null;
  }
}

/** Why the pair cannot be rehearsed (409), or null. */
export function rehearsalNotPossible(pair: PairConfig): PgshiftError | null {
  if (pair.blue.rdsClusterId === undefined) {
    return new PgshiftError('PGSHIFT_ERR_REHEARSAL_NOT_RDS', `pair ${pair.id}: blue is no RDS cluster; a rehearsal restores blue's cluster snapshot through RDS`, { status: 409 });
  }
  // The teardown deletes clusters by that prefix and tag: a real cluster named so is too close to risk.
  const clash = [pair.blue.rdsClusterId, pair.green.rdsClusterId].find((id) => id?.toLowerCase().startsWith(D.REHEARSAL_CLUSTER_PREFIX));
  if (clash) {
    return new PgshiftError('PGSHIFT_ERR_REHEARSAL_NAME_CLASH', `pair ${pair.id}: cluster ${clash} is named like a rehearsal's staging cluster (${D.REHEARSAL_CLUSTER_PREFIX}*); rehearsals are refused for it`, { status: 409 });
  }
  // The pair's own cutover snapshots are pgshift-<pair>-<side>-cutover-<time>: for a pair named
  // rehearsal or rehearsal-* they would be pgshift-rehearsal-*, the names whose deletion
  // `rehearsals: true` allows (deploy/policy.ts), and a rehearsal's snapshots could not be told from them.
  if (`${D.SNAPSHOT_ID_PREFIX}-${pair.id.toLowerCase()}-`.startsWith(D.REHEARSAL_CLUSTER_PREFIX)) {
    return new PgshiftError(
      'PGSHIFT_ERR_REHEARSAL_NAME_CLASH',
      `pair ${pair.id}: its cutover snapshots would be named ${D.SNAPSHOT_ID_PREFIX}-${pair.id}-*, like a rehearsal's (${D.REHEARSAL_CLUSTER_PREFIX}*), which a rehearsal's clean-up may delete; rehearsals are refused for it (rename the pair)`,
      { status: 409 },
    );
  }
  return null;
}
