import { describeError, isPgshiftError } from '../errors.js';
import { type ClusterCatalog, type ClusterInfo, type SnapshotInfo } from './catalog.js';
import { SIDES, type Side } from '../shift/model.js';
import type { ClusterView, ClustersView, SnapshotView } from '../shift/view-schemas.js';

/** A side is either described or the error describing it raised. */
export type DescribedSide = ClusterInfo | { error: unknown };

export interface ClustersViewInput {
  blue: DescribedSide;
  green: DescribedSide;
  /** The newest snapshot of each side, when known. */
  snapshots: Partial<Record<Side, SnapshotInfo | null>>;
}

export function buildClustersView(input: ClustersViewInput): ClustersView {
  const snapshots = SIDES.map((side) => input.snapshots[side]).filter((s): s is SnapshotInfo => s !== null && s !== undefined);
  const lastSnapshot = snapshots.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0] ?? null;
  const pitrSide: Side = lastSnapshot?.side ?? 'blue';
  const pitrSource = input[pitrSide];
  const window = 'error' in pitrSource ? null : pitrSource.pitr;
  return {
    blue: summarise(input.blue),
    green: summarise(input.green),
    lastSnapshot: lastSnapshot ? toSnapshotView(lastSnapshot) : null,
    pitr: window ? { side: pitrSide, earliest: window.earliest, latest: window.latest } : null,
  };
}

/**
 * Reads everything the view needs from the catalog. Never throws: a side that cannot
 * be described shows status `error` with the coded error, and snapshots that cannot
 * be listed are left out.
 */
export async function readClustersView(catalog: ClusterCatalog): Promise<ClustersView> {
  const describe = (side: Side): Promise<DescribedSide> => catalog.describe(side).catch((error: unknown) => ({ error }));
  const last = (side: Side) => catalog.lastSnapshot(side).catch(() => null);
  const [blue, green, blueSnapshot, greenSnapshot] = await Promise.all([describe('blue'), describe('green'), last('blue'), last('green')]);
  return buildClustersView({ blue, green, snapshots: { blue: blueSnapshot, green: greenSnapshot } });
}

function summarise(side: DescribedSide): ClusterView {
  if ('error' in side) {
    return {
      id: null,
      engine: null,
      version: null,
      major: null,
      writer: null,
      reader: null,
      status: 'error',
      available: false,
      error: {
        code: isPgshiftError(side.error) ? side.error.code : 'PGSHIFT_ERR_CLUSTER_DESCRIBE',
        message: describeError(side.error),
      },
    };
  }
  return {
    id: side.id,
    engine: side.engine,
    version: side.version,
    major: side.major,
    writer: { host: side.writer.host, port: side.writer.port },
    reader: { host: side.reader.host, port: side.reader.port },
    status: side.status,
    available: side.available,
    ...(side.statusDetail === undefined ? {} : { statusDetail: side.statusDetail }),
  };
}

function toSnapshotView(snapshot: SnapshotInfo): SnapshotView {
  return {
    id: snapshot.id,
    side: snapshot.side,
    clusterId: snapshot.clusterId,
    status: snapshot.status,
    progress: snapshot.progress,
    createdAt: snapshot.createdAt,
    ...(snapshot.engineVersion === undefined ? {} : { engineVersion: snapshot.engineVersion }),
    ...(snapshot.location === undefined ? {} : { location: snapshot.location }),
    ...(snapshot.error === undefined ? {} : { error: snapshot.error }),
  };
}
