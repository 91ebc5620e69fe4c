import t from 'tap';
import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  type Change,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import type { RequestLogEntry } from '../../src/local/route53/server.js';
import { createRoute53Client } from '../../src/traffic/route53-client.js';
import type { Route53Account } from '../../src/traffic/route53-account.js';
import { Route53Router, type Route53RouterOptions } from '../../src/traffic/route53-router.js';
import type { RecordTargets } from '../../src/traffic/router.js';
import { createSeededRandom } from '../../src/local/route53/random.js';
import { FAST_INSYNC, FAST_RETRY, awsError, createZone, pgshiftClient, rejection, startStandIn, testAccount } from './route53-helpers.js';
import { type Weights } from '../../src/shift/model.js';

const ZONE = 'example.test';
const TARGETS: RecordTargets = {
  reader: { blue: 'demo-blue.cluster-ro-c0.example.test', green: 'demo-green.cluster-ro-c0.example.test' },
  writer: { blue: 'demo-blue.cluster-c0.example.test', green: 'demo-green.cluster-c0.example.test' },
};
const ALL_BLUE: Weights = { reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } };

t.test('Route53Router against the stand-in through the real SDK', async (t) => {
  // Functional behaviour only: the account limit has tests of its own (route53-budget, route53-limits).
  const { standIn } = await startStandIn(t, { random: createSeededRandom(7), accountLimit: false });
  const client = pgshiftClient(t, standIn.url);
  const account = testAccount(t, client);

  const names = (pair: string) => ({ reader: { name: `reader.${pair}.${ZONE}`, ttl: 5 }, writer: { name: `writer.${pair}.${ZONE}`, ttl: 5 } });
  const router = (zoneId: string, options: Partial<Route53RouterOptions> = {}) =>
    new Route53Router({
      account,
      hostedZoneId: zoneId,
      records: names('demo'),
      ...options,
    });
  const rawRecords = async (zoneId: string): Promise<ResourceRecordSet[]> =>
    (await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }))).ResourceRecordSets ?? [];
  const weightsIn = (records: ResourceRecordSet[], name: string) =>
    Object.fromEntries(records.filter((r) => r.Name === `${name}.`).map((r) => [r.SetIdentifier, r.Weight]));
  const callsSince = (seq: number, operation?: RequestLogEntry['operation']) =>
    standIn.requests().filter((e) => e.seq > seq && (operation === undefined || e.operation === operation));
  const lastSeq = () => standIn.requests().at(-1)?.seq ?? 0;
  t.afterEach(() => {
    standIn.faults.reset();
    standIn.faults.set({ insyncDelayMs: 0, accountLimit: false });
  });

  t.test('creates the pair at blue 100 / green 0, reads it, shifts it in one batch and verifies', async (t) => {
    const zoneId = await createZone(client, ZONE);
    const r = router(zoneId);

    const before = await r.observe();
    t.equal(before.reader, null, 'no reader records yet');
    t.equal(before.writer, null);
    t.same(before.names.reader.records, []);

    t.same(await r.ensureRecords(TARGETS), ALL_BLUE);
    const records = (await rawRecords(zoneId)).filter((rec) => rec.Type === 'CNAME');
    t.equal(records.length, 4, 'two weighted CNAMEs per name');
    for (const kind of ['reader', 'writer'] as const) {
      for (const side of ['blue', 'green'] as const) {
        const rec = records.find((x) => x.Name === `${kind}.demo.${ZONE}.` && x.SetIdentifier === side);
        t.equal(rec?.TTL, 5, `${kind}/${side} TTL`);
        t.equal(rec?.Weight, side === 'blue' ? 100 : 0, `${kind}/${side} weight`);
        t.same(rec?.ResourceRecords, [{ Value: TARGETS[kind][side] }], `${kind}/${side} points at its endpoint`);
      }
    }

    const seq = lastSeq();
    t.same(await r.ensureRecords(TARGETS), ALL_BLUE, 'ensureRecords again: same weights');
    t.same(callsSince(seq, 'ChangeResourceRecordSets'), [], 'and no change submitted');

    let submitted: { id: string; at: number } | undefined;
    const report = await r.setWeights(
      { reader: { blue: 90, green: 10 } },
      { comment: 'reads-10', onSubmitted: (id, at) => (submitted = { id, at }) },
    );
    t.match(report.changeId, /^\/change\/C[A-Z0-9]+$/);
    t.equal(report.comment, 'reads-10');
    t.equal(report.attempts, 1);
    t.same(report.weights, { reader: { blue: 90, green: 10 } });
    t.same(submitted, { id: report.changeId, at: report.submittedAt }, 'onSubmitted got the change id');
    t.ok(report.insyncAt >= report.submittedAt && report.insyncMs === report.insyncAt - report.submittedAt);
    t.same(weightsIn(await rawRecords(zoneId), `reader.demo.${ZONE}`), { blue: 90, green: 10 }, 'percent written as weight');
    t.same(weightsIn(await rawRecords(zoneId), `writer.demo.${ZONE}`), { blue: 100, green: 0 }, 'writer untouched');

    const good = await r.verify({ reader: { blue: 90, green: 10 }, writer: { blue: 100, green: 0 } });
    t.ok(good.ok);
    t.same(good.differences, []);
    const bad = await r.verify({ reader: { blue: 75, green: 25 }, writer: { blue: 100, green: 0 } });
    t.notOk(bad.ok);
    t.same(bad.differences, ['reader: blue weight 90, expected 75', 'reader: green weight 10, expected 25']);
    t.same(bad.observed.reader, { blue: 90, green: 10 });

    const seqBoth = lastSeq();
    await r.setWeights({ reader: { blue: 0, green: 100 }, writer: { blue: 0, green: 100 } }, { comment: 'cutover' });
    const changes = callsSince(seqBoth, 'ChangeResourceRecordSets');
    t.equal(changes.length, 1, 'both names in ONE change batch');
    t.equal(changes[0]?.comment, 'cutover');
    const after = await r.observe();
    t.same([after.reader, after.writer], [{ blue: 0, green: 100 }, { blue: 0, green: 100 }]);

    const again = await r.setWeights({ writer: { blue: 0, green: 100 } }, { comment: 'again' });
    t.not(again.changeId, report.changeId, 'repeating a shift is safe: a new change with the same weights');
    t.ok((await r.verify({ reader: { blue: 0, green: 100 }, writer: { blue: 0, green: 100 } })).ok);
  });

  t.test('an invalid batch changes nothing', async (t) => {
    const zoneId = await createZone(client, ZONE);
    const r = router(zoneId);
    await r.ensureRecords(TARGETS);
    const before = await rawRecords(zoneId);

    const upsert = (name: string, side: string, weight: number): Change => ({
      Action: 'UPSERT',
      ResourceRecordSet: { Name: name, Type: 'CNAME', SetIdentifier: side, Weight: weight, TTL: 5, ResourceRecords: [{ Value: `${side}.example.org` }] },
    });
    const err = await awsError(
      client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: {
            Changes: [
              upsert(`reader.demo.${ZONE}`, 'blue', 50),
              upsert(`reader.demo.${ZONE}`, 'green', 50),
              { ...upsert(`writer.demo.${ZONE}`, 'blue', 1), Action: 'CREATE' },
            ],
          },
        }),
      ),
    );
    t.equal(err.name, 'InvalidChangeBatch');
    t.match(err.message, /Tried to create resource record set \[name='writer\.demo\.example\.test\.', type='CNAME', set-identifier='blue'\] but it already exists/);
    t.same(await rawRecords(zoneId), before, 'the two valid UPSERTs of the batch were not applied either');
    t.ok((await r.verify(ALL_BLUE)).ok);

    // Through the router: another tool creates one of the records between pgshift's read and
    // its CREATE batch. The whole batch fails; the reader pair is not half-created.
    const fresh = await createZone(client, ZONE);
    const racer = router(fresh);
    standIn.beforeNext('ChangeResourceRecordSets', async () => {
      await standIn.store.changeRecordSets(fresh, { changes: [{ action: 'CREATE', recordSet: { name: `writer.demo.${ZONE}`, type: 'TXT', ttl: 60, values: ['"someone else"'] } }] });
    });
    const refused = await rejection(racer.ensureRecords(TARGETS));
    t.equal(refused.code, 'PGSHIFT_ERR_ROUTE53_CHANGE_REJECTED');
    t.equal(refused.status, 409);
    t.equal(refused.cause?.name, 'InvalidChangeBatch', 'the SDK error is kept as cause');
    t.match(refused.message, /conflicting RRSet of type TXT|conflicts with other records/);
    const left = await rawRecords(fresh);
    t.same(left.filter((rec) => rec.Type === 'CNAME'), [], 'none of the four CREATEs was applied');
  });

  t.test('throttling and 5xx are retried with backoff and converge; other errors are not retried', async (t) => {
    const zoneId = await createZone(client, ZONE);
    const r = router(zoneId);
    await r.ensureRecords(TARGETS);

    standIn.faults.set({ throttleNext: 2, operations: ['ChangeResourceRecordSets'] });
    let seq = lastSeq();
    const throttled = await r.setWeights({ reader: { blue: 90, green: 10 } }, { comment: 'throttled' });
    t.equal(throttled.attempts, 3, 'two Throttling answers, then accepted');
    t.same(
      callsSince(seq, 'ChangeResourceRecordSets').map((e) => e.errorCode ?? e.status),
      ['Throttling', 'Throttling', 200],
    );

    standIn.faults.set({ serverErrorNext: 2, serverErrorStatus: 503, operations: ['ChangeResourceRecordSets'] });
    seq = lastSeq();
    const unavailable = await r.setWeights({ reader: { blue: 75, green: 25 } }, { comment: '5xx' });
    t.equal(unavailable.attempts, 3);
    t.same(callsSince(seq, 'ChangeResourceRecordSets').map((e) => e.status), [503, 503, 200]);

    standIn.faults.set({ serverErrorNext: 1, serverErrorStatus: 500, operations: ['GetChange'], insyncDelayMs: 30 });
    seq = lastSeq();
    await r.setWeights({ reader: { blue: 50, green: 50 } }, { comment: 'getchange 500' });
    t.ok(callsSince(seq, 'GetChange').some((e) => e.errorCode === 'InternalFailure'), 'a failed GetChange poll is retried');

    standIn.faults.reset();
    standIn.faults.set({ insyncDelayMs: 0, throttleNext: 2, operations: ['ListResourceRecordSets'] });
    seq = lastSeq();
    t.same((await r.observe()).reader, { blue: 50, green: 50 }, 'reads are retried too');
    t.equal(callsSince(seq, 'ListResourceRecordSets').filter((e) => e.errorCode === 'Throttling').length, 2);

    standIn.faults.reset();
    standIn.faults.set({ insyncDelayMs: 0, throttleRate: 0.4 });
    const patientAccount: Route53Account = testAccount(t, client, { retry: { maxAttempts: 12, baseDelayMs: 2, maxDelayMs: 10 } });
    const patient = router(zoneId, { account: patientAccount });
    seq = lastSeq();
    for (const green of [60, 70, 80]) await patient.setWeights({ reader: { blue: 100 - green, green } }, { comment: `share ${green}` });
    t.ok(callsSince(seq).some((e) => e.errorCode === 'Throttling'), 'a share of all calls was throttled');
    standIn.faults.set({ throttleRate: 0 });
    t.ok((await r.verify({ reader: { blue: 20, green: 80 }, writer: { blue: 100, green: 0 } })).ok, 'and the last shift converged');

    standIn.faults.set({ throttleNext: 10, operations: ['ChangeResourceRecordSets'] });
    const exhausted = await rejection(r.setWeights({ reader: { blue: 100, green: 0 } }, { comment: 'exhausted' }));
    t.equal(exhausted.code, 'PGSHIFT_ERR_ROUTE53_THROTTLED');
    t.equal(exhausted.status, 503);
    t.equal(exhausted.details.attempts, FAST_RETRY.maxAttempts);
    t.equal(exhausted.cause?.name, 'Throttling');
    t.same((await r.observe()).reader, { blue: 20, green: 80 }, 'nothing changed');

    standIn.faults.reset();
    seq = lastSeq();
    const missingZone = await rejection(router('ZNOSUCHZONE0000000').observe());
    t.equal(missingZone.code, 'PGSHIFT_ERR_ROUTE53_NO_SUCH_ZONE');
    t.equal(missingZone.details.attempts, 1, 'NoSuchHostedZone is a verdict, not retried');
    t.equal(missingZone.cause?.name, 'NoSuchHostedZone');
    t.ok(callsSince(seq).every((e) => e.errorCode === 'NoSuchHostedZone'));
  });

  t.test('PriorRequestNotComplete from another tool\'s pending change is retried until it clears', async (t) => {
    const zoneId = await createZone(client, ZONE);
    const r = router(zoneId, { retry: { maxAttempts: 20, baseDelayMs: 20, maxDelayMs: 100 } });
    await r.ensureRecords(TARGETS);
    standIn.faults.set({ insyncDelayMs: 300 });
    await client.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: { Comment: 'another tool', Changes: [{ Action: 'CREATE', ResourceRecordSet: { Name: `other.${ZONE}`, Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"x"' }] } }] },
      }),
    );
    standIn.faults.set({ insyncDelayMs: 0 });
    const seq = lastSeq();
    const report = await r.setWeights({ reader: { blue: 90, green: 10 } }, { comment: 'after the other tool' });
    const ours = callsSince(seq, 'ChangeResourceRecordSets');
    t.ok(ours.length >= 2 && ours.slice(0, -1).every((e) => e.errorCode === 'PriorRequestNotComplete'), 'refused while the other change was PENDING');
    t.equal(ours.at(-1)?.status, 200);
    t.equal(report.attempts, ours.length);
  });

  t.test('a slow INSYNC is waited for, and the wait is bounded', async (t) => {
    const zoneId = await createZone(client, ZONE);
    const r = router(zoneId);
    await r.ensureRecords(TARGETS);

    standIn.faults.set({ insyncDelayMs: 250 });
    let statusAtSubmit: string | undefined;
    const report = await r.setWeights(
      { reader: { blue: 90, green: 10 } },
      { comment: 'slow', onSubmitted: (id) => (statusAtSubmit = standIn.store.getChange(id.replace('/change/', '')).status) },
    );
    t.equal(statusAtSubmit, 'PENDING', 'onSubmitted runs while the change is still PENDING');
    const polls = standIn.requests('GetChange').filter((e) => `/change/${e.changeId}` === report.changeId);
    t.ok(polls.length >= 2, `polled GetChange ${polls.length} times`);
    t.equal(polls.at(-1)?.changeStatus, 'INSYNC', 'returned once INSYNC was seen');
    t.ok(polls.slice(0, -1).every((e) => e.changeStatus === 'PENDING'));

    standIn.faults.set({ insyncDelayMs: 0 });
    const slowZone = await createZone(client, ZONE);
    const bounded = router(slowZone, { account: testAccount(t, client, { insync: { ...FAST_INSYNC, timeoutMs: 200 } }) });
    await bounded.ensureRecords(TARGETS);
    standIn.faults.set({ insyncDelayMs: 60_000 });
    const timeout = await rejection(bounded.setWeights({ reader: { blue: 80, green: 20 } }, { comment: 'never insync' }));
    t.equal(timeout.code, 'PGSHIFT_ERR_DNS_INSYNC_TIMEOUT');
    t.equal(timeout.status, 504);
    t.match(timeout.details.changeId, /^\/change\/C/);
    t.equal(standIn.store.getChange(timeout.details.changeId.replace('/change/', '')).status, 'PENDING');
    t.same((await bounded.observe()).reader, { blue: 80, green: 20 }, 'the submitted change is visible while PENDING, as in Route 53');

    standIn.faults.set({ insyncDelayMs: 0 });
    const abortZone = await createZone(client, ZONE);
    const abortable = router(abortZone);
    await abortable.ensureRecords(TARGETS);
    standIn.faults.set({ insyncDelayMs: 60_000 });
    const controller = new AbortController();
    const aborted = await rejection(
      abortable.setWeights({ reader: { blue: 70, green: 30 } }, { comment: 'aborted', signal: controller.signal, onSubmitted: () => controller.abort() }),
    );
    t.equal(aborted.code, 'PGSHIFT_ERR_DNS_ABORTED');
  });

  t.test('concurrent shifts for one zone are serialised, not interleaved', async (t) => {
    const zoneId = await createZone(client, ZONE);
    // Two pairs in one zone, each with its own router, as in a service managing several pairs.
    const one = router(zoneId, { records: names('one'), retry: { maxAttempts: 20, baseDelayMs: 10, maxDelayMs: 50 } });
    const two = router(zoneId, { records: names('two'), retry: { maxAttempts: 20, baseDelayMs: 10, maxDelayMs: 50 } });
    await one.ensureRecords(TARGETS);
    await two.ensureRecords(TARGETS);
    standIn.faults.set({ insyncDelayMs: 200, priorRequestCheck: true });

    /** Every accepted change is followed by its INSYNC before the next change arrives. */
    const interleavings = (since: number) => {
      const calls = callsSince(since);
      const accepted = calls.filter((e) => e.operation === 'ChangeResourceRecordSets' && e.status === 200);
      const problems: string[] = [];
      for (let i = 1; i < accepted.length; i++) {
        const previous = accepted[i - 1]!;
        const insync = calls.find((e) => e.operation === 'GetChange' && e.changeId === previous.changeId && e.changeStatus === 'INSYNC');
        if (!insync || insync.seq > accepted[i]!.seq) problems.push(`${accepted[i]!.comment} arrived before ${previous.comment} was INSYNC`);
      }
      const refused = calls.filter((e) => e.errorCode === 'PriorRequestNotComplete').map((e) => `${e.comment} refused: PriorRequestNotComplete`);
      return { accepted: accepted.length, problems: [...problems, ...refused] };
    };

    let seq = lastSeq();
    await Promise.all([
      one.setWeights({ reader: { blue: 90, green: 10 } }, { comment: 'one reads-10' }),
      two.setWeights({ reader: { blue: 75, green: 25 } }, { comment: 'two reads-25' }),
      one.setWeights({ writer: { blue: 0, green: 100 } }, { comment: 'one writer' }),
    ]);
    const shared = interleavings(seq);
    t.equal(shared.accepted, 3);
    t.same(shared.problems, [], 'each change waited for the previous one to be INSYNC');
    t.ok((await one.verify({ reader: { blue: 90, green: 10 }, writer: { blue: 0, green: 100 } })).ok);
    t.ok((await two.verify({ reader: { blue: 75, green: 25 }, writer: { blue: 100, green: 0 } })).ok);

    // The same check catches interleaving: routers of two accounts (two processes) collide.
    const loneOne = router(zoneId, { account: testAccount(t, client), records: names('one'), retry: { maxAttempts: 40, baseDelayMs: 10, maxDelayMs: 50 } });
    const loneTwo = router(zoneId, { account: testAccount(t, client), records: names('two'), retry: { maxAttempts: 40, baseDelayMs: 10, maxDelayMs: 50 } });
    standIn.faults.set({ insyncDelayMs: 1_000 });
    seq = lastSeq();
    await Promise.all([
      loneOne.setWeights({ reader: { blue: 50, green: 50 } }, { comment: 'lone one' }),
      loneTwo.setWeights({ reader: { blue: 50, green: 50 } }, { comment: 'lone two' }),
    ]);
    t.ok(interleavings(seq).problems.length > 0, 'without the shared queue the stand-in saw colliding changes');
  });

  t.test('records someone shaped differently are refused and left alone', async (t) => {
    const cname = (name: string, extra: Partial<ResourceRecordSet> = {}, value = 'elsewhere.example.org'): ResourceRecordSet => ({
      Name: name,
      Type: 'CNAME',
      TTL: 5,
      ResourceRecords: [{ Value: value }],
      ...extra,
    });
    const reader = `reader.demo.${ZONE}`;
    const cases: { what: string; records: ResourceRecordSet[]; expected: RegExp }[] = [
      { what: 'a simple CNAME', records: [cname(reader)], expected: /simple \(non-weighted\) CNAME exists at reader\.demo\.example\.test\./ },
      {
        what: 'other set identifiers',
        records: [cname(reader, { SetIdentifier: 'a', Weight: 50 }), cname(reader, { SetIdentifier: 'b', Weight: 50 }, 'other.example.org')],
        expected: /set identifier 'a'.*only 'blue' and 'green'/,
      },
      {
        what: 'the wrong TTL',
        records: [
          cname(reader, { SetIdentifier: 'blue', Weight: 100, TTL: 60 }, TARGETS.reader.blue),
          cname(reader, { SetIdentifier: 'green', Weight: 0, TTL: 60 }, TARGETS.reader.green),
        ],
        expected: /blue: TTL 60, expected 5/,
      },
      { what: 'a non-CNAME', records: [{ Name: reader, Type: 'TXT', TTL: 5, ResourceRecords: [{ Value: '"hello"' }] }], expected: /a TXT record exists/ },
      {
        what: 'half a pair',
        records: [cname(reader, { SetIdentifier: 'blue', Weight: 100 }, TARGETS.reader.blue)],
        expected: /only the blue record exists/,
      },
      {
        what: 'the wrong endpoint',
        records: [
          cname(reader, { SetIdentifier: 'blue', Weight: 100 }, TARGETS.reader.blue),
          cname(reader, { SetIdentifier: 'green', Weight: 0 }, 'someone-else.example.org'),
        ],
        expected: /green: points at someone-else\.example\.org, expected demo-green/,
      },
      {
        what: 'latency routing',
        records: [
          cname(reader, { SetIdentifier: 'blue', Region: 'us-east-1' }, TARGETS.reader.blue),
          cname(reader, { SetIdentifier: 'green', Region: 'us-west-2' }, TARGETS.reader.green),
        ],
        expected: /uses latency routing; expected weighted/,
      },
    ];
    for (const c of cases) {
      const zoneId = await createZone(client, ZONE);
      await client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: { Changes: c.records.map((rec) => ({ Action: 'CREATE' as const, ResourceRecordSet: rec })) },
        }),
      );
      const before = await rawRecords(zoneId);
      const r = router(zoneId);
      const err = await rejection(r.ensureRecords(TARGETS));
      t.equal(err.code, 'PGSHIFT_ERR_DNS_RECORDS_MISSHAPED', `${c.what}: refused`);
      t.equal(err.status, 409);
      t.match(err.message, c.expected, `${c.what}: says what is wrong`);
      t.same(await rawRecords(zoneId), before, `${c.what}: nothing changed, the writer pair was not created either`);
      const shift = await rejection(r.setWeights({ reader: { blue: 90, green: 10 } }, { comment: 'x' }));
      t.equal(shift.code, 'PGSHIFT_ERR_DNS_RECORDS_MISSHAPED', `${c.what}: no shift either`);
      const verdict = await r.verify(ALL_BLUE);
      t.notOk(verdict.ok, `${c.what}: verify fails`);
    }

    const empty = router(await createZone(client, ZONE));
    const missing = await rejection(empty.setWeights({ writer: { blue: 0, green: 100 } }, { comment: 'x' }));
    t.equal(missing.code, 'PGSHIFT_ERR_DNS_RECORDS_MISSING');
    t.match((await empty.verify(ALL_BLUE)).differences.join('\n'), /no weighted records at writer\.demo/);

    const same = await rejection(empty.ensureRecords({ ...TARGETS, reader: { blue: 'x.example.org', green: 'X.example.org.' } }));
    t.equal(same.code, 'PGSHIFT_ERR_DNS_TARGETS_INVALID');
    t.match(same.message, /reader: blue and green point at the same endpoint/);
  });

  t.test('removeRecords deletes the weighted pairs as they are now, leaves what is not its shape, and repeats', async (t) => {
    const zoneId = await createZone(client, ZONE);
    const r = router(zoneId);
    await r.ensureRecords(TARGETS);
    await r.setWeights({ reader: { blue: 75, green: 25 } }, { comment: 'reads-25' });
    // Someone's third weighted record at the writer's name: not pgshift's to delete.
    const canary: ResourceRecordSet = { Name: `writer.demo.${ZONE}`, Type: 'CNAME', SetIdentifier: 'canary', Weight: 0, TTL: 5, ResourceRecords: [{ Value: 'canary.example.org' }] };
    await client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: [{ Action: 'CREATE', ResourceRecordSet: canary }] } }));
    const untouched = router(zoneId, { records: names('other') });
    await untouched.ensureRecords(TARGETS);

    const result = await r.removeRecords();
    t.same(result.removed.sort(), [`reader.demo.${ZONE}. blue`, `reader.demo.${ZONE}. green`, `writer.demo.${ZONE}. blue`, `writer.demo.${ZONE}. green`]);
    t.same(result.left, [`writer.demo.${ZONE}. CNAME canary`]);
    const left = (await rawRecords(zoneId)).filter((rec) => rec.Name!.includes('.demo.'));
    t.same(left.map((rec) => `${rec.Name} ${rec.SetIdentifier}`), [`writer.demo.${ZONE}. canary`], "only someone else's record is left at the names");
    t.equal((await rawRecords(zoneId)).filter((rec) => rec.Name!.includes('.other.')).length, 4, "another pair's records stay");
    t.same(await r.removeRecords(), { removed: [], left: [`writer.demo.${ZONE}. CNAME canary`] }, 'a second call deletes nothing');
    untouched.close();
    r.close();
  });

  t.test('weights that would split evenly or do not sum to 100 are refused before anything is sent', async (t) => {
    const zoneId = await createZone(client, ZONE);
    const r = router(zoneId);
    await r.ensureRecords(TARGETS);
    const seq = lastSeq();
    for (const desired of [
      { reader: { blue: 0, green: 0 } },
      { writer: { blue: 0, green: 0 } },
      { reader: { blue: 60, green: 50 } },
      { reader: { blue: 100, green: 0 }, writer: { blue: 0, green: 0 } },
    ]) {
      const err = await rejection(r.setWeights(desired, { comment: 'bad' }));
      t.equal(err.code, 'PGSHIFT_ERR_INVALID_WEIGHTS', JSON.stringify(desired));
      t.equal(err.status, 400);
    }
    t.same(callsSince(seq), [], 'Route 53 was not called at all');
    await t.rejects(r.verify({ reader: { blue: 0, green: 0 }, writer: { blue: 100, green: 0 } }), { code: 'PGSHIFT_ERR_INVALID_WEIGHTS' });
  });

  t.test('reads page through ListResourceRecordSets by name, type and identifier', async (t) => {
    const zoneId = await createZone(client, ZONE);
    const changes: Change[] = [];
    for (const name of ['a', 'reader.demo', 'readerx.demo', 'x.reader.demo', 'writer', 'z']) {
      changes.push({ Action: 'CREATE', ResourceRecordSet: { Name: `${name}.filler.${ZONE}`, Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"f"' }] } });
    }
    await client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: changes } }));
    await router(zoneId).ensureRecords(TARGETS);
    await router(zoneId).setWeights({ reader: { blue: 35, green: 65 } }, { comment: 'paging' });

    const seq = lastSeq();
    const paged = router(zoneId, { account: testAccount(t, client, { listPageSize: 1 }) });
    const observed = await paged.observe();
    t.same([observed.reader, observed.writer], [{ blue: 35, green: 65 }, { blue: 100, green: 0 }]);
    const lists = callsSince(seq, 'ListResourceRecordSets');
    t.ok(lists.some((e) => /identifier=green/.test(e.query)), 'continued inside the weighted group with NextRecordIdentifier');
    t.ok(lists.every((e) => /maxitems=1/.test(e.query)));
  });

  t.test('the client factory turns SDK retries off and checks the key pair', async (t) => {
    standIn.faults.set({ throttleNext: 1 });
    const zoneErr = await awsError(createZone(client as Route53Client, ZONE));
    t.equal(zoneErr.name, 'Throttling', 'one attempt: the SDK did not retry behind the router\'s back');
    t.throws(
      () => createRoute53Client({ region: 'us-east-1', accessKeyId: 'only-the-id', maxAttempts: 5 }),
      { code: 'PGSHIFT_ERR_CONFIG_INVALID', message: /must be given together/ },
    );
  });
});
