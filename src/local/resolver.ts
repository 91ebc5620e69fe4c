import { ListResourceRecordSetsCommand, type RRType, type Route53Client } from '@aws-sdk/client-route-53';
import type { Clock } from '../clock.js';
import { PgshiftError } from '../errors.js';
import { fqdn, readRecordsAt } from '../traffic/route53-records.js';
import { zoneKey } from '../traffic/zone-gate.js';
import type { Route53Store } from './route53/store.js';

/**
 * DNS for the lab's demo workload: answers a name the way Route 53 answers a weighted
 * name (one record, chosen with probability weight / sum; evenly when every weight is 0)
 * and caches the answer for the record's TTL the way a resolver or driver does, so the
 * workload follows a shift only once its cached answer expires.
 */

/** One candidate answer of a name. */
export interface Candidate {
  /** The SetIdentifier; null for a simple record. */
  setIdentifier: string | null;
  /** null for a simple record. */
  weight: number | null;
  value: string;
}

export interface NameRecords {
  ttl: number;
  candidates: Candidate[];
}

/** Where the resolver reads a name's records; null when the name has none. */
export interface RecordSource {
  readName(name: string): Promise<NameRecords | null>;
}

export interface Resolution {
  name: string;
  value: string;
  setIdentifier: string | null;
  /** True when the answer came from the cache, i.e. Route 53 was not asked. */
  cached: boolean;
  expiresAt: number;
}

const ANSWER_TYPES = ['CNAME', 'A', 'AAAA'];

/** Picks one candidate by weight, as Route 53 does. Pure given `random` (0 <= r < 1). */
export function pickWeighted(candidates: readonly Candidate[], random: () => number): Candidate {
  if (candidates.length === 0) throw new Error('pickWeighted: no candidates');
  const weights = candidates.map((c) => c.weight ?? 1);
  const total = weights.reduce((a, b) => a + b, 0);
  if (total === 0) return candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))]!;
  let point = random() * total;
  for (let i = 0; i < candidates.length; i++) {
    point -= weights[i]!;
    if (point < 0 && weights[i]! > 0) return candidates[i]!;
  }
  return candidates[weights.findLastIndex((w) => w > 0)]!;
}

function toNameRecords(records: { type: string; ttl?: number; setIdentifier?: string | undefined; weight?: number | undefined; value?: string }[]): NameRecords | null {
  const type = ANSWER_TYPES.find((t) => records.some((r) => r.type === t));
  const usable = records.filter((r) => r.type === type && r.value !== undefined);
  if (usable.length === 0) return null;
  return {
    ttl: Math.min(...usable.map((r) => r.ttl ?? 0)),
    candidates: usable.map((r) => ({ setIdentifier: r.setIdentifier ?? null, weight: r.weight ?? null, value: r.value! })),
  };
}

/** Reads the stand-in's store directly, in the same process. */
export function storeRecordSource(store: Route53Store, zoneId: string): RecordSource {
  return {
    readName: async (name) => {
      const wanted = fqdn(name);
      const records = store.recordSets(zoneId).filter((r) => r.name === wanted);
      return toNameRecords(records.map((r) => ({ ...r, value: r.values?.[0] })));
    },
  };
}

/**
 * Reads the stand-in's records over its DNS-like control path (`GET /_lab/records`), for
 * clients in another process. Like real DNS resolution, this spends none of the Route 53
 * API budget (the stand-in does not count it against the account limit).
 */
export function labDnsRecordSource(standInUrl: string, zoneId: string): RecordSource {
  return {
    readName: async (name) => {
      const url = new URL('/_lab/records', standInUrl);
      url.searchParams.set('zone', zoneKey(zoneId));
      url.searchParams.set('name', fqdn(name));
      const res = await fetch(url);
      if (!res.ok) {
        throw new PgshiftError('PGSHIFT_ERR_LAB_RESOLVE_FAILED', `the Route 53 stand-in answered ${res.status} for ${fqdn(name)}: ${await res.text()}`, { status: 502 });
      }
      const records = (await res.json()) as { type: string; ttl?: number; setIdentifier?: string; weight?: number; values?: string[] }[];
      return toNameRecords(records.map((r) => ({ ...r, ...(r.values?.[0] !== undefined ? { value: r.values[0] } : {}) })));
    },
  };
}

/**
 * Reads through the Route 53 API (the stand-in or the real service). Every lookup is a
 * ListResourceRecordSets and spends the account's API budget: tests of the API only; the
 * lab's clients resolve with storeRecordSource or labDnsRecordSource.
 */
export function route53RecordSource(client: Route53Client, zoneId: string): RecordSource {
  return {
    readName: async (name) => {
      const records = await readRecordsAt(name, (start) =>
        client.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: zoneId,
            StartRecordName: start.name,
            ...(start.type ? { StartRecordType: start.type as RRType } : {}),
            ...(start.identifier ? { StartRecordIdentifier: start.identifier } : {}),
          }),
        ),
      );
      return toNameRecords(
        records.map((r) => ({
          type: r.Type ?? '',
          ...(r.TTL !== undefined ? { ttl: r.TTL } : {}),
          setIdentifier: r.SetIdentifier,
          weight: r.Weight,
          ...(r.ResourceRecords?.[0]?.Value !== undefined ? { value: r.ResourceRecords[0].Value } : {}),
        })),
      );
    },
  };
}

export interface WeightedResolverOptions {
  source: RecordSource;
  clock: Clock;
  /** 0 <= r < 1; a seeded one makes simulations reproducible. */
  random?: () => number;
}

export class WeightedResolver {
  private readonly source: RecordSource;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly cache = new Map<string, { value: string; setIdentifier: string | null; expiresAt: number }>();

  constructor(options: WeightedResolverOptions) {
    this.source = options.source;
    this.clock = options.clock;
    this.random = options.random ?? Math.random;
  }

  /**
   * The answer for `name`: the cached one until its TTL runs out, otherwise a fresh pick
   * by the current weights. Throws PGSHIFT_ERR_LAB_NAME_NOT_FOUND when the name has no
   * records (NXDOMAIN); answers for a missing name are not cached.
   */
  async resolve(name: string): Promise<Resolution> {
    const key = fqdn(name);
    const now = this.clock.now();
    const hit = this.cache.get(key);
    if (hit && now < hit.expiresAt) return { name: key, ...hit, cached: true };

    const records = await this.source.readName(key);
    if (!records) {
      this.cache.delete(key);
      throw new PgshiftError('PGSHIFT_ERR_LAB_NAME_NOT_FOUND', `no records for ${key}`, { status: 404 });
    }
    const chosen = pickWeighted(records.candidates, this.random);
    const answer = { value: chosen.value, setIdentifier: chosen.setIdentifier, expiresAt: now + records.ttl * 1000 };
    this.cache.set(key, answer);
    return { name: key, ...answer, cached: false };
  }

  /** Drops cached answers (one name or all), like flushing a resolver cache. */
  forget(name?: string): void {
    if (name === undefined) this.cache.clear();
    else this.cache.delete(fqdn(name));
  }
}
