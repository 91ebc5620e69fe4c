import { randomInt } from 'node:crypto';
import type { Clock } from '../../clock.js';
import * as D from '../../defaults.js';
import { Route53Fault, invalidInput, noSuchChange, noSuchHostedZone, priorRequestNotComplete, validationErrors } from './errors.js';
import {
  RECORD_TYPES,
  type ChangeBatch,
  type ChangeRecord,
  type ChangeView,
  type HostedZone,
  type RecordSet,
  type RecordType,
  type StoreFile,
} from './model.js';
import { compareNames, describeInvalidName, normaliseName } from './names.js';
import { applyChangeBatch } from './rules.js';
import { readZoneFile, writeZoneFile } from './zone-file.js';

export interface Route53StoreOptions {
  /** Where zones persist; none keeps them in memory only. */
  file?: string;
  clock: Clock;
  /** How long the next change stays PENDING, asked at each submission. */
  insyncDelayMs: () => number;
  /** Whether a change is refused while an earlier change to its zone is PENDING. */
  priorRequestCheck: () => boolean;
}

export interface CreateZoneInput {
  name: string;
  callerReference: string;
  comment?: string;
  vpc?: { region: string; id: string };
}

export interface ListRecordsInput {
  name?: string;
  type?: string;
  identifier?: string;
  maxItems?: number;
}

export interface RecordPage {
  records: RecordSet[];
  isTruncated: boolean;
  maxItems: number;
  next?: { name: string; type: RecordType; identifier?: string };
}

export interface ListZonesInput {
  dnsName?: string;
  hostedZoneId?: string;
  maxItems?: number;
}

export interface ZonePage {
  zones: HostedZone[];
  isTruncated: boolean;
  maxItems: number;
  next?: { dnsName: string; hostedZoneId: string };
}

