import type { Endpoint } from '../postgres/connect.js';
import Type from 'typebox';
import type { Side } from '../shift/model.js';

/**
 * The clusters of a pair as pgshift sees them: what engine and version each side runs,
 * where its writer and reader answer, whether it is up, and the snapshots taken before
 * a side stops taking writes. Implementations: RdsClusters (Amazon RDS / Aurora) and
 * PgClusters (plain PostgreSQL from config); createClusterCatalog picks per side.
 */

export interface ClusterMember {
  /** DBInstanceIdentifier on RDS, `host:port` for plain PostgreSQL. */
  id: string;
  writer: boolean;
}

export interface PitrWindow {
  /** ISO 8601 UTC; null when the service does not say. */
  earliest: string | null;
  latest: string | null;
}

export interface ClusterInfo {
  side: Side;
  /** RDS cluster identifier, or `host:port` for plain PostgreSQL. */
  id: string;
  /** `aurora-postgresql`, `postgres` (RDS Multi-AZ cluster or plain PostgreSQL), or whatever RDS reports. */
  engine: string;
  /** Full server version, e.g. `13.12`; null when a plain server has not been reachable yet. */
  version: string | null;
  /** Major version (13 for 13.12); null with version. */
  major: number | null;
  /** RDS status (`available`, `stopped`, `modifying`, ...) or, for plain PostgreSQL, `available` / `in-recovery` / `unreachable`. */
  status: string;
  /** The writer endpoint takes connections and writes. */
  available: boolean;
  /** Why the cluster is not available, when known (e.g. the connection error of a plain server). */
  statusDetail?: string;
  writer: Endpoint;
  /** The reader endpoint; the writer's when the cluster has none of its own. */
  reader: Endpoint;
  members: ClusterMember[];
  /** The point-in-time-restore window; null when the platform has none (plain PostgreSQL). */
  pitr: PitrWindow | null;
}

/** Status a plain PostgreSQL server gets when pgshift cannot connect to it. */
export const UNREACHABLE_STATUS = 'unreachable';

export const SNAPSHOT_STATUSES = ['creating', 'available', 'failed'] as const;
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];

export interface SnapshotInfo {
  id: string;
  side: Side;
  clusterId: string;
  status: SnapshotStatus;
  /** 0-100. */
  progress: number;
  /** ISO 8601 UTC. */
  createdAt: string;
  engineVersion?: string;
  /** The snapshot ARN on RDS, the folder holding the dump files for plain PostgreSQL. */
  location?: string;
  /** Why the snapshot failed. */
  error?: string;
}

export interface SnapshotOptions {
  /**
   * The snapshot identifier. Give one (and journal it first) to make the call safe to
   * repeat: a snapshot of this cluster with this id that already exists is waited for,
   * not created again. Default: a new id from the cluster id and the current time.
   */
  id?: string;
  /** Called with every observed state, the first one right after creation. */
  onProgress?: (snapshot: SnapshotInfo) => void;
  /** How long to wait for `available`; default SNAPSHOT_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Stops waiting (RDS keeps creating the snapshot; a pg_dump is ended and marked failed). */
  signal?: AbortSignal;
}

export interface ClusterCatalog {
  /**
   * Reads the cluster of one side as it is now. Read-only, safe to repeat. A plain
   * server that cannot be reached is described (status `unreachable`), not thrown.
   * Throws PgshiftError: PGSHIFT_ERR_CLUSTER_NOT_FOUND (404) when RDS has no such
   * cluster, PGSHIFT_ERR_RDS* when RDS cannot be asked.
   */
  describe(side: Side): Promise<ClusterInfo>;

  /**
   * Takes a snapshot of one side and waits until it is available. Idempotent for a
   * given `options.id` (an existing snapshot of this cluster with that id is adopted).
   * Throws PgshiftError: PGSHIFT_ERR_CLUSTER_NOT_FOUND, PGSHIFT_ERR_CLUSTER_UNAVAILABLE
   * (the cluster cannot be snapshotted now), PGSHIFT_ERR_SNAPSHOT_EXISTS (the id belongs
   * to another cluster), PGSHIFT_ERR_SNAPSHOT_FAILED, PGSHIFT_ERR_SNAPSHOT_TIMEOUT,
   * PGSHIFT_ERR_SNAPSHOT_ABORTED.
   */
  snapshot(side: Side, options?: SnapshotOptions): Promise<SnapshotInfo>;

  /**
   * The newest snapshot of one side's cluster in any status (so a snapshot being
   * created shows), or null when there is none. Read-only. Throws like `describe`.
   */
  lastSnapshot(side: Side): Promise<SnapshotInfo | null>;

  /**
   * What RDS alone knows of one side (instance classes, Serverless v2 range, its DB
   * cluster parameter group): absent on catalogs without RDS, and answered only for the
   * sides `rdsSides` names. Read-only; throws as describe does.
   */
  rdsFacts?(side: Side): Promise<RdsClusterFacts>;
  /** The sides RDS describes; absent: none. */
  readonly rdsSides?: readonly Side[];
}

/** `13.12` -> 13, `14.9 (Debian ...)` -> 14, `9.6.24` -> 9; null when it is no version. */
export function parseMajor(version: string): number | null {
  const match = /^(\d+)(?:\.\d+)?/.exec(version.trim());
  return match ? Number(match[1]) : null;
}

/**
 * What only RDS knows of a cluster, for preflight: the capacity of its instances (their
 * classes, the Serverless v2 ACU range), its DB cluster parameter group with every
 * parameter's value, and whether a change of that group waits for a reboot. Crosses the
 * boundary from AWS, so it is a schema.
 */
export const RdsParameterSchema = Type.Object({
  /** Null: the group lists the parameter without a value (PostgreSQL's own default). */
  value: Type.Union([Type.String(), Type.Null()]),
  /** `static` (a reboot applies a change) or `dynamic`. */
  applyType: Type.Union([Type.String(), Type.Null()]),
  /** `user` when the group sets it, `engine-default` or `system` otherwise. */
  source: Type.Union([Type.String(), Type.Null()]),
});
export type RdsParameter = Type.Static<typeof RdsParameterSchema>;

export const RdsInstanceFactsSchema = Type.Object({
  id: Type.String(),
  instanceClass: Type.String(),
  writer: Type.Boolean(),
  /** The member's DBClusterParameterGroupStatus: `in-sync`, `pending-reboot`, `applying`. */
  parameterGroupStatus: Type.String(),
});

export const RdsClusterFactsSchema = Type.Object({
  clusterId: Type.String(),
  major: Type.Union([Type.Integer(), Type.Null()]),
  parameterGroup: Type.String(),
  /** ACUs; null for a cluster without ServerlessV2ScalingConfiguration. */
  serverless: Type.Union([Type.Object({ minCapacity: Type.Number(), maxCapacity: Type.Number() }), Type.Null()]),
  instances: Type.Array(RdsInstanceFactsSchema),
  parameters: Type.Record(Type.String(), RdsParameterSchema),
});
export type RdsClusterFacts = Type.Static<typeof RdsClusterFactsSchema>;
