import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateDBClusterSnapshotCommand,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotsCommand,
  RDSClient,
  type DBClusterSnapshot,
} from '@aws-sdk/client-rds';
import { XMLParser } from 'fast-xml-parser';
import { labBanner } from '../../src/local/banner.js';
import { labEndpoint } from '../../src/local/lab-endpoints.js';
import type { Lab } from '../../src/local/lab.js';
import { startRdsStandIn } from '../../src/local/rds/server.js';
import { paginate } from '../../src/local/rds/pagination.js';
import { readFilters, readQueryParams, readTags } from '../../src/local/rds/query.js';
import { startTestLab, testLogger } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { readManifest } from '../clusters/helpers.js';
import { rdsError, standInRds } from '../helpers/rds.js';



async function post(url: string, body: string, search = ''): Promise<{ status: number; requestId: string | null; xml: Record<string, any> }> {
  const res = await fetch(`${url}/${search}`, {
    method: search === '' ? 'POST' : 'GET',
    ...(search === '' ? { body, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } } : {}),
  });
  return { status: res.status, requestId: res.headers.get('x-amzn-requestid'), xml: new XMLParser().parse(await res.text()) };
}

async function waitForSnapshot(rds: RDSClient, id: string, seen: DBClusterSnapshot[] = []): Promise<DBClusterSnapshot> {
  return waitFor(
    `snapshot ${id}`,
    async () => {
      const out = await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }));
      const snapshot = out.DBClusterSnapshots![0]!;
      seen.push(snapshot);
      return snapshot.Status === 'creating' ? undefined : snapshot;
    },
    60_000,
    20,
  );
}

t.test('pagination of Describe calls', async (t) => {
  const items = Array.from({ length: 45 }, (_, i) => `item-${String(i).padStart(2, '0')}`);
  const first = paginate(items, (s) => s, undefined, 20);
  t.equal(first.items.length, 20);
  t.ok(first.marker, 'a marker when more items follow');
  const second = paginate(items, (s) => s, first.marker, 20);
  t.same(second.items[0], 'item-20');
  const third = paginate(items, (s) => s, second.marker, 20);
  t.same(third.items, items.slice(40));
  t.equal(third.marker, undefined, 'no marker on the last page');
  t.same(paginate(items, (s) => s, undefined, undefined).items.length, 45, 'MaxRecords defaults to 100');
  for (const bad of [19, 101]) t.throws(() => paginate(items, (s) => s, undefined, bad), { code: 'InvalidParameterValue' });
  t.throws(() => paginate(items, (s) => s, 'not-a-marker', 20), { code: 'InvalidParameterValue' });
});

t.test('Query parameters: flattened lists, body over query string', async (t) => {
  const params = readQueryParams(
    'Action=DescribeDBClusters&Filters.Filter.1.Name=engine&Filters.Filter.1.Values.Value.1=aurora-postgresql&Filters.Filter.1.Values.Value.2=postgres' +
      '&Filters.Filter.2.Name=db-cluster-id&Filters.Filter.2.Values.Value.1=demo-blue&Filters.Filter.4.Name=ignored&Filters.Filter.4.Values.Value.1=x' +
      '&Tags.Tag.1.Key=a&Tags.Tag.1.Value=1&Tags.Tag.2.Key=b',
    '?Action=Overridden&Version=2014-10-31',
  );
  t.equal(params.get('Action'), 'DescribeDBClusters', 'the body wins');
  t.equal(params.get('Version'), '2014-10-31', 'the query string fills in');
  t.same(readFilters(params), [
    { name: 'engine', values: ['aurora-postgresql', 'postgres'] },
    { name: 'db-cluster-id', values: ['demo-blue'] },
  ], 'a gap in the indexes ends the list');
  t.same(readTags(params), [{ key: 'a', value: '1' }, { key: 'b', value: '' }]);
  t.throws(() => readFilters(readQueryParams('Filters.Filter.1.Name=engine', '')), { code: 'InvalidParameterValue' }, 'a filter needs values');
});

