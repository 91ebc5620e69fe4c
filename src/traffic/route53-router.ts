import { ChangeResourceRecordSetsCommand, type Change, type ResourceRecordSet, type RRType } from '@aws-sdk/client-route-53';
import type { PairConfig } from '../config/schema.js';
import * as D from '../defaults.js';
import { PgshiftError, describeError, isPgshiftError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { backoffDelay, type RetryPolicy } from './retry.js';
import { isClosed, type Route53Account } from './route53-account.js';
import { isRetryableRoute53Error, wrapRoute53Error } from './route53-errors.js';
import { assessName, fqdn } from './route53-records.js';
import type {
  ChangeReport,
  ObserveOptions,
  ObservedName,
  ObservedWeights,
  RecordTargets,
  SetWeightsOptions,
  SubmitOptions,
  SubmittedChange,
  TrafficRouter,
  VerifyResult,
} from './router.js';
import { checkDesiredWeights, checkWeights, recordWeightsOf } from './weights.js';
import { supersededError, zoneKey, type ZoneGate } from './zone-gate.js';
import type { ZoneListing, ZoneWatcher } from './zone-watcher.js';
import { RECORD_KINDS, type RecordKind, SIDES, type Side, type Weights, describeSplit } from '../shift/model.js';

export interface RecordSpec {
  name: string;
  ttl: number;
}

export interface Route53RouterOptions {
  /** The process's one Route53Account: budget, zone watchers, gates, GetChange polling. */
  account: Route53Account;
  /** `Z...` or `/hostedzone/Z...`. */
  hostedZoneId: string;
  records: Record<RecordKind, RecordSpec>;
  log?: Logger;
  /** Overrides the account's retry policy for this router's ChangeResourceRecordSets (reads and GetChange use the account's). */
  retry?: Partial<RetryPolicy>;
}

/**
 * The traffic port on Route 53: each of a pair's names is two weighted CNAMEs with set
 * identifiers `blue` and `green`, and a percent p is written as weight p. Reads come from
 * the hosted zone's shared watcher; every change is one atomic batch of UPSERTs of
 * complete records, submitted through the zone's gate (zone-gate.ts says what waits for
 * what), and INSYNC is followed separately (waitInsync).
 */
export class Route53Router implements TrafficRouter {
  private readonly account: Route53Account;
  private readonly zoneId: string;
  private readonly records: Record<RecordKind, RecordSpec>;
  private readonly names: string[];
  private readonly log: Logger;
  private readonly retry: RetryPolicy;
  private readonly watcher: ZoneWatcher;
  private readonly gate: ZoneGate;
  private readonly unwatch: () => void;
  private targets: RecordTargets | null = null;
  private submits = 0;
  /** Sequence number of this router's latest urgent submit; normal submits numbered lower that have not gone out are superseded. */
  private lastUrgent = 0;
  private observedCache: { listing: ZoneListing; targets: RecordTargets | null; observed: ObservedWeights } | null = null;

  constructor(options: Route53RouterOptions) {
    this.account = options.account;
    this.zoneId = zoneKey(options.hostedZoneId);
    this.records = options.records;
    this.names = RECORD_KINDS.map((kind) => fqdn(options.records[kind].name));
    this.log = (options.log ?? this.account.log).child({ component: 'route53', zoneId: this.zoneId });
    this.retry = { ...this.account.retry, ...options.retry };
    this.watcher = this.account.watcher(this.zoneId);
    this.gate = this.account.gate(this.zoneId);
    this.unwatch = this.watcher.watch(this.names);
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
    const observed = (await this.observe()).names;
    const misshaped = RECORD_KINDS.filter((kind) => observed[kind].problems.length > 0);
    if (misshaped.length > 0) throw misshapedError(misshaped.map((kind) => observed[kind]));

    let after = observed;
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
      const submitted = await this.submitChanges(changes, comment, Object.fromEntries(missing.map((k) => [k, initial])), {});
      await this.waitInsync(submitted);
      this.log.info({ names: missing.map((k) => this.records[k].name), changeId: submitted.changeId }, 'weighted records created');
      after = (await this.observe()).names;
    }
    const reader = after.reader.split;
    const writer = after.writer.split;
    if (!reader || !writer) throw misshapedError([after.reader, after.writer].filter((n) => !n.split));
    return { reader, writer };
  }

  async observe(options: ObserveOptions = {}): Promise<ObservedWeights> {
    const listing = await this.watcher.read(this.names, {
      maxAgeMs: options.maxAgeMs ?? 0,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return this.observedFrom(listing);
  }

  lastObserved(): ObservedWeights | null {
    try {
      const listing = this.watcher.latest(this.names);
      return listing ? this.observedFrom(listing) : null;
    } catch {
      return null;
    }
  }

  async submit(desired: Partial<Weights>, options: SubmitOptions): Promise<SubmittedChange> {
    const kinds = checkDesiredWeights(desired);
    const comment = (options.comment || 'pgshift: set weights').slice(0, D.ROUTE53_COMMENT_MAX_LENGTH);
    const urgent = options.urgent === true;
    const { signal } = options;
    try {
      // Memory first: the targets given to ensureRecords, the zone's last listing.
      let known = this.lastObserved();
      if (!urgent) {
        known ??= await this.observe({ maxAgeMs: this.account.observeMs, ...(signal ? { signal } : {}) });
        checkInPlace(kinds.map((kind) => known!.names[kind]));
      }
      let values = this.valuesFor(kinds, known);
      if (!values) {
        // Only an urgent submit of a router that never saw its records gets here: it must read once.
        known = await this.observe({ maxAgeMs: this.account.observeMs, ...(signal ? { signal } : {}) });
        checkInPlace(kinds.map((kind) => known!.names[kind]));
        values = this.valuesFor(kinds, known)!;
      }
      const changes = kinds.flatMap((kind) => {
        const weights = recordWeightsOf(desired[kind]!);
        return SIDES.map((side): Change => ({ Action: 'UPSERT', ResourceRecordSet: this.recordSet(kind, side, weights[side], values![kind]![side]) }));
      });
      const weights = Object.fromEntries(kinds.map((k) => [k, { ...desired[k]! }])) as Partial<Weights>;
      const submitted = await this.submitChanges(changes, comment, weights, { urgent, ...(signal ? { signal } : {}) });
      this.log.info(
        { changeId: submitted.changeId, urgent, queuedMs: submitted.queuedMs, submitMs: submitted.submitMs, attempts: submitted.attempts, weights: kinds.map((k) => `${k} ${describeSplit(desired[k]!)}`).join(', ') },
        urgent ? 'urgent weight change submitted' : 'weight change submitted',
      );
      return submitted;
    } catch (err) {
      throw abortedOr(err, signal, 'submitting the weights was aborted: nothing was accepted unless the request had already gone out (observe to know)');
    }
  }

  async waitInsync(change: SubmittedChange, options: { signal?: AbortSignal } = {}): Promise<ChangeReport> {
    const { signal } = options;
    let insyncAt: number;
    try {
      insyncAt =
        change.status === 'INSYNC'
          ? change.submittedAt
          : await this.account.changes.waitInsync(change.changeId, {
              submittedAt: change.submittedAt,
              urgent: change.urgent,
              ...(signal ? { signal } : {}),
            });
    } catch (err) {
      throw abortedOr(err, signal, 'waiting for INSYNC was aborted; the submitted change still applies');
    }
    const report: ChangeReport = {
      changeId: change.changeId,
      comment: change.comment,
      weights: change.weights,
      submittedAt: change.submittedAt,
      insyncAt,
      submitMs: change.submitMs,
      insyncMs: insyncAt - change.submittedAt,
      queuedMs: change.queuedMs,
      attempts: change.attempts,
    };
    this.log.info({ changeId: change.changeId, insyncMs: report.insyncMs }, 'weight change INSYNC');
    return report;
  }

  async setWeights(desired: Partial<Weights>, options: SetWeightsOptions): Promise<ChangeReport> {
    const submitted = await this.submit(desired, options);
    try {
      options.onSubmitted?.(submitted.changeId, submitted.submittedAt);
    } catch (err) {
      this.log.error({ err: describeError(err) }, 'onSubmitted callback failed');
    }
    return this.waitInsync(submitted, options.signal ? { signal: options.signal } : {});
  }

  async verify(desired: Weights, options: ObserveOptions = {}): Promise<VerifyResult> {
    checkWeights(desired);
    const observed = await this.observe(options);
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

  /**
   * Deletes the names' records (a rehearsal's staging names, when it ends). Only the
   * shape pgshift makes is deleted, each record exactly as Route 53 holds it: weighted
   * CNAMEs named `blue` and `green`. Anything else at the names is left, and named in the
   * answer. Safe to repeat: names without records are skipped.
   */
  async removeRecords(): Promise<{ removed: string[]; left: string[] }> {
    const observed = await this.observe();
    const changes: Change[] = [];
    const removed: string[] = [];
    const left: string[] = [];
    for (const kind of RECORD_KINDS) {
      const { name, records } = observed.names[kind];
      for (const record of records) {
        const ours = record.type === 'CNAME' && (record.setIdentifier === 'blue' || record.setIdentifier === 'green') && record.weight !== null && record.ttl !== null;
        if (!ours) {
          left.push(`${name} ${record.type} ${record.setIdentifier ?? '(no set identifier)'}`);
          continue;
        }
        removed.push(`${name} ${record.setIdentifier}`);
        changes.push({
          Action: 'DELETE',
          ResourceRecordSet: {
            Name: name,
            Type: 'CNAME',
            SetIdentifier: record.setIdentifier!,
            Weight: record.weight!,
            TTL: record.ttl!,
            ResourceRecords: record.values.map((Value) => ({ Value })),
          },
        });
      }
    }
    if (changes.length > 0) {
      // Names stay out of the comment: Route 53 takes 256 characters at most.
      const submitted = await this.submitChanges(changes, `pgshift: delete ${changes.length} weighted records`, {}, {});
      await this.waitInsync(submitted);
      this.log.info({ removed, changeId: submitted.changeId }, 'records deleted');
    }
    return { removed, left };
  }

  close(): void {
    this.unwatch();
  }

  private observedFrom(listing: ZoneListing): ObservedWeights {
    const cached = this.observedCache;
    if (cached && cached.listing === listing && cached.targets === this.targets) return cached.observed;
    const names = Object.fromEntries(
      RECORD_KINDS.map((kind, i) => {
        const spec = this.records[kind];
        const expect = { ttl: spec.ttl, ...(this.targets ? { targets: this.targets[kind] } : {}) };
        return [kind, assessName(spec.name, listing.records.get(this.names[i]!) ?? [], expect)];
      }),
    ) as Record<RecordKind, ObservedName>;
    const observed: ObservedWeights = { reader: names.reader.split, writer: names.writer.split, names, observedAt: listing.startedAt };
    this.observedCache = { listing, targets: this.targets, observed };
    return observed;
  }

  /** The value each record of `kinds` points at: the targets given to ensureRecords, else the last listing's; null when unknown. */
  private valuesFor(kinds: RecordKind[], known: ObservedWeights | null): Partial<Record<RecordKind, Record<Side, string>>> | null {
    const out: Partial<Record<RecordKind, Record<Side, string>>> = {};
    for (const kind of kinds) {
      const fromTargets = this.targets?.[kind];
      if (fromTargets) {
        out[kind] = fromTargets;
        continue;
      }
      const records = known?.names[kind].records ?? [];
      const blue = records.find((r) => r.setIdentifier === 'blue')?.values[0];
      const green = records.find((r) => r.setIdentifier === 'green')?.values[0];
      if (blue === undefined || green === undefined) return null;
      out[kind] = { blue, green };
    }
    return out;
  }

  private recordSet(kind: RecordKind, side: Side, weight: number, value: string): ResourceRecordSet {
    return {
      Name: this.records[kind].name,
      Type: 'CNAME' as RRType,
      SetIdentifier: side,
      Weight: weight,
      TTL: this.records[kind].ttl,
      ResourceRecords: [{ Value: value }],
    };
  }

  /**
   * Submits one batch through the zone's gate: each attempt holds the gate only while it
   * runs; between retries the gate goes to whoever ranks first (an urgent change) and
   * this change queues again at the front of its class.
   */
  private async submitChanges(
    changes: Change[],
    comment: string,
    weights: Partial<Weights>,
    options: { urgent?: boolean; signal?: AbortSignal },
  ): Promise<SubmittedChange> {
    const { signal } = options;
    const urgent = options.urgent === true;
    const clock = this.account.clock;
    const sequence = ++this.submits;
    if (urgent) this.lastUrgent = sequence;
    const stillWanted = urgent ? undefined : () => (this.lastUrgent > sequence ? supersededError(comment) : null);
    const calledAt = clock.now();
    let grantedAt = calledAt;
    let grantedOnce = false;
    /** Queues at the front of its class again: after a failed attempt, or after yielding to an urgent change. */
    let requeued = false;
    const command = new ChangeResourceRecordSetsCommand({ HostedZoneId: this.zoneId, ChangeBatch: { Comment: comment, Changes: changes } });
    for (let attempt = 1; ; attempt++) {
      const lease = await this.gate.acquire({
        urgent,
        front: requeued,
        ...(signal ? { signal } : {}),
        ...(stillWanted ? { stillWanted } : {}),
      });
      if (!grantedOnce) grantedAt = clock.now();
      // A normal holder still waiting for its budget token yields to an urgent change of the zone.
      const preempt = new AbortController();
      const stopListening = lease.onUrgentWaiting(() => preempt.abort(new Error('an urgent change waits for the zone')));
      try {
        await this.account.takeToken({ urgent, signal: signal ? AbortSignal.any([signal, preempt.signal]) : preempt.signal });
      } catch (err) {
        stopListening();
        lease.release();
        if (signal?.aborted) throw signal.reason;
        if (preempt.signal.aborted) {
          attempt--;
          requeued = true;
          continue;
        }
        throw err;
      }
      stopListening();
      grantedOnce = true;
      let accepted;
      try {
        accepted = await this.account.sendWithToken((s) => this.account.client.send(command, { abortSignal: s }), signal);
      } catch (err) {
        lease.release();
        if (signal?.aborted) throw signal.reason;
        if (isClosed(err)) throw err;
        if (!isRetryableRoute53Error(err) || attempt >= this.retry.maxAttempts) {
          throw wrapRoute53Error(err, `ChangeResourceRecordSets on zone ${this.zoneId}`, attempt, { zoneId: this.zoneId });
        }
        requeued = true;
        const delayMs = backoffDelay(attempt, this.retry, this.account.random);
        this.log.warn({ attempt, delayMs, urgent, awsCode: (err as { name?: string }).name }, 'ChangeResourceRecordSets failed; retrying');
        await clock.sleep(delayMs, signal);
        continue;
      }
      const submittedAt = clock.now();
      const info = accepted.ChangeInfo;
      const insync = info?.Status === 'INSYNC';
      if (info?.Id) {
        this.gate.notePending(info.Id, submittedAt, insync);
        if (insync) this.account.changes.noteInsync(info.Id, submittedAt);
      }
      lease.release();
      if (!info?.Id) {
        throw new PgshiftError('PGSHIFT_ERR_ROUTE53_FAILED', 'Route 53 accepted a change but returned no change id', { status: 502 });
      }
      return {
        changeId: info.Id,
        comment,
        weights,
        urgent,
        submittedAt,
        submitMs: submittedAt - grantedAt,
        queuedMs: grantedAt - calledAt,
        attempts: attempt,
        status: insync ? 'INSYNC' : 'PENDING',
      };
    }
  }
}

/** Refuses a change to names that do not hold pgshift's pair (as the last listing shows them). */
function checkInPlace(names: ObservedName[]): void {
  const missing = names.filter((n) => n.records.length === 0);
  if (missing.length > 0) {
    throw new PgshiftError(
      'PGSHIFT_ERR_DNS_RECORDS_MISSING',
      `no weighted records at ${missing.map((n) => n.name).join(' and ')}: create them first (ensureRecords)`,
      { status: 409, details: { names: missing.map((n) => n.name) } },
    );
  }
  const misshaped = names.filter((n) => n.problems.length > 0);
  if (misshaped.length > 0) throw misshapedError(misshaped);
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

function abortedOr(err: unknown, signal: AbortSignal | undefined, message: string): unknown {
  if (!signal?.aborted || isPgshiftError(err)) return err;
  return new PgshiftError('PGSHIFT_ERR_DNS_ABORTED', message, { status: 503, cause: err });
}
