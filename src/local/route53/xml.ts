import { XMLParser } from 'fast-xml-parser';
import { Route53Fault, invalidInput, malformedInput, validationErrors } from './errors.js';
import {
  CHANGE_ACTIONS,
  FAILOVER_VALUES,
  RECORD_TYPES,
  type ChangeAction,
  type ChangeBatch,
  type ChangeView,
  type HostedZone,
  type RecordSet,
  type RecordType,
} from './model.js';
import type { CreateZoneInput, RecordPage, ZonePage } from './store.js';

/**
 * Route 53's REST-XML, both ways: request bodies in (any element order, namespace or
 * not, as the SDK and the CLI differ), response and error bodies out, built by hand in
 * the model's element order.
 */
export const ROUTE53_XMLNS = 'https://route53.amazonaws.com/doc/2013-04-01/';

const LIST_ITEMS = new Set(['Change', 'ResourceRecord']);

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (name: string) => LIST_ITEMS.has(name),
});

type Node = Record<string, unknown>;

function parseRoot(body: string, root: string): Node {
  let doc: unknown;
  try {
    doc = parser.parse(body, true);
  } catch (err) {
    throw malformedInput(`Could not parse the request body as XML: ${(err as Error).message}`);
  }
  const node = (doc as Node | undefined)?.[root];
  if (!isNode(node)) throw malformedInput(`The request body is not valid: expected the root element ${root}`);
  return node;
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function textOf(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (isNode(value) && Object.keys(value).length === 0) return '';
  return undefined;
}

/** Reads fields of one element and collects constraint problems with their model paths. */
class FieldReader {
  readonly problems: string[] = [];

  text(node: Node, field: string, path: string, required = false): string | undefined {
    const raw = node[field];
    const value = textOf(raw);
    if (raw !== undefined && value === undefined) this.problems.push(`Value at '${path}' failed to satisfy constraint: Member must be a string`);
    if (value === undefined && required) this.problems.push(`Value null at '${path}' failed to satisfy constraint: Member must not be null`);
    return value;
  }

  integer(node: Node, field: string, path: string): number | undefined {
    const value = this.text(node, field, path);
    if (value === undefined) return undefined;
    if (!/^-?\d+$/.test(value)) {
      this.problems.push(`Value '${value}' at '${path}' failed to satisfy constraint: Member must be an integer`);
      return undefined;
    }
    return Number(value);
  }

  boolean(node: Node, field: string, path: string): boolean | undefined {
    const value = this.text(node, field, path);
    if (value === undefined) return undefined;
    if (value !== 'true' && value !== 'false') {
      this.problems.push(`Value '${value}' at '${path}' failed to satisfy constraint: Member must be true or false`);
      return undefined;
    }
    return value === 'true';
  }

  oneOf<T extends string>(node: Node, field: string, path: string, allowed: readonly T[], required = false): T | undefined {
    const value = this.text(node, field, path, required);
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) {
      this.problems.push(`Value '${value}' at '${path}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(', ')}]`);
      return undefined;
    }
    return value as T;
  }

  child(node: Node, field: string, path: string, required = false): Node | undefined {
    const value = node[field];
    if (value === undefined) {
      if (required) this.problems.push(`Value null at '${path}' failed to satisfy constraint: Member must not be null`);
      return undefined;
    }
    if (isNode(value)) return value;
    if (textOf(value) === '') return {};
    this.problems.push(`Value at '${path}' failed to satisfy constraint: Member must be a structure`);
    return undefined;
  }

  list(node: Node | undefined, item: string): Node[] {
    const value = node?.[item];
    if (!Array.isArray(value)) return [];
    return value.map((v) => (isNode(v) ? v : {}));
  }
}

const UNSUPPORTED_RECORD_FIELDS = ['GeoLocation', 'TrafficPolicyInstanceId', 'CidrRoutingConfig', 'GeoProximityLocation'];

export function parseChangeBatchRequest(body: string): ChangeBatch {
  const root = parseRoot(body, 'ChangeResourceRecordSetsRequest');
  const read = new FieldReader();
  const batchNode = read.child(root, 'ChangeBatch', 'changeBatch', true);
  const comment = batchNode ? read.text(batchNode, 'Comment', 'changeBatch.comment') : undefined;
  const changesNode = batchNode ? read.child(batchNode, 'Changes', 'changeBatch.changes', true) : undefined;
  const changes = read.list(changesNode, 'Change').map((change, i) => {
    const at = `changeBatch.changes.${i + 1}.member`;
    const action = read.oneOf<ChangeAction>(change, 'Action', `${at}.action`, CHANGE_ACTIONS, true);
    const rrs = read.child(change, 'ResourceRecordSet', `${at}.resourceRecordSet`, true) ?? {};
    for (const field of UNSUPPORTED_RECORD_FIELDS) {
      if (rrs[field] !== undefined) throw invalidInput(`Invalid request: ${field} is not supported by the pgshift Route 53 stand-in`);
    }
    return { action: action ?? 'UPSERT', recordSet: readRecordSet(read, rrs, `${at}.resourceRecordSet`) };
  });
  if (read.problems.length > 0) throw validationErrors(read.problems);
  return { ...(comment !== undefined ? { comment } : {}), changes };
}

