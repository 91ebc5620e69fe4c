import t, { type Test } from 'tap';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  ListResourceRecordSetsCommand,
  type Change,
  type ResourceRecordSet,
  type RRType,
} from '@aws-sdk/client-route-53';
import { awsError, createZone, sdkClient, startStandIn } from '../traffic/route53-helpers.js';

const ZONE = 'rules.test';

t.test('the stand-in enforces Route 53\'s change rules, with the real error codes and statuses', async (t) => {
  // Rule by rule, call after call: the account request limit (route53-limits.test.ts) is off here.
  const { standIn } = await startStandIn(t, { accountLimit: false });
  const client = sdkClient(standIn.url);
  t.teardown(() => client.destroy());

  const weighted = (name: string, id: string, weight: number, extra: Partial<ResourceRecordSet> = {}): ResourceRecordSet => ({
    Name: name,
    Type: 'CNAME',
    SetIdentifier: id,
    Weight: weight,
    TTL: 5,
    ResourceRecords: [{ Value: `${id}.endpoint.example.org` }],
    ...extra,
  });
  const change = (Action: Change['Action'], ResourceRecordSet: ResourceRecordSet): Change => ({ Action, ResourceRecordSet });
  const send = (zoneId: string, changes: Change[], comment?: string) =>
    client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: changes, ...(comment ? { Comment: comment } : {}) } }));
  const list = async (zoneId: string) => (await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }))).ResourceRecordSets ?? [];

  /** A zone with a weighted pair at w., a simple A at a. and a simple CNAME at c. */
  const seededZone = async () => {
    const zoneId = await createZone(client, ZONE);
    await send(zoneId, [
      change('CREATE', weighted(`w.${ZONE}`, 'blue', 100)),
      change('CREATE', weighted(`w.${ZONE}`, 'green', 0)),
      change('CREATE', { Name: `a.${ZONE}`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.1' }] }),
      change('CREATE', { Name: `c.${ZONE}`, Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: 'target.example.org' }] }),
    ]);
    return zoneId;
  };

  /** Sends a batch that must be refused; checks the code, status, SDK class and that the zone is unchanged. */
  const refused = async (t: Test, zoneId: string, changes: Change[], expected: { name: string; status: number; message: RegExp }) => {
    const before = await list(zoneId);
    const err = await awsError(send(zoneId, changes));
    t.equal(err.name, expected.name, 'error name');
    t.equal(err.status, expected.status, 'HTTP status');
    t.equal(err.className, expected.name, 'the SDK raised its modeled error class');
    t.match(err.message, expected.message);
    t.match(err.requestId, /^[0-9a-f-]{36}$/, 'request id from x-amzn-RequestId');
    t.same(await list(zoneId), before, 'nothing changed');
  };
  const icb = (message: RegExp) => ({ name: 'InvalidChangeBatch', status: 400, message });
  const input = (message: RegExp) => ({ name: 'InvalidInput', status: 400, message });

  t.test('CREATE, DELETE and UPSERT semantics', async (t) => {
    const zoneId = await seededZone();
    await refused(t, zoneId, [change('CREATE', weighted(`w.${ZONE}`, 'blue', 50))], icb(
      /^\[Tried to create resource record set \[name='w\.rules\.test\.', type='CNAME', set-identifier='blue'\] but it already exists\]$/,
    ));
    await refused(t, zoneId, [change('DELETE', weighted(`w.${ZONE}`, 'red', 5))], icb(/set-identifier='red'\] but it was not found/));
    await refused(t, zoneId, [change('DELETE', weighted(`w.${ZONE}`, 'blue', 99))], icb(/but the values provided do not match the current values/));
    await refused(t, zoneId, [change('DELETE', weighted(`w.${ZONE}`, 'blue', 100, { TTL: 6 }))], icb(/do not match/));

    await send(zoneId, [change('UPSERT', weighted(`W.Rules.Test.`, 'blue', 70)), change('UPSERT', weighted(`w.${ZONE}`, 'green', 30))]);
    const after = (await list(zoneId)).filter((r) => r.Name === `w.${ZONE}.`);
    t.same(after.map((r) => [r.SetIdentifier, r.Weight]), [['blue', 70], ['green', 30]], 'UPSERT replaced; names compare case-insensitively');

    // DELETE with the exact values works, and DELETE + CREATE in one batch converts a record.
    await send(zoneId, [
      change('DELETE', { Name: `c.${ZONE}`, Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: 'target.example.org' }] }),
      change('CREATE', weighted(`c.${ZONE}`, 'blue', 1)),
      change('CREATE', weighted(`c.${ZONE}`, 'green', 1)),
    ]);
    t.same((await list(zoneId)).filter((r) => r.Name === `c.${ZONE}.`).map((r) => r.SetIdentifier), ['blue', 'green'], 'simple -> weighted in one batch');
    await refused(t, zoneId, [
      change('DELETE', weighted(`c.${ZONE}`, 'blue', 1)),
      change('DELETE', weighted(`c.${ZONE}`, 'blue', 1)),
    ], icb(/but it was not found/));
  });

  t.test('weight is 0-255 and SetIdentifier 1-128 characters (InvalidInput)', async (t) => {
    const zoneId = await seededZone();
    await refused(t, zoneId, [change('UPSERT', weighted(`w.${ZONE}`, 'blue', 256))], input(/Member must have value less than or equal to 255/));
    await refused(t, zoneId, [change('UPSERT', weighted(`w.${ZONE}`, 'blue', -1))], input(/Member must have value greater than or equal to 0/));
    await refused(t, zoneId, [change('CREATE', weighted(`x.${ZONE}`, 'i'.repeat(129), 1))], input(/setIdentifier' failed to satisfy constraint: Member must have length less than or equal to 128/));
    await refused(t, zoneId, [change('CREATE', weighted(`x.${ZONE}`, '', 1))], input(/Member must have length greater than or equal to 1/));
    await send(zoneId, [change('UPSERT', weighted(`w.${ZONE}`, 'blue', 255)), change('UPSERT', weighted(`w.${ZONE}`, 'green', 0))]);
    await send(zoneId, [change('CREATE', weighted(`w.${ZONE}`, 'i'.repeat(128), 0))]);
    t.pass('255, 0 and a 128-character identifier are accepted');
    await refused(t, zoneId, [change('CREATE', { Name: `x.${ZONE}`, Type: 'CNAME', Weight: 5, TTL: 5, ResourceRecords: [{ Value: 'x.example.org' }] })], input(/Missing field 'SetIdentifier'/));
    await refused(t, zoneId, [change('CREATE', { Name: `x.${ZONE}`, Type: 'CNAME', SetIdentifier: 'blue', Weight: 5, ResourceRecords: [{ Value: 'x.example.org' }] })], input(
      /Expected exactly one of \[AliasTarget, all of \[TTL, and ResourceRecords\], or TrafficPolicyInstanceId\], but found none in Change with \[Action=CREATE, Name=x\.rules\.test, Type=CNAME, SetIdentifier=blue\]/,
    ));
    await refused(t, zoneId, [change('CREATE', { Name: `x.${ZONE}`, Type: 'FOO' as RRType, TTL: 5, ResourceRecords: [{ Value: 'x' }] })], input(/Member must satisfy enum value set/));
    await refused(t, zoneId, [change('CREATE', weighted(`x.${ZONE}`, 'blue', 1, { Type: 'NS' }))], input(/records of type NS cannot use a routing policy/));
  });

  t.test('weighted groups: no mixing with simple records, one value each, one TTL, unique identifiers', async (t) => {
    const zoneId = await seededZone();
    await refused(t, zoneId, [change('CREATE', { Name: `w.${ZONE}`, Type: 'CNAME', TTL: 5, ResourceRecords: [{ Value: 'plain.example.org' }] })], icb(
      /RRSet with DNS name w\.rules\.test\., type CNAME cannot be created as other RRSets exist with the same name and type\./,
    ));
    await refused(t, zoneId, [change('CREATE', { Name: `a.${ZONE}`, Type: 'A', SetIdentifier: 'blue', Weight: 1, TTL: 60, ResourceRecords: [{ Value: '192.0.2.2' }] })], icb(
      /RRSet with DNS name a\.rules\.test\., type A, SetIdentifier blue cannot be created as a non-weighted set exists with the same name and type\./,
    ));
    await refused(t, zoneId, [change('CREATE', weighted(`w.${ZONE}`, 'latency', 1, { Weight: undefined, Region: 'us-east-1' }))], icb(
      /SetIdentifier latency cannot be created as a weighted set exists/,
    ));
    await refused(t, zoneId, [change('CREATE', { ...weighted(`m.${ZONE}`, 'blue', 1), Type: 'A', ResourceRecords: [{ Value: '192.0.2.1' }, { Value: '192.0.2.2' }] })], icb(
      /Weighted RRSet \[name='m\.rules\.test\.', type='A', set-identifier='blue'\] may hold only one resource record/,
    ));
    await refused(t, zoneId, [change('CREATE', weighted(`w.${ZONE}`, 'red', 1, { TTL: 60 }))], icb(
      /RRSet with DNS name w\.rules\.test\. and type CNAME, SetIdentifier red cannot be created as weighted sets must contain the same TTL\./,
    ));
    await send(zoneId, [change('UPSERT', weighted(`w.${ZONE}`, 'blue', 100, { TTL: 30 })), change('UPSERT', weighted(`w.${ZONE}`, 'green', 0, { TTL: 30 }))]);
    t.same((await list(zoneId)).filter((r) => r.Name === `w.${ZONE}.`).map((r) => r.TTL), [30, 30], 'changing the TTL of the whole group in one batch is fine');
    await refused(t, zoneId, [change('CREATE', weighted(`w.${ZONE}`, 'green', 5, { TTL: 30 }))], icb(/set-identifier='green'\] but it already exists/));
  });

  t.test('CNAME rules: one value, alone at its name, never at the apex; names inside the zone; valid values', async (t) => {
    const zoneId = await seededZone();
    await refused(t, zoneId, [change('CREATE', { Name: `two.${ZONE}`, Type: 'CNAME', TTL: 5, ResourceRecords: [{ Value: 'a.example.org' }, { Value: 'b.example.org' }] })], icb(
      /RRSet of type CNAME with DNS name two\.rules\.test\. may hold only one resource record/,
    ));
    await refused(t, zoneId, [change('CREATE', { Name: `c.${ZONE}`, Type: 'TXT', TTL: 5, ResourceRecords: [{ Value: '"x"' }] })], icb(
      /RRSet of type TXT with DNS name c\.rules\.test\. is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone rules\.test\./,
    ));
    await refused(t, zoneId, [change('CREATE', { Name: `a.${ZONE}`, Type: 'CNAME', TTL: 5, ResourceRecords: [{ Value: 'x.example.org' }] })], icb(
      /RRSet of type CNAME with DNS name a\.rules\.test\. is not permitted as it conflicts with other records with the same DNS name in zone rules\.test\./,
    ));
    await refused(t, zoneId, [change('CREATE', { Name: ZONE, Type: 'CNAME', TTL: 5, ResourceRecords: [{ Value: 'x.example.org' }] })], icb(
      /RRSet of type CNAME with DNS name rules\.test\. is not permitted at apex in zone rules\.test\./,
    ));
    await refused(t, zoneId, [change('CREATE', { Name: 'db.other.test', Type: 'A', TTL: 5, ResourceRecords: [{ Value: '192.0.2.9' }] })], icb(
      /RRSet with DNS name db\.other\.test\. is not permitted in zone rules\.test\./,
    ));
    await refused(t, zoneId, [change('CREATE', { Name: `ip.${ZONE}`, Type: 'A', TTL: 5, ResourceRecords: [{ Value: '300.1.1.1' }] })], icb(/ARRDATAIllegalIPv4Address/));
    await refused(t, zoneId, [change('CREATE', { Name: `dup.${ZONE}`, Type: 'A', TTL: 5, ResourceRecords: [{ Value: '192.0.2.1' }, { Value: '192.0.2.1' }] })], icb(/Duplicate Resource Record: '192\.0\.2\.1'/));
    const soa = (await list(zoneId)).find((r) => r.Type === 'SOA')!;
    await refused(t, zoneId, [change('DELETE', soa)], icb(/A HostedZone must contain exactly one SOA record\./));
  });

  t.test('a batch is atomic: every problem in ONE InvalidChangeBatch, none of its changes applied', async (t) => {
    const zoneId = await seededZone();
    await refused(t, zoneId, [
      change('UPSERT', weighted(`w.${ZONE}`, 'blue', 10)),
      change('CREATE', weighted(`w.${ZONE}`, 'green', 90)),
      change('CREATE', { Name: 'elsewhere.test', Type: 'A', TTL: 5, ResourceRecords: [{ Value: '192.0.2.1' }] }),
      change('DELETE', { Name: `gone.${ZONE}`, Type: 'A', TTL: 5, ResourceRecords: [{ Value: '192.0.2.1' }] }),
    ], icb(
      /^\[Tried to create resource record set \[name='w\.rules\.test\.', type='CNAME', set-identifier='green'\] but it already exists, RRSet with DNS name elsewhere\.test\. is not permitted in zone rules\.test\., Tried to delete resource record set \[name='gone\.rules\.test\.', type='A'\] but it was not found\]$/,
    ));
    const quota: Change[] = Array.from({ length: 501 }, (_, i) => change('UPSERT', { Name: `q${i}.${ZONE}`, Type: 'A', TTL: 5, ResourceRecords: [{ Value: '192.0.2.1' }] }));
    await refused(t, zoneId, quota, icb(/Number of records limit of 1000 exceeded\./));
  });

  t.test('missing things answer 404 with their own codes; health checks do not exist here', async (t) => {
    const zoneId = await seededZone();
    const noZone = await awsError(send('ZNOSUCHZONE', [change('CREATE', weighted(`x.${ZONE}`, 'blue', 1))]));
    t.match(noZone, { name: 'NoSuchHostedZone', status: 404, className: 'NoSuchHostedZone', message: 'No hosted zone found with ID: ZNOSUCHZONE' });
    t.match(await awsError(client.send(new GetHostedZoneCommand({ Id: 'ZNOSUCHZONE' }))), { name: 'NoSuchHostedZone', status: 404 });
    t.match(await awsError(client.send(new GetChangeCommand({ Id: 'CNOSUCHCHANGE' }))), { name: 'NoSuchChange', status: 404, className: 'NoSuchChange' });
    t.match(await awsError(client.send(new GetChangeCommand({ Id: 'C'.repeat(40) }))), { name: 'InvalidInput', status: 400 });
    const hc = await awsError(send(zoneId, [change('CREATE', weighted(`x.${ZONE}`, 'blue', 1, { HealthCheckId: 'hc-1' }))]));
    t.match(hc, { name: 'NoSuchHealthCheck', status: 404, className: 'NoSuchHealthCheck' });
  });

  t.test('hosted zones: caller references are unique, names must be valid', async (t) => {
    await client.send(new CreateHostedZoneCommand({ Name: 'once.test', CallerReference: 'only-once' }));
    const again = await awsError(client.send(new CreateHostedZoneCommand({ Name: 'once.test', CallerReference: 'only-once' })));
    t.match(again, { name: 'HostedZoneAlreadyExists', status: 409, className: 'HostedZoneAlreadyExists' });
    const bad = await awsError(client.send(new CreateHostedZoneCommand({ Name: 'bad..name.test', CallerReference: 'bad-name' })));
    t.match(bad, { name: 'InvalidDomainName', status: 400, className: 'InvalidDomainName' });
  });

  t.test('PriorRequestNotComplete while a change to the zone is PENDING, switchable', async (t) => {
    const zoneId = await seededZone();
    const other = await seededZone();
    standIn.faults.set({ insyncDelayMs: 60_000 });
    t.teardown(() => standIn.faults.reset());
    await send(zoneId, [change('UPSERT', weighted(`w.${ZONE}`, 'blue', 90)), change('UPSERT', weighted(`w.${ZONE}`, 'green', 10))]);
    const busy = await awsError(send(zoneId, [change('UPSERT', weighted(`w.${ZONE}`, 'blue', 80)), change('UPSERT', weighted(`w.${ZONE}`, 'green', 20))]));
    t.match(busy, {
      name: 'PriorRequestNotComplete',
      status: 400,
      className: 'PriorRequestNotComplete',
      message: 'The request was rejected because Route 53 was still processing a prior request.',
    });
    t.ok(await send(other, [change('UPSERT', weighted(`w.${ZONE}`, 'blue', 80))]), 'other zones are not blocked');
    standIn.faults.set({ priorRequestCheck: false });
    t.ok(await send(zoneId, [change('UPSERT', weighted(`w.${ZONE}`, 'blue', 80)), change('UPSERT', weighted(`w.${ZONE}`, 'green', 20))]), 'accepted with the check off');
  });

  t.test('faults: Throttling and 5xx reach the SDK as the real services send them', async (t) => {
    const zoneId = await seededZone();
    t.teardown(() => standIn.faults.reset());
    standIn.faults.set({ throttleNext: 1 });
    t.match(await awsError(list(zoneId)), { name: 'Throttling', status: 400, message: 'Rate exceeded', fault: 'client' });
    standIn.faults.set({ serverErrorNext: 1, serverErrorStatus: 503 });
    t.match(await awsError(list(zoneId)), { name: 'ServiceUnavailable', status: 503, fault: 'server' });
    standIn.faults.set({ serverErrorNext: 1, serverErrorStatus: 500 });
    t.match(await awsError(list(zoneId)), { name: 'InternalFailure', status: 500, fault: 'server' });
    t.ok(await list(zoneId), 'the next call is answered normally');
    const retrying = sdkClient(standIn.url, 3);
    t.teardown(() => retrying.destroy());
    standIn.faults.set({ throttleNext: 2 });
    const out = await retrying.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
    t.equal(out.$metadata.attempts, 3, 'the SDK\'s own retry strategy classifies Throttling as retryable too');
  });
});
