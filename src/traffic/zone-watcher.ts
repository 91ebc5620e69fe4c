import type { ListResourceRecordSetsCommandOutput, ResourceRecordSet } from '@aws-sdk/client-route-53';
import type { Clock } from '../clock.js';
import { PgshiftError } from '../errors.js';
import { compareRoute53Names, fqdn, type ListStart } from './route53-records.js';

/**
 * Observation of one hosted zone on its own schedule, shared by every router (pair) in
 * the zone: a ROUND lists the zone once, page by page (up to 300 record sets a page), from
 * the first watched name to the last, jumping over stretches that hold no watched name,
 * and serves every router from that one listing. Rounds run on demand, never on a timer:
 * a read is served from the latest round when it is fresh enough, else it joins the round
 * in flight (when that started recently enough) or the next one, which every read asking
 * meanwhile shares. Two rounds of one zone start at least `minIntervalMs` apart.
 */

/** One round's result. */
export interface ZoneListing {
  /** Record sets per watched name (fqdn); a covered name without records maps to []. */
  records: ReadonlyMap<string, readonly ResourceRecordSet[]>;
  /** Clock time the round started: everything in it is at least this fresh. */
  startedAt: number;
  finishedAt: number;
  /** ListResourceRecordSets calls the round made. */
  calls: number;
}

/** One ListResourceRecordSets page from `start`. May throw (after its own retries). */
export type ListPage = (start: ListStart, pageSize: number, signal: AbortSignal) => Promise<ListResourceRecordSetsCommandOutput>;

export interface ZoneWatcherOptions {
  zoneId: string;
  clock: Clock;
  listPage: ListPage;
  pageSize: number;
  minIntervalMs: number;
}

export interface ReadOptions {
  /** How old (by its start) the listing may be; 0 asks for a round that starts now or later. */
  maxAgeMs?: number;
  /** Stops waiting (rejects with its reason); the round itself goes on for the others. */
  signal?: AbortSignal;
}

interface Round {
  names: Set<string>;
  startedAt: number | null;
  promise: Promise<ZoneListing>;
}

export class ZoneWatcher {
  readonly zoneId: string;
  private readonly clock: Clock;
  private readonly listPage: ListPage;
  private readonly pageSize: number;
  private readonly minIntervalMs: number;
  private readonly watched = new Map<string, number>();
  private latestRound: ZoneListing | null = null;
  private current: Round | null = null;
  private next: Round | null = null;
  private lastStart = -Infinity;
  private readonly stop = new AbortController();
  private rounds = 0;

  constructor(options: ZoneWatcherOptions) {
    this.zoneId = options.zoneId;
    this.clock = options.clock;
    this.listPage = options.listPage;
    this.pageSize = options.pageSize;
    this.minIntervalMs = options.minIntervalMs;
  }

  /** Adds names to every round from now on; returns the function that takes them out again. Never throws. */
  watch(names: readonly string[]): () => void {
    const keys = names.map(fqdn);
    for (const key of keys) this.watched.set(key, (this.watched.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const key of keys) {
        const left = (this.watched.get(key) ?? 1) - 1;
        if (left <= 0) this.watched.delete(key);
        else this.watched.set(key, left);
      }
    };
  }

  /** How many names the watcher lists each round and how many rounds it has run. */
  get stats(): { names: number; rounds: number } {
    return { names: this.watched.size, rounds: this.rounds };
  }

  /** The latest round that covered every one of `names`, or null. Memory only: never a call, never throws. */
  latest(names: readonly string[]): ZoneListing | null {
    const round = this.latestRound;
    return round && covers(round, names.map(fqdn)) ? round : null;
  }

  /**
   * A listing that covers `names` and started no more than `maxAgeMs` ago. Not a change:
   * safe to call any time. Rejects with a PGSHIFT_ERR_ROUTE53_* error when the round
   * fails, with the signal's reason, or PGSHIFT_ERR_ROUTE53_CLOSED.
   */
  read(names: readonly string[], options: ReadOptions = {}): Promise<ZoneListing> {
    if (this.stop.signal.aborted) return Promise.reject(closedError());
    const keys = names.map(fqdn);
    const oldest = this.clock.now() - Math.max(0, options.maxAgeMs ?? 0);
    const latest = this.latestRound;
    if (latest && latest.startedAt >= oldest && covers(latest, keys)) return Promise.resolve(latest);
    const current = this.current;
    if (current && current.startedAt !== null && current.startedAt >= oldest && keys.every((k) => current.names.has(k))) {
      return untilAborted(current.promise, options.signal);
    }
    return untilAborted(this.nextRound(keys).promise, options.signal);
  }

