import type { ListResourceRecordSetsCommandOutput, ResourceRecordSet } from '@aws-sdk/client-route-53';
import { type ObservedName, type ObservedRecord } from './router.js';
import { splitOf } from './weights.js';
import { SIDES, type Side } from '../shift/model.js';

/** `Reader.Example.com` -> `reader.example.com.`: how Route 53 returns names. */
export function fqdn(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/**
 * The order ListResourceRecordSets returns names in: by name with the labels reversed
 * (`www.example.com.` sorts as `com.example.www.`), aws-api.md 1.5. Both arguments as
 * fqdn() gives them.
 */
export function compareRoute53Names(a: string, b: string): number {
  const ra = reversedLabels(a);
  const rb = reversedLabels(b);
  return ra < rb ? -1 : ra > rb ? 1 : 0;
}

function reversedLabels(name: string): string {
  return `${name.slice(0, -1).split('.').reverse().join('.')}.`;
}

/** A CNAME value for comparison: case and a trailing dot do not matter to DNS. */
function hostOf(value: string): string {
  return fqdn(value).slice(0, -1);
}

export interface ListStart {
  name: string;
  type?: string;
  identifier?: string;
}

/**
 * Every record set at exactly `name`, reading ListResourceRecordSets page by page from
 * that name (the SDK has no paginator for it) and stopping at the first other name.
 */
export async function readRecordsAt(
  name: string,
  fetchPage: (start: ListStart) => Promise<ListResourceRecordSetsCommandOutput>,
): Promise<ResourceRecordSet[]> {
  const wanted = fqdn(name);
  const found: ResourceRecordSet[] = [];
  let start: ListStart = { name: wanted };
  for (;;) {
    const page = await fetchPage(start);
    for (const record of page.ResourceRecordSets ?? []) {
      if (fqdn(record.Name ?? '') !== wanted) return found;
      found.push(record);
    }
    if (!page.IsTruncated || !page.NextRecordName) return found;
    if (fqdn(page.NextRecordName) !== wanted) return found;
    start = {
      name: page.NextRecordName,
      ...(page.NextRecordType ? { type: page.NextRecordType } : {}),
      ...(page.NextRecordIdentifier ? { identifier: page.NextRecordIdentifier } : {}),
    };
  }
}

function observeRecord(r: ResourceRecordSet): ObservedRecord {
  return {
    type: r.Type ?? 'unknown',
    setIdentifier: r.SetIdentifier ?? null,
    weight: r.Weight ?? null,
    ttl: r.TTL ?? null,
    values: (r.ResourceRecords ?? []).map((v) => v.Value ?? ''),
    aliasTarget: r.AliasTarget?.DNSName ?? null,
  };
}

function routingOf(r: ResourceRecordSet): string {
  if (r.Region) return 'latency';
  if (r.Failover) return 'failover';
  if (r.GeoLocation) return 'geolocation';
  if (r.MultiValueAnswer !== undefined) return 'multivalue answer';
  return 'non-weighted';
}

export interface NameExpectations {
  ttl: number;
  /** Known endpoints per side; without them the values are not checked. */
  targets?: Record<Side, string>;
}

/**
 * Judges the records at one name against the pair pgshift manages there: exactly two
 * weighted CNAMEs, set identifiers `blue` and `green`, the configured TTL, each pointing
 * at its side's endpoint, and nothing else at the name. Pure.
 */
export function assessName(name: string, records: readonly ResourceRecordSet[], expect: NameExpectations): ObservedName {
  const problems: string[] = [];
  const pair: Partial<Record<Side, ResourceRecordSet>> = {};
  const at = fqdn(name);
  for (const r of records) {
    const id = r.SetIdentifier;
    if (r.Type !== 'CNAME') {
      problems.push(`a ${r.Type} record exists at ${at}; the name must hold only pgshift's two weighted CNAMEs`);
    } else if (id === undefined) {
      problems.push(`a simple (non-weighted) CNAME exists at ${at}`);
    } else if (!(SIDES as readonly string[]).includes(id)) {
      problems.push(`a CNAME with set identifier '${id}' exists at ${at}; only 'blue' and 'green' are expected`);
    } else {
      const side = id as Side;
      pair[side] = r;
      if (r.AliasTarget) problems.push(`${at} ${side}: is an alias record; expected a CNAME with a value`);
      if (r.Weight === undefined) problems.push(`${at} ${side}: uses ${routingOf(r)} routing; expected weighted`);
      if (r.TTL !== undefined && r.TTL !== expect.ttl) problems.push(`${at} ${side}: TTL ${r.TTL}, expected ${expect.ttl}`);
      const value = r.ResourceRecords?.[0]?.Value;
      const target = expect.targets?.[side];
      if (target !== undefined && value !== undefined && hostOf(value) !== hostOf(target)) {
        problems.push(`${at} ${side}: points at ${value}, expected ${target}`);
      }
    }
  }
  const present = SIDES.filter((side) => pair[side] !== undefined);
  if (present.length === 1) problems.push(`only the ${present[0]} record exists at ${at}`);

  const blue = pair.blue?.Weight;
  const green = pair.green?.Weight;
  const recordWeights = blue !== undefined && green !== undefined ? { blue, green } : null;
  return {
    name: at,
    split: recordWeights ? splitOf(recordWeights) : null,
    recordWeights,
    records: records.map(observeRecord),
    problems,
  };
}
