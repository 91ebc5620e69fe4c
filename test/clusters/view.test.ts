import t from 'tap';
import Value from 'typebox/value';
import type { ClusterInfo, SnapshotInfo } from '../../src/clusters/catalog.js';
import { createSnapshotId, isValidSnapshotId } from '../../src/clusters/snapshot-id.js';
import { buildClustersView } from '../../src/clusters/view.js';
import { ClustersViewSchema } from '../../src/shift/view-schemas.js';
import { PgshiftError } from '../../src/errors.js';

function cluster(side: 'blue' | 'green', overrides: Partial<ClusterInfo> = {}): ClusterInfo {
  const writer = { host: `demo-${side}.cluster-x.rds.example.com`, port: 5432 };
  return {
    side,
    id: `demo-${side}`,
    engine: 'aurora-postgresql',
    version: side === 'blue' ? '13.12' : '14.9',
    major: side === 'blue' ? 13 : 14,
    status: 'available',
    available: true,
    writer,
    reader: { host: `demo-${side}.cluster-ro-x.rds.example.com`, port: 5432 },
    members: [{ id: `demo-${side}-1`, writer: true }],
    pitr: { earliest: `2024-05-0${side === 'blue' ? 1 : 2}T00:00:00.000Z`, latest: '2024-05-03T00:00:00.000Z' },
    ...overrides,
  };
}

function snapshot(side: 'blue' | 'green', createdAt: string): SnapshotInfo {
  return { id: `snap-${side}`, side, clusterId: `demo-${side}`, status: 'available', progress: 100, createdAt };
}

t.test('the clusters view', async (t) => {
  const plain = buildClustersView({ blue: cluster('blue'), green: cluster('green'), snapshots: { blue: null, green: null } });
  t.ok(Value.Check(ClustersViewSchema, plain));
  t.same(plain.lastSnapshot, null);
  t.same(plain.pitr, { side: 'blue', earliest: '2024-05-01T00:00:00.000Z', latest: '2024-05-03T00:00:00.000Z' }, "blue's window without a snapshot");
  t.same(plain.blue.writer, { host: 'demo-blue.cluster-x.rds.example.com', port: 5432 });
  t.notOk('members' in plain.blue, 'only what the API shows');

  const newest = buildClustersView({
    blue: cluster('blue'),
    green: cluster('green'),
    snapshots: { blue: snapshot('blue', '2024-05-02T10:00:00.000Z'), green: snapshot('green', '2024-05-02T11:00:00.000Z') },
  });
  t.equal(newest.lastSnapshot?.id, 'snap-green', 'the newest snapshot of either side');
  t.equal(newest.pitr?.side, 'green', "and the window of that snapshot's side");
  t.equal(newest.pitr?.earliest, '2024-05-02T00:00:00.000Z');

  const broken = buildClustersView({
    blue: { error: new PgshiftError('PGSHIFT_ERR_CLUSTER_NOT_FOUND', 'blue cluster demo-blue not found in RDS', { status: 404 }) },
    green: cluster('green', { pitr: null, status: 'unreachable', available: false, statusDetail: 'connection refused' }),
    snapshots: {},
  });
  t.ok(Value.Check(ClustersViewSchema, broken), 'errors fit the schema');
  t.match(broken.blue, { status: 'error', available: false, id: null, error: { code: 'PGSHIFT_ERR_CLUSTER_NOT_FOUND', message: /not found/ } });
  t.match(broken.green, { status: 'unreachable', statusDetail: 'connection refused' });
  t.equal(broken.pitr, null, 'no window when blue cannot be described');
});

t.test('snapshot identifiers follow the RDS rule', async (t) => {
  for (const good of ['a', 'pre-cutover-1', 'A1-b2', 'x'.repeat(63)]) t.ok(isValidSnapshotId(good), good);
  for (const bad of ['', '1abc', 'ends-', 'double--hyphen', 'under_score', 'x'.repeat(64), 'sp ace']) t.notOk(isValidSnapshotId(bad), bad);
  const now = Date.UTC(2024, 4, 1, 12, 3, 10);
  t.equal(createSnapshotId('demo-blue', now), 'pgshift-demo-blue-20240501-120310');
  const long = createSnapshotId(`${'very-long-cluster-name-'.repeat(4)}x`, now);
  t.ok(isValidSnapshotId(long) && long.length <= 63, `shortened to a valid id: ${long}`);
  t.ok(isValidSnapshotId(createSnapshotId('Pair_With--Odd..chars-', now)), 'odd characters are cleaned');
});
