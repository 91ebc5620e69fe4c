import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { buildConnectTarget } from '../../src/clusters/dial.js';
import { withClient } from '../../src/postgres/connect.js';
import { awsCli, findAwsCli } from '../helpers/aws-cli.js';
import { startTestLab } from '../helpers/lab.js';
import { labApi, labServiceConfig, startLabService } from '../helpers/lab-service.js';
import { blueTables, catalogOf, requestPrepare, rowCounts, settledIntent } from '../helpers/prepare.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `prepare` on a lab whose green starts empty, through the service's API: refused by a
 * preflight blocker without touching green, and creating green through RDS first when
 * the config asks.
 */

/** An extension only blue's server offers (files put into its extension folder); named for this file, so other tests' fixtures do not clash. */
const EXTENSION = 'prepare_blocker_ext';

t.test('prepare on an empty green', async (t) => {
  const lab = await startTestLab(t, { green: 'empty' });

  await t.test('a blue with a preflight blocker is refused: the intent is rejected with the finding and green is left as it was', async (t) => {
    const folder = join(lab.servers.blue.binaries.binDir, '..', 'share', 'postgresql', 'extension');
    const files = [join(folder, `${EXTENSION}.control`), join(folder, `${EXTENSION}--1.3.sql`)];
    await writeFile(files[0]!, `comment = 'pgshift prepare test fixture'\ndefault_version = '1.3'\nrelocatable = true\n`, { mode: 0o644 });
    await writeFile(files[1]!, `CREATE FUNCTION ${EXTENSION}_version() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT '1.3'::text $$;\n`, { mode: 0o644 });
    t.teardown(() => Promise.all(files.map((f) => rm(f, { force: true }))));
    await withClient(lab.target('blue', 'admin', 'demo'), (c) => c.query(`CREATE EXTENSION ${EXTENSION}`));

    const greenBefore = await catalogOf(lab, 'green');
    const blueBefore = await catalogOf(lab, 'blue');
    const service = await startLabService(t, lab, await labServiceConfig(t), 'refused', { prepare: false });
    const api = labApi(service.url, lab);
    const intent = await requestPrepare(api);
    const refused = await settledIntent(api, intent);
    t.equal(refused.status, 'rejected', JSON.stringify(refused.result));
    t.match(JSON.stringify(refused.result), new RegExp(`Extension incompatible: ${EXTENSION} v1\\.3 not compatible with Postgres v${lab.servers.green.major}`));
    t.match(refused.result, { details: { code: 'PGSHIFT_ERR_PREFLIGHT_BLOCKED', blockers: [{ message: /Extension incompatible/ }] } });

    const view = (await api.get('/api/v1/pairs/demo')).body;
    t.equal(view.stage, 'unprepared', 'still unprepared');
    t.equal(view.transition, null);
    t.equal(view.preparation, null);
    t.match(view.lastTransition, { kind: 'prepare', outcome: 'rolled-back', abandoned: { intentId: null, reason: /Extension incompatible/ } });
    t.same(await catalogOf(lab, 'green'), greenBefore, 'green has the same databases, roles and subscriptions as before');
    t.same(greenBefore.databases, ['postgres']);
    t.same(await catalogOf(lab, 'blue'), blueBefore, 'blue has no slot or publication of pgshift');
    const events = (await api.get('/api/v1/pairs/demo/events?limit=20')).body.events as any[];
    t.match(events.find((e) => e.action === 'prepare-refused'), { outcome: 'rejected', reason: /Extension incompatible/ });

    await service.close();
    await withClient(lab.target('blue', 'admin', 'demo'), (c) => c.query(`DROP EXTENSION ${EXTENSION}`));
  });

  await t.test('with create, prepare makes green through RDS, tagged, and copies the demo data to it', async (t) => {
    const cli = findAwsCli();
    if (!cli) {
      t.fail('no AWS CLI found: install it (apt-get install -y awscli) or put `aws` on PATH');
      return;
    }
    const aws = awsCli(cli, lab.rds!.url);
    const clusterId = 'made-green';
    const engineVersion = (await lab.versions()).green.split(/[^0-9.]/)[0]!;
    t.match(engineVersion, /^14\.\d+$/);
    const absent = await aws.run(['rds', 'describe-db-clusters', '--db-cluster-identifier', clusterId]);
    t.match(absent.stderr, /DBClusterNotFoundFault/, 'green does not exist yet');

    const config = await labServiceConfig(t, {
      id: 'made',
      green: {
        rdsClusterId: clusterId,
        subscriptionHost: '127.0.0.1',
        // RDS's default group has logical replication off, and preflight refuses that for green's way back.
        create: { engineVersion, dbClusterParameterGroup: 'made-green-logical', instanceClass: 'db.r6g.large', tags: { team: 'orders', env: 'lab' } },
      },
      dns: { reader: { name: 'reader.made.lab.pgshift.internal' }, writer: { name: 'writer.made.lab.pgshift.internal' } },
    });
    const service = await startLabService(t, lab, config, 'creator', { prepare: false });
    const api = labApi(service.url, lab);
    t.equal((await api.get('/api/v1/pairs/made')).body.stage, 'unprepared');
    const intent = await requestPrepare(api, 'made');
    const done = await settledIntent(api, intent, 'made', 180_000);
    t.equal(done.status, 'done', JSON.stringify(done.result));
    const view = (await api.get('/api/v1/pairs/made')).body;
    t.equal(view.stage, 'baseline');
    t.match(view.lastTransition, { kind: 'prepare', outcome: 'finished' });
    t.equal(view.lastTransition.stepNames[0], 'create-green', 'creating green was the first step');

    const cluster = (await aws.json(['rds', 'describe-db-clusters', '--db-cluster-identifier', clusterId])).DBClusters[0];
    t.match(cluster, { DBClusterIdentifier: clusterId, Status: 'available', Engine: 'aurora-postgresql', EngineVersion: engineVersion });
    t.same(
      Object.fromEntries(cluster.TagList.map((tag: { Key: string; Value: string }) => [tag.Key, tag.Value])),
      { 'pgshift:pair': 'made', 'pgshift:role': 'green', team: 'orders', env: 'lab' },
      'the AWS CLI sees its tags',
    );
    const instances = await aws.json(['rds', 'describe-db-instances', '--filters', `Name=db-cluster-id,Values=${clusterId}`]);
    t.match(instances.DBInstances, [{ DBInstanceClass: 'db.r6g.large', DBInstanceStatus: 'available' }]);
    t.not(cluster.Port, lab.servers.green.port, "a server of its own, not the lab's green");

    const tables = await blueTables(lab);
    const made = buildConnectTarget(
      { host: cluster.Endpoint, port: cluster.Port },
      { login: { user: 'postgres', password: lab.env().PGSHIFT_LAB_ADMIN_PASSWORD! }, database: 'demo', hostOverrides: { '*.lab.pgshift.internal': '127.0.0.1' } },
    );
    t.same(await rowCounts(lab, 'green', tables, made), await rowCounts(lab, 'blue', tables), 'every table of blue has as many rows on the new cluster');
    const id = await withClient(lab.target('blue', 'app'), async (c) =>
      String((await c.query('INSERT INTO orders (customer_id, total_cents) VALUES (1, $1) RETURNING id', [900000201])).rows[0].id),
    );
    const arrived = await waitFor(
      'the new row on the new cluster',
      () => withClient(made, async (c) => (await c.query('SELECT 1 FROM orders WHERE id = $1', [id])).rows[0]),
      20_000,
      100,
    );
    t.ok(arrived, 'a row inserted on blue arrives there');
    t.same((await catalogOf(lab, 'green')).databases, ['postgres'], "the lab's own green was left alone");
  });
});
