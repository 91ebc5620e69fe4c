import t from 'tap';
import { systemClock, type Clock } from '../../src/clock.js';
import type { Change } from '../../src/local/route53/model.js';
import type { RequestLogEntry, Route53StandIn } from '../../src/local/route53/server.js';
import { Route53Account } from '../../src/traffic/route53-account.js';
import { Route53Router } from '../../src/traffic/route53-router.js';
import type { RecordTargets } from '../../src/traffic/router.js';
import { testLogger } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { FAST_INSYNC, FAST_RETRY, createZone, pgshiftClient, rejection, startStandIn } from './route53-helpers.js';

/**
 * The account-wide Route 53 budget against the stand-in, which enforces Route 53's
 * account limit (50 burst, 10/s) as it does by default: pgshift must never be throttled.
 */

const ZONE = 'fleet.test';
const targetsOf = (pair: string): RecordTargets => ({
  reader: { blue: `${pair}-blue.cluster-ro.example.org`, green: `${pair}-green.cluster-ro.example.org` },
  writer: { blue: `${pair}-blue.cluster.example.org`, green: `${pair}-green.cluster.example.org` },
});
const recordsOf = (pair: string) => ({ reader: { name: `reader.${pair}.${ZONE}`, ttl: 5 }, writer: { name: `writer.${pair}.${ZONE}`, ttl: 5 } });

/** Writes pairs' records straight into the stand-in's store (no API call, nothing counted). */
async function seedPairs(standIn: Route53StandIn, zoneId: string, pairs: string[]): Promise<void> {
  const changes: Change[] = pairs.flatMap((pair) =>
    (['reader', 'writer'] as const).flatMap((kind) =>
      (['blue', 'green'] as const).map(
        (side): Change => ({
          action: 'CREATE',
          recordSet: { name: recordsOf(pair)[kind].name, type: 'CNAME', setIdentifier: side, weight: side === 'blue' ? 100 : 0, ttl: 5, values: [targetsOf(pair)[kind][side]] },
        }),
      ),
    ),
  );
  for (let i = 0; i < changes.length; i += 400) await standIn.store.changeRecordSets(zoneId, { changes: changes.slice(i, i + 400) });
}

/** The most calls the stand-in saw within any window of `windowMs`. */
function busiestWindow(calls: RequestLogEntry[], windowMs: number): number {
  let most = 0;
  let from = 0;
  for (let to = 0; to < calls.length; to++) {
    while (calls[to]!.at - calls[from]!.at > windowMs) from++;
    most = Math.max(most, to - from + 1);
  }
  return most;
}

