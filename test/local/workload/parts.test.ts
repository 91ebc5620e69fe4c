import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PgshiftError } from '../../../src/errors.js';
import { parseWorkloadSettings } from '../../../src/local/workload/config.js';
import * as W from '../../../src/local/workload/defaults.js';
import { classifyError } from '../../../src/local/workload/errors.js';
import { Ledger } from '../../../src/local/workload/ledger.js';
import { LatencyHistogram } from '../../../src/local/workload/stats.js';
import { labWorkloadSettings, withoutAppSignal } from '../../../src/local/workload/lab-hook.js';

t.test('settings: defaults fill in, flags given as strings convert, a bad value names its key', async (t) => {
  const d = parseWorkloadSettings({});
  t.match(d, { enabled: true, rate: W.WORKLOAD_LAB_RATE, readShare: W.WORKLOAD_READ_SHARE, clients: W.WORKLOAD_CLIENTS, push: true });
  t.match(parseWorkloadSettings({ rate: '500', readShare: '0.25' }), { rate: 500, readShare: 0.25 });
  t.throws(() => parseWorkloadSettings({ readShare: 1 }, 'lab.workload'), { code: 'PGSHIFT_ERR_WORKLOAD_CONFIG', message: /lab\.workload\.readShare/ });
  t.throws(() => parseWorkloadSettings({ rate: -1 }, 'lab.workload'), { message: /lab\.workload\.rate/ });
  t.throws(() => parseWorkloadSettings({ rats: 5 }, 'lab.workload'), { message: /lab\.workload\.rats: unknown key/ });
  // Flags arrive as strings: a fraction for an integer or a blank is an error, not silently 1 or 0.
  t.throws(() => parseWorkloadSettings({ poolMax: '1.5' }, '--'), { message: /--\.poolMax: must be integer/ });
  t.throws(() => parseWorkloadSettings({ poolMax: 1.5 }, 'lab.workload'), { message: /lab\.workload\.poolMax: must be integer/ });
  t.throws(() => parseWorkloadSettings({ rate: '' }, '--'), { message: /--\.rate: must be number/ });
  t.throws(() => parseWorkloadSettings({ rate: 'abc' }, '--'), { message: /--\.rate: must be number/ });
  t.match(parseWorkloadSettings({ push: 'false', clients: '7' }), { push: false, clients: 7 });
});

t.test('latency percentiles are within one 5 % bucket of the exact ones', async (t) => {
  const h = new LatencyHistogram();
  t.same(h.summary(), { count: 0, p50: null, p95: null, p99: null, max: null });
  for (let i = 1; i <= 1000; i++) h.add(i / 10); // 0.1 .. 100 ms
  const near = (got: number | null, want: number) => got !== null && got >= want * 0.999 && got <= want * 1.051;
  t.ok(near(h.quantile(0.5), 50), `p50 ${h.quantile(0.5)}`);
  t.ok(near(h.quantile(0.95), 95), `p95 ${h.quantile(0.95)}`);
  t.ok(near(h.quantile(0.99), 99), `p99 ${h.quantile(0.99)}`);
  t.equal(h.quantile(1), 100, 'never above the largest latency seen');
  const other = new LatencyHistogram();
  other.add(1000);
  h.merge(other);
  t.equal(h.count, 1001);
  t.equal(h.summary().max, 1000);
});

t.test('errors: what a retry can fix is retried; only a live session refusing a write proves it rolled back', async (t) => {
  const server = (code: string) => Object.assign(new Error(code), { code, severity: 'ERROR' });
  t.match(classifyError(server('57P01')), { kind: 'terminated', retryable: true, serverAnswered: false });
  t.match(classifyError(server('25006')), { kind: 'read_only', retryable: true, serverAnswered: true });
  t.match(classifyError(server('28000')), { kind: 'login_refused', retryable: true });
  t.match(classifyError(server('42501')), { kind: 'permission', retryable: false, serverAnswered: true });
  t.match(classifyError(server('23505')), { kind: 'other', retryable: false, serverAnswered: true });
  t.match(classifyError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })), { kind: 'connect', retryable: true });
  t.match(classifyError(new Error('Connection terminated unexpectedly')), { kind: 'terminated', retryable: true, serverAnswered: false });
  t.match(classifyError(new Error('timeout exceeded when trying to connect')), { kind: 'timeout', retryable: true });
  t.match(classifyError(new PgshiftError('PGSHIFT_ERR_LAB_NAME_NOT_FOUND', 'no records')), { kind: 'resolve', retryable: true });
  t.match(classifyError(new PgshiftError('PGSHIFT_ERR_WORKLOAD_NOT_APPLIED', 'no row')), { kind: 'other', retryable: false, serverAnswered: true });
});

t.test('the ledger file replays to the same acknowledged, failed and in-doubt writes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-ledger-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'ledger.jsonl');
  const ledger = new Ledger(file);
  ledger.attempt('a', 'order');
  ledger.acknowledge({ id: 'a', kind: 'order', orderId: 7, lines: 2, side: 'blue', at: 1 });
  ledger.attempt('b', 'pay', 7);
  ledger.fail('b');
  ledger.attempt('c', 'invoice', 7);
  ledger.attempt('d', 'ship', 7);
  ledger.fail('d');
  ledger.attempt('d', 'ship', 7); // retried under the same id
  ledger.acknowledge({ id: 'd', kind: 'ship', orderId: 7, side: 'blue', at: 2 });
  await ledger.close();

  const again = await Ledger.load(file);
  t.same([...again.acknowledged.keys()].sort(), ['a', 'd']);
  t.same([...again.failed], ['b']);
  t.same([...again.inDoubt.keys()], ['c'], 'attempted and never settled: in doubt');
  t.match(again.acknowledged.get('a'), { orderId: 7, lines: 2, side: 'blue' });
});

t.test("the lab's entry point: lab.workload with the flags over it; no app, no app signal", async (t) => {
  const doc = { lab: { dir: '.pgshift', workload: { rate: 10 } }, pairs: [{ id: 'demo', signals: { app: { enabled: true } } }, { id: 'other', signals: { app: { enabled: true } } }] };
  t.match(labWorkloadSettings(doc, {}, 'lab.yaml'), { enabled: true, rate: 10 });
  t.match(labWorkloadSettings(doc, { enabled: false, rate: 3 }, 'lab.yaml'), { enabled: false, rate: 3 });
  t.match(labWorkloadSettings({ lab: {} }, {}, 'lab.yaml'), { enabled: true, rate: W.WORKLOAD_LAB_RATE });
  t.throws(() => labWorkloadSettings({ lab: { workload: { rate: 'fast' } } }, {}, 'lab.yaml'), { name: 'PgshiftError', code: 'PGSHIFT_ERR_CONFIG_INVALID', problems: [/^lab\.workload\.rate: /] });
  const off = withoutAppSignal(doc);
  t.equal(off.pairs[0]!.signals.app.enabled, false, "the demo pair's app signal is off");
  t.equal(off.pairs[1]!.signals.app.enabled, true, 'other pairs are left alone');
  t.equal(doc.pairs[0]!.signals.app.enabled, true, 'the document given is not changed');
});
