import Type from 'typebox';

/**
 * The stand-in's data: hosted zones, resource record sets and changes, as the store keeps
 * them and writes them to its JSON file. Names are stored normalised (see names.ts).
 */

export const RECORD_TYPES = [
  'SOA', 'A', 'TXT', 'NS', 'CNAME', 'MX', 'NAPTR', 'PTR', 'SRV', 'SPF', 'AAAA', 'CAA', 'DS', 'TLSA', 'SSHFP', 'SVCB', 'HTTPS',
] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

export const CHANGE_ACTIONS = ['CREATE', 'DELETE', 'UPSERT'] as const;
export type ChangeAction = (typeof CHANGE_ACTIONS)[number];

export const FAILOVER_VALUES = ['PRIMARY', 'SECONDARY'] as const;

/** Types that weighted, latency, failover and multivalue routing cannot use. */
export const UNROUTABLE_TYPES: ReadonlySet<RecordType> = new Set(['NS', 'SOA', 'DS']);

export const AliasTargetSchema = Type.Object({
  hostedZoneId: Type.String(),
  dnsName: Type.String(),
  evaluateTargetHealth: Type.Boolean(),
});
export type AliasTarget = Type.Static<typeof AliasTargetSchema>;

export const RecordSetSchema = Type.Object({
  name: Type.String(),
  type: Type.Enum(RECORD_TYPES),
  setIdentifier: Type.Optional(Type.String()),
  weight: Type.Optional(Type.Integer()),
  region: Type.Optional(Type.String()),
  failover: Type.Optional(Type.Enum(FAILOVER_VALUES)),
  multiValueAnswer: Type.Optional(Type.Boolean()),
  ttl: Type.Optional(Type.Integer()),
  values: Type.Optional(Type.Array(Type.String())),
  aliasTarget: Type.Optional(AliasTargetSchema),
  healthCheckId: Type.Optional(Type.String()),
});
export type RecordSet = Type.Static<typeof RecordSetSchema>;

export const HostedZoneSchema = Type.Object({
  /** Bare id (`Z...`); bodies carry it as `/hostedzone/Z...`. */
  id: Type.String(),
  name: Type.String(),
  callerReference: Type.String(),
  comment: Type.Optional(Type.String()),
  privateZone: Type.Boolean(),
  vpc: Type.Optional(Type.Object({ region: Type.String(), id: Type.String() })),
  records: Type.Array(RecordSetSchema),
});
export type HostedZone = Type.Static<typeof HostedZoneSchema>;

export const ChangeRecordSchema = Type.Object({
  /** Bare id (`C...`). */
  id: Type.String(),
  zoneId: Type.String(),
  submittedAt: Type.Number(),
  /** When the change turns INSYNC; PENDING until then. */
  insyncAt: Type.Number(),
  comment: Type.Optional(Type.String()),
  /** Record changes block later ones (PriorRequestNotComplete); a zone's creation does not. */
  blocksZone: Type.Boolean(),
});
export type ChangeRecord = Type.Static<typeof ChangeRecordSchema>;

export const StoreFileSchema = Type.Object({
  version: Type.Literal(1),
  zones: Type.Array(HostedZoneSchema),
  changes: Type.Array(ChangeRecordSchema),
});
export type StoreFile = Type.Static<typeof StoreFileSchema>;

export type ChangeStatus = 'PENDING' | 'INSYNC';

export interface ChangeView {
  id: string;
  status: ChangeStatus;
  submittedAt: number;
  comment?: string;
}

export interface Change {
  action: ChangeAction;
  recordSet: RecordSet;
}

export interface ChangeBatch {
  comment?: string;
  changes: Change[];
}

/** The routing policy a record set belongs to; one name + type holds one kind only. */
export type RoutingKind = 'simple' | 'weighted' | 'latency' | 'failover' | 'multivalue';

export function routingKind(record: RecordSet): RoutingKind {
  if (record.weight !== undefined) return 'weighted';
  if (record.region !== undefined) return 'latency';
  if (record.failover !== undefined) return 'failover';
  if (record.multiValueAnswer !== undefined) return 'multivalue';
  return 'simple';
}