/** The system clock, counting sleeps still running: none may be left once the account is closed. */
function countingClock(): Clock & { sleeping(): number } {
  let sleeping = 0;
  return {
    now: () => systemClock.now(),
    sleep: async (ms, signal) => {
      sleeping++;
      try {
        await systemClock.sleep(ms, signal);
      } finally {
        sleeping--;
      }
    },
    sleeping: () => sleeping,
  };
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
process.on('unhandledRejection', onUnhandled);
t.teardown(() => {
  process.off('unhandledRejection', onUnhandled);
});

t.test('the Route 53 budget against a stand-in that enforces the account limit', async (t) => {
  const { standIn } = await startStandIn(t);
  const client = pgshiftClient(t, standIn.url);
  const account = (options: Partial<ConstructorParameters<typeof Route53Account>[0]> = {}) => {
    const a = new Route53Account({ client, clock: systemClock, log: testLogger(), retry: FAST_RETRY, insync: FAST_INSYNC, random: () => 1, ...options });
    t.teardown(() => a.close());
    return a;
  };
  const throttled = () => standIn.requests().filter((e) => e.errorCode === 'Throttling');
  t.afterEach(async () => {
    standIn.faults.reset();
    standIn.faults.set({ insyncDelayMs: 0 });
    // Each test starts with the stand-in's account bucket full again.
    standIn.faults.set({ accountLimit: false });
    standIn.faults.set({ accountLimit: true });
  });

  t.test('200 routers in one zone observe with one listing per round', async (t) => {
    const zoneId = await createZone(client, ZONE);
    const pairs = Array.from({ length: 200 }, (_, i) => `p${String(i).padStart(3, '0')}`);
    await seedPairs(standIn, zoneId, pairs);
    // Records of other tools around and between the pairs: the watcher jumps over them.
    await standIn.store.changeRecordSets(zoneId, {
      changes: Array.from({ length: 600 }, (_, i) => ({ action: 'CREATE' as const, recordSet: { name: `host${i}.other.${ZONE}`, type: 'TXT', ttl: 60, values: ['"x"'] } })),
    });
    const shared = account();
    const routers = pairs.map((pair) => new Route53Router({ account: shared, hostedZoneId: zoneId, records: recordsOf(pair) }));
    t.teardown(() => routers.forEach((r) => r.close()));
    t.ok(routers.every((r) => r.lastObserved() === null), 'nothing observed yet, and asking costs nothing');
    standIn.clearRequests();

    const weights = await Promise.all(routers.map((r, i) => r.ensureRecords(targetsOf(pairs[i]!))));
    t.ok(weights.every((w) => w.reader.blue === 100 && w.writer.blue === 100), 'every pair at blue 100');
    const lists = standIn.requests('ListResourceRecordSets');
    t.equal(lists.length, 3, '800 record sets (+ SOA, NS) in pages of 300: ONE round of three calls for 200 pairs');
    t.ok(lists.every((e) => /maxitems=300/.test(e.query)));
    t.same(standIn.requests().filter((e) => e.operation !== 'ListResourceRecordSets'), [], 'and nothing else: the records were in place');

    const again = await Promise.all(routers.map((r) => r.observe({ maxAgeMs: shared.observeMs })));
    t.equal(standIn.requests('ListResourceRecordSets').length, 3, 'observe within observeMs: served from the last round, no call');
    t.ok(again.every((o) => o.reader?.blue === 100 && o.names.reader.problems.length === 0));
    t.ok(routers.every((r) => r.lastObserved()?.observedAt === again[0]!.observedAt), 'lastObserved: the same round, from memory');

    await standIn.store.changeRecordSets(zoneId, {
      changes: (['blue', 'green'] as const).map((side) => ({
        action: 'UPSERT' as const,
        recordSet: { name: recordsOf('p123').reader.name, type: 'CNAME', setIdentifier: side, weight: side === 'blue' ? 75 : 25, ttl: 5, values: [targetsOf('p123').reader[side]] },
      })),
    });
    const fresh = await Promise.all(routers.map((r) => r.observe({ maxAgeMs: 0 })));
    t.equal(standIn.requests('ListResourceRecordSets').length, 6, '200 forced fresh reads at once: coalesced into ONE more round');
    t.same(fresh[123]!.reader, { blue: 75, green: 25 }, 'and it shows a change made meanwhile');
    t.same(throttled(), [], 'never throttled');
  });

  t.test('the budget never exceeds its rate while many routers observe and change', async (t) => {
    const zoneIds = [await createZone(client, ZONE), await createZone(client, ZONE)];
    const pairs = Array.from({ length: 20 }, (_, i) => `busy${i}`);
    for (const zoneId of zoneIds) await seedPairs(standIn, zoneId, pairs);
    standIn.faults.set({ insyncDelayMs: 150 });
    // Budget defaults (5/s, burst 20); no pause between listings, so reads press on it too.
    const shared = account({ minListIntervalMs: 0 });
    t.same(shared.budget.settings, { requestsPerSecond: 5, burst: 20 });
    const routers = zoneIds.flatMap((zoneId) => pairs.map((pair) => new Route53Router({ account: shared, hostedZoneId: zoneId, records: recordsOf(pair) })));
    t.teardown(() => routers.forEach((r) => r.close()));
    await Promise.all(routers.map((r, i) => r.ensureRecords(targetsOf(pairs[i % pairs.length]!))));

    standIn.clearRequests();
    const startedAt = Date.now();
    const until = startedAt + 4_000;
    const work = routers.map(async (r, i) => {
      let step = 0;
      while (Date.now() < until) {
        if (i % 4 === 0) {
          const green = (step++ % 9) * 10 + 10;
          await r.setWeights({ reader: { blue: 100 - green, green } }, { comment: `busy ${i} ${green}` });
        } else {
          await r.observe({ maxAgeMs: 0 });
        }
      }
    });
    await Promise.all(work);
    const calls = standIn.requests();
    const seconds = (calls.at(-1)!.at - calls[0]!.at) / 1000;
    t.ok(calls.length >= 30, `the test pressed on the budget: ${calls.length} calls in ${seconds.toFixed(1)} s`);
    for (const windowMs of [1_000, 2_000, 3_000]) {
      const most = busiestWindow(calls, windowMs);
      t.ok(most <= 20 + (5 * windowMs) / 1000 + 1, `at most burst + rate x window: ${most} calls within ${windowMs} ms`);
    }
    t.ok(calls.length <= 20 + 5 * seconds + 2, `${(calls.length / seconds).toFixed(1)} calls/s overall`);
    t.same(throttled(), [], 'the stand-in never throttled pgshift');
    t.same(calls.filter((e) => e.errorCode === 'PriorRequestNotComplete'), [], 'and changes to one zone never collided');
    t.ok(calls.some((e) => e.operation === 'ChangeResourceRecordSets') && calls.some((e) => e.operation === 'GetChange'));
  });

  t.test('an urgent submit overtakes queued normal calls', async (t) => {
    const zones = [await createZone(client, ZONE), await createZone(client, ZONE), await createZone(client, ZONE), await createZone(client, ZONE)];
    for (const zoneId of zones) await seedPairs(standIn, zoneId, ['demo']);
    await seedPairs(standIn, zones[0]!, ['other']);
    const slow = account({ budget: { requestsPerSecond: 4, burst: 1 } });
    const routers = zones.map((zoneId) => new Route53Router({ account: slow, hostedZoneId: zoneId, records: recordsOf('demo') }));
    const other = new Route53Router({ account: slow, hostedZoneId: zones[0]!, records: recordsOf('other') });
    t.teardown(() => [...routers, other].forEach((r) => r.close()));
    await Promise.all([routers[0]!.ensureRecords(targetsOf('demo')), other.ensureRecords(targetsOf('other'))]);

    const reads = routers.slice(1).map((r) => r.observe({ maxAgeMs: 0 }));
    // Another pair's normal change in the same zone: it holds the zone's gate while it waits for a token.
    const step = other.submit({ reader: { blue: 90, green: 10 } }, { comment: 'other: reads-10' });
    await waitFor('normal calls queued for the budget', () => slow.budget.stats().waiting >= 3, 5_000, 5);
    const waitingThen = slow.budget.stats().waiting;
    const seq = standIn.requests().at(-1)?.seq ?? 0;
    const revert = await routers[0]!.submit({ reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } }, { comment: 'revert', urgent: true });
    await Promise.all([...reads, step]);
    const after = standIn.requests().filter((e) => e.seq > seq);
    const position = after.findIndex((e) => e.operation === 'ChangeResourceRecordSets');
    // A call granted before the revert was called may still arrive first; none of those waiting may.
    t.ok(position >= 0 && position <= 4 - waitingThen, `the revert went out ahead of the ${waitingThen} calls waiting (position ${position})`);
    t.equal(after[position]?.comment, 'revert');
    t.same(
      after.filter((e) => e.operation === 'ChangeResourceRecordSets').map((e) => e.comment),
      ['revert', 'other: reads-10'],
      'the other pair\'s change, which held the zone\'s gate waiting for a token, gave way',
    );
    t.ok(revert.queuedMs < 50, `not queued behind anyone (${revert.queuedMs} ms)`);
    t.equal(slow.budget.stats().grantedUrgent, 1);
    t.same(throttled(), []);
  });

  t.test('an urgent submit goes out while ListResourceRecordSets is slow, without any list call before it', async (t) => {
    const zoneId = await createZone(client, ZONE);
    await seedPairs(standIn, zoneId, ['one', 'two', 'three']);
    const shared = account({ minListIntervalMs: 0, insync: { ...FAST_INSYNC, pollMs: 20, pollMaxMs: 20 }, retry: { maxAttempts: 40, baseDelayMs: 10, maxDelayMs: 50 } });
    const [one, two, three] = ['one', 'two', 'three'].map((pair) => new Route53Router({ account: shared, hostedZoneId: zoneId, records: recordsOf(pair) })) as [Route53Router, Route53Router, Route53Router];
    t.teardown(() => [one, two, three].forEach((r) => r.close()));
    await Promise.all([one.ensureRecords(targetsOf('one')), two.ensureRecords(targetsOf('two')), three.ensureRecords(targetsOf('three'))]);

    standIn.faults.set({ delayMs: { ListResourceRecordSets: 2_000 } });
    const seq = standIn.requests().at(-1)?.seq ?? 0;
    const roundsBefore = shared.stats().zones[0]!.rounds;
    const slowRead = one.observe({ maxAgeMs: 0 }).then(
      (observed) => ({ observed, err: null }),
      (err: unknown) => ({ observed: null, err }),
    );
    await waitFor('the slow listing in flight', () => shared.stats().zones[0]!.rounds > roundsBefore, 2_000, 5);
    const calledAt = Date.now();
    const revert = await one.submit({ reader: { blue: 100, green: 0 } }, { comment: 'revert while lists are slow', urgent: true });
    const tookMs = Date.now() - calledAt;
    t.ok(tookMs < 1_000, `accepted ${tookMs} ms after the call, while the listing takes 2 s`);
    t.match(revert, { urgent: true, attempts: 1, changeId: /^\/change\/C/ });
    t.same((await slowRead).err, null, 'the slow read still completes');
    const since = standIn.requests().filter((e) => e.seq > seq);
    t.same(since.filter((e) => e.operation === 'ListResourceRecordSets').length, 1, 'the only list call was the slow read\'s: the revert read nothing');
    t.same(since.map((e) => e.operation).sort(), ['ChangeResourceRecordSets', 'ListResourceRecordSets'], 'and made one call, the change');

    // Another pair's change is PENDING for a while (Route 53 takes the next request once it
    // has processed the previous one: PriorRequestNotComplete off here).
    standIn.faults.reset();
    standIn.faults.set({ insyncDelayMs: 800, priorRequestCheck: false });
    const step = await two.submit({ reader: { blue: 50, green: 50 } }, { comment: 'two: reads-50' });
    const urgentAt = Date.now();
    const second = await one.submit({ writer: { blue: 100, green: 0 } }, { comment: 'one: revert', urgent: true });
    t.ok(Date.now() - urgentAt < 400, 'the revert did not wait for the other pair\'s INSYNC');
    t.ok(second.submittedAt < step.submittedAt + 800, 'it went out while two\'s change was PENDING');
    const normal = await three.submit({ reader: { blue: 90, green: 10 } }, { comment: 'three: reads-10' });
    // The gate follows the zone's latest change of ours (the revert, submitted after two's).
    const revertEntry = standIn.requests('ChangeResourceRecordSets').find((e) => e.comment === 'one: revert');
    const revertInsync = standIn.requests('GetChange').find((e) => e.changeId === revertEntry?.changeId && e.changeStatus === 'INSYNC');
    const threeChange = standIn.requests('ChangeResourceRecordSets').find((e) => e.comment === 'three: reads-10');
    t.ok(revertEntry && revertInsync && threeChange && revertInsync.seq < threeChange.seq, 'a normal change waited until the zone\'s pending changes were INSYNC');
    t.ok(threeChange && revertEntry && threeChange.at >= revertEntry.at + 800, 'and went out only then');
    await Promise.all([one.waitInsync(second), two.waitInsync(step), three.waitInsync(normal)]);

    // Where Route 53 does refuse (the stand-in's strict PriorRequestNotComplete), the
    // revert retries until it is taken; nothing else of ours goes first.
    standIn.faults.set({ insyncDelayMs: 300, priorRequestCheck: true });
    const blocking = await two.submit({ reader: { blue: 25, green: 75 } }, { comment: 'two: reads-75' });
    const refusedRevert = await one.submit({ reader: { blue: 100, green: 0 } }, { comment: 'one: revert again', urgent: true });
    t.ok(refusedRevert.attempts > 1, `retried through PriorRequestNotComplete (${refusedRevert.attempts} attempts)`);
    t.ok(refusedRevert.submittedAt >= blocking.submittedAt + 300 - 5, 'taken once the prior change was done');
    t.same(throttled(), []);
  });

  t.test('GetChange polling is shared by every waiter of a change', async (t) => {
    const zoneId = await createZone(client, ZONE);
    await seedPairs(standIn, zoneId, ['one', 'two']);
    const shared = account({ minListIntervalMs: 0, insync: { timeoutMs: 10_000, pollMs: 50, pollFactor: 1, pollMaxMs: 50 } });
    const one = new Route53Router({ account: shared, hostedZoneId: zoneId, records: recordsOf('one') });
    const two = new Route53Router({ account: shared, hostedZoneId: zoneId, records: recordsOf('two') });
    t.teardown(() => [one, two].forEach((r) => r.close()));
    await Promise.all([one.ensureRecords(targetsOf('one')), two.ensureRecords(targetsOf('two'))]);

    standIn.faults.set({ insyncDelayMs: 600 });
    const change = await one.submit({ reader: { blue: 90, green: 10 } }, { comment: 'one: reads-10' });
    const waits = await Promise.all([
      ...Array.from({ length: 6 }, () => one.waitInsync(change)),
      // The zone's gate waits for the same change before two's normal change goes out.
      two.submit({ reader: { blue: 90, green: 10 } }, { comment: 'two: reads-10' }).then(() => null),
    ]);
    const reports = waits.filter((w) => w !== null);
    t.equal(new Set(reports.map((r) => r!.insyncAt)).size, 1, 'every waiter saw the same INSYNC');
    const polls = standIn.requests('GetChange').filter((e) => `/change/${e.changeId}` === change.changeId);
    t.ok(polls.length <= 600 / 50 + 3, `one poll loop for seven waiters: ${polls.length} GetChange calls`);
    t.equal(polls.at(-1)?.changeStatus, 'INSYNC');
    t.same(await one.waitInsync(change), reports[0], 'asking again after INSYNC costs no call');
    t.equal(standIn.requests('GetChange').filter((e) => `/change/${e.changeId}` === change.changeId).length, polls.length);
  });

  t.test('a normal submit still waiting is superseded by a later urgent one of the same router', async (t) => {
    const zoneId = await createZone(client, ZONE);
    await seedPairs(standIn, zoneId, ['one', 'two']);
    standIn.faults.set({ insyncDelayMs: 400 });
    const shared = account({ minListIntervalMs: 0 });
    const one = new Route53Router({ account: shared, hostedZoneId: zoneId, records: recordsOf('one') });
    const two = new Route53Router({ account: shared, hostedZoneId: zoneId, records: recordsOf('two') });
    t.teardown(() => [one, two].forEach((r) => r.close()));
    await Promise.all([one.ensureRecords(targetsOf('one')), two.ensureRecords(targetsOf('two'))]);
    const pending = await two.submit({ reader: { blue: 90, green: 10 } }, { comment: 'two: reads-10' });
    const step = rejection(one.submit({ reader: { blue: 50, green: 50 } }, { comment: 'one: reads-50' }));
    standIn.faults.set({ priorRequestCheck: false });
    const revert = await one.submit({ reader: { blue: 100, green: 0 } }, { comment: 'one: revert', urgent: true });
    const err = await step;
    t.equal(err.code, 'PGSHIFT_ERR_DNS_SUPERSEDED', 'the step queued before the revert never went out');
    t.notOk(standIn.requests('ChangeResourceRecordSets').some((e) => e.comment === 'one: reads-50'));
    await Promise.all([one.waitInsync(revert), two.waitInsync(pending)]);
    t.ok((await one.verify({ reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } })).ok, 'the revert stands');
  });

  t.test('closing the account stops everything and leaves no timer', async (t) => {
    const zoneId = await createZone(client, ZONE);
    await seedPairs(standIn, zoneId, ['demo']);
    const clock = countingClock();
    const closing = account({ clock, budget: { requestsPerSecond: 0.5, burst: 1 }, minListIntervalMs: 0 });
    const router = new Route53Router({ account: closing, hostedZoneId: zoneId, records: recordsOf('demo') });
    await router.ensureRecords(targetsOf('demo'));
    standIn.faults.set({ insyncDelayMs: 60_000 });
    const read = rejection(router.observe({ maxAgeMs: 0 }));
    const insync = (async () => {
      const change = await router.submit({ reader: { blue: 90, green: 10 } }, { comment: 'never insync', urgent: true });
      return router.waitInsync(change);
    })();
    const outcome = rejection(insync);
    await waitFor('a read waiting for the budget and a sleep running', () => clock.sleeping() > 0, 5_000, 5);
    closing.close();
    t.equal((await read).code, 'PGSHIFT_ERR_ROUTE53_CLOSED');
    t.match((await outcome).code, /PGSHIFT_ERR_ROUTE53_CLOSED/);
    await waitFor('every sleep ended', () => clock.sleeping() === 0, 2_000, 5);
    t.equal((await rejection(router.observe())).code, 'PGSHIFT_ERR_ROUTE53_CLOSED');
    t.equal(router.lastObserved()?.reader?.blue, 100, 'lastObserved still answers from memory');
    router.close();
  });

  t.test('no unhandled rejection anywhere', async (t) => {
    await new Promise((resolve) => setImmediate(resolve));
    t.same(unhandled, []);
  });
});
