import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Route53Router } from '../../src/traffic/route53-router.js';
import { awsCli, findAwsCli } from '../helpers/aws-cli.js';
import { pgshiftClient, startStandIn, testAccount } from '../traffic/route53-helpers.js';

/** Debian's CLI v2 at /usr/bin/aws when CI installed it, else whatever `aws` is on PATH (v1 or v2). */
t.test('the AWS CLI reads and changes the stand-in\'s records, and sees what pgshift set', async (t) => {
  const aws = findAwsCli();
  if (!aws) {
    t.fail('no AWS CLI found (neither /usr/bin/aws nor aws on PATH): install it, e.g. `apt-get install awscli` as .ci/run does');
    return;
  }
  const { standIn, dir } = await startStandIn(t, { insyncDelayMs: 0 });
  const zoneName = 'cli.test';

  const cli = awsCli(aws, standIn.url);
  const { run, json } = cli;
  const version = await cli.version();
  t.match(version, /^aws-cli\/[12]\./, `using ${aws}: ${version}`);

  const created = await json(['route53', 'create-hosted-zone', '--name', zoneName, '--caller-reference', `cli-${process.pid}-${Date.now()}`]);
  const zoneId: string = created.HostedZone.Id;
  t.match(zoneId, /^\/hostedzone\/Z/, 'the CLI created a hosted zone');
  t.equal((await json(['route53', 'get-hosted-zone', '--id', zoneId])).HostedZone.Name, `${zoneName}.`);
  const byName = await json(['route53', 'list-hosted-zones-by-name', '--dns-name', zoneName]);
  t.equal(byName.HostedZones[0].Id, zoneId);

  const client = pgshiftClient(t, standIn.url);
  const reader = `reader.demo.${zoneName}`;
  const router = new Route53Router({
    account: testAccount(t, client),
    hostedZoneId: zoneId,
    records: { reader: { name: reader, ttl: 5 }, writer: { name: `writer.demo.${zoneName}`, ttl: 5 } },
  });
  const targets = {
    reader: { blue: 'demo-blue.cluster-ro.example.org', green: 'demo-green.cluster-ro.example.org' },
    writer: { blue: 'demo-blue.cluster.example.org', green: 'demo-green.cluster.example.org' },
  };
  await router.ensureRecords(targets);
  await router.setWeights({ reader: { blue: 75, green: 25 } }, { comment: 'pgshift reads-25' });

  // Pages of one record: the CLI follows NextRecordName/Type/Identifier by itself.
  const listed = await json(['route53', 'list-resource-record-sets', '--hosted-zone-id', zoneId, '--page-size', '1']);
  const weights = (records: any[], name: string) =>
    Object.fromEntries(records.filter((r) => r.Name === `${name}.`).map((r) => [r.SetIdentifier, [r.Weight, r.TTL, r.ResourceRecords[0].Value]]));
  t.same(weights(listed.ResourceRecordSets, reader), {
    blue: [75, 5, targets.reader.blue],
    green: [25, 5, targets.reader.green],
  }, 'the CLI reads back what pgshift set');
  t.equal(listed.ResourceRecordSets.length, 6, 'SOA, NS and four CNAMEs, across pages');
  t.ok(standIn.requests('ListResourceRecordSets').some((e) => /identifier=green/.test(e.query) && /maxitems=1/.test(e.query)), 'paged inside the weighted group');

  const batch = join(dir, 'batch.json');
  const upsert = (side: 'blue' | 'green', weight: number) => ({
    Action: 'UPSERT',
    ResourceRecordSet: { Name: reader, Type: 'CNAME', SetIdentifier: side, Weight: weight, TTL: 5, ResourceRecords: [{ Value: targets.reader[side] }] },
  });
  await writeFile(batch, JSON.stringify({ Comment: 'operator via the CLI', Changes: [upsert('blue', 40), upsert('green', 60)] }));
  const changed = await json(['route53', 'change-resource-record-sets', '--hosted-zone-id', zoneId, '--change-batch', `file://${batch}`]);
  t.match(changed.ChangeInfo, { Id: /^\/change\/C/, Comment: 'operator via the CLI' });
  const cliPost = standIn.requests('ChangeResourceRecordSets').at(-1);
  t.match(cliPost, { path: /\/rrset\/$/, status: 200, comment: 'operator via the CLI' }, 'the CLI\'s trailing-slash form was accepted');
  const waited = await run(['route53', 'wait', 'resource-record-sets-changed', '--id', changed.ChangeInfo.Id]);
  t.equal(waited.code, 0, 'the CLI waiter sees INSYNC');
  t.equal((await json(['route53', 'get-change', '--id', changed.ChangeInfo.Id])).ChangeInfo.Status, 'INSYNC');

  const observed = await router.observe();
  t.same(observed.reader, { blue: 40, green: 60 }, 'pgshift reads what the CLI set');
  t.same(observed.names.reader.problems, []);

  await writeFile(batch, JSON.stringify({ Changes: [{ ...upsert('blue', 1), Action: 'CREATE' }] }));
  const refused = await run(['route53', 'change-resource-record-sets', '--hosted-zone-id', zoneId, '--change-batch', `file://${batch}`]);
  t.not(refused.code, 0, 'a refused batch fails the CLI');
  t.match(refused.stderr, /InvalidChangeBatch.*already exists/s, 'with Route 53\'s code and message');
  const missing = await run(['route53', 'get-hosted-zone', '--id', 'ZNOSUCHZONE']);
  t.match(missing.stderr, /NoSuchHostedZone/);
  t.same((await router.observe()).reader, { blue: 40, green: 60 }, 'nothing changed');
});