function readRecordSet(read: FieldReader, node: Node, at: string): RecordSet {
  const record: RecordSet = {
    name: read.text(node, 'Name', `${at}.name`, true) ?? '',
    type: read.oneOf<RecordType>(node, 'Type', `${at}.type`, RECORD_TYPES, true) ?? 'A',
  };
  const setIdentifier = read.text(node, 'SetIdentifier', `${at}.setIdentifier`);
  const weight = read.integer(node, 'Weight', `${at}.weight`);
  const region = read.text(node, 'Region', `${at}.region`);
  const failover = read.oneOf(node, 'Failover', `${at}.failover`, FAILOVER_VALUES);
  const multiValueAnswer = read.boolean(node, 'MultiValueAnswer', `${at}.multiValueAnswer`);
  const ttl = read.integer(node, 'TTL', `${at}.tTL`);
  const healthCheckId = read.text(node, 'HealthCheckId', `${at}.healthCheckId`);
  if (setIdentifier !== undefined) record.setIdentifier = setIdentifier;
  if (weight !== undefined) record.weight = weight;
  if (region !== undefined) record.region = region;
  if (failover !== undefined) record.failover = failover;
  if (multiValueAnswer !== undefined) record.multiValueAnswer = multiValueAnswer;
  if (ttl !== undefined) record.ttl = ttl;
  if (healthCheckId !== undefined) record.healthCheckId = healthCheckId;

  const recordsNode = read.child(node, 'ResourceRecords', `${at}.resourceRecords`);
  if (recordsNode) {
    record.values = read
      .list(recordsNode, 'ResourceRecord')
      .map((rr, j) => read.text(rr, 'Value', `${at}.resourceRecords.${j + 1}.member.value`, true) ?? '');
  }
  const alias = read.child(node, 'AliasTarget', `${at}.aliasTarget`);
  if (alias) {
    record.aliasTarget = {
      hostedZoneId: read.text(alias, 'HostedZoneId', `${at}.aliasTarget.hostedZoneId`, true) ?? '',
      dnsName: read.text(alias, 'DNSName', `${at}.aliasTarget.dNSName`, true) ?? '',
      evaluateTargetHealth: read.boolean(alias, 'EvaluateTargetHealth', `${at}.aliasTarget.evaluateTargetHealth`) ?? false,
    };
  }
  return record;
}

export function parseCreateHostedZoneRequest(body: string): CreateZoneInput {
  const root = parseRoot(body, 'CreateHostedZoneRequest');
  const read = new FieldReader();
  const name = read.text(root, 'Name', 'name', true);
  const callerReference = read.text(root, 'CallerReference', 'callerReference', true);
  const config = read.child(root, 'HostedZoneConfig', 'hostedZoneConfig');
  const comment = config ? read.text(config, 'Comment', 'hostedZoneConfig.comment') : undefined;
  const privateZone = config ? read.boolean(config, 'PrivateZone', 'hostedZoneConfig.privateZone') : undefined;
  const vpcNode = read.child(root, 'VPC', 'vPC');
  const vpcRegion = vpcNode ? read.text(vpcNode, 'VPCRegion', 'vPC.vPCRegion', true) : undefined;
  const vpcId = vpcNode ? read.text(vpcNode, 'VPCId', 'vPC.vPCId', true) : undefined;
  if (read.problems.length > 0) throw validationErrors(read.problems);
  if (root.DelegationSetId !== undefined) throw invalidInput('Invalid request: reusable delegation sets are not supported by the pgshift Route 53 stand-in');
  if (privateZone === true && !vpcNode) throw invalidInput('Invalid request: a private hosted zone needs a VPC');
  return {
    name: name ?? '',
    callerReference: callerReference ?? '',
    ...(comment !== undefined ? { comment } : {}),
    ...(vpcRegion !== undefined && vpcId !== undefined ? { vpc: { region: vpcRegion, id: vpcId } } : {}),
  };
}

// ---- responses ----

function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[ch]};`);
}

function text(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;
}

function wrap(name: string, inner: string): string {
  return `<${name}>${inner}</${name}>`;
}

function documentOf(root: string, inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${ROUTE53_XMLNS}">${inner}</${root}>\n`;
}

function changeInfoXml(change: ChangeView): string {
  return wrap(
    'ChangeInfo',
    text('Id', `/change/${change.id}`) +
      text('Status', change.status) +
      text('SubmittedAt', new Date(change.submittedAt).toISOString()) +
      text('Comment', change.comment),
  );
}

