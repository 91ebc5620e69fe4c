import { randomBytes } from 'node:crypto';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { Clock } from '../clock.js';
import { createClusterCatalog } from '../clusters/factory.js';
import type { Config } from '../config/schema.js';
import * as D from '../defaults.js';
import { describeError, PgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import type { NewAuditEvent } from '../shift/state.js';
import type { Route53Account } from '../traffic/route53-account.js';
import { Route53Router } from '../traffic/route53-router.js';
import { rehearsalNotPossible, runRehearsal, stagingPair, type RehearsalProgress, type RehearsalRequest } from './runner.js';
import type { RehearsalLoad } from './load.js';
import { removeStagingRecords } from './staging-shift.js';
import { sweepStagingClusters } from './staging.js';
import type { RehearsalRecord, RehearsalStore } from './store.js';

export interface RehearsalServiceOptions {
  config: Pick<Config, 'aws' | 'hostOverrides' | 'pairs'>;
  store: RehearsalStore;
  /** The audit log: each step of a rehearsal is an `info` event, so the event stream carries its progress. */
  recordEvent(event: NewAuditEvent, now: number): Promise<unknown>;
  rds: RDSClient;
  /** The process's Route 53 account (one request budget): staging records are made, and leftovers deleted, through it. */
  route53Account: Route53Account;
  log: Logger;
  clock: Clock;
  /** Who this process is (the owner of the rehearsals it runs). */
  instanceId: string;
  /** A write load per pair id instead of insertLoad (the lab's demo application for its pair). */
  loads?: Readonly<Record<string, RehearsalLoad>>;
}

interface Active {
  record: RehearsalRecord;
  abort: AbortController;
  done: Promise<void>;
}

/**
 * Runs rehearsals in the background, one at a time per pair, in the process that was
 * asked; keeps each in the store with a heartbeat, so that another process (or this one
 * after a restart) can tell a running rehearsal from one a crash ended.
 */
export class RehearsalService {
  private readonly active = new Map<string, Active>();
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: RehearsalServiceOptions) {}

  /**
   * Marks interrupted what a crash left running (ours, or anyone's whose heartbeat is
   * stale), then removes the staging clusters of every rehearsal that is neither
   * running nor kept at the operator's request.
   * Never throws; the sweep goes on in the background.
   */
  async open(): Promise<void> {
    const { store, clock, log } = this.options;
    let alive = new Set<string>();
    try {
      const running = await store.running();
      const now = clock.now();
      const dead = running.filter((r) => r.owner === this.options.instanceId || now - r.heartbeatAt > D.REHEARSAL_STALE_MS);
      await store.interrupt(dead.map((r) => r.id), now);
      for (const r of dead) log.warn({ pair: r.pair, rehearsal: r.id, step: r.step }, 'rehearsal interrupted: the process running it ended');
      alive = new Set(running.filter((r) => !dead.includes(r)).map((r) => r.id));
    } catch (err) {
      log.warn({ err: describeError(err) }, 'rehearsals left running not looked for; staging clusters are not swept');
      return;
    }
    this.heartbeat = setInterval(() => void this.beat(), D.REHEARSAL_HEARTBEAT_MS);
    this.heartbeat.unref();
    void sweepStagingClusters({
      client: this.options.rds,
      // Clusters an operator asked to keep stay until the operator deletes them.
      owned: async (id) => alive.has(id) || this.active.has(id) || (await store.get(id))?.report?.staging.kept === true,
      before: (id) => this.removeStagingRecords(id),
      log,
      clock,
    });
  }

  /** Starts a rehearsal of the pair; throws 404 for an unknown pair, 409 when one runs or the pair cannot be rehearsed. */
  async start(pairId: string, request: RehearsalRequest, actor: string): Promise<RehearsalRecord> {
    const pair = this.options.config.pairs.find((p) => p.id === pairId);
    if (!pair) throw new PgshiftError('PGSHIFT_ERR_PAIR_NOT_FOUND', `no pair "${pairId}"`, { status: 404 });
    const refused = rehearsalNotPossible(pair);
    if (refused) throw refused;
    // Found before anything is restored, not as a query error at the end of a rehearsal.
    const strangers = (request.queries ?? []).filter((q) => q.database !== undefined && !pair.databases.includes(q.database));
    if (strangers.length > 0) {
      throw new PgshiftError(
        'PGSHIFT_ERR_BAD_REQUEST',
        `${strangers.map((q) => `query "${q.name}": database ${q.database}`).join('; ')}: not a database of pair ${pairId} (${pair.databases.join(', ')})`,
        { status: 400 },
      );
    }
    if (this.closed) throw new PgshiftError('PGSHIFT_ERR_STOPPING', 'pgshift is stopping', { status: 503 });
    const now = this.options.clock.now();
    const record: RehearsalRecord = {
      id: `r${randomBytes(4).toString('hex')}`,
      pair: pairId,
      status: 'running',
      step: null,
      copyPercent: null,
      request,
      report: null,
      actor,
      owner: this.options.instanceId,
      startedAt: now,
      heartbeatAt: now,
      finishedAt: null,
    };
    if ([...this.active.values()].some((a) => a.record.pair === pairId) || !(await this.options.store.start(record))) {
      const running = await this.options.store.last(pairId);
      throw new PgshiftError('PGSHIFT_ERR_REHEARSAL_RUNNING', `pair ${pairId} has a rehearsal running${running ? ` (${running.id})` : ''}: one at a time`, {
        status: 409,
        ...(running ? { details: { id: running.id } } : {}),
      });
    }
    const abort = new AbortController();
    const active: Active = { record, abort, done: Promise.resolve() };
    this.active.set(record.id, active);
    active.done = this.run(active, pair).finally(() => this.active.delete(record.id));
    await this.event(record, `rehearsal ${record.id} started`, { request: { ...request, queries: request.queries?.length ?? 0 } });
    return record;
  }

  /** The rehearsal as stored; 404 when the pair has none with this id. */
  async get(pairId: string, id: string): Promise<RehearsalRecord> {
    const record = await this.options.store.get(id);
    if (!record || record.pair !== pairId) throw new PgshiftError('PGSHIFT_ERR_REHEARSAL_NOT_FOUND', `pair ${pairId} has no rehearsal ${id}`, { status: 404 });
    return record;
  }

  /** The pair's newest rehearsal; 404 when none. */
  async last(pairId: string): Promise<RehearsalRecord> {
    const record = await this.options.store.last(pairId);
    if (!record) throw new PgshiftError('PGSHIFT_ERR_REHEARSAL_NOT_FOUND', `pair ${pairId} has no rehearsal yet`, { status: 404 });
    return record;
  }

  /** Asks a running rehearsal to stop (its teardown still runs); 409 when it is not running in this process. */
  async cancel(pairId: string, id: string): Promise<RehearsalRecord> {
    const record = await this.get(pairId, id);
    const active = this.active.get(id);
    if (!active) {
      throw new PgshiftError('PGSHIFT_ERR_REHEARSAL_NOT_RUNNING', `rehearsal ${id} is ${record.status === 'running' ? 'running in another pgshift process' : record.status}: nothing to cancel here`, {
        status: 409,
      });
    }
    active.abort.abort(new PgshiftError('PGSHIFT_ERR_REHEARSAL_CANCELLED', 'cancelled by an operator', { status: 409 }));
    await this.event(record, `rehearsal ${id}: cancel asked`, null);
    return record;
  }

  /** Cancels every rehearsal of this process and waits for their teardowns. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    const active = [...this.active.values()];
    for (const a of active) a.abort.abort(new PgshiftError('PGSHIFT_ERR_STOPPING', 'pgshift is stopping', { status: 503 }));
    await Promise.all(active.map((a) => a.done));
  }

  private async run(active: Active, pair: Config['pairs'][number]): Promise<void> {
    const { record } = active;
    const { clock, log, config, rds } = this.options;
    const onProgress = (progress: RehearsalProgress) => {
      const stepChanged = progress.step !== record.step;
      record.step = progress.step;
      record.copyPercent = progress.copyPercent;
      void this.options.store.touch(record.id, progress, clock.now()).catch((err: unknown) => log.warn({ err: describeError(err) }, 'rehearsal progress not stored'));
      const quarter = progress.copyPercent !== null && progress.copyPercent % 25 === 0;
      if (stepChanged || (progress.step === 'prepare' && quarter) || progress.milestone) {
        const detail = progress.milestone ?? (progress.copyPercent === null ? null : `initial copy ${progress.copyPercent} %`);
        void this.event(record, `rehearsal ${record.id}: ${progress.step}${detail === null ? '' : ` (${detail})`}`, progress);
      }
    };
    const load = this.options.loads?.[pair.id];
    try {
      const report = await runRehearsal(record.request, {
        id: record.id,
        pair,
        config,
        rds,
        route53Account: this.options.route53Account,
        instanceId: this.options.instanceId,
        catalog: createClusterCatalog(pair, config, { rds, clock, log }),
        log,
        clock,
        signal: active.abort.signal,
        onProgress,
        ...(load ? { load } : {}),
      });
      await this.options.store.finish(record.id, report, clock.now());
      await this.event(record, `rehearsal ${record.id} ${report.outcome}: ${report.findings.filter((f) => f.severity === 'blocker').length} blocker(s)`, {
        outcome: report.outcome,
      });
    } catch (err) {
      log.error({ rehearsal: record.id, err: describeError(err) }, 'rehearsal result not stored');
    }
  }

  /**
   * The staging DNS records of a rehearsal a crash ended (the teardown removes them before
   * the clusters, so only a rehearsal whose clusters are left can have records left). Never throws.
   */
  private async removeStagingRecords(rehearsalId: string): Promise<void> {
    const { log, store, config, route53Account } = this.options;
    try {
      const record = await store.get(rehearsalId);
      const pair = record && config.pairs.find((p) => p.id === record.pair);
      if (!pair) {
        log.warn({ rehearsal: rehearsalId, pair: record?.pair ?? null }, 'rehearsal: its pair is not configured any more; staging DNS records, if any, are left');
        return;
      }
      const staging = stagingPair(pair, rehearsalId);
      const { removed, left } = await removeStagingRecords(Route53Router.forPair(staging, { account: route53Account, log }), staging, log);
      if (removed.length > 0 || left.length > 0) log.warn({ rehearsal: rehearsalId, removed, left }, 'rehearsal: staging DNS records a crash left removed');
    } catch (err) {
      log.warn({ rehearsal: rehearsalId, err: describeError(err) }, 'rehearsal: staging DNS records not removed');
    }
  }

  private async beat(): Promise<void> {
    const now = this.options.clock.now();
    for (const { record } of this.active.values()) {
      await this.options.store.touch(record.id, { step: record.step, copyPercent: record.copyPercent }, now).catch(() => undefined);
    }
  }

  private async event(record: RehearsalRecord, reason: string, details: unknown): Promise<void> {
    try {
      await this.options.recordEvent(
        { pair: record.pair, actor: record.actor, action: 'rehearsal', fromStage: null, toStage: null, outcome: 'info', reason, details: { rehearsal: record.id, ...(details === null ? {} : { details }) } },
        this.options.clock.now(),
      );
    } catch (err) {
      this.options.log.warn({ err: describeError(err) }, 'rehearsal event not recorded');
    }
  }
}