t.test('the RDS stand-in over the lab', async (t) => {
  const lab: Lab = await startTestLab(t);
  const url = lab.rds!.url;
  const rds = standInRds(url);
  t.teardown(() => rds.destroy());
  const versions = await lab.versions();

  t.test('is announced to config and on the banner', async (t) => {
    t.equal(lab.env().PGSHIFT_LAB_RDS_ENDPOINT, url);
    const banner = await labBanner(lab, 'http://127.0.0.1:1');
    t.match(banner, url);
  });

  t.test('describes both lab clusters from the running servers', async (t) => {
    const out = await rds.send(new DescribeDBClustersCommand({}));
    const clusters = out.DBClusters ?? [];
    t.same(
      clusters.map((c) => c.DBClusterIdentifier),
      ['demo-blue', 'demo-green'],
    );
    for (const side of ['blue', 'green'] as const) {
      const c = clusters.find((x) => x.DBClusterIdentifier === `demo-${side}`)!;
      t.equal(c.Engine, 'aurora-postgresql');
      t.equal(c.EngineVersion, versions[side], `${side} version comes from the server`);
      t.equal(c.Status, 'available');
      t.equal(c.Port, lab.servers[side].port, `${side} port is the server's`);
      t.equal(c.Endpoint, labEndpoint(`demo-${side}`, 'writer'));
      t.equal(c.ReaderEndpoint, labEndpoint(`demo-${side}`, 'reader'));
      t.same(
        c.DBClusterMembers?.map((m) => m.IsClusterWriter),
        [true],
        'one member, the writer',
      );
      t.equal(c.DBClusterArn, `arn:aws:rds:us-east-1:000000000000:cluster:demo-${side}`);
      t.ok(c.EarliestRestorableTime! <= c.LatestRestorableTime!, 'a PITR window');
    }
    t.match(versions.blue, /^13\./);
    t.match(versions.green, /^14\./);
    t.notOk(out.Marker, 'one page');
  });

  t.test('finds a cluster by identifier, ARN or filter, case-insensitively', async (t) => {
    const byId = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'DEMO-Green' }));
    t.same(byId.DBClusters?.map((c) => c.DBClusterIdentifier), ['demo-green']);
    const byArn = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'arn:aws:rds:us-east-1:000000000000:cluster:demo-blue' }));
    t.same(byArn.DBClusters?.map((c) => c.DBClusterIdentifier), ['demo-blue']);
    const filtered = await rds.send(
      new DescribeDBClustersCommand({
        Filters: [
          { Name: 'engine', Values: ['aurora-postgresql'] },
          { Name: 'db-cluster-id', Values: ['demo-blue', 'nothing-here'] },
        ],
        MaxRecords: 20,
      }),
    );
    t.same(filtered.DBClusters?.map((c) => c.DBClusterIdentifier), ['demo-blue']);
    const otherEngine = await rds.send(new DescribeDBClustersCommand({ Filters: [{ Name: 'engine', Values: ['aurora-mysql'] }] }));
    t.same(otherEngine.DBClusters, [], 'no cluster of another engine');
  });

  t.test('rejects what RDS rejects, in its error shape', async (t) => {
    const missing = await rdsError(rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'demo-missing' })));
    t.equal(missing.name, 'DBClusterNotFoundFault');
    t.equal(missing.status, 404);
    t.match(missing.message, 'DBCluster demo-missing not found.');
    t.ok(missing.requestId, 'the request id reaches the SDK');

    const bad = await rdsError(rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'bad_identifier' })));
    t.equal(bad.name, 'InvalidParameterValue');
    t.equal(bad.status, 400);
    const filter = await rdsError(rds.send(new DescribeDBClustersCommand({ Filters: [{ Name: 'colour', Values: ['blue'] }] })));
    t.match(filter, { name: 'InvalidParameterValue', message: /Unrecognized filter name: colour/ });
    const records = await rdsError(rds.send(new DescribeDBClustersCommand({ MaxRecords: 5 })));
    t.match(records, { name: 'InvalidParameterValue', message: /MaxRecords/ });

    const raw = await post(url, 'Action=DescribeDBClusters&Version=2014-10-31&DBClusterIdentifier=demo-nope');
    t.equal(raw.status, 404);
    t.match(raw.xml, { ErrorResponse: { Error: { Type: 'Sender', Code: 'DBClusterNotFoundFault', Message: 'DBCluster demo-nope not found.' } } });
    t.equal(raw.xml.ErrorResponse.RequestId, raw.requestId, 'x-amzn-RequestId matches the body');

    const unknown = await post(url, 'Action=ModifyDBCluster&Version=2014-10-31&DBClusterIdentifier=demo-blue');
    t.match(unknown, { status: 400, xml: { ErrorResponse: { Error: { Code: 'InvalidAction' } } } });
    const labCluster = await post(url, 'Action=DeleteDBCluster&Version=2014-10-31&DBClusterIdentifier=demo-blue&SkipFinalSnapshot=true');
    t.match(labCluster, { status: 400, xml: { ErrorResponse: { Error: { Code: 'InvalidDBClusterStateFault' } } } }, "the lab's own clusters are not deleted");
    const noVersion = await post(url, 'Action=DescribeDBClusters');
    t.match(noVersion, { status: 400, xml: { ErrorResponse: { Error: { Code: 'MissingParameter' } } } });
    const noAction = await post(url, 'Version=2014-10-31');
    t.match(noAction, { status: 400, xml: { ErrorResponse: { Error: { Code: 'MissingAction' } } } });
  });

  t.test('reads parameters from the query string too', async (t) => {
    const res = await post(url, '', '?Action=DescribeDBClusters&Version=2014-10-31&DBClusterIdentifier=demo-blue');
    t.equal(res.status, 200);
    t.ok(res.requestId);
    const result = res.xml.DescribeDBClustersResponse;
    t.equal(result.DescribeDBClustersResult.DBClusters.DBCluster.DBClusterIdentifier, 'demo-blue');
    t.equal(result.ResponseMetadata.RequestId, res.requestId);
  });

  t.test('a cluster snapshot is a real pg_dump: creating, then available', async (t) => {
    const created = await rds.send(
      new CreateDBClusterSnapshotCommand({
        DBClusterIdentifier: 'demo-blue',
        DBClusterSnapshotIdentifier: 'Before-Cutover',
        Tags: [{ Key: 'created-by', Value: 'test' }],
      }),
    );
    const snap = created.DBClusterSnapshot!;
    t.equal(snap.DBClusterSnapshotIdentifier, 'before-cutover', 'stored lowercase');
    t.equal(snap.Status, 'creating');
    t.equal(snap.PercentProgress, 0);
    t.equal(snap.EngineVersion, versions.blue);
    t.equal(snap.DBClusterSnapshotArn, 'arn:aws:rds:us-east-1:000000000000:cluster-snapshot:before-cutover');

    const seen: DBClusterSnapshot[] = [];
    const done = await waitForSnapshot(rds, 'before-cutover', seen);
    t.equal(done.Status, 'available');
    t.equal(done.PercentProgress, 100);
    const progress = seen.map((s) => s.PercentProgress ?? 0);
    t.same(progress, [...progress].sort((a, b) => a - b), 'PercentProgress only rises');
    t.same(done.TagList, [{ Key: 'created-by', Value: 'test' }]);

    const folder = join(lab.dir, 'rds', 'snapshots', 'before-cutover');
    const manifest = await readManifest(folder);
    t.same(
      manifest.databases.map((d) => d.name),
      ['demo', 'postgres'],
      'every database of the cluster',
    );
    for (const db of manifest.databases) t.ok(existsSync(join(folder, db.file)), `${db.file} written`);
    t.ok(existsSync(join(folder, 'globals.sql')), 'roles dumped');

    const again = await rdsError(
      rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'demo-green', DBClusterSnapshotIdentifier: 'before-cutover' })),
    );
    t.match(again, { name: 'DBClusterSnapshotAlreadyExistsFault', status: 400 });
    const badId = await rdsError(
      rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'demo-blue', DBClusterSnapshotIdentifier: 'ends-with-' })),
    );
    t.match(badId, { name: 'InvalidParameterValue', message: /not a valid identifier/ });
    const noCluster = await rdsError(
      rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'demo-missing', DBClusterSnapshotIdentifier: 'orphan' })),
    );
    t.match(noCluster, { name: 'DBClusterNotFoundFault', status: 404 });
    const unknown = await rdsError(rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: 'never-made' })));
    t.match(unknown, { name: 'DBClusterSnapshotNotFoundFault', status: 404 });
    const both = await rdsError(
      rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: 'before-cutover', DBClusterIdentifier: 'demo-blue' })),
    );
    t.match(both, { name: 'InvalidParameterCombination', status: 400 });

    const ofBlue = await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: 'demo-blue' }));
    t.same(ofBlue.DBClusterSnapshots?.map((s) => s.DBClusterSnapshotIdentifier), ['before-cutover']);
    const ofGreen = await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: 'demo-green' }));
    t.same(ofGreen.DBClusterSnapshots, []);
    const automated = await rds.send(new DescribeDBClusterSnapshotsCommand({ SnapshotType: 'automated' }));
    t.same(automated.DBClusterSnapshots, [], 'the stand-in makes manual snapshots only');
  });

  t.test('snapshots survive a restart; one cut short shows failed', async (t) => {
    const cut = await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'demo-green', DBClusterSnapshotIdentifier: 'cut-short' }));
    t.equal(cut.DBClusterSnapshot?.Status, 'creating');
    await lab.rds!.close();
    lab.rds = await startRdsStandIn({ dir: join(lab.dir, 'rds'), source: labSource(lab), log: testLogger() });
    const client = standInRds(lab.rds.url);
    t.teardown(() => client.destroy());
    const all = await client.send(new DescribeDBClusterSnapshotsCommand({}));
    const byId = new Map(all.DBClusterSnapshots?.map((s) => [s.DBClusterSnapshotIdentifier, s]));
    t.equal(byId.get('before-cutover')?.Status, 'available', 'an available snapshot is still there');
    t.equal(byId.get('cut-short')?.Status, 'failed', 'an interrupted dump is failed, not creating forever');
  });

  t.test('follows the real server: a stopped server is a stopped cluster', async (t) => {
    const client = standInRds(lab.rds!.url);
    t.teardown(() => client.destroy());
    await lab.servers.green.stop();
    t.teardown(() => lab.servers.green.start());
    const out = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'demo-green' }));
    t.equal(out.DBClusters?.[0]?.Status, 'stopped');
    t.equal(out.DBClusters?.[0]?.EngineVersion, versions.green, 'the version seen before stays');
    const snap = await rdsError(
      client.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'demo-green', DBClusterSnapshotIdentifier: 'while-stopped' })),
    );
    t.match(snap, { name: 'InvalidDBClusterStateFault', status: 400 });
    await lab.servers.green.start();
    const back = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'demo-green' }));
    t.equal(back.DBClusters?.[0]?.Status, 'available');
  });

  t.test('switchable faults: throttling is retried by the SDK, exhausted retries fail', async (t) => {
    const stand = lab.rds!;
    stand.faults.inject({ action: 'DescribeDBClusters', times: 1 });
    const retrying = standInRds(stand.url, 3);
    t.teardown(() => retrying.destroy());
    const out = await retrying.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'demo-blue' }));
    t.equal(out.DBClusters?.[0]?.DBClusterIdentifier, 'demo-blue', 'succeeds after one throttled attempt');

    stand.faults.inject({ action: 'DescribeDBClusters', times: 1 });
    const once = standInRds(stand.url, 1);
    t.teardown(() => once.destroy());
    t.match(await rdsError(once.send(new DescribeDBClustersCommand({}))), { name: 'Throttling', status: 400 });
    stand.faults.inject({ action: 'CreateDBClusterSnapshot', code: 'InternalFailure', status: 500 });
    t.match(
      await rdsError(once.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'demo-blue', DBClusterSnapshotIdentifier: 'x-fault' }))),
      { status: 500 },
    );
    const after = await once.send(new DescribeDBClustersCommand({}));
    t.equal(after.DBClusters?.length, 2, 'faults are used up');
  });
});

/** The same view of the lab the lab gives its own stand-in, for a second stand-in in this test. */
function labSource(lab: Lab) {
  const view = (side: 'blue' | 'green') => ({
    id: `demo-${side}`,
    major: lab.servers[side].major,
    get port() {
      return lab.servers[side].port;
    },
    admin: lab.target(side, 'admin').login,
    running: () => lab.servers[side].isRunning(),
  });
  const views = [view('blue'), view('green')];
  return { clusters: () => views };
}