  /** Stops: no round starts any more and waiting reads reject. Idempotent; leaves no timer. */
  close(): void {
    this.stop.abort(closedError());
  }

  private nextRound(keys: string[]): Round {
    if (this.next) {
      for (const key of keys) this.next.names.add(key);
      return this.next;
    }
    const names = new Set(keys);
    const previous = this.current?.promise;
    const round: Round = { names, startedAt: null, promise: Promise.resolve(null as unknown as ZoneListing) };
    this.next = round;
    round.promise = (async () => {
      if (previous) await previous.catch(() => undefined);
      // Let every read asked in the same turn of the event loop join this round.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const wait = this.lastStart + this.minIntervalMs - this.clock.now();
      if (wait > 0) await this.clock.sleep(wait, this.stop.signal);
      if (this.stop.signal.aborted) throw closedError();
      if (this.next === round) this.next = null;
      this.current = round;
      for (const key of this.watched.keys()) names.add(key);
      return this.runRound(round);
    })();
    // Every reader attaches its own handler; this one keeps a round nobody waits for any
    // more (all its readers aborted) from being an unhandled rejection.
    round.promise.catch(() => undefined);
    return round;
  }

  private async runRound(round: Round): Promise<ZoneListing> {
    const startedAt = this.clock.now();
    round.startedAt = startedAt;
    this.lastStart = startedAt;
    this.rounds++;
    try {
      const { records, calls } = await listNames([...round.names], (start) => this.listPage(start, this.pageSize, this.stop.signal));
      const listing: ZoneListing = { records, startedAt, finishedAt: this.clock.now(), calls };
      if (!this.latestRound || this.latestRound.startedAt <= startedAt) this.latestRound = listing;
      return listing;
    } finally {
      if (this.current === round) this.current = null;
    }
  }
}

/**
 * Lists the record sets at every one of `names` with as few calls as the order allows:
 * starts at the first name (in Route 53's listing order), follows the pages while they
 * hold watched names, and jumps straight to the next watched name over stretches that
 * hold none. A name without records maps to []. Exported for tests.
 */
export async function listNames(
  names: readonly string[],
  fetchPage: (start: ListStart) => Promise<ListResourceRecordSetsCommandOutput>,
): Promise<{ records: Map<string, ResourceRecordSet[]>; calls: number }> {
  const sorted = [...new Set(names.map(fqdn))].sort(compareRoute53Names);
  const records = new Map<string, ResourceRecordSet[]>(sorted.map((n) => [n, []]));
  let calls = 0;
  if (sorted.length === 0) return { records, calls };
  let i = 0;
  let start: ListStart = { name: sorted[0]! };
  for (;;) {
    const page = await fetchPage(start);
    calls++;
    for (const record of page.ResourceRecordSets ?? []) records.get(fqdn(record.Name ?? ''))?.push(record);
    if (!page.IsTruncated || !page.NextRecordName) break;
    const nextName = fqdn(page.NextRecordName);
    // Watched names before the next record have all been seen (or have no records).
    while (i < sorted.length && compareRoute53Names(sorted[i]!, nextName) < 0) i++;
    if (i >= sorted.length) break;
    start =
      compareRoute53Names(sorted[i]!, nextName) > 0
        ? { name: sorted[i]! }
        : {
            name: page.NextRecordName,
            ...(page.NextRecordType ? { type: page.NextRecordType } : {}),
            ...(page.NextRecordIdentifier ? { identifier: page.NextRecordIdentifier } : {}),
          };
  }
  return { records, calls };
}

function covers(listing: ZoneListing, keys: readonly string[]): boolean {
  return keys.every((k) => listing.records.has(k));
}

function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function closedError(): PgshiftError {
  return new PgshiftError('PGSHIFT_ERR_ROUTE53_CLOSED', 'the zone watcher is closed (the service is stopping)', { status: 503 });
}
