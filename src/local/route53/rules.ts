import { isIPv4, isIPv6 } from 'node:net';
import * as D from '../../defaults.js';
import { invalidChangeBatch, invalidInput, noSuchHealthCheck, validationErrors } from './errors.js';
import { UNROUTABLE_TYPES, routingKind, type Change, type ChangeBatch, type RecordSet, type RoutingKind } from './model.js';
import { describeInvalidName, isInZone, normaliseName, quoteRecord } from './names.js';

/**
 * Route 53's rules for ChangeResourceRecordSets, as a pure function: the batch is checked
 * as a whole and applied to a copy of the zone's records, so the caller commits all of it
 * or none. Problems come back the way Route 53 reports them: model constraint violations
 * as one InvalidInput, malformed changes as InvalidInput, and everything that conflicts
 * with the zone's contents as ONE InvalidChangeBatch listing every problem.
 * Wording follows messages quoted from the real service where known (see
 * shared/reference/aws-api.md 1.6); the rest is the stand-in's own.
 */
export function applyChangeBatch(zoneName: string, records: readonly RecordSet[], batch: ChangeBatch): RecordSet[] {
  const constraintProblems = checkConstraints(batch);
  if (constraintProblems.length > 0) throw validationErrors(constraintProblems);
  for (const change of batch.changes) checkShape(change);

  const changes = batch.changes.map((c) => ({ action: c.action, recordSet: normaliseRecord(c.recordSet) }));
  const messages: string[] = [...checkQuotas(changes)];
  const working = new Map(records.map((r) => [recordKey(r), r]));
  const written: RecordSet[] = [];

  for (const { action, recordSet: record } of changes) {
    const problems = checkPlacement(record, zoneName);
    if (problems.length > 0) {
      messages.push(...problems);
      continue;
    }
    const key = recordKey(record);
    const existing = working.get(key);
    const quoted = quoteRecord(record.name, record.type, record.setIdentifier);
    if (action === 'CREATE') {
      if (existing) messages.push(`Tried to create resource record set ${quoted} but it already exists`);
      else {
        working.set(key, record);
        written.push(record);
      }
    } else if (action === 'DELETE') {
      if (!existing) messages.push(`Tried to delete resource record set ${quoted} but it was not found`);
      else if (!sameRecord(existing, record)) {
        messages.push(`Tried to delete resource record set ${quoted} but the values provided do not match the current values`);
      } else working.delete(key);
    } else {
      working.set(key, record);
      written.push(record);
    }
  }

  const final = [...working.values()];
  for (const record of written) {
    if (working.get(recordKey(record)) !== record) continue;
    messages.push(...checkGroup(record, final, written, zoneName));
  }
  messages.push(...checkApex(final, zoneName));
  if (messages.length > 0) throw invalidChangeBatch([...new Set(messages)]);
  return final;
}

export function recordKey(r: Pick<RecordSet, 'name' | 'type' | 'setIdentifier'>): string {
  return `${r.name}|${r.type}|${r.setIdentifier ?? ''}`;
}

function normaliseRecord(r: RecordSet): RecordSet {
  const out: RecordSet = { ...r, name: normaliseName(r.name) };
  if (r.aliasTarget) out.aliasTarget = { ...r.aliasTarget, dnsName: normaliseName(r.aliasTarget.dnsName) };
  return out;
}

function describeChange(change: Change): string {
  const r = change.recordSet;
  const id = r.setIdentifier === undefined ? '' : `, SetIdentifier=${r.setIdentifier}`;
  return `Change with [Action=${change.action}, Name=${r.name}, Type=${r.type}${id}]`;
}

