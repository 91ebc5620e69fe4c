import { systemClock, type Clock } from '../clock.js';
import * as D from '../defaults.js';
import { describeError, isPgshiftError, PgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import { explainPgError, ident, withClient, type ConnectTarget } from '../postgres/connect.js';
import { chooseApplicationRoles, loginRolesThatWrite } from './app-roles.js';
import { checkParity } from './cutover-parity.js';
import { currentLsn, waitForFence, waitForSlot } from './fence.js';
import { ensureLedger, hasLedger, ledgerKey, readLedger, recordAndRevokeLogin, restoreLoginAndForget } from './freeze.js';
import { HeartbeatHistory, heartbeatKey } from './heartbeat.js';
import { measureDatabaseLag } from './lag.js';
import { PoolSet } from './pool-set.js';
import { endsOf, reverseOf, type Direction, type DrainOptions, type DrainReport, type DropReport, type FenceReport, type FreezeReport, type LagReading, type ParityReport, type Replication, type ReplicationState, type SequenceCopyReport, type SetUpOptions, type SetUpReport, type UnfreezeReport, type ValidationOptions, type ValidationReport } from './port.js';
import { applySequenceValues, planSequenceCopy, readSequences } from './sequences.js';
import { endSessions, terminateSessions } from './sessions.js';
import { setUpReplication, slotName } from './setup.js';
import { applySchemaSync, planSchemaSync, refreshSubscription, type SchemaSyncReport } from './schema-sync.js';
import { removeReplicationSupport } from './teardown.js';
import { dropSlotsWhenReleased } from './slots.js';
import { readDatabaseState, readSubscriber } from './subscription.js';
import type { ReplicationTargets } from './targets.js';
import { validateTables } from './validate.js';
import { type Side } from '../shift/model.js';

export interface PostgresReplicationOptions {
  pairId: string;
  /** The pair's databases; the first also holds the freeze ledger. */
  databases: readonly string[];
  /** The application roles to freeze and drain; default: every login role that is not pgshift's, the admin's or replication's. */
  appRoles?: readonly string[];
  publication: string;
  subscription: string;
  targets: ReplicationTargets;
  log: Logger;
  clock?: Clock;
}

/** The Replication port over PostgreSQL's built-in logical replication (13 and later). */
export class PostgresReplication implements Replication {
  private readonly pools = new PoolSet();
  private readonly histories = new Map<string, HeartbeatHistory>();
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly options: PostgresReplicationOptions) {
    if (options.databases.length === 0) {
      throw new PgshiftError('PGSHIFT_ERR_REPLICATION_NO_DATABASES', `pair ${options.pairId} names no database`, { status: 400 });
    }
    this.clock = options.clock ?? systemClock;
    this.log = options.log.child({ component: 'replication', pair: options.pairId });
  }

  async setUp(direction: Direction, options: SetUpOptions): Promise<SetUpReport> {
    const { from, to } = endsOf(direction);
    await this.refuseIfEnabled(reverseOf(direction), direction);
    const report: SetUpReport = { direction, databases: [] };
    for (const database of this.options.databases) {
      const admin = (side: Side) => this.target(side, D.MAINTENANCE_DATABASE, 'admin');
      const result = await this.wrapDdl(`set up ${direction} for ${database}`, () =>
        setUpReplication({
          from: { admin: admin(from), pgshiftUser: this.pgshiftUser(from) },
          to: { admin: admin(to), pgshiftUser: this.pgshiftUser(to) },
          fromAsSeenByTo: this.options.targets.subscriptionSource(from, to, database),
          database,
          publication: this.options.publication,
          subscription: this.options.subscription,
          copyData: options.copyData,
          readOnlyTo: options.readOnlyTo ?? true,
          log: this.log,
          ...(options.syncTimeoutMs !== undefined ? { syncTimeoutMs: options.syncTimeoutMs } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        }),
      );
      report.databases.push({ database, ...result });
    }
    this.log.info({ direction, copyData: options.copyData }, 'replication set up');
    return report;
  }

  /**
   * Repairs schema drift on green (see schema-sync.ts): the plan per database, and with
   * `apply` its DDL run on green as the admin and the subscription refreshed, so new
   * tables get their initial copy and a stopped apply picks up the new columns. Safe to
   * repeat: planned afresh from what still differs. Throws PGSHIFT_ERR_SCHEMA_SYNC (502)
   * with PostgreSQL's reason when a statement fails (nothing of that database applied).
   */
  async syncSchema(options: { apply: boolean }): Promise<SchemaSyncReport> {
    const databases: SchemaSyncReport['databases'] = [];
    for (const database of this.options.databases) {
      const result = await explainPgError('PGSHIFT_ERR_SCHEMA_SYNC', `schema sync of ${database}`, () =>
        withClient(this.target('blue', database, 'admin'), (blue) =>
          withClient(this.target('green', database, 'admin'), async (green) => {
            const plan = await planSchemaSync(blue, green, database);
            if (!options.apply) return { ...plan, applied: false, refreshed: false };
            await applySchemaSync(green, plan);
            const refreshed = await refreshSubscription(green, this.options.subscription);
            return { ...plan, applied: plan.statements.length > 0, refreshed };
          }),
        ),
      );
      if (result.applied) this.log.info({ database, statements: result.statements, refreshed: result.refreshed }, 'schema sync applied to green');
      databases.push(result);
    }
    return { applied: options.apply, databases };
  }

  async setEnabled(direction: Direction, enabled: boolean): Promise<void> {
    const { to } = endsOf(direction);
    for (const database of this.options.databases) {
      const sub = await readSubscriber(this.pools, this.target(to, database, 'pgshift'), this.options.subscription);
      if (!sub.exists) {
        if (!enabled) continue;
        throw this.notSetUp(direction, database);
      }
      if (sub.enabled === enabled) continue;
      await this.wrapDdl(`${enabled ? 'enable' : 'disable'} ${direction} for ${database}`, () =>
        withClient(this.target(to, database, 'admin'), (c) =>
          c.query(`ALTER SUBSCRIPTION ${ident(this.options.subscription)} ${enabled ? 'ENABLE' : 'DISABLE'}`),
        ),
      );
      this.log.info({ direction, database, enabled }, 'subscription switched');
    }
  }

  async drop(direction: Direction): Promise<DropReport> {
    const { from, to } = endsOf(direction);
    const report: DropReport = { direction, databases: [] };
    const slotsLeft: { database: string; slot: string; reason: string }[] = [];
    for (const database of this.options.databases) {
      const sub = await readSubscriber(this.pools, this.target(to, database, 'pgshift'), this.options.subscription);
      const slot = sub.slot ?? slotName(this.options.subscription, database);
      if (sub.exists) {
        const name = ident(this.options.subscription);
        // Detaching the slot first makes DROP SUBSCRIPTION local: it then works while
        // the publisher is unreachable, and the slot is dropped below on its own.
        await this.wrapDdl(`drop ${direction} for ${database}`, () =>
          withClient(this.target(to, database, 'admin'), async (c) => {
            if (sub.enabled) await c.query(`ALTER SUBSCRIPTION ${name} DISABLE`);
            await c.query(`ALTER SUBSCRIPTION ${name} SET (slot_name = NONE)`);
            await c.query(`DROP SUBSCRIPTION ${name}`);
          }),
        );
        this.log.info({ direction, database }, 'subscription dropped');
      }
      let slotDropped = false;
      try {
        slotDropped = await this.dropSlot(this.target(from, database, 'pgshift'), slot);
      } catch (err) {
        slotsLeft.push({ database, slot, reason: describeError(err) });
      }
      report.databases.push({ database, subscriptionDropped: sub.exists, slotDropped });
    }
    if (slotsLeft.length > 0) {
      throw new PgshiftError(
        'PGSHIFT_ERR_REPLICATION_SLOT_LEFT',
        `replication slots left on ${from} (they keep WAL until dropped; repeat the drop): ${slotsLeft
          .map((s) => `${s.slot}: ${s.reason}`)
          .join('; ')}`,
        { status: 502, details: { slotsLeft, report } },
      );
    }
    return report;
  }

  async state(direction: Direction): Promise<ReplicationState> {
    const { from, to } = endsOf(direction);
    const databases = await Promise.all(
      this.options.databases.map((database) =>
        readDatabaseState(
          this.pools,
          { publisher: this.target(from, database, 'pgshift'), subscriber: this.target(to, database, 'pgshift') },
          database,
          this.options.subscription,
        ),
      ),
    );
    const problems = databases.flatMap((d) => d.problems.map((p) => `${d.database}: ${p}`));
    return { direction, healthy: problems.length === 0, problems, databases, at: this.clock.now() };
  }

  async lag(direction: Direction): Promise<LagReading> {
    const { from, to } = endsOf(direction);
    const key = heartbeatKey(this.options.pairId, from, 'lag');
    const databases = await Promise.all(
      this.options.databases.map((database) =>
        measureDatabaseLag(
          this.pools,
          { publisher: this.target(from, database, 'pgshift'), subscriber: this.target(to, database, 'pgshift') },
          { database, subscription: this.options.subscription, heartbeatKey: key },
          this.history(`${direction}\u0000${database}`),
        ),
      ),
    );
    const worst = (values: (number | null)[]) => (values.some((v) => v === null) ? null : Math.max(...(values as number[])));
    return {
      direction,
      bytes: worst(databases.map((d) => d.bytes)),
      seconds: worst(databases.map((d) => d.seconds)),
      databases,
      at: this.clock.now(),
    };
  }

  async copySequences(direction: Direction, options: { margin?: number } = {}): Promise<SequenceCopyReport> {
    const { from, to } = endsOf(direction);
    const margin = options.margin ?? 0;
    if (!Number.isSafeInteger(margin) || margin < 0) {
      throw new PgshiftError('PGSHIFT_ERR_SEQUENCE_MARGIN', `the sequence margin must be a whole number >= 0, not ${margin}`, {
        status: 400,
        details: { margin },
      });
    }
    const report: SequenceCopyReport = { direction, databases: [] };
    const missing: string[] = [];
    for (const database of this.options.databases) {
      const target = this.target(to, database, 'admin');
      const [source, current] = await Promise.all([
        readSequences(this.pools, this.target(from, database, 'admin')),
        readSequences(this.pools, target),
      ]);
      const plan = planSequenceCopy(source, current, margin);
      await applySequenceValues(this.pools, target, plan.set);
      report.databases.push({ database, copied: plan.set.length, alreadyAhead: plan.alreadyAhead });
      missing.push(...plan.missing.map((name) => `${database}: ${name}`));
    }
    this.log.info({ direction, margin, databases: report.databases }, 'sequences copied');
    if (missing.length > 0) {
      throw new PgshiftError(
        'PGSHIFT_ERR_SEQUENCE_MISSING',
        `${to} lacks sequences that ${from} has (the others were copied): ${missing.join(', ')}`,
        { status: 409, details: { missing, report } },
      );
    }
    return report;
  }

  async parity(direction: Direction): Promise<ParityReport> {
    const { from } = endsOf(direction);
    const applicationRoles = (await this.applicationRoles(from, 'admin')).roles.map((r) => r.name);
    const report = await checkParity(this.pools, {
      direction,
      databases: this.options.databases,
      publication: this.options.publication,
      target: (side, database) => this.target(side, database, 'admin'),
      applicationRoles,
    });
    if (report.problems.length > 0) this.log.warn({ direction, problems: report.problems.map((p) => p.message) }, 'parity problems found');
    return report;
  }

  async validate(direction: Direction, options: ValidationOptions): Promise<ValidationReport> {
    const report = await validateTables({
      direction,
      databases: this.options.databases,
      publication: this.options.publication,
      target: (side, database) => this.target(side, database, 'admin'),
      clock: this.clock,
      budgetMs: options.budgetMs,
      exactRowLimit: options.exactRowLimit,
    });
    this.log.info({ direction, ok: report.ok, ms: report.ms, mismatches: report.mismatches }, 'tables validated');
    return report;
  }

  async freeze(side: Side): Promise<FreezeReport> {
    const home = this.ledgerTarget(side);
    await ensureLedger(this.pools, home, this.target(side, D.MAINTENANCE_DATABASE, 'admin'), this.pgshiftUser(side));
    const choice = await this.applicationRoles(side);
    const key = ledgerKey(this.options.pairId, side);
    const newlyFrozen = await recordAndRevokeLogin(
      home,
      key,
      choice.roles.filter((r) => r.canLogin).map((r) => r.name),
    );
    if (newlyFrozen.length > 0) this.log.warn({ side, roles: newlyFrozen }, 'application roles frozen (NOLOGIN)');
    const frozenRoles = await readLedger(this.pools, home, key);
    const candidates = choice.roles.map((r) => r.name);
    const alreadyNoLogin = candidates.filter((name) => !frozenRoles.includes(name) && !newlyFrozen.includes(name));
    const sessionsTerminated = await endSessions(
      this.pools,
      home,
      [...new Set([...frozenRoles, ...candidates])],
      this.clock,
    );
    this.log.info({ side, frozenRoles, sessionsTerminated }, 'writes frozen');
    return { side, frozenRoles, newlyFrozen, alreadyNoLogin, missingRoles: choice.missing, sessionsTerminated };
  }

  async unfreeze(side: Side): Promise<UnfreezeReport> {
    const home = this.ledgerTarget(side);
    if (!(await hasLedger(this.pools, home))) return { side, restoredRoles: [] };
    const restoredRoles = await restoreLoginAndForget(home, ledgerKey(this.options.pairId, side));
    if (restoredRoles.length > 0) this.log.warn({ side, roles: restoredRoles }, 'application roles unfrozen (LOGIN)');
    return { side, restoredRoles };
  }

  async frozenRoles(side: Side): Promise<string[]> {
    const home = this.ledgerTarget(side);
    if (!(await hasLedger(this.pools, home))) return [];
    return readLedger(this.pools, home, ledgerKey(this.options.pairId, side));
  }

  async drain(side: Side, options: DrainOptions = {}): Promise<DrainReport> {
    const target = this.ledgerTarget(side);
    const roles = (await this.applicationRoles(side)).roles.map((r) => r.name);
    const pids = await terminateSessions(this.pools, target, {
      roles,
      spareApplicationNamePrefix: D.PG_APPLICATION_NAME,
      ...(options.connectedLongerThanSeconds !== undefined
        ? { connectedLongerThanSeconds: options.connectedLongerThanSeconds }
        : {}),
    });
    this.log.info({ side, roles, sessionsTerminated: pids.length }, 'application sessions drained');
    return { side, roles, sessionsTerminated: pids.length };
  }

  async waitForApplied(direction: Direction, options: { timeoutMs?: number } = {}): Promise<FenceReport> {
    const { from, to } = endsOf(direction);
    const key = heartbeatKey(this.options.pairId, from, 'fence');
    const timeoutMs = options.timeoutMs ?? D.FENCE_TIMEOUT_MS;
    const databases = await Promise.all(
      this.options.databases.map(async (database) => {
        const subscriber = this.target(to, database, 'pgshift');
        const sub = await readSubscriber(this.pools, subscriber, this.options.subscription);
        if (!sub.exists) throw this.notSetUp(direction, database);
        const fence = await waitForFence(
          this.pools,
          { publisher: this.target(from, database, 'pgshift'), subscriber },
          key,
          this.clock,
          timeoutMs,
        );
        return { database, ...fence };
      }),
    );
    this.log.info({ direction, databases }, 'subscriber caught up (fence applied)');
    return { direction, databases };
  }

  async waitForLsn(direction: Direction, options: { lsn?: string; timeoutMs?: number } = {}): Promise<{ lsn: string }> {
    const { from, to } = endsOf(direction);
    const first = this.options.databases[0]!;
    const lsn = options.lsn ?? (await currentLsn(this.pools, this.target(from, first, 'pgshift')));
    await Promise.all(
      this.options.databases.map(async (database) => {
        const sub = await readSubscriber(this.pools, this.target(to, database, 'pgshift'), this.options.subscription);
        if (!sub.exists || sub.slot === null) throw this.notSetUp(direction, database);
        await waitForSlot(
          this.pools,
          this.target(from, database, 'pgshift'),
          sub.slot,
          lsn,
          this.clock,
          options.timeoutMs ?? D.FENCE_TIMEOUT_MS,
        );
      }),
    );
    return { lsn };
  }

  async setReadOnlyDefault(side: Side, readOnly: boolean): Promise<void> {
    for (const database of this.options.databases) {
      await this.wrapDdl(`set the read-only default of ${database} on ${side}`, () =>
        withClient(this.target(side, database, 'admin'), (c) =>
          c.query(
            readOnly
              ? `ALTER DATABASE ${ident(database)} SET default_transaction_read_only = on`
              : `ALTER DATABASE ${ident(database)} RESET default_transaction_read_only`,
          ),
        ),
      );
    }
    this.log.info({ side, readOnly }, 'read-only default changed');
  }

  async removeSupport(): Promise<string[]> {
    const removed = await this.wrapDdl('remove the publications and heartbeat tables', () =>
      removeReplicationSupport(this.options.databases, this.options.publication, (side, database) => this.target(side, database, 'admin')),
    );
    this.log.info({ removed }, 'replication support removed');
    return removed;
  }

  async close(): Promise<void> {
    await this.pools.close();
  }

  private target(side: Side, database: string, login: 'pgshift' | 'admin'): ConnectTarget {
    return this.options.targets.target(side, database, login);
  }

  /** Roles are cluster-wide: the ledger, role changes and session ends go through the maintenance database (never replicated: freeze.ts). */
  private ledgerTarget(side: Side): ConnectTarget {
    return this.target(side, D.MAINTENANCE_DATABASE, 'pgshift');
  }

  private pgshiftUser(side: Side): string {
    return this.target(side, D.MAINTENANCE_DATABASE, 'pgshift').login.user;
  }

  private async applicationRoles(side: Side, login: 'pgshift' | 'admin' = 'pgshift') {
    // Beyond the configured roles, whoever else can log in and write to the pair's tables.
    const writers = this.options.appRoles
      ? [...new Set((await Promise.all(this.options.databases.map((database) => loginRolesThatWrite(this.pools, this.target(side, database, login))))).flat())]
      : [];
    return chooseApplicationRoles(this.pools, this.target(side, this.options.databases[0]!, login), {
      ...(this.options.appRoles ? { configured: this.options.appRoles, writers } : {}),
      pgshiftUser: this.pgshiftUser(side),
      adminUser: this.target(side, D.MAINTENANCE_DATABASE, 'admin').login.user,
    });
  }

  private history(key: string): HeartbeatHistory {
    let history = this.histories.get(key);
    if (!history) {
      history = new HeartbeatHistory();
      this.histories.set(key, history);
    }
    return history;
  }

  /** Waits until the walsender lets go of the slot, then drops it. False when there was none. */
  private async dropSlot(publisher: ConnectTarget, slot: string): Promise<boolean> {
    const dropped = await dropSlotsWhenReleased((sql, params) => this.pools.query(publisher, sql, params), { slot }, this.clock);
    if (dropped.length > 0) this.log.info({ slot }, 'replication slot dropped');
    return dropped.length > 0;
  }

  private async refuseIfEnabled(opposite: Direction, wanted: Direction): Promise<void> {
    const { to } = endsOf(opposite);
    for (const database of this.options.databases) {
      const sub = await readSubscriber(this.pools, this.target(to, database, 'pgshift'), this.options.subscription).catch(
        (err) => {
          // The opposite subscriber lives in a database that may not exist yet on a fresh green.
          if (isPgshiftError(err, 'PGSHIFT_ERR_PG_CONNECT') && /does not exist/.test(err.message)) return null;
          throw err;
        },
      );
      if (sub?.exists && sub.enabled) {
        throw new PgshiftError(
          'PGSHIFT_ERR_REPLICATION_BOTH_WAYS',
          `cannot set up ${wanted} while ${opposite} is enabled for ${database}: rows would echo back and forth; disable or drop ${opposite} first`,
          { status: 409, details: { database, enabled: opposite } },
        );
      }
    }
  }

  private notSetUp(direction: Direction, database: string): PgshiftError {
    return new PgshiftError(
      'PGSHIFT_ERR_REPLICATION_NOT_SET_UP',
      `${direction} has no subscription ${this.options.subscription} in ${database}`,
      { status: 409, details: { direction, database } },
    );
  }

  /** pg errors from DDL become coded errors that say what pgshift was doing. */
  private wrapDdl<T>(what: string, work: () => Promise<T>): Promise<T> {
    return explainPgError('PGSHIFT_ERR_REPLICATION_DDL', what, work);
  }
}
