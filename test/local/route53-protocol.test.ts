import t from 'tap';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  type Change,
  type ResourceRecordSet,
  type RRType,
} from '@aws-sdk/client-route-53';
import { XMLParser } from 'fast-xml-parser';
import { Route53StandIn } from '../../src/local/route53/server.js';
import { testLogger } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { awsError, createZone, sdkClient, startStandIn } from '../traffic/route53-helpers.js';

const XMLNS = 'https://route53.amazonaws.com/doc/2013-04-01/';
const parse = (body: string) => new XMLParser({ ignoreAttributes: false, parseTagValue: false }).parse(body);

t.test('the stand-in speaks Route 53\'s REST-XML to the SDK and to raw clients', async (t) => {
  const { standIn, file, dir } = await startStandIn(t);
  const client = sdkClient(standIn.url);
  t.teardown(() => client.destroy());
  const send = (zoneId: string, changes: Change[]) => client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: changes } }));
  const create = (r: ResourceRecordSet): Change => ({ Action: 'CREATE', ResourceRecordSet: r });

  t.test('accepts the CLI\'s form (/rrset/, no content type, Comment before Changes) and answers in the real shapes', async (t) => {
    const zoneId = await createZone(client, 'wire.test');
    const cliBody = `<?xml version="1.0" encoding="UTF-8"?>
<ChangeResourceRecordSetsRequest xmlns="${XMLNS}"><ChangeBatch><Comment>from the cli &amp; friends</Comment><Changes><Change><Action>CREATE</Action>
<ResourceRecordSet><Name>db.wire.test</Name><Type>CNAME</Type><SetIdentifier>blue</SetIdentifier><Weight>90</Weight><TTL>60</TTL>
<ResourceRecords><ResourceRecord><Value>blue.example.org</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`;
    const res = await fetch(`${standIn.url}/2013-04-01/hostedzone/${zoneId}/rrset/`, { method: 'POST', body: cliBody });
    t.equal(res.status, 200);
    t.equal(res.headers.get('content-type'), 'text/xml');
    t.match(res.headers.get('x-amzn-requestid'), /^[0-9a-f-]{36}$/);
    const ok = parse(await res.text());
    t.equal(ok.ChangeResourceRecordSetsResponse['@_xmlns'], XMLNS);
    t.match(ok.ChangeResourceRecordSetsResponse.ChangeInfo, { Id: /^\/change\/C[A-Z0-9]{19}$/, Status: /PENDING|INSYNC/, Comment: 'from the cli & friends' });

    // SDK element order (Changes before Comment), a namespace prefix, any element order in a record.
    const sdkBody = `<?xml version="1.0"?><r:ChangeResourceRecordSetsRequest xmlns:r="${XMLNS}"><r:ChangeBatch><r:Changes><r:Change><r:ResourceRecordSet>
<r:TTL>60</r:TTL><r:Weight>10</r:Weight><r:ResourceRecords><r:ResourceRecord><r:Value>green.example.org</r:Value></r:ResourceRecord></r:ResourceRecords><r:Type>CNAME</r:Type><r:Name>db.wire.test.</r:Name><r:SetIdentifier>green</r:SetIdentifier>
</r:ResourceRecordSet><r:Action>CREATE</r:Action></r:Change></r:Changes><r:Comment>sdk order</r:Comment></r:ChangeBatch></r:ChangeResourceRecordSetsRequest>`;
    const sdkRes = await fetch(`${standIn.url}/2013-04-01/hostedzone/${zoneId}/rrset`, { method: 'POST', body: sdkBody, headers: { 'content-type': 'application/xml' } });
    t.equal(sdkRes.status, 200);
    const listed = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: 'db.wire.test' }));
    t.same(listed.ResourceRecordSets?.slice(0, 2).map((r) => [r.Name, r.SetIdentifier, r.Weight, r.TTL, r.ResourceRecords?.[0]?.Value]), [
      ['db.wire.test.', 'blue', 90, 60, 'blue.example.org'],
      ['db.wire.test.', 'green', 10, 60, 'green.example.org'],
    ]);

    const errRes = await fetch(`${standIn.url}/2013-04-01/hostedzone/${zoneId}/rrset/`, { method: 'POST', body: cliBody });
    t.equal(errRes.status, 400);
    const requestId = errRes.headers.get('x-amzn-requestid');
    const err = parse(await errRes.text()).ErrorResponse;
    t.equal(err['@_xmlns'], XMLNS);
    t.same(err.Error, { Type: 'Sender', Code: 'InvalidChangeBatch', Message: "[Tried to create resource record set [name='db.wire.test.', type='CNAME', set-identifier='blue'] but it already exists]" });
    t.equal(err.RequestId, requestId, 'the body carries the same request id as the header');

    const malformed = await fetch(`${standIn.url}/2013-04-01/hostedzone/${zoneId}/rrset`, { method: 'POST', body: '<ChangeResourceRecordSetsRequest><ChangeBatch>' });
    t.equal(malformed.status, 400);
    t.equal(parse(await malformed.text()).ErrorResponse.Error.Code, 'MalformedInput');
    const wrongRoot = await fetch(`${standIn.url}/2013-04-01/hostedzone/${zoneId}/rrset`, { method: 'POST', body: '<ChangeBatch/>' });
    t.match(parse(await wrongRoot.text()).ErrorResponse.Error, { Code: 'MalformedInput', Message: /expected the root element ChangeResourceRecordSetsRequest/ });
    const unknown = await fetch(`${standIn.url}/2013-04-01/healthcheck`);
    t.equal(unknown.status, 404);
    t.equal(parse(await unknown.text()).ErrorResponse.Error.Code, 'UnknownOperationException');
  });

  t.test('lists in reversed-label order, then type, then identifier, and pages by name, type and identifier', async (t) => {
    const zoneId = await createZone(client, 'order.test');
    const txt = (name: string): ResourceRecordSet => ({ Name: name, Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"x"' }] });
    await send(zoneId, [
      create(txt('b.order.test')),
      create(txt('a.b.order.test')),
      create(txt('z.a.order.test')),
      create({ Name: 'a.order.test', Type: 'MX', TTL: 60, ResourceRecords: [{ Value: '10 mail.example.org' }] }),
      create(txt('a.order.test')),
      create(txt('*.order.test')),
      create({ Name: 'w.order.test', Type: 'A', SetIdentifier: 'green', Weight: 1, TTL: 60, ResourceRecords: [{ Value: '192.0.2.2' }] }),
      create({ Name: 'w.order.test', Type: 'A', SetIdentifier: 'blue', Weight: 1, TTL: 60, ResourceRecords: [{ Value: '192.0.2.1' }] }),
      create({ Name: 'w.order.test', Type: 'A', SetIdentifier: 'amber', Weight: 1, TTL: 60, ResourceRecords: [{ Value: '192.0.2.3' }] }),
    ]);
    const expected = [
      'order.test. NS',
      'order.test. SOA',
      '\\052.order.test. TXT',
      'a.order.test. MX',
      'a.order.test. TXT',
      'z.a.order.test. TXT',
      'b.order.test. TXT',
      'a.b.order.test. TXT',
      'w.order.test. A amber',
      'w.order.test. A blue',
      'w.order.test. A green',
    ];
    const label = (r: ResourceRecordSet) => [r.Name, r.Type, r.SetIdentifier].filter(Boolean).join(' ');
    const all = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
    t.same(all.ResourceRecordSets?.map(label), expected);
    t.equal(all.IsTruncated, false);
    t.equal(all.MaxItems, 300, 'MaxItems echoes the default page size');

    const paged: string[] = [];
    let start: { StartRecordName?: string; StartRecordType?: RRType; StartRecordIdentifier?: string } = {};
    let pages = 0;
    for (;;) {
      const page = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, MaxItems: 2, ...start }));
      pages++;
      t.equal(page.MaxItems, 2);
      paged.push(...(page.ResourceRecordSets ?? []).map(label));
      if (!page.IsTruncated) break;
      start = {
        StartRecordName: page.NextRecordName!,
        StartRecordType: page.NextRecordType!,
        ...(page.NextRecordIdentifier ? { StartRecordIdentifier: page.NextRecordIdentifier } : {}),
      };
    }
    t.same(paged, expected, 'following Next* through pages of 2 gives the same listing');
    t.equal(pages, 6);

    const fromName = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: 'A.ORDER.TEST' }));
    t.equal(label(fromName.ResourceRecordSets![0]!), 'a.order.test. MX', 'name only: first record with name >= name');
    const fromType = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: 'a.order.test', StartRecordType: 'TXT' }));
    t.equal(label(fromType.ResourceRecordSets![0]!), 'a.order.test. TXT');
    const fromId = await client.send(
      new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: 'w.order.test', StartRecordType: 'A', StartRecordIdentifier: 'blue', MaxItems: 1 }),
    );
    t.same(fromId.ResourceRecordSets?.map(label), ['w.order.test. A blue']);
    t.match(fromId, { IsTruncated: true, NextRecordName: 'w.order.test.', NextRecordType: 'A', NextRecordIdentifier: 'green' });

    const typeOnly = await awsError(client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordType: 'A' })));
    t.match(typeOnly, { name: 'InvalidInput', status: 400 });
    const badMax = await fetch(`${standIn.url}/2013-04-01/hostedzone/${zoneId}/rrset?maxitems=lots`);
    t.equal(parse(await badMax.text()).ErrorResponse.Error.Code, 'InvalidInput');
  });

  t.test('changes are PENDING, then INSYNC after the configured delay', async (t) => {
    const zoneId = await createZone(client, 'pending.test');
    standIn.faults.set({ insyncDelayMs: 150 });
    t.teardown(() => standIn.faults.reset());
    const out = await send(zoneId, [create({ Name: 'x.pending.test', Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"x"' }] })]);
    t.equal(out.ChangeInfo?.Status, 'PENDING');
    t.ok(out.ChangeInfo?.SubmittedAt instanceof Date);
    const first = await client.send(new GetChangeCommand({ Id: out.ChangeInfo!.Id! }));
    t.equal(first.ChangeInfo?.Status, 'PENDING');
    const insync = await waitFor('INSYNC', async () => {
      const info = (await client.send(new GetChangeCommand({ Id: out.ChangeInfo!.Id! }))).ChangeInfo;
      return info?.Status === 'INSYNC' ? info : undefined;
    });
    t.same(insync.SubmittedAt, out.ChangeInfo?.SubmittedAt, 'SubmittedAt is kept');
  });

  t.test('hosted zones: create, get, list by name with pagination, list', async (t) => {
    const created = await client.send(new CreateHostedZoneCommand({ Name: 'Zones.Test', CallerReference: 'zones-1', HostedZoneConfig: { Comment: 'hello', PrivateZone: false } }));
    t.match(created.HostedZone, { Id: /^\/hostedzone\/Z[A-Z0-9]{19}$/, Name: 'zones.test.', CallerReference: 'zones-1', Config: { Comment: 'hello', PrivateZone: false }, ResourceRecordSetCount: 2 });
    t.match(created.Location, /\/2013-04-01\/hostedzone\/Z/);
    t.equal(created.DelegationSet?.NameServers?.length, 2);
    const got = await client.send(new GetHostedZoneCommand({ Id: created.HostedZone!.Id! }));
    t.same(got.HostedZone, created.HostedZone);
    const privateZone = await client.send(
      new CreateHostedZoneCommand({ Name: 'private.zones.test', CallerReference: 'zones-2', HostedZoneConfig: { PrivateZone: true }, VPC: { VPCRegion: 'us-east-1', VPCId: 'vpc-1' } }),
    );
    t.equal(privateZone.HostedZone?.Config?.PrivateZone, true);
    t.same((await client.send(new GetHostedZoneCommand({ Id: privateZone.HostedZone!.Id! }))).VPCs, [{ VPCRegion: 'us-east-1', VPCId: 'vpc-1' }]);

    const page1 = await client.send(new ListHostedZonesByNameCommand({ DNSName: 'zones.test', MaxItems: 1 }));
    t.same(page1.HostedZones?.map((z) => z.Name), ['zones.test.']);
    t.match(page1, { DNSName: 'zones.test', IsTruncated: true, NextDNSName: 'private.zones.test.', MaxItems: 1 });
    const page2 = await client.send(new ListHostedZonesByNameCommand({ DNSName: page1.NextDNSName!, HostedZoneId: page1.NextHostedZoneId!, MaxItems: 1 }));
    t.same(page2.HostedZones?.map((z) => z.Name), ['private.zones.test.']);
    const everything = await client.send(new ListHostedZonesCommand({}));
    t.ok(everything.HostedZones!.length >= 2);
  });

  t.test('faults and the request log are controllable over HTTP for other processes', async (t) => {
    const zoneId = await createZone(client, 'admin.test');
    const post = (body: unknown) => fetch(`${standIn.url}/_lab/faults`, { method: 'POST', body: JSON.stringify(body) });
    const set = await post({ throttleNext: 1, operations: ['GetHostedZone'] });
    t.equal(set.status, 200);
    t.match(await set.json(), { throttleNext: 1, operations: ['GetHostedZone'] });
    t.match(await awsError(client.send(new GetHostedZoneCommand({ Id: zoneId }))), { name: 'Throttling' });
    t.ok(await client.send(new GetHostedZoneCommand({ Id: zoneId })), 'only the next one');

    const invalid = await post({ throttleRate: 2, bogus: true });
    t.equal(invalid.status, 400);
    const body = (await invalid.json()) as { error: { code: string; details: { problems: string[] } } };
    t.equal(body.error.code, 'PGSHIFT_ERR_STANDIN_FAULTS_INVALID');
    t.match(body.error.details.problems.join('\n'), /bogus/);
    const notJson = await fetch(`${standIn.url}/_lab/faults`, { method: 'POST', body: '{' });
    t.equal(notJson.status, 400);
    t.equal(standIn.faults.settings.throttleRate, 0, 'an invalid update changes nothing');

    await post({ serverErrorRate: 1, serverErrorStatus: 503 });
    t.match(await awsError(client.send(new GetHostedZoneCommand({ Id: zoneId }))), { name: 'ServiceUnavailable', status: 503 });
    const reset = await fetch(`${standIn.url}/_lab/faults`, { method: 'DELETE' });
    t.match(await reset.json(), { serverErrorRate: 0, throttleNext: 0 });
    const log = (await (await fetch(`${standIn.url}/_lab/requests`)).json()) as { operation: string; errorCode?: string }[];
    t.ok(log.some((e) => e.operation === 'GetHostedZone' && e.errorCode === 'ServiceUnavailable'), 'the request log is served as JSON');
    t.equal((await fetch(`${standIn.url}/_lab/nothing`)).status, 404);
  });

  t.test('zones and records survive a restart; the file is written atomically', async (t) => {
    const zoneId = await createZone(client, 'durable.test');
    await send(zoneId, [create({ Name: 'db.durable.test', Type: 'CNAME', SetIdentifier: 'blue', Weight: 77, TTL: 5, ResourceRecords: [{ Value: 'b.example.org' }] })]);
    const before = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
    await standIn.store.flush();
    t.same((await readdir(dir)).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left behind');
    t.ok(JSON.parse(await readFile(file, 'utf8')).zones.some((z: { id: string }) => z.id === zoneId));

    const restarted = await Route53StandIn.start({ file, log: testLogger() });
    t.teardown(() => restarted.stop());
    const again = sdkClient(restarted.url);
    t.teardown(() => again.destroy());
    const after = await again.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
    t.same(after.ResourceRecordSets, before.ResourceRecordSets, 'same records after a restart');
    t.equal((await again.send(new GetHostedZoneCommand({ Id: zoneId }))).HostedZone?.Name, 'durable.test.');
    t.ok(existsSync(file));
  });
});
