import t from 'tap';
import { GetHostedZoneCommand, ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { labDnsRecordSource, WeightedResolver } from '../../src/local/resolver.js';
import { waitFor } from '../helpers/wait.js';
import { awsError, createZone, sdkClient, startStandIn } from '../traffic/route53-helpers.js';
import { systemClock } from '../../src/clock.js';

/**
 * The stand-in enforces Route 53's account request limit by default (aws-api.md 1.7: a
 * bucket of 50 refilling at 10/s, across every call), answering HTTP 400 Throttling
 * "Rate exceeded"; it can be switched off, answer slowly per operation, and serves DNS-like
 * lookups that do not count against the limit.
 */

t.test('the stand-in throttles a client that exceeds 10/s after the burst of 50', async (t) => {
  const { standIn } = await startStandIn(t);
  const client = sdkClient(standIn.url);
  t.teardown(() => client.destroy());
  const zoneId = await createZone(client, 'limits.test');
  const call = () =>
    client.send(new GetHostedZoneCommand({ Id: zoneId })).then(
      () => 'ok',
      (err: { name?: string }) => err.name ?? 'error',
    );

  const floodStart = Date.now();
  const flood = await Promise.all(Array.from({ length: 80 }, call));
  const floodSeconds = (Date.now() - floodStart) / 1000;
  const ok = flood.filter((r) => r === 'ok').length;
  // Creating the zone took one token of the 50 a moment before; it refills within 0.1 s, or not.
  t.ok(ok >= 49 && ok <= 50 + 10 * floodSeconds + 1, `${ok} of 80 sent at once were served in ${floodSeconds} s: the burst of 50 and what refilled meanwhile`);
  t.same([...new Set(flood.filter((r) => r !== 'ok'))], ['Throttling'], 'the rest were throttled');
  const err = await awsError(Promise.all(Array.from({ length: 20 }, () => client.send(new GetHostedZoneCommand({ Id: zoneId })))));
  t.match(err, { name: 'Throttling', message: 'Rate exceeded', status: 400 }, 'as Route 53 answers: 400 Throttling, Rate exceeded');
  const throttled = standIn.requests().filter((e) => e.errorCode === 'Throttling');
  t.ok(throttled.every((e) => e.status === 400));

  // Keep calling for two seconds: about 10 more per second get through, never more.
  const startedAt = Date.now();
  const served: number[] = [];
  while (Date.now() - startedAt < 2_000) {
    const results = await Promise.all(Array.from({ length: 5 }, call));
    for (const r of results) if (r === 'ok') served.push(Date.now());
  }
  const seconds = (Date.now() - startedAt) / 1000;
  t.ok(served.length <= 10 * seconds + 2, `${served.length} served in ${seconds.toFixed(1)} s of flooding`);
  t.ok(served.length >= 10 * seconds - 6, 'and the bucket does refill');

  standIn.faults.set({ accountLimit: false });
  const unlimited = await Promise.all(Array.from({ length: 80 }, call));
  t.ok(unlimited.every((r) => r === 'ok'), 'switched off: everything is served');
  standIn.faults.set({ accountLimit: true, accountBurst: 5, accountPerSecond: 1 });
  const tight = await Promise.all(Array.from({ length: 10 }, call));
  t.equal(tight.filter((r) => r === 'ok').length, 5, 'the burst and rate are settable');
  standIn.faults.reset();
  t.equal(standIn.faults.settings.accountBurst, 50);
  t.equal(standIn.faults.settings.accountPerSecond, 10);
  t.equal(standIn.faults.settings.accountLimit, true, 'reset: the documented limits again');

  const off = await startStandIn(t, { accountLimit: false });
  t.equal(off.standIn.faults.settings.accountLimit, false, 'a stand-in can start without the limit');
});

t.test('slow answers per operation, and DNS lookups that spend no API budget', async (t) => {
  const { standIn } = await startStandIn(t, { accountLimit: { burst: 3, perSecond: 0.5 } });
  const client = sdkClient(standIn.url);
  t.teardown(() => client.destroy());
  const zoneId = await createZone(client, 'slow.test');
  await standIn.store.changeRecordSets(zoneId, {
    changes: (['blue', 'green'] as const).map((side) => ({
      action: 'CREATE' as const,
      recordSet: { name: 'reader.slow.test', type: 'CNAME', setIdentifier: side, weight: side === 'blue' ? 0 : 100, ttl: 5, values: [`${side}.example.org`] },
    })),
  });

  standIn.faults.set({ delayMs: { ListResourceRecordSets: 400 } });
  let started = Date.now();
  await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
  t.ok(Date.now() - started >= 400, 'a list call answers after the delay');
  started = Date.now();
  await client.send(new GetHostedZoneCommand({ Id: zoneId }));
  t.ok(Date.now() - started < 300, 'other operations do not');
  t.equal((await awsError(client.send(new GetHostedZoneCommand({ Id: zoneId })))).name, 'Throttling', 'the tiny bucket is empty now');

  // The lab's clients resolve through the DNS-like path: no API budget spent, none needed.
  const resolver = new WeightedResolver({ source: labDnsRecordSource(standIn.url, `/hostedzone/${zoneId}`), clock: systemClock });
  const before = standIn.requests().length;
  for (let i = 0; i < 20; i++) {
    resolver.forget();
    const answer = await resolver.resolve('Reader.Slow.Test');
    t.equal(answer.value, 'green.example.org');
  }
  t.equal(standIn.requests().length, before, 'not one API call: resolving is not the Route 53 API');
  resolver.forget();
  await t.rejects(resolver.resolve('missing.slow.test'), { code: 'PGSHIFT_ERR_LAB_NAME_NOT_FOUND' });
  const unknownZone = new WeightedResolver({ source: labDnsRecordSource(standIn.url, 'ZNOSUCHZONE'), clock: systemClock });
  await t.rejects(unknownZone.resolve('reader.slow.test'), { code: 'PGSHIFT_ERR_LAB_RESOLVE_FAILED', message: /404/ });
  await waitFor('the bucket to refill', async () => (await client.send(new GetHostedZoneCommand({ Id: zoneId })).then(() => true, () => false)), 5_000, 100);
});
