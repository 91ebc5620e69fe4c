import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import {
  CreateDBClusterSnapshotCommand,
  DeleteDBClusterSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { XMLParser } from 'fast-xml-parser';
import { clientConfig } from '../../src/postgres/connect.js';
import { startTestLab } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { rdsError, standInRds } from '../helpers/rds.js';



async function statusOf(rds: RDSClient, id: string): Promise<string | undefined> {
  return (await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }))).DBClusterSnapshots?.[0]?.Status;
}

t.test('DeleteDBClusterSnapshot on the RDS stand-in', async (t) => {
  const lab = await startTestLab(t, { green: 'empty' });
  const url = lab.rds!.url;
  const rds = standInRds(url);
  t.teardown(() => rds.destroy());
  const folder = (id: string) => join(lab.dir, 'rds', 'snapshots', id);

  t.test('an available snapshot: answered as it was, then gone with its dump', async (t) => {
    await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'demo-blue', DBClusterSnapshotIdentifier: 'to-delete' }));
    await waitFor('the snapshot to be available', async () => (await statusOf(rds, 'to-delete')) === 'available', 60_000);
    t.ok(existsSync(folder('to-delete')), 'its dump is on disk');

    const out = await rds.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: 'To-Delete' }));
    // RDS's own example answers the deleted snapshot with its last state, available.
    t.match(out.DBClusterSnapshot, {
      DBClusterSnapshotIdentifier: 'to-delete',
      DBClusterIdentifier: 'demo-blue',
      Status: 'available',
      SnapshotType: 'manual',
      DBClusterSnapshotArn: 'arn:aws:rds:us-east-1:000000000000:cluster-snapshot:to-delete',
    });
    t.notOk(existsSync(folder('to-delete')), 'the dump folder is removed');
    t.match(await rdsError(rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: 'to-delete' }))), {
      name: 'DBClusterSnapshotNotFoundFault',
      status: 404,
    });
    const ofBlue = await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: 'demo-blue' }));
    t.notOk(ofBlue.DBClusterSnapshots?.some((s) => s.DBClusterSnapshotIdentifier === 'to-delete'), 'not listed by its cluster either');

    // The identifier is free again.
    await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'demo-green', DBClusterSnapshotIdentifier: 'to-delete' }));
    await waitFor('the new snapshot to be available', async () => (await statusOf(rds, 'to-delete')) === 'available', 60_000);
    await rds.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: 'arn:aws:rds:us-east-1:000000000000:cluster-snapshot:to-delete' }));
    t.notOk(existsSync(folder('to-delete')), 'deleted by its ARN too');
  });

  t.test('an unknown snapshot is DBClusterSnapshotNotFoundFault (404) in RDS\'s error shape', async (t) => {
    t.match(await rdsError(rds.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: 'never-made' }))), {
      name: 'DBClusterSnapshotNotFoundFault',
      status: 404,
      message: 'DBClusterSnapshot never-made not found.',
    });
    const res = await fetch(`${url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: 'Action=DeleteDBClusterSnapshot&Version=2014-10-31&DBClusterSnapshotIdentifier=never-made',
    });
    t.equal(res.status, 404);
    const xml = new XMLParser().parse(await res.text());
    t.match(xml, { ErrorResponse: { Error: { Type: 'Sender', Code: 'DBClusterSnapshotNotFoundFault' } } });
    t.equal(xml.ErrorResponse.RequestId, res.headers.get('x-amzn-requestid'));
    t.match(await rdsError(rds.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: 'bad_identifier' }))), { name: 'InvalidParameterValue', status: 400 });
  });

  t.test('a snapshot still creating is InvalidDBClusterSnapshotStateFault and stays; once available it can go', async (t) => {
    // pg_dump waits for a share lock on every table: an exclusive lock held open keeps the dump creating.
    const holder = new pg.Client(clientConfig(lab.target('blue', 'admin')));
    holder.on('error', () => {});
    await holder.connect();
    t.teardown(() => holder.end().catch(() => {}));
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');

    await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'demo-blue', DBClusterSnapshotIdentifier: 'held' }));
    await waitFor('the dump to wait for the lock', async () => {
      const { rows } = await holder.query<{ n: string }>(`SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND relation = 'orders'::regclass`);
      return Number(rows[0]!.n) > 0;
    });
    t.equal(await statusOf(rds, 'held'), 'creating');
    t.match(await rdsError(rds.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: 'held' }))), {
      name: 'InvalidDBClusterSnapshotStateFault',
      status: 400,
      message: /held cannot be deleted: it is creating/,
    });
    t.equal(await statusOf(rds, 'held'), 'creating', 'the dump goes on');
    t.ok(existsSync(folder('held')));

    await holder.query('COMMIT');
    await waitFor('the held snapshot to be available', async () => (await statusOf(rds, 'held')) === 'available', 60_000);
    t.match((await rds.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: 'held' }))).DBClusterSnapshot, { Status: 'available' });
    t.notOk(existsSync(folder('held')));
  });
});