/** Limits from the API model; the real service checks them before anything else. */
function checkConstraints(batch: ChangeBatch): string[] {
  const problems: string[] = [];
  const at = (i: number, field: string) => `changeBatch.changes.${i + 1}.member.resourceRecordSet.${field}`;
  const violation = (value: unknown, path: string, rule: string) =>
    problems.push(`Value '${String(value)}' at '${path}' failed to satisfy constraint: Member must ${rule}`);
  if (batch.comment !== undefined && batch.comment.length > 256) {
    violation(batch.comment, 'changeBatch.comment', 'have length less than or equal to 256');
  }
  if (batch.changes.length === 0) violation('[]', 'changeBatch.changes', 'have length greater than or equal to 1');
  batch.changes.forEach(({ recordSet: r }, i) => {
    if (r.name.length > 1024) violation(r.name, at(i, 'name'), 'have length less than or equal to 1024');
    if (r.setIdentifier !== undefined) {
      if (r.setIdentifier.length < 1) violation(r.setIdentifier, at(i, 'setIdentifier'), 'have length greater than or equal to 1');
      if (r.setIdentifier.length > 128) violation(r.setIdentifier, at(i, 'setIdentifier'), 'have length less than or equal to 128');
    }
    if (r.weight !== undefined) {
      if (r.weight < 0) violation(r.weight, at(i, 'weight'), 'have value greater than or equal to 0');
      if (r.weight > 255) violation(r.weight, at(i, 'weight'), 'have value less than or equal to 255');
    }
    if (r.ttl !== undefined) {
      if (r.ttl < 0) violation(r.ttl, at(i, 'tTL'), 'have value greater than or equal to 0');
      if (r.ttl > 2_147_483_647) violation(r.ttl, at(i, 'tTL'), 'have value less than or equal to 2147483647');
    }
    if (r.values !== undefined && r.values.length === 0) {
      violation('[]', at(i, 'resourceRecords'), 'have length greater than or equal to 1');
    }
    r.values?.forEach((v, j) => {
      if (v.length > 4000) violation(v, `${at(i, 'resourceRecords')}.${j + 1}.member.value`, 'have length less than or equal to 4000');
    });
  });
  return problems;
}

/** A change that is malformed in itself, whatever the zone holds. */
function checkShape(change: Change): void {
  const r = change.recordSet;
  const hasRecords = r.ttl !== undefined && r.values !== undefined;
  const hasAlias = r.aliasTarget !== undefined;
  const partial = (r.ttl !== undefined) !== (r.values !== undefined);
  if (hasAlias && (r.ttl !== undefined || r.values !== undefined)) {
    throw invalidInput(
      `Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found more than one in ${describeChange(change)}`,
    );
  }
  if (!hasAlias && (!hasRecords || partial)) {
    throw invalidInput(
      `Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in ${describeChange(change)}`,
    );
  }
  const policies = [r.weight, r.region, r.failover, r.multiValueAnswer].filter((p) => p !== undefined).length;
  if (policies > 1) {
    throw invalidInput(`Invalid request: Expected at most one of [Weight, Region, Failover, MultiValueAnswer] in ${describeChange(change)}`);
  }
  if (policies === 1 && r.setIdentifier === undefined) {
    throw invalidInput(`Invalid request: Missing field 'SetIdentifier' in ${describeChange(change)}`);
  }
  if (policies === 0 && r.setIdentifier !== undefined) {
    throw invalidInput(
      `Invalid request: a SetIdentifier needs a routing policy (Weight, Region, Failover or MultiValueAnswer) in ${describeChange(change)}`,
    );
  }
  if (policies === 1 && UNROUTABLE_TYPES.has(r.type)) {
    throw invalidInput(`Invalid request: records of type ${r.type} cannot use a routing policy, in ${describeChange(change)}`);
  }
  if (r.healthCheckId !== undefined) throw noSuchHealthCheck(r.healthCheckId);
}

function checkQuotas(changes: readonly Change[]): string[] {
  let records = 0;
  let chars = 0;
  for (const { action, recordSet } of changes) {
    const count = recordSet.values?.length ?? 1;
    records += action === 'UPSERT' ? 2 * count : count;
    chars += (recordSet.values ?? []).reduce((sum, v) => sum + v.length, 0);
  }
  const problems: string[] = [];
  if (records > D.ROUTE53_MAX_RECORDS_PER_BATCH) problems.push(`Number of records limit of ${D.ROUTE53_MAX_RECORDS_PER_BATCH} exceeded.`);
  if (chars > D.ROUTE53_MAX_VALUE_CHARS_PER_BATCH) {
    problems.push(`Number of characters limit of ${D.ROUTE53_MAX_VALUE_CHARS_PER_BATCH} exceeded.`);
  }
  return problems;
}

