import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  type Change,
  type ChangeInfo,
  type Route53Client,
  type RRType,
} from '@aws-sdk/client-route-53';
import type { Clock } from '../clock.js';
import type { PairConfig } from '../config/schema.js';
import * as D from '../defaults.js';
import { PgshiftError, describeError, isPgshiftError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { callWithRetry, RetryFailure, type RetryPolicy } from './retry.js';
import { isRetryableRoute53Error, wrapRoute53Error } from './route53-errors.js';
import { assessName, readRecordsAt, type ListStart } from './route53-records.js';
import { type ChangeReport, type ObservedName, type ObservedWeights, type RecordTargets, type SetWeightsOptions, type TrafficRouter, type VerifyResult } from './router.js';
import { checkDesiredWeights, checkWeights, recordWeightsOf } from './weights.js';
import { sharedZoneQueue, zoneKey, type ZoneQueue } from './zone-queue.js';
import { RECORD_KINDS, type RecordKind, SIDES, type Weights, describeSplit } from '../shift/model.js';

export interface InsyncPolicy {
  /** Longest wait from submission to INSYNC. */
  timeoutMs: number;
  /** First pause between GetChange polls, its growth factor and its ceiling. */
  pollMs: number;
  pollFactor: number;
  pollMaxMs: number;
}

export interface RecordSpec {
  name: string;
  ttl: number;
}

export interface Route53RouterOptions {
  /** Create with createRoute53Client (SDK retries off: this router retries itself). */
  client: Route53Client;
  clock: Clock;
  /** `Z...` or `/hostedzone/Z...`. */
  hostedZoneId: string;
  records: Record<RecordKind, RecordSpec>;
  log?: Logger;
  retry?: Partial<RetryPolicy>;
  insync?: Partial<InsyncPolicy>;
  /** ListResourceRecordSets page size. */
  listPageSize?: number;
  /** Defaults to the queue shared by every router in the process. */
  queue?: ZoneQueue;
  /** Jitter source. */
  random?: () => number;
}

/**
 * The traffic port on Route 53: each of a pair's names is two weighted CNAMEs with set
 * identifiers `blue` and `green`, and a percent p is written as weight p. Every change is
 * one atomic change batch, queued per hosted zone, followed by a bounded wait for INSYNC.
 */
export class Route53Router implements TrafficRouter {
  private readonly client: Route53Client;
  private readonly clock: Clock;
  private readonly zoneId: string;
  private readonly records: Record<RecordKind, RecordSpec>;
  private readonly log: Logger;
  private readonly retry: RetryPolicy;
  private readonly insync: InsyncPolicy;
  private readonly pageSize: number;
  private readonly queue: ZoneQueue;
  private readonly random: () => number;
  private targets: RecordTargets | null = null;

  constructor(options: Route53RouterOptions) {
    this.client = options.client;
    this.clock = options.clock;
    this.zoneId = zoneKey(options.hostedZoneId);
    this.records = options.records;
    this.log = (options.log ?? silentLogger()).child({ component: 'route53', zoneId: this.zoneId });
    this.retry = {
      maxAttempts: D.ROUTE53_MAX_ATTEMPTS,
      baseDelayMs: D.ROUTE53_RETRY_BASE_MS,
      maxDelayMs: D.ROUTE53_RETRY_MAX_DELAY_MS,
      ...options.retry,
    };
    this.insync = {
      timeoutMs: D.ROUTE53_INSYNC_TIMEOUT_MS,
      pollMs: D.ROUTE53_INSYNC_POLL_MS,
      pollFactor: D.ROUTE53_INSYNC_POLL_FACTOR,
      pollMaxMs: D.ROUTE53_INSYNC_POLL_MAX_MS,
      ...options.insync,
    };
    this.pageSize = options.listPageSize ?? D.ROUTE53_LIST_PAGE_SIZE;
    this.queue = options.queue ?? sharedZoneQueue;
    this.random = options.random ?? Math.random;
  }

  /** A router for one configured pair. */
  static forPair(pair: PairConfig, deps: Omit<Route53RouterOptions, 'hostedZoneId' | 'records'>): Route53Router {
    return new Route53Router({
      ...deps,
      hostedZoneId: pair.dns.hostedZoneId,
      records: {
        reader: { name: pair.dns.reader.name, ttl: pair.dns.reader.ttl },
        writer: { name: pair.dns.writer.name, ttl: pair.dns.writer.ttl },
      },
      log: (deps.log ?? silentLogger()).child({ pair: pair.id }),
    });
  }

  async ensureRecords(targets: RecordTargets): Promise<Weights> {
    checkTargets(targets);
    // Remembered even if this call fails, so later shifts check the values against them.
    this.targets = targets;
    return this.queue.run(this.zoneId, async () => {
      const observed = await this.observeNames(RECORD_KINDS, targets);
      const misshaped = RECORD_KINDS.filter((kind) => observed[kind].problems.length > 0);
      if (misshaped.length > 0) throw misshapedError(misshaped.map((kind) => observed[kind]));

      const missing = RECORD_KINDS.filter((kind) => observed[kind].records.length === 0);
      if (missing.length > 0) {
        const initial = { blue: 100 - D.INITIAL_GREEN_PERCENT, green: D.INITIAL_GREEN_PERCENT };
        const changes = missing.flatMap((kind) =>
          SIDES.map((side): Change => ({
            // CREATE, not UPSERT: records someone made meanwhile fail the batch instead of being overwritten.
            Action: 'CREATE',
            ResourceRecordSet: this.recordSet(kind, side, recordWeightsOf(initial)[side], targets[kind][side]),
          })),
        );
        const comment = `pgshift: create ${missing.join(' and ')} records at ${describeSplit(initial)}`;
        const submitted = await this.submit(changes, comment);
        await this.waitInsync(submitted.changeInfo, submitted.submittedAt);
        this.log.info({ names: missing.map((k) => this.records[k].name), changeId: submitted.changeInfo.Id }, 'weighted records created');
      }
      const after = missing.length > 0 ? await this.observeNames(RECORD_KINDS, targets) : observed;
      const reader = after.reader.split;
      const writer = after.writer.split;
      if (!reader || !writer) throw misshapedError([after.reader, after.writer].filter((n) => !n.split));
      return { reader, writer };
    });
  }

  async observe(): Promise<ObservedWeights> {
    const names = await this.observeNames(RECORD_KINDS, this.targets ?? undefined);
    return { reader: names.reader.split, writer: names.writer.split, names, observedAt: this.clock.now() };
  }

  async setWeights(desired: Partial<Weights>, options: SetWeightsOptions): Promise<ChangeReport> {
    const kinds = checkDesiredWeights(desired);
    const comment = (options.comment || 'pgshift: set weights').slice(0, D.ROUTE53_COMMENT_MAX_LENGTH);
    const { signal } = options;
    const enqueuedAt = this.clock.now();
    try {
      return await this.queue.run(
        this.zoneId,
        async () => {
          const startedAt = this.clock.now();
          const observed = await this.observeNames(kinds, this.targets ?? undefined, signal);
          const missing = kinds.filter((kind) => observed[kind].records.length === 0);
          if (missing.length > 0) {
            throw new PgshiftError(
              'PGSHIFT_ERR_DNS_RECORDS_MISSING',
              `no weighted records at ${missing.map((k) => observed[k].name).join(' and ')}: create them first (ensureRecords)`,
              { status: 409, details: { names: missing.map((k) => observed[k].name) } },
            );
          }
          const misshaped = kinds.filter((kind) => observed[kind].problems.length > 0);
          if (misshaped.length > 0) throw misshapedError(misshaped.map((kind) => observed[kind]));

          const changes = kinds.flatMap((kind) => {
            const weights = recordWeightsOf(desired[kind]!);
            return SIDES.map((side): Change => {
              const current = observed[kind].records.find((r) => r.setIdentifier === side)!;
              return {
                Action: 'UPSERT',
                ResourceRecordSet: this.recordSet(kind, side, weights[side], current.values[0]!),
              };
            });
          });
          const submitted = await this.submit(changes, comment, signal);
          try {
            options.onSubmitted?.(submitted.changeInfo.Id!, submitted.submittedAt);
          } catch (err) {
            this.log.error({ err: describeError(err) }, 'onSubmitted callback failed');
          }
          const insyncAt = await this.waitInsync(submitted.changeInfo, submitted.submittedAt, signal);
          const report: ChangeReport = {
            changeId: submitted.changeInfo.Id!,
            comment,
            weights: Object.fromEntries(kinds.map((k) => [k, { ...desired[k]! }])),
            submittedAt: submitted.submittedAt,
            insyncAt,
            submitMs: submitted.submittedAt - startedAt,
            insyncMs: insyncAt - submitted.submittedAt,
            queuedMs: startedAt - enqueuedAt,
            attempts: submitted.attempts,
          };
          this.log.info(
            { ...report, weights: kinds.map((k) => `${k} ${describeSplit(desired[k]!)}`).join(', ') },
            'weights set and INSYNC',
          );
          return report;
        },
        signal,
      );
    } catch (err) {
      throw this.abortedOr(err, signal);
    }
  }

  async verify(desired: Weights): Promise<VerifyResult> {
    checkWeights(desired);
    const observed = await this.observe();
    const differences: string[] = [];
    for (const kind of RECORD_KINDS) {
      const name = observed.names[kind];
      differences.push(...name.problems.map((p) => `${kind}: ${p}`));
      if (!name.recordWeights) {
        if (name.problems.length === 0) differences.push(`${kind}: no weighted records at ${name.name}`);
        continue;
      }
      const want = recordWeightsOf(desired[kind]);
      for (const side of SIDES) {
        if (name.recordWeights[side] !== want[side]) {
          differences.push(`${kind}: ${side} weight ${name.recordWeights[side]}, expected ${want[side]}`);
        }
      }
    }
    return { ok: differences.length === 0, observed, differences };
  }

  private recordSet(kind: RecordKind, side: (typeof SIDES)[number], weight: number, value: string) {
    return {
      Name: this.records[kind].name,
      Type: 'CNAME' as RRType,
      SetIdentifier: side,
      Weight: weight,
      TTL: this.records[kind].ttl,
      ResourceRecords: [{ Value: value }],
    };
  }

  private async observeNames(
    kinds: readonly RecordKind[],
    targets?: RecordTargets,
    signal?: AbortSignal,
  ): Promise<Record<RecordKind, ObservedName>> {
    const entries = await Promise.all(
      kinds.map(async (kind) => {
        const spec = this.records[kind];
        const records = await readRecordsAt(spec.name, (start) => this.listPage(start, signal));
        const expect = { ttl: spec.ttl, ...(targets ? { targets: targets[kind] } : {}) };
        return [kind, assessName(spec.name, records, expect)] as const;
      }),
    );
    return Object.fromEntries(entries) as Record<RecordKind, ObservedName>;
  }

  private async listPage(start: ListStart, signal?: AbortSignal) {
    const command = new ListResourceRecordSetsCommand({
      HostedZoneId: this.zoneId,
      StartRecordName: start.name,
      ...(start.type ? { StartRecordType: start.type as RRType } : {}),
      ...(start.identifier ? { StartRecordIdentifier: start.identifier } : {}),
      MaxItems: this.pageSize,
    });
    const { value } = await this.call(`ListResourceRecordSets from ${start.name}`, () => this.client.send(command, signal ? { abortSignal: signal } : {}), signal);
    return value;
  }

  private async submit(changes: Change[], comment: string, signal?: AbortSignal) {
    const command = new ChangeResourceRecordSetsCommand({ HostedZoneId: this.zoneId, ChangeBatch: { Comment: comment, Changes: changes } });
    const { value, attempts } = await this.call('ChangeResourceRecordSets', () => this.client.send(command, signal ? { abortSignal: signal } : {}), signal);
    const changeInfo = value.ChangeInfo;
    if (!changeInfo?.Id) {
      throw new PgshiftError('PGSHIFT_ERR_ROUTE53_FAILED', 'Route 53 accepted a change but returned no change id', { status: 502 });
    }
    return { changeInfo, submittedAt: this.clock.now(), attempts };
  }

  /** Polls GetChange until INSYNC, with growing pauses, at most insync.timeoutMs after submission. */
  private async waitInsync(changeInfo: ChangeInfo, submittedAt: number, signal?: AbortSignal): Promise<number> {
    if (changeInfo.Status === 'INSYNC') return this.clock.now();
    const changeId = changeInfo.Id!;
    const deadline = submittedAt + this.insync.timeoutMs;
    let pause = this.insync.pollMs;
    for (;;) {
      const now = this.clock.now();
      if (now >= deadline) {
        throw new PgshiftError(
          'PGSHIFT_ERR_DNS_INSYNC_TIMEOUT',
          `Route 53 change ${changeId} was not INSYNC ${this.insync.timeoutMs} ms after submission; it is submitted and will still apply`,
          { status: 504, details: { changeId, timeoutMs: this.insync.timeoutMs, waitedMs: now - submittedAt } },
        );
      }
      await this.clock.sleep(Math.min(pause, deadline - now), signal);
      pause = Math.min(pause * this.insync.pollFactor, this.insync.pollMaxMs);
      const command = new GetChangeCommand({ Id: changeId });
      const { value } = await this.call(`GetChange ${changeId}`, () => this.client.send(command, signal ? { abortSignal: signal } : {}), signal);
      if (value.ChangeInfo?.Status === 'INSYNC') return this.clock.now();
    }
  }

  private async call<T>(what: string, send: () => Promise<T>, signal?: AbortSignal): Promise<{ value: T; attempts: number }> {
    try {
      return await callWithRetry(send, {
        policy: this.retry,
        clock: this.clock,
        random: this.random,
        isRetryable: isRetryableRoute53Error,
        ...(signal ? { signal } : {}),
        onRetry: (err, attempt, delayMs) =>
          this.log.warn({ what, attempt, delayMs, awsCode: (err as { name?: string }).name }, 'Route 53 call failed; retrying'),
      });
    } catch (err) {
      if (err instanceof RetryFailure) throw wrapRoute53Error(err.cause, `${what} on zone ${this.zoneId}`, err.attempts, { zoneId: this.zoneId });
      throw err;
    }
  }

  private abortedOr(err: unknown, signal?: AbortSignal): unknown {
    if (!signal?.aborted || isPgshiftError(err)) return err;
    return new PgshiftError('PGSHIFT_ERR_DNS_ABORTED', 'setting weights was aborted; a change already submitted still applies', {
      status: 503,
      cause: err,
    });
  }
}

function checkTargets(targets: RecordTargets): void {
  const problems: string[] = [];
  for (const kind of RECORD_KINDS) {
    for (const side of SIDES) {
      const value = targets?.[kind]?.[side];
      if (typeof value !== 'string' || value.trim() === '') problems.push(`${kind}.${side}: must be a host name`);
    }
    const pair = targets?.[kind];
    if (pair && typeof pair.blue === 'string' && pair.blue.toLowerCase().replace(/\.$/, '') === String(pair.green).toLowerCase().replace(/\.$/, '')) {
      problems.push(`${kind}: blue and green point at the same endpoint ${pair.blue}`);
    }
  }
  if (problems.length > 0) {
    throw new PgshiftError('PGSHIFT_ERR_DNS_TARGETS_INVALID', `invalid record targets: ${problems.join('; ')}`, {
      status: 400,
      details: { problems },
    });
  }
}

function misshapedError(names: ObservedName[]): PgshiftError {
  const problems = names.flatMap((n) => n.problems);
  return new PgshiftError(
    'PGSHIFT_ERR_DNS_RECORDS_MISSHAPED',
    `records are not the blue/green weighted pair pgshift manages, so pgshift leaves them alone: ${problems.join('; ')}`,
    { status: 409, details: { names: names.map((n) => ({ name: n.name, problems: n.problems, records: n.records })) } },
  );
}
