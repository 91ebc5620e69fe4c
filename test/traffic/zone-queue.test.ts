import t from 'tap';
import { ZoneQueue, zoneKey } from '../../src/traffic/zone-queue.js';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

t.test('one zone runs one task at a time, in order; other zones are independent', async (t) => {
  const queue = new ZoneQueue();
  const events: string[] = [];
  const gate = deferred();
  const first = queue.run('Z1', async () => {
    events.push('first start');
    await gate.promise;
    events.push('first end');
  });
  const second = queue.run('/hostedzone/Z1', async () => {
    events.push('second start');
    events.push('second end');
  });
  const other = queue.run('Z2', async () => {
    events.push('other zone');
  });
  await other;
  t.same(events, ['first start', 'other zone'], 'Z2 did not wait for Z1; the second Z1 task waits');
  gate.resolve();
  await Promise.all([first, second]);
  t.same(events, ['first start', 'other zone', 'first end', 'second start', 'second end']);
  t.equal(queue.busyZones, 0, 'nothing left behind');
  t.equal(zoneKey('/hostedzone/Z1'), 'Z1');
});

t.test('a failing task does not block the queue; an abort while waiting leaves the order intact', async (t) => {
  const queue = new ZoneQueue();
  const events: string[] = [];
  const gate = deferred();
  const failing = queue.run('Z', async () => {
    await gate.promise;
    throw new Error('boom');
  });
  const controller = new AbortController();
  const aborted = queue.run('Z', async () => events.push('aborted task ran'), controller.signal);
  const last = queue.run('Z', async () => events.push('last ran'));
  controller.abort(new Error('gave up waiting'));
  await t.rejects(aborted, { message: 'gave up waiting' });
  t.same(events, [], 'the task after the aborted one still waits for the running one');
  gate.resolve();
  await t.rejects(failing, { message: 'boom' });
  await last;
  t.same(events, ['last ran']);
});
