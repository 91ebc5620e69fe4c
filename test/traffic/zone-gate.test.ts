import t from 'tap';
import { ZoneGate, supersededError, zoneKey } from '../../src/traffic/zone-gate.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

t.test('one submission at a time per zone; an urgent one goes first', async (t) => {
  const gate = new ZoneGate('Z1', async () => undefined);
  const order: string[] = [];
  const first = await gate.acquire();
  const waiters = [
    gate.acquire().then((lease) => (order.push('normal 1'), lease.release())),
    gate.acquire().then((lease) => (order.push('normal 2'), lease.release())),
    gate.acquire({ urgent: true }).then((lease) => (order.push('urgent'), lease.release())),
    gate.acquire({ front: true }).then((lease) => (order.push('retry (front)'), lease.release())),
  ];
  t.ok(gate.busy);
  first.release();
  first.release();
  await Promise.all(waiters);
  t.same(order, ['urgent', 'retry (front)', 'normal 1', 'normal 2']);
  t.notOk(gate.busy);
});

t.test('a normal change waits for the zone\'s pending change to be INSYNC; an urgent one does not', async (t) => {
  const insync = deferred();
  const asked: string[] = [];
  const gate = new ZoneGate('Z1', async (changeId) => {
    asked.push(changeId);
    await insync.promise;
  });
  gate.notePending('/change/C1', 0, false);
  const order: string[] = [];
  const normal = gate.acquire().then((lease) => (order.push('normal'), lease.release()));
  const urgent = gate.acquire({ urgent: true }).then((lease) => (order.push('urgent'), lease.release()));
  await urgent;
  t.same(order, ['urgent'], 'the urgent change went while C1 was PENDING');
  t.same(asked, ['/change/C1'], 'the gate follows C1 once');
  insync.resolve();
  await normal;
  t.same(order, ['urgent', 'normal'], 'the normal one after C1 was INSYNC');

  gate.notePending('/change/C2', 0, true);
  await (await gate.acquire()).release();
  t.same(asked, ['/change/C1'], 'a change accepted INSYNC holds nobody');

  const failing = new ZoneGate('Z2', async () => {
    throw new Error('GetChange failed');
  });
  failing.notePending('/change/C3', 0, false);
  (await failing.acquire()).release();
  t.pass('a failed INSYNC wait opens the gate too (Route 53 then answers PriorRequestNotComplete if it must)');
});

t.test('abort, superseded and rejectAll leave the gate usable', async (t) => {
  const gate = new ZoneGate('Z1', async () => undefined);
  const held = await gate.acquire();
  const controller = new AbortController();
  const aborted = gate.acquire({ signal: controller.signal });
  const superseded = gate.acquire({ stillWanted: () => supersededError('reads-25') });
  const next = gate.acquire();
  controller.abort(new Error('stop'));
  await t.rejects(aborted, { message: 'stop' });
  held.release();
  await t.rejects(superseded, { code: 'PGSHIFT_ERR_DNS_SUPERSEDED', status: 409 });
  (await next).release();
  const holder = await gate.acquire();
  const stuck = gate.acquire();
  gate.rejectAll(new Error('closed'));
  await t.rejects(stuck, { message: 'closed' });
  holder.release();
  (await gate.acquire()).release();
  t.equal(zoneKey('/hostedzone/Z0ABC'), 'Z0ABC');
  t.equal(zoneKey('hostedzone/Z0ABC'), 'Z0ABC');
  t.equal(zoneKey('Z0ABC'), 'Z0ABC');
});

t.test('a normal holder hears of an urgent waiter, once, and can give the gate back', async (t) => {
  const gate = new ZoneGate('Z1', async () => undefined);
  const normal = await gate.acquire();
  let told = 0;
  const stop = normal.onUrgentWaiting(() => told++);
  const urgent = gate.acquire({ urgent: true });
  t.equal(told, 1, 'told as the urgent caller queued');
  normal.release();
  const lease = await urgent;
  t.equal(told, 1, 'at most once');
  stop();
  const late = gate.acquire({ urgent: true });
  let urgentHolderTold = 0;
  lease.onUrgentWaiting(() => urgentHolderTold++);
  t.equal(urgentHolderTold, 0, 'an urgent holder is never asked to yield');
  lease.release();
  (await late).release();

  const second = await gate.acquire();
  const queued = gate.acquire({ urgent: true });
  let toldLate = 0;
  second.onUrgentWaiting(() => toldLate++);
  t.equal(toldLate, 1, 'listening after the urgent caller queued: told at once');
  second.release();
  (await queued).release();
});