/** Name servers of every stand-in zone: under `.invalid`, which never resolves. */
export const STANDIN_NAME_SERVERS = ['ns-1.route53-standin.invalid', 'ns-2.route53-standin.invalid'];

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function newId(prefix: 'Z' | 'C'): string {
  let id = prefix;
  for (let i = 0; i < 19; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

function compareRecords(a: RecordSet, b: RecordSet): number {
  return (
    compareNames(a.name, b.name) ||
    (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) ||
    ((a.setIdentifier ?? '') < (b.setIdentifier ?? '') ? -1 : (a.setIdentifier ?? '') > (b.setIdentifier ?? '') ? 1 : 0)
  );
}

/**
 * Route 53's state and operations, without HTTP: hosted zones with their record sets,
 * and changes that stay PENDING for a while before turning INSYNC. Every operation
 * validates first and then commits, so a refused call changes nothing; every commit is
 * written to the zone file before the call returns.
 */
export class Route53Store {
  private readonly zones = new Map<string, HostedZone>();
  private readonly changes = new Map<string, ChangeRecord>();
  private readonly options: Route53StoreOptions;
  private writing: Promise<void> = Promise.resolve();

  private constructor(options: Route53StoreOptions) {
    this.options = options;
  }

  static async open(options: Route53StoreOptions): Promise<Route53Store> {
    const store = new Route53Store(options);
    const saved = options.file ? await readZoneFile(options.file) : null;
    for (const zone of saved?.zones ?? []) store.zones.set(zone.id, zone);
    for (const change of saved?.changes ?? []) store.changes.set(change.id, change);
    return store;
  }

  async createHostedZone(input: CreateZoneInput): Promise<{ zone: HostedZone; change: ChangeView }> {
    const name = normaliseName(input.name);
    const invalid = describeInvalidName(name);
    if (invalid) throw new Route53Fault('InvalidDomainName', `${input.name} is not a valid domain name: ${invalid}`);
    if (input.callerReference.length < 1 || input.callerReference.length > 128) {
      throw validationErrors([
        `Value '${input.callerReference}' at 'callerReference' failed to satisfy constraint: Member must have length between 1 and 128`,
      ]);
    }
    if ([...this.zones.values()].some((z) => z.callerReference === input.callerReference)) {
      throw new Route53Fault(
        'HostedZoneAlreadyExists',
        `A hosted zone has already been created with the specified caller reference: ${input.callerReference}`,
        409,
      );
    }
    const zone: HostedZone = {
      id: newId('Z'),
      name,
      callerReference: input.callerReference,
      privateZone: input.vpc !== undefined,
      records: [
        { name, type: 'NS', ttl: D.ROUTE53_APEX_NS_TTL, values: STANDIN_NAME_SERVERS.map((ns) => `${ns}.`) },
        {
          name,
          type: 'SOA',
          ttl: D.ROUTE53_APEX_SOA_TTL,
          values: [`${STANDIN_NAME_SERVERS[0]}. hostmaster.route53-standin.invalid. 1 7200 900 1209600 86400`],
        },
      ],
      ...(input.comment !== undefined ? { comment: input.comment } : {}),
      ...(input.vpc ? { vpc: input.vpc } : {}),
    };
    this.zones.set(zone.id, zone);
    const change = this.recordChange(zone.id, input.comment, false);
    await this.persist();
    return { zone, change: this.viewChange(change) };
  }

  getHostedZone(id: string): HostedZone {
    checkResourceId(id, 'id');
    const zone = this.zones.get(id);
    if (!zone) throw noSuchHostedZone(id);
    return zone;
  }

  /** The first zone with this name, in ListHostedZonesByName order; undefined when none. */
  findHostedZone(name: string): HostedZone | undefined {
    const wanted = normaliseName(name);
    return this.sortedZones().find((z) => z.name === wanted);
  }

  listHostedZonesByName(input: ListZonesInput): ZonePage {
    if (input.hostedZoneId !== undefined && input.dnsName === undefined) {
      throw invalidInput('Invalid request: hostedzoneid requires dnsname');
    }
    const maxItems = input.maxItems ?? D.ROUTE53_STANDIN_ZONE_PAGE;
    const zones = this.sortedZones();
    let start = 0;
    if (input.dnsName !== undefined) {
      const name = normaliseName(input.dnsName);
      start = zones.findIndex((z) => {
        const byName = compareNames(z.name, name);
        return byName > 0 || (byName === 0 && (input.hostedZoneId === undefined || z.id >= input.hostedZoneId));
      });
      if (start < 0) start = zones.length;
    }
    return zonePage(pageOf(zones, start, Math.min(maxItems, D.ROUTE53_STANDIN_ZONE_PAGE), maxItems, nextZone));
  }

  listHostedZones(marker: string | undefined, maxItems = D.ROUTE53_STANDIN_ZONE_PAGE): ZonePage & { marker?: string } {
    const zones = [...this.zones.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    const start = marker === undefined ? 0 : zones.findIndex((z) => z.id >= marker);
    const page = pageOf(zones, start < 0 ? zones.length : start, Math.min(maxItems, D.ROUTE53_STANDIN_ZONE_PAGE), maxItems, nextZone);
    return { ...zonePage(page), ...(marker === undefined ? {} : { marker }) };
  }

  listRecordSets(zoneId: string, input: ListRecordsInput): RecordPage {
    const zone = this.getHostedZone(zoneId);
    if (input.type !== undefined && input.name === undefined) {
      throw invalidInput('The input is not valid: StartRecordType requires StartRecordName');
    }
    if (input.identifier !== undefined && input.type === undefined) {
      throw invalidInput('The input is not valid: StartRecordIdentifier requires StartRecordType');
    }
    if (input.type !== undefined && !(RECORD_TYPES as readonly string[]).includes(input.type)) {
      throw validationErrors([
        `Value '${input.type}' at 'startRecordType' failed to satisfy constraint: Member must satisfy enum value set: [${RECORD_TYPES.join(', ')}]`,
      ]);
    }
    const maxItems = input.maxItems ?? D.ROUTE53_STANDIN_MAX_PAGE;
    const records = [...zone.records].sort(compareRecords);
    let start = 0;
    if (input.name !== undefined) {
      const name = normaliseName(input.name);
      start = records.findIndex((r) => {
        const byName = compareNames(r.name, name);
        if (byName !== 0 || input.type === undefined) return byName >= 0;
        if (r.type !== input.type) return r.type > input.type;
        return input.identifier === undefined || (r.setIdentifier ?? '') >= input.identifier;
      });
      if (start < 0) start = records.length;
    }
    const page = pageOf(records, start, Math.min(maxItems, D.ROUTE53_STANDIN_MAX_PAGE), maxItems, (r) => ({
      name: r.name,
      type: r.type,
      ...(r.setIdentifier !== undefined ? { identifier: r.setIdentifier } : {}),
    }));
    return { records: page.items, isTruncated: page.isTruncated, maxItems, ...(page.next ? { next: page.next } : {}) };
  }

  /** Applies a whole batch or nothing; the change is PENDING for a while, then INSYNC. */
  async changeRecordSets(zoneId: string, batch: ChangeBatch): Promise<ChangeView> {
    const zone = this.getHostedZone(zoneId);
    if (this.options.priorRequestCheck() && this.hasPendingChange(zoneId)) throw priorRequestNotComplete();
    zone.records = applyChangeBatch(zone.name, zone.records, batch);
    const change = this.recordChange(zoneId, batch.comment, true);
    await this.persist();
    return this.viewChange(change);
  }

  getChange(id: string): ChangeView {
    checkResourceId(id, 'id');
    const change = this.changes.get(id);
    if (!change) throw noSuchChange(id);
    return this.viewChange(change);
  }

  /** Every record set of a zone, in listing order. */
  recordSets(zoneId: string): RecordSet[] {
    return [...this.getHostedZone(zoneId).records].sort(compareRecords);
  }

  /** Resolves once every write so far is on disk. */
  flush(): Promise<void> {
    return this.writing;
  }

  private hasPendingChange(zoneId: string): boolean {
    const now = this.options.clock.now();
    for (const change of this.changes.values()) {
      if (change.zoneId === zoneId && change.blocksZone && change.insyncAt > now) return true;
    }
    return false;
  }

  private recordChange(zoneId: string, comment: string | undefined, blocksZone: boolean): ChangeRecord {
    const submittedAt = this.options.clock.now();
    const change: ChangeRecord = {
      id: newId('C'),
      zoneId,
      submittedAt,
      insyncAt: submittedAt + Math.max(0, this.options.insyncDelayMs()),
      blocksZone,
      ...(comment !== undefined ? { comment } : {}),
    };
    this.changes.set(change.id, change);
    this.pruneChanges();
    return change;
  }

  private pruneChanges(): void {
    const excess = this.changes.size - D.ROUTE53_STANDIN_CHANGE_HISTORY;
    if (excess <= 0) return;
    const now = this.options.clock.now();
    let removed = 0;
    for (const [id, change] of this.changes) {
      if (removed >= excess) break;
      if (change.insyncAt <= now) {
        this.changes.delete(id);
        removed++;
      }
    }
  }

  private viewChange(change: ChangeRecord): ChangeView {
    return {
      id: change.id,
      status: this.options.clock.now() >= change.insyncAt ? 'INSYNC' : 'PENDING',
      submittedAt: change.submittedAt,
      ...(change.comment !== undefined ? { comment: change.comment } : {}),
    };
  }

  private sortedZones(): HostedZone[] {
    return [...this.zones.values()].sort((a, b) => compareNames(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private persist(): Promise<void> {
    const file = this.options.file;
    if (!file) return Promise.resolve();
    const contents: StoreFile = { version: 1, zones: [...this.zones.values()], changes: [...this.changes.values()] };
    const snapshot = structuredClone(contents);
    // Writes are chained so that an older snapshot never lands after a newer one.
    this.writing = this.writing.catch(() => undefined).then(() => writeZoneFile(file, snapshot));
    return this.writing;
  }
}

function checkResourceId(id: string, field: string): void {
  if (id.length > 32) {
    throw validationErrors([`Value '${id}' at '${field}' failed to satisfy constraint: Member must have length less than or equal to 32`]);
  }
}

function nextZone(z: HostedZone) {
  return { dnsName: z.name, hostedZoneId: z.id };
}

function zonePage(page: ReturnType<typeof pageOf<HostedZone, { dnsName: string; hostedZoneId: string }>>): ZonePage {
  return { zones: page.items, isTruncated: page.isTruncated, maxItems: page.maxItems, ...(page.next ? { next: page.next } : {}) };
}

function pageOf<T, N>(items: readonly T[], start: number, pageSize: number, maxItems: number, nextOf: (item: T) => N) {
  const page = items.slice(start, start + pageSize);
  const nextItem = items[start + pageSize];
  return {
    items: page,
    isTruncated: nextItem !== undefined,
    maxItems,
    ...(nextItem !== undefined ? { next: nextOf(nextItem) } : {}),
  };
}