function hostedZoneXml(zone: HostedZone): string {
  return wrap(
    'HostedZone',
    text('Id', `/hostedzone/${zone.id}`) +
      text('Name', zone.name) +
      text('CallerReference', zone.callerReference) +
      wrap('Config', text('Comment', zone.comment) + text('PrivateZone', zone.privateZone)) +
      text('ResourceRecordSetCount', zone.records.length),
  );
}

function delegationXml(zone: HostedZone, nameServers: readonly string[]): string {
  if (zone.vpc) return wrap('VPCs', wrap('VPC', text('VPCRegion', zone.vpc.region) + text('VPCId', zone.vpc.id)));
  return wrap('DelegationSet', wrap('NameServers', nameServers.map((ns) => text('NameServer', ns)).join('')));
}

function recordSetXml(r: RecordSet): string {
  const values = r.values
    ? wrap('ResourceRecords', r.values.map((v) => wrap('ResourceRecord', text('Value', v))).join(''))
    : '';
  const alias = r.aliasTarget
    ? wrap(
        'AliasTarget',
        text('HostedZoneId', r.aliasTarget.hostedZoneId) +
          text('DNSName', r.aliasTarget.dnsName) +
          text('EvaluateTargetHealth', r.aliasTarget.evaluateTargetHealth),
      )
    : '';
  return wrap(
    'ResourceRecordSet',
    text('Name', r.name) +
      text('Type', r.type) +
      text('SetIdentifier', r.setIdentifier) +
      text('Weight', r.weight) +
      text('Region', r.region) +
      text('Failover', r.failover) +
      text('MultiValueAnswer', r.multiValueAnswer) +
      text('TTL', r.ttl) +
      values +
      alias +
      text('HealthCheckId', r.healthCheckId),
  );
}

export function createHostedZoneResponse(zone: HostedZone, change: ChangeView, nameServers: readonly string[]): string {
  const vpc = zone.vpc ? wrap('VPC', text('VPCRegion', zone.vpc.region) + text('VPCId', zone.vpc.id)) : '';
  const delegation = zone.vpc ? '' : delegationXml(zone, nameServers);
  return documentOf('CreateHostedZoneResponse', hostedZoneXml(zone) + changeInfoXml(change) + delegation + vpc);
}

export function getHostedZoneResponse(zone: HostedZone, nameServers: readonly string[]): string {
  return documentOf('GetHostedZoneResponse', hostedZoneXml(zone) + delegationXml(zone, nameServers));
}

export function listHostedZonesByNameResponse(page: ZonePage, dnsName?: string, hostedZoneId?: string): string {
  return documentOf(
    'ListHostedZonesByNameResponse',
    wrap('HostedZones', page.zones.map(hostedZoneXml).join('')) +
      text('DNSName', dnsName) +
      text('HostedZoneId', hostedZoneId) +
      text('IsTruncated', page.isTruncated) +
      text('NextDNSName', page.next?.dnsName) +
      text('NextHostedZoneId', page.next?.hostedZoneId) +
      text('MaxItems', page.maxItems),
  );
}

export function listHostedZonesResponse(page: ZonePage, marker?: string): string {
  return documentOf(
    'ListHostedZonesResponse',
    wrap('HostedZones', page.zones.map(hostedZoneXml).join('')) +
      text('Marker', marker ?? '') +
      text('IsTruncated', page.isTruncated) +
      text('NextMarker', page.next?.hostedZoneId) +
      text('MaxItems', page.maxItems),
  );
}

export function changeResourceRecordSetsResponse(change: ChangeView): string {
  return documentOf('ChangeResourceRecordSetsResponse', changeInfoXml(change));
}

export function getChangeResponse(change: ChangeView): string {
  return documentOf('GetChangeResponse', changeInfoXml(change));
}

export function listResourceRecordSetsResponse(page: RecordPage): string {
  return documentOf(
    'ListResourceRecordSetsResponse',
    wrap('ResourceRecordSets', page.records.map(recordSetXml).join('')) +
      text('IsTruncated', page.isTruncated) +
      text('NextRecordName', page.next?.name) +
      text('NextRecordType', page.next?.type) +
      text('NextRecordIdentifier', page.next?.identifier) +
      text('MaxItems', page.maxItems),
  );
}

/** The standard error body; SDK v3 and the CLI both map `Error/Code` to the error name. */
export function errorResponse(fault: Route53Fault, requestId: string): string {
  return (
    `<?xml version="1.0"?>\n<ErrorResponse xmlns="${ROUTE53_XMLNS}">` +
    wrap('Error', text('Type', fault.type) + text('Code', fault.code) + text('Message', fault.message)) +
    text('RequestId', requestId) +
    '</ErrorResponse>\n'
  );
}