/** Where the record may live and what it may hold, independent of its neighbours. */
function checkPlacement(r: RecordSet, zoneName: string): string[] {
  const invalid = describeInvalidName(r.name);
  if (invalid) return [`RRSet with DNS name ${r.name} is not a valid DNS name: ${invalid}`];
  if (!isInZone(r.name, zoneName)) return [`RRSet with DNS name ${r.name} is not permitted in zone ${zoneName}`];
  const problems: string[] = [];
  if (r.type === 'CNAME' && r.name === zoneName) {
    problems.push(`RRSet of type CNAME with DNS name ${r.name} is not permitted at apex in zone ${zoneName}`);
  }
  const values = r.values ?? [];
  if (values.length > 1 && r.type === 'CNAME') {
    problems.push(`RRSet of type CNAME with DNS name ${r.name} may hold only one resource record, got ${values.length}`);
  } else if (values.length > 1 && routingKind(r) === 'weighted') {
    problems.push(`Weighted RRSet ${quoteRecord(r.name, r.type, r.setIdentifier)} may hold only one resource record, got ${values.length}`);
  }
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) problems.push(`Duplicate Resource Record: '${v}'`);
    seen.add(v);
    if (r.type === 'A' && !isIPv4(v)) {
      problems.push(`Invalid Resource Record: FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '${v}'`);
    }
    if (r.type === 'AAAA' && !isIPv6(v)) {
      problems.push(`Invalid Resource Record: FATAL problem: AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address) encountered with '${v}'`);
    }
  }
  return problems;
}

const KIND_LABEL: Record<RoutingKind, string> = {
  simple: 'non-weighted',
  weighted: 'weighted',
  latency: 'latency',
  failover: 'failover',
  multivalue: 'multivalue answer',
};

/** Rules that hold between a written record and the final contents of its name. */
function checkGroup(record: RecordSet, final: readonly RecordSet[], written: readonly RecordSet[], zoneName: string): string[] {
  const problems: string[] = [];
  const atName = final.filter((r) => r.name === record.name);
  const group = atName.filter((r) => r.type === record.type);
  const kind = routingKind(record);

  const other = group.find((r) => r !== record && routingKind(r) !== kind);
  if (kind === 'simple' && group.length > 1) {
    problems.push(`RRSet with DNS name ${record.name}, type ${record.type} cannot be created as other RRSets exist with the same name and type.`);
  } else if (other) {
    problems.push(
      `RRSet with DNS name ${record.name}, type ${record.type}, SetIdentifier ${record.setIdentifier} cannot be created as a ${KIND_LABEL[routingKind(other)]} set exists with the same name and type.`,
    );
  }

  if (kind === 'weighted') {
    const weighted = group.filter((r) => routingKind(r) === 'weighted' && r.ttl !== undefined);
    const reference = (weighted.find((r) => !written.includes(r)) ?? weighted[0])?.ttl;
    if (record.ttl !== undefined && reference !== undefined && record.ttl !== reference) {
      problems.push(
        `RRSet with DNS name ${record.name} and type ${record.type}, SetIdentifier ${record.setIdentifier} cannot be created as weighted sets must contain the same TTL.`,
      );
    }
    if (group.length > D.ROUTE53_MAX_WEIGHTED_PER_GROUP) {
      problems.push(
        `Tried to create more than ${D.ROUTE53_MAX_WEIGHTED_PER_GROUP} weighted resource record sets with ${quoteRecord(record.name, record.type)}`,
      );
    }
  }

  const otherTypes = atName.filter((r) => r.type !== record.type);
  if (record.type === 'CNAME' && otherTypes.length > 0) {
    problems.push(`RRSet of type CNAME with DNS name ${record.name} is not permitted as it conflicts with other records with the same DNS name in zone ${zoneName}`);
  } else if (record.type !== 'CNAME' && otherTypes.some((r) => r.type === 'CNAME')) {
    problems.push(
      `RRSet of type ${record.type} with DNS name ${record.name} is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone ${zoneName}`,
    );
  }
  return problems;
}

function checkApex(final: readonly RecordSet[], zoneName: string): string[] {
  const problems: string[] = [];
  const apex = final.filter((r) => r.name === zoneName);
  if (!apex.some((r) => r.type === 'SOA')) problems.push('A HostedZone must contain exactly one SOA record.');
  if (!apex.some((r) => r.type === 'NS')) problems.push('A HostedZone must contain at least one NS record for the zone itself.');
  return problems;
}

/** DELETE must name the record exactly as it is. */
function sameRecord(a: RecordSet, b: RecordSet): boolean {
  const canonical = (r: RecordSet) =>
    JSON.stringify([
      r.weight ?? null,
      r.region ?? null,
      r.failover ?? null,
      r.multiValueAnswer ?? null,
      r.ttl ?? null,
      [...(r.values ?? [])].sort(),
      r.aliasTarget ? [r.aliasTarget.hostedZoneId, r.aliasTarget.dnsName, r.aliasTarget.evaluateTargetHealth] : null,
      r.healthCheckId ?? null,
    ]);
  return canonical(a) === canonical(b);
}
